package core

import (
	"encoding/binary"
	"errors"
)

// maxNesting bounds how deep msgpack arrays and maps may nest in a value the
// engine decodes.
const maxNesting = 64

var (
	errTruncated = errors.New("msgpack: a length exceeds the bytes that follow")
	errTooDeep   = errors.New("msgpack: nested too deeply")
	errBadCode   = errors.New("msgpack: invalid type code")
)

// checkMsgpack walks the first msgpack value in b without allocating and
// checks that every length it declares fits in the bytes that follow, and
// that it nests at most maxNesting deep. Bytes from Redis are untrusted:
// the msgpack library allocates a bin value's declared length up front (a
// planted 2 GiB length would allocate 2 GiB) and decodes nesting by
// recursion, so they pass this check first.
func checkMsgpack(b []byte) error {
	_, err := msgpackLen(b)
	return err
}

// msgpackLen returns the length in bytes of the first msgpack value in b,
// with the checks of checkMsgpack.
func msgpackLen(b []byte) (int, error) {
	var pending [maxNesting + 1]uint64 // values still to read at each depth
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
			return 0, errTruncated
		}
		skip, items, err := msgpackHeader(b[pos:])
		if err != nil {
			return 0, err
		}
		rest := uint64(len(b) - pos)
		if skip > rest {
			return 0, errTruncated
		}
		pos += int(skip)
		if items == 0 {
			continue
		}
		if items > uint64(len(b)-pos) { // every item takes at least one byte
			return 0, errTruncated
		}
		if depth == maxNesting {
			return 0, errTooDeep
		}
		depth++
		pending[depth] = items
	}
}

// msgpackHeader reads the value header at the start of b: skip is the bytes
// of the header plus any payload, items the values nested inside it.
func msgpackHeader(b []byte) (skip, items uint64, err error) {
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
			return 0, errTruncated
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
	return 0, 0, errBadCode // 0xc1
}
