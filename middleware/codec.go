package middleware

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/swrcache/swrcache/internal/wire"
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
	if len(r.Header) > maxFields {
		return nil, fmt.Errorf("middleware: %d header fields, at most %d are stored", len(r.Header), maxFields)
	}
	n := 1 + 3*binary.MaxVarintLen64 + binary.MaxVarintLen64 + len(r.Body)
	strs := 0
	for _, f := range r.Header {
		strs += len(f)
		n += binary.MaxVarintLen64 + wire.StringsLen(f)
	}
	b := make([]byte, 0, n)
	b = append(b, responseVersion)
	b = binary.AppendUvarint(b, uint64(r.Status))
	b = binary.AppendUvarint(b, uint64(len(r.Header)))
	b = binary.AppendUvarint(b, uint64(strs))
	for _, f := range r.Header {
		b = wire.AppendString(b, f[0])
		b = wire.AppendStrings(b, f[1:])
	}
	b = binary.AppendUvarint(b, uint64(len(r.Body)))
	return append(b, r.Body...), nil
}

// mustEncode encodes a response known to be valid.
func (r response) mustEncode() []byte {
	b, err := r.encode()
	if err != nil {
		panic(err)
	}
	return b
}

var errShort = errors.New("middleware: stored response is truncated")

// decodeResponse decodes and checks a stored response; an error makes the
// entry a miss. The body aliases b.
func decodeResponse(b []byte) (response, error) {
	if len(b) == 0 || b[0] != responseVersion {
		return response{}, errors.New("middleware: stored response has another format")
	}
	d := wire.NewReader(b[1:])
	status, nfields, nstrs := d.Uvarint(), d.Uvarint(), d.Uvarint()
	switch {
	case d.Err() != nil:
		return response{}, errShort
	case status < 200 || status > 599:
		return response{}, fmt.Errorf("middleware: stored status %d", status)
	case nfields > maxFields || nstrs > uint64(d.Len()) || nfields > nstrs:
		return response{}, errShort
	}
	// One string holds every name and value: copy the rest of b once, and
	// slice the strings out of the copy as they are read.
	text := string(d.Rest())
	strs := make([]string, 0, nstrs)
	fields := make([][]string, 0, nfields)
	for range nfields {
		start := len(strs)
		strs = append(strs, d.StringIn(text))
		nv := d.Uvarint()
		if d.Err() != nil || nv == 0 || uint64(len(strs))+nv > nstrs {
			return response{}, errShort
		}
		for range nv {
			strs = append(strs, d.StringIn(text))
		}
		if d.Err() != nil || !keyfunc.ValidHeaderName(strs[start]) {
			return response{}, errShort
		}
		fields = append(fields, strs[start:len(strs):len(strs)])
	}
	n := d.Uvarint()
	if d.Err() != nil || n != uint64(d.Len()) {
		return response{}, errShort
	}
	return response{Status: int(status), Header: fields, Body: d.Rest()}, nil
}
