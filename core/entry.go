package core

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/swrcache/swrcache/internal/wire"
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

	resource string // the lookup's Policy.Resource, for events
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
// msgpack map whose one-letter keys are named on the fields. Times are Unix
// milliseconds.
type entry struct {
	Fingerprint []byte   // k
	StoredAt    int64    // s
	FreshUntil  int64    // f
	StaleUntil  int64    // w
	ErrorUntil  int64    // e
	LoadMillis  int64    // d: how long the loader took, for XFetch
	KeepUntil   int64    // r: kept for revalidation until then; left out when 0
	Tags        []string // t, left out when empty
	Value       []byte   // v
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
		KeepUntil:   keepUntil(fresh, p.keep),
		Tags:        tags,
		Value:       value,
	}
}

func keepUntil(fresh int64, keep time.Duration) int64 {
	if keep <= 0 {
		return 0
	}
	return fresh + keep.Milliseconds()
}

// value is e's value, nil for no entry.
func (e *entry) value() []byte {
	if e == nil {
		return nil
	}
	return e.Value
}

// expiryMargin keeps an entry in Redis a little past its last window, so
// instances whose clocks run slightly behind still see it.
const expiryMargin = 5 * time.Second

// redisTTL is the hard expiry of e in Redis, counted from now.
func (e *entry) redisTTL(now time.Time) time.Duration {
	end := max(e.StaleUntil, e.ErrorUntil, e.KeepUntil)
	return time.Duration(end-now.UnixMilli())*time.Millisecond + expiryMargin
}

func (e *entry) encode() []byte {
	b := make([]byte, 0, len(e.Value)+96+len(e.Tags)*16)
	b = append(b, magic[0], magic[1], formatVersion)
	fields := 7
	if len(e.Tags) > 0 {
		fields++
	}
	if e.KeepUntil > 0 {
		fields++
	}
	b = wire.AppendMap(b, fields)
	b = wire.AppendBin(wire.AppendStr(b, "k"), e.Fingerprint)
	b = wire.AppendInt(wire.AppendStr(b, "s"), e.StoredAt)
	b = wire.AppendInt(wire.AppendStr(b, "f"), e.FreshUntil)
	b = wire.AppendInt(wire.AppendStr(b, "w"), e.StaleUntil)
	b = wire.AppendInt(wire.AppendStr(b, "e"), e.ErrorUntil)
	b = wire.AppendInt(wire.AppendStr(b, "d"), e.LoadMillis)
	if e.KeepUntil > 0 {
		b = wire.AppendInt(wire.AppendStr(b, "r"), e.KeepUntil)
	}
	if len(e.Tags) > 0 {
		b = wire.AppendArray(wire.AppendStr(b, "t"), len(e.Tags))
		for _, t := range e.Tags {
			b = wire.AppendStr(b, t)
		}
	}
	return wire.AppendBin(wire.AppendStr(b, "v"), e.Value)
}

// errCorrupt marks an entry that must not be served. It never reaches a
// caller: the read path turns it into a miss and an EventCorrupt.
var errCorrupt = errors.New("core: corrupt entry")

// decodeEntry parses raw for k and checks that it belongs to k. It runs on
// every hit, so it allocates only the entry and its tags; the entry's Value
// aliases raw, which must not be modified afterwards. Unknown fields are
// skipped, so a later version may add fields without a format bump.
func decodeEntry(raw []byte, k Key) (*entry, error) {
	e, err := parseEnvelope(raw)
	if err != nil {
		return nil, err
	}
	if fp := k.fingerprint(); !bytes.Equal(e.Fingerprint, fp[:]) {
		return nil, fmt.Errorf("%w: fingerprint does not match the key", errCorrupt)
	}
	return e, nil
}

// parseEnvelope decodes raw as an entry of this format version, with
// consistent times, for any key.
func parseEnvelope(raw []byte) (*entry, error) {
	if len(raw) < 3 || raw[0] != magic[0] || raw[1] != magic[1] {
		return nil, fmt.Errorf("%w: not a swrcache entry", errCorrupt)
	}
	if raw[2] != formatVersion {
		return nil, fmt.Errorf("%w: format version %d, this build reads %d", errCorrupt, raw[2], formatVersion)
	}
	e, err := parseFields(raw[3:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	if e.StoredAt <= 0 || e.FreshUntil < e.StoredAt || e.StaleUntil < e.FreshUntil || e.ErrorUntil < e.FreshUntil ||
		(e.KeepUntil != 0 && e.KeepUntil < e.FreshUntil) {
		return nil, fmt.Errorf("%w: inconsistent times", errCorrupt)
	}
	return e, nil
}

func parseFields(b []byte) (*entry, error) {
	n, b, err := wire.ReadMap(b)
	if err != nil {
		return nil, err
	}
	e := new(entry)
	for range n {
		var name []byte
		if name, b, err = wire.ReadBytes(b); err != nil {
			return nil, err
		}
		switch string(name) {
		case "k":
			e.Fingerprint, b, err = wire.ReadBytes(b)
		case "s":
			e.StoredAt, b, err = wire.ReadInt(b)
		case "f":
			e.FreshUntil, b, err = wire.ReadInt(b)
		case "w":
			e.StaleUntil, b, err = wire.ReadInt(b)
		case "e":
			e.ErrorUntil, b, err = wire.ReadInt(b)
		case "d":
			e.LoadMillis, b, err = wire.ReadInt(b)
		case "r":
			e.KeepUntil, b, err = wire.ReadInt(b)
		case "t":
			e.Tags, b, err = wire.ReadStrings(b)
		case "v":
			e.Value, b, err = wire.ReadBytes(b)
		default:
			b, err = wire.Skip(b)
		}
		if err != nil {
			return nil, err
		}
	}
	return e, nil
}
