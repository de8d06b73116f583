package core

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Key names one cached item.
type Key struct {
	// Name is the item's Redis key, before the engine's namespace.
	Name string
	// ID is the item's full identity, such as a canonical encoding of a
	// request. The stored entry carries a fingerprint of it, so two
	// identities that share a Name (a short hash that collided, or a value
	// planted under another key) never read each other's entries.
	// "" means Name is the identity.
	ID string
}

func (k Key) fingerprint() [fingerprintLen]byte {
	id := k.ID
	if id == "" {
		id = k.Name
	}
	sum := sha256.Sum256([]byte(id))
	var fp [fingerprintLen]byte
	copy(fp[:], sum[:])
	return fp
}

const fingerprintLen = 16

// formatVersion is the envelope's format. An entry of any other version is a
// miss, so a deploy that changes the format overwrites old entries as they
// are read rather than misreading them.
const formatVersion = 1

// magic starts every entry: 0xc1 is never used by msgpack, so no plain
// msgpack, JSON or text value written by another program can pass for one.
var magic = [2]byte{0xc1, 's'}

// entry is one cached item as stored in Redis: magic, version byte, then a
// msgpack map. Times are Unix milliseconds.
type entry struct {
	Fingerprint []byte   `msgpack:"k"`
	StoredAt    int64    `msgpack:"s"`
	FreshUntil  int64    `msgpack:"f"`
	StaleUntil  int64    `msgpack:"w"`
	ErrorUntil  int64    `msgpack:"e"`
	LoadMillis  int64    `msgpack:"d"` // how long the loader took, for XFetch
	Tags        []string `msgpack:"t,omitempty"`
	Value       []byte   `msgpack:"v"`
}

// newEntry builds the entry for a value loaded at now under p.
func newEntry(k Key, p Policy, value []byte, tags []string, now time.Time, load time.Duration) *entry {
	fp := k.fingerprint()
	at := now.UnixMilli()
	fresh := at + p.TTL.Milliseconds()
	return &entry{
		Fingerprint: fp[:],
		StoredAt:    at,
		FreshUntil:  fresh,
		StaleUntil:  fresh + p.StaleWhileRevalidate.Milliseconds(),
		ErrorUntil:  fresh + p.StaleIfError.Milliseconds(),
		LoadMillis:  load.Milliseconds(),
		Tags:        tags,
		Value:       value,
	}
}

// expiryMargin keeps an entry in Redis a little past its last window, so
// instances whose clocks run slightly behind still see it.
const expiryMargin = 5 * time.Second

// redisTTL is the hard expiry of e in Redis, counted from now.
func (e *entry) redisTTL(now time.Time) time.Duration {
	end := max(e.StaleUntil, e.ErrorUntil)
	return time.Duration(end-now.UnixMilli())*time.Millisecond + expiryMargin
}

func (e *entry) encode() ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(e.Value) + 96)
	buf.Write(magic[:])
	buf.WriteByte(formatVersion)
	if err := msgpack.NewEncoder(&buf).Encode(e); err != nil {
		return nil, fmt.Errorf("core: encode entry: %w", err)
	}
	return buf.Bytes(), nil
}

// errCorrupt marks an entry that must not be served. It never reaches a
// caller: the read path turns it into a miss and an EventCorrupt.
var errCorrupt = errors.New("core: corrupt entry")
