package middleware

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/swrcache/swrcache/keyfunc"
)

// The stored response is a small binary format rather than msgpack through
// reflection, because it is decoded on every hit:
//
//	version byte (1)
//	status, field count, value count (uvarints; a field is its name and
//	its values, so value count = fields + values)
//	each field: name, value count, values (strings: uvarint length, bytes)
//	body (uvarint length, bytes)
//
// Decoding checks every length against the bytes left, allocates one
// string for all header text, one slice for all names and values and one
// for the fields, and aliases the body.
const responseVersion = 1

// maxFields bounds the header fields of a stored response.
const maxFields = 1000

func (r response) encode() ([]byte, error) {
	n := 1 + 3*binary.MaxVarintLen64 + len(r.Body) + binary.MaxVarintLen64
	strs := 0
	for _, f := range r.Header {
		strs += len(f)
		n += binary.MaxVarintLen64
		for _, s := range f {
			n += binary.MaxVarintLen64 + len(s)
		}
	}
	if len(r.Header) > maxFields {
		return nil, fmt.Errorf("middleware: %d header fields, at most %d are stored", len(r.Header), maxFields)
	}
	b := make([]byte, 0, n)
	b = append(b, responseVersion)
	b = binary.AppendUvarint(b, uint64(r.Status))
	b = binary.AppendUvarint(b, uint64(len(r.Header)))
	b = binary.AppendUvarint(b, uint64(strs))
	for _, f := range r.Header {
		b = appendString(b, f[0])
		b = binary.AppendUvarint(b, uint64(len(f)-1))
		for _, v := range f[1:] {
			b = appendString(b, v)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(r.Body)))
	return append(b, r.Body...), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errShort = errors.New("middleware: stored response is truncated")

// decodeResponse decodes and checks a stored response; an error makes the
// entry a miss. The body aliases b.
func decodeResponse(b []byte) (response, error) {
	if len(b) == 0 || b[0] != responseVersion {
		return response{}, errors.New("middleware: stored response has another format")
	}
	d := decoder{b: b[1:]}
	status, nfields, nstrs := d.uvarint(), d.uvarint(), d.uvarint()
	switch {
	case d.err != nil:
		return response{}, d.err
	case status < 200 || status > 599:
		return response{}, fmt.Errorf("middleware: stored status %d", status)
	case nfields > maxFields || nstrs > uint64(len(d.b)) || nfields > nstrs:
		return response{}, errShort
	}
	// One string holds every name and value: copy the rest of b once, and
	// slice the strings out of the copy as they are read.
	text := string(d.b)
	strs := make([]string, 0, nstrs)
	fields := make([][]string, 0, nfields)
	for range nfields {
		start := len(strs)
		strs = append(strs, d.str(text))
		nv := d.uvarint()
		if d.err != nil || nv == 0 || uint64(len(strs))+nv > nstrs {
			return response{}, errShort
		}
		for range nv {
			strs = append(strs, d.str(text))
		}
		if d.err != nil || !keyfunc.ValidHeaderName(strs[start]) {
			return response{}, errShort
		}
		fields = append(fields, strs[start:len(strs):len(strs)])
	}
	n := d.uvarint()
	if d.err != nil || n != uint64(len(d.b)) {
		return response{}, errShort
	}
	body := b[len(b)-len(d.b):]
	return response{Status: int(status), Header: fields, Body: body}, nil
}

// decoder reads uvarints and strings, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

// str reads a string and returns it as a slice of text, a copy of the
// decoder's input from where the header fields start (d.b is a suffix of it).
func (d *decoder) str(text string) string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errShort
		return ""
	}
	off := len(text) - len(d.b)
	d.b = d.b[n:]
	return text[off : off+int(n)]
}
