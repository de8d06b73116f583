package wire

import (
	"encoding/binary"
	"errors"
)

// ErrShort is the error of a Reader that ran out of input, or met a length
// longer than the input left.
var ErrShort = errors.New("wire: truncated or inconsistent input")

// AppendString appends s with its uvarint length before it.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendStrings appends the count of ss, then each string as AppendString does.
func AppendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = AppendString(b, s)
	}
	return b
}

// StringLen is the length of s as AppendString encodes it.
func StringLen(s string) int { return UvarintLen(uint64(len(s))) + len(s) }

// StringsLen is the length of ss as AppendStrings encodes it.
func StringsLen(ss []string) int {
	n := UvarintLen(uint64(len(ss)))
	for _, s := range ss {
		n += StringLen(s)
	}
	return n
}

// UvarintLen is the length of v as a uvarint.
func UvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// Reader reads length-prefixed fields. It remembers the first error: once a
// read fails, every later read returns a zero value, and Err reports it.
type Reader struct {
	b   []byte
	err error
}

// NewReader returns a Reader of b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err returns the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Len returns the number of bytes not read yet.
func (r *Reader) Len() int { return len(r.b) }

// Rest returns the bytes not read yet, aliasing the input.
func (r *Reader) Rest() []byte { return r.b }

func (r *Reader) fail() { r.err, r.b = ErrShort, nil }

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// Uvarint reads a uvarint.
func (r *Reader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Count reads a uvarint count of items that each take at least one byte,
// and fails if the input left cannot hold that many.
func (r *Reader) Count() int {
	n := r.Uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n)
}

// Bytes reads a uvarint length and that many bytes, aliasing the input.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// String reads a string as AppendString wrote it, copying it.
func (r *Reader) String() string { return string(r.Bytes()) }

// StringIn reads a string as AppendString wrote it and returns it as a
// substring of text, without copying. text must be a copy of this reader's
// input from some earlier point on: the input left must be a suffix of it.
// Decoders that read many strings copy their input into one string once
// and slice every string out of it.
func (r *Reader) StringIn(text string) string {
	p := r.Bytes()
	if r.err != nil {
		return ""
	}
	end := len(text) - len(r.b)
	if end < len(p) || end > len(text) { // text does not hold the input: misuse
		r.fail()
		return ""
	}
	return text[end-len(p) : end]
}
