package core

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// decodeEntry parses raw for k and checks that it belongs to k. It is
// written by hand rather than with msgpack's reflection because it runs on
// every hit: it allocates only the entry and its tags, and the entry's Value
// aliases raw, which must not be modified afterwards. Unknown fields are
// skipped, so a later version may add fields without a format bump.
func decodeEntry(raw []byte, k Key) (*entry, error) {
	if len(raw) < 3 || raw[0] != magic[0] || raw[1] != magic[1] {
		return nil, fmt.Errorf("%w: not a swrcache entry", errCorrupt)
	}
	if raw[2] != formatVersion {
		return nil, fmt.Errorf("%w: format version %d, want %d", errCorrupt, raw[2], formatVersion)
	}
	e, err := parseFields(raw[3:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	fp := k.fingerprint()
	switch {
	case !bytes.Equal(e.Fingerprint, fp[:]):
		return nil, fmt.Errorf("%w: fingerprint does not match the key", errCorrupt)
	case e.StoredAt <= 0 || e.FreshUntil < e.StoredAt || e.StaleUntil < e.FreshUntil || e.ErrorUntil < e.FreshUntil:
		return nil, fmt.Errorf("%w: inconsistent times", errCorrupt)
	}
	return e, nil
}

func parseFields(b []byte) (*entry, error) {
	n, b, err := readMapLen(b)
	if err != nil {
		return nil, err
	}
	e := new(entry)
	for range n {
		var name []byte
		if name, b, err = readBytes(b); err != nil {
			return nil, err
		}
		switch string(name) {
		case "k":
			e.Fingerprint, b, err = readBytes(b)
		case "s":
			e.StoredAt, b, err = readInt(b)
		case "f":
			e.FreshUntil, b, err = readInt(b)
		case "w":
			e.StaleUntil, b, err = readInt(b)
		case "e":
			e.ErrorUntil, b, err = readInt(b)
		case "d":
			e.LoadMillis, b, err = readInt(b)
		case "t":
			e.Tags, b, err = readStrings(b)
		case "v":
			e.Value, b, err = readBytes(b)
		default:
			var skip int
			if skip, err = msgpackLen(b); err == nil {
				b = b[skip:]
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return e, nil
}

var errType = errors.New("msgpack: unexpected type")

// readMapLen reads a map header.
func readMapLen(b []byte) (int, []byte, error) {
	skip, items, err := header(b)
	if err != nil {
		return 0, nil, err
	}
	if c := b[0]; (c < 0x80 || c > 0x8f) && c != 0xde && c != 0xdf {
		return 0, nil, errType
	}
	if items > uint64(len(b)-skip) {
		return 0, nil, errTruncated
	}
	return int(items / 2), b[skip:], nil
}

// readBytes reads a bin, a str or nil, aliasing b.
func readBytes(b []byte) ([]byte, []byte, error) {
	skip, _, err := header(b)
	if err != nil {
		return nil, nil, err
	}
	c := b[0]
	switch {
	case c == 0xc0:
		return nil, b[1:], nil
	case c >= 0xa0 && c <= 0xbf:
		return b[1:skip], b[skip:], nil
	case c == 0xc4 || c == 0xd9:
		return b[2:skip], b[skip:], nil
	case c == 0xc5 || c == 0xda:
		return b[3:skip], b[skip:], nil
	case c == 0xc6 || c == 0xdb:
		return b[5:skip], b[skip:], nil
	}
	return nil, nil, errType
}

// readInt reads any msgpack integer that fits an int64.
func readInt(b []byte) (int64, []byte, error) {
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
	var v int64
	switch c {
	case 0xcc:
		v = int64(p[0])
	case 0xcd:
		v = int64(binary.BigEndian.Uint16(p))
	case 0xce:
		v = int64(binary.BigEndian.Uint32(p))
	case 0xcf:
		u := binary.BigEndian.Uint64(p)
		if u > 1<<63-1 {
			return 0, nil, errType
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
		return 0, nil, errType
	}
	return v, b[skip:], nil
}

// readStrings reads an array of strings, or nil.
func readStrings(b []byte) ([]string, []byte, error) {
	if len(b) > 0 && b[0] == 0xc0 {
		return nil, b[1:], nil
	}
	skip, items, err := header(b)
	if err != nil {
		return nil, nil, err
	}
	if c := b[0]; (c < 0x90 || c > 0x9f) && c != 0xdc && c != 0xdd {
		return nil, nil, errType
	}
	if items > uint64(len(b)-skip) {
		return nil, nil, errTruncated
	}
	b = b[skip:]
	out := make([]string, 0, items)
	for range items {
		var s []byte
		if s, b, err = readBytes(b); err != nil {
			return nil, nil, err
		}
		out = append(out, string(s))
	}
	return out, b, nil
}

// header reads the value header at the start of b and checks that its
// payload fits in b.
func header(b []byte) (skip int, items uint64, err error) {
	if len(b) == 0 {
		return 0, 0, errTruncated
	}
	s, items, err := msgpackHeader(b)
	if err != nil {
		return 0, 0, err
	}
	if s > uint64(len(b)) {
		return 0, 0, errTruncated
	}
	return int(s), items, nil
}
