// Package wire holds the bounds-checked primitives of swrcache's binary
// formats: the msgpack envelope of a cache entry (core), the stored HTTP
// response and the vary marker (middleware), and the canonical encoding of
// a request that keys are hashed from (keyfunc).
//
// Two encodings are covered. Length-prefixed fields (AppendString, Reader)
// write a uvarint length and then the bytes; they carry no type codes and
// are used where only this project reads the bytes. Msgpack (AppendMap and
// its siblings, the Read functions, Check) is used for the entry envelope,
// which other tools may read.
//
// Bytes read back from Redis are untrusted: every reader here checks a
// declared length against the bytes that follow before it slices or
// allocates, so a planted value can neither read out of bounds nor make a
// reader allocate more than the input holds. Readers alias their input.
package wire
