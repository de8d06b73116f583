package wire

import (
	"encoding/binary"
	"errors"
	"math"
)

// MaxNesting bounds how deep msgpack arrays and maps may nest in a value
// that Check accepts.
const MaxNesting = 64

// Errors of the msgpack readers and of Check.
var (
	ErrTruncated = errors.New("msgpack: a length exceeds the bytes that follow")
	ErrTooDeep   = errors.New("msgpack: nested too deeply")
	ErrBadCode   = errors.New("msgpack: invalid type code")
	ErrType      = errors.New("msgpack: unexpected type")
)

// AppendMap appends the header of a map of n pairs.
func AppendMap(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
}

// AppendArray appends the header of an array of n items.
func AppendArray(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

// AppendStr appends s as a msgpack str.
func AppendStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

// AppendBin appends p as a msgpack bin.
func AppendBin(b []byte, p []byte) []byte {
	n := len(p)
	switch {
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
	return append(b, p...)
}

// AppendInt appends v as the shortest msgpack integer that holds it.
func AppendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0 && v <= 0x7f, v < 0 && v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8 && v <= math.MaxInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16 && v <= math.MaxInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(v))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

// ReadMap reads a map header and returns its number of pairs.
func ReadMap(b []byte) (pairs int, rest []byte, err error) {
	skip, items, err := header(b)
	if err != nil {
		return 0, nil, err
	}
	if c := b[0]; (c < 0x80 || c > 0x8f) && c != 0xde && c != 0xdf {
		return 0, nil, ErrType
	}
	if items > uint64(len(b)-skip) { // every key and value takes a byte at least
		return 0, nil, ErrTruncated
	}
	return int(items / 2), b[skip:], nil
}

// ReadBytes reads a bin, a str or nil (as a nil slice), aliasing b.
func ReadBytes(b []byte) (p, rest []byte, err error) {
	skip, _, err := header(b)
	if err != nil {
		return nil, nil, err
	}
	var at int // where the payload starts
	switch c := b[0]; {
	case c == 0xc0:
		return nil, b[1:], nil
	case c >= 0xa0 && c <= 0xbf:
		at = 1
	case c == 0xc4 || c == 0xd9:
		at = 2
	case c == 0xc5 || c == 0xda:
		at = 3
	case c == 0xc6 || c == 0xdb:
		at = 5
	default:
		return nil, nil, ErrType
	}
	return b[at:skip:skip], b[skip:], nil
}

// ReadInt reads any msgpack integer that fits an int64.
func ReadInt(b []byte) (v int64, rest []byte, err error) {
	skip, _, err := header(b)
	if err != nil {
		return 0, nil, err
	}
	c, p := b[0], b[1:skip]
	switch {
	case c <= 0x7f:
		return int64(c), b[1:], nil
	case c >= 0xe0:
		return int64(int8(c)), b[1:], nil
	}
	switch c {
	case 0xcc:
		v = int64(p[0])
	case 0xcd:
		v = int64(binary.BigEndian.Uint16(p))
	case 0xce:
		v = int64(binary.BigEndian.Uint32(p))
	case 0xcf:
		u := binary.BigEndian.Uint64(p)
		if u > math.MaxInt64 {
			return 0, nil, ErrType
		}
		v = int64(u)
	case 0xd0:
		v = int64(int8(p[0]))
	case 0xd1:
		v = int64(int16(binary.BigEndian.Uint16(p)))
	case 0xd2:
		v = int64(int32(binary.BigEndian.Uint32(p)))
	case 0xd3:
		v = int64(binary.BigEndian.Uint64(p))
	default:
		return 0, nil, ErrType
	}
	return v, b[skip:], nil
}

// ReadStrings reads an array of strings, or nil.
func ReadStrings(b []byte) (ss []string, rest []byte, err error) {
	if len(b) > 0 && b[0] == 0xc0 {
		return nil, b[1:], nil
	}
	skip, items, err := header(b)
	if err != nil {
		return nil, nil, err
	}
	if c := b[0]; (c < 0x90 || c > 0x9f) && c != 0xdc && c != 0xdd {
		return nil, nil, ErrType
	}
	if items > uint64(len(b)-skip) {
		return nil, nil, ErrTruncated
	}
	b = b[skip:]
	ss = make([]string, 0, items)
	for range items {
		var s []byte
		if s, b, err = ReadBytes(b); err != nil {
			return nil, nil, err
		}
		ss = append(ss, string(s))
	}
	return ss, b, nil
}

// Skip returns b past its first value.
func Skip(b []byte) ([]byte, error) {
	n, err := Len(b)
	if err != nil {
		return nil, err
	}
	return b[n:], nil
}

// Check walks the first msgpack value in b without allocating, and checks
// that every length it declares fits in the bytes that follow and that it
// nests at most MaxNesting deep. The msgpack library allocates a bin's
// declared length up front (a planted 2 GiB length would allocate 2 GiB)
// and decodes nesting by recursion, so untrusted bytes pass this first.
func Check(b []byte) error {
	_, err := Len(b)
	return err
}

// Len returns the length in bytes of the first msgpack value in b, with the
// checks of Check.
func Len(b []byte) (int, error) {
	var pending [MaxNesting + 1]uint64 // values still to read at each depth
	depth, pos := 0, 0
	pending[0] = 1
	for {
		for pending[depth] == 0 {
			if depth == 0 {
				return pos, nil
			}
			depth--
		}
		pending[depth]--
		if pos >= len(b) {
			return 0, ErrTruncated
		}
		skip, items, err := head(b[pos:])
		if err != nil {
			return 0, err
		}
		if skip > uint64(len(b)-pos) {
			return 0, ErrTruncated
		}
		pos += int(skip)
		if items == 0 {
			continue
		}
		if items > uint64(len(b)-pos) { // every item takes one byte at least
			return 0, ErrTruncated
		}
		if depth == MaxNesting {
			return 0, ErrTooDeep
		}
		depth++
		pending[depth] = items
	}
}

// header reads the value header at the start of b and checks that its
// payload fits in b.
func header(b []byte) (skip int, items uint64, err error) {
	if len(b) == 0 {
		return 0, 0, ErrTruncated
	}
	s, items, err := head(b)
	if err != nil {
		return 0, 0, err
	}
	if s > uint64(len(b)) {
		return 0, 0, ErrTruncated
	}
	return int(s), items, nil
}

// head reads the value header at the start of b, which is not empty: skip
// is the length of the header and any payload, items the number of values
// nested inside it.
func head(b []byte) (skip, items uint64, err error) {
	c := b[0]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return 1, 0, nil
	case c >= 0x80 && c <= 0x8f:
		return 1, 2 * uint64(c&0x0f), nil
	case c >= 0x90 && c <= 0x9f:
		return 1, uint64(c & 0x0f), nil
	case c >= 0xa0 && c <= 0xbf:
		return 1 + uint64(c&0x1f), 0, nil
	}
	size := func(n int) (uint64, error) { // a big-endian length of n bytes after the code
		if len(b) < 1+n {
			return 0, ErrTruncated
		}
		switch n {
		case 1:
			return uint64(b[1]), nil
		case 2:
			return uint64(binary.BigEndian.Uint16(b[1:])), nil
		}
		return uint64(binary.BigEndian.Uint32(b[1:])), nil
	}
	switch c {
	case 0xcc, 0xd0:
		return 2, 0, nil
	case 0xcd, 0xd1:
		return 3, 0, nil
	case 0xca, 0xce, 0xd2:
		return 5, 0, nil
	case 0xcb, 0xcf, 0xd3:
		return 9, 0, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext: type byte and 1, 2, 4, 8 or 16 bytes
		return 2 + 1<<(c-0xd4), 0, nil
	case 0xc4, 0xd9: // bin8, str8
		n, err := size(1)
		return 2 + n, 0, err
	case 0xc5, 0xda:
		n, err := size(2)
		return 3 + n, 0, err
	case 0xc6, 0xdb:
		n, err := size(4)
		return 5 + n, 0, err
	case 0xc7: // ext8: length, type, data
		n, err := size(1)
		return 3 + n, 0, err
	case 0xc8:
		n, err := size(2)
		return 4 + n, 0, err
	case 0xc9:
		n, err := size(4)
		return 6 + n, 0, err
	case 0xdc:
		n, err := size(2)
		return 3, n, err
	case 0xdd:
		n, err := size(4)
		return 5, n, err
	case 0xde:
		n, err := size(2)
		return 3, 2 * n, err
	case 0xdf:
		n, err := size(4)
		return 5, 2 * n, err
	}
	return 0, 0, ErrBadCode // 0xc1
}
