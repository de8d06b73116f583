package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// EntryInfo is an entry as stored in Redis, decoded for operators' tools
// (cmd/swrcache inspect): the envelope of the entry format (see the
// package documentation) and the value it wraps. The read path never uses
// it.
type EntryInfo struct {
	StoredAt   time.Time
	FreshUntil time.Time // the end of its fresh period
	StaleUntil time.Time // the end of its stale-while-revalidate window; FreshUntil when it has none
	ErrorUntil time.Time // the end of its stale-if-error window; FreshUntil when it has none
	// KeepUntil is how long Redis holds it past its windows, never served
	// but handed to the next load to revalidate (Lifetime.Keep); zero when
	// it is not kept.
	KeepUntil time.Time
	LoadTime  time.Duration
	Tags      []string
	Value     []byte // the cached bytes: a Fetch's value in the engine's Codec, or the HTTP layer's
	// Fingerprint is the first 16 bytes of SHA-256 of the identity of the
	// key it was stored for (Key.ID, else Key.Name); see BelongsTo.
	Fingerprint []byte
}

// DecodeEntry decodes raw, a value read from an entry's Redis key, without
// knowing the Key it was stored for: BelongsTo checks that afterwards. An
// error says why raw is not an entry the engine would serve: another
// program's value, another format version, or a damaged one. DecodeEntry
// never panics, whatever raw holds; the result aliases raw.
func DecodeEntry(raw []byte) (EntryInfo, error) {
	e, err := parseEnvelope(raw)
	if err != nil {
		return EntryInfo{}, err
	}
	return EntryInfo{
		StoredAt:    time.UnixMilli(e.StoredAt),
		FreshUntil:  time.UnixMilli(e.FreshUntil),
		StaleUntil:  time.UnixMilli(e.StaleUntil),
		ErrorUntil:  time.UnixMilli(e.ErrorUntil),
		KeepUntil:   keptUntil(e.KeepUntil),
		LoadTime:    time.Duration(e.LoadMillis) * time.Millisecond,
		Tags:        e.Tags,
		Value:       e.Value,
		Fingerprint: e.Fingerprint,
	}, nil
}

func keptUntil(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// BelongsTo reports whether the entry was stored for k's identity. A
// lookup of k treats an entry that does not as a miss: it was stored for
// another identity whose name collided with k's, or planted.
func (i EntryInfo) BelongsTo(k Key) bool {
	fp := k.fingerprint()
	return bytes.Equal(i.Fingerprint, fp[:])
}

// EntryState is what a lookup at a given time does with an entry.
type EntryState uint8

// The states of an entry, in the order it goes through them.
const (
	// StateFresh: served as a hit.
	StateFresh EntryState = iota + 1
	// StateStale: past its fresh period, inside its stale-while-revalidate
	// window: served at once while a background refresh replaces it.
	StateStale
	// StateStaleIfError: past both, inside its stale-if-error window: a
	// lookup loads the item again, and serves this entry only if the
	// load fails.
	StateStaleIfError
	// StateExpired: past every window: a lookup loads the item again. Redis
	// drops the entry a few seconds later.
	StateExpired
)

var stateNames = [...]string{StateFresh: "fresh", StateStale: "stale", StateStaleIfError: "stale-if-error", StateExpired: "expired"}

// String returns the state's name, such as "fresh".
func (s EntryState) String() string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return "unknown"
}

// State returns the entry's state at now, decided as the read path decides
// it: from the entry's own windows, never from its Redis TTL.
func (i EntryInfo) State(now time.Time) EntryState {
	switch {
	case now.Before(i.FreshUntil):
		return StateFresh
	case now.Before(i.StaleUntil):
		return StateStale
	case now.Before(i.ErrorUntil):
		return StateStaleIfError
	}
	return StateExpired
}

// Inspection is what Inspect found under one item name.
type Inspection struct {
	Name     string // the item's name, Key.Name
	RedisKey string // the Redis key that holds it: the namespace, then the name in a hash tag
	Found    bool   // Redis holds a value under RedisKey
	Raw      []byte // that value, as stored
	// TTL is the value's Redis expiry (PTTL): the hard limit past every
	// window. -1 means it has none, which the engine never stores.
	TTL   time.Duration
	Entry EntryInfo // Raw decoded, when DecodeErr is nil
	// DecodeErr says why Raw is not an entry (see DecodeEntry), or is nil.
	DecodeErr error
}

// Inspect reads what Redis holds under the item name, for operators' tools:
// the raw value, decoded with DecodeEntry, and its Redis TTL. It is a plain
// read, bounded by OpTimeout and guarded by the Breaker like any other: it
// serves nothing, refreshes nothing, reports no corrupt entry, and does not
// check the entry's identity (see EntryInfo.BelongsTo). Its error is
// Redis's, or the name's.
func (e *Engine) Inspect(ctx context.Context, name string) (Inspection, error) {
	if err := validName(name); err != nil {
		return Inspection{}, err
	}
	ek := e.entryKey(name)
	type reply struct {
		found bool
		raw   []byte
		ttl   time.Duration
		err   error // Redis's own answer to the GET: the key holds no string
	}
	r, err := call(ctx, e, name, ek, func(ctx context.Context) (reply, error) {
		pipe := e.rdb.Pipeline()
		get := pipe.Get(ctx, ek)
		ttl := pipe.PTTL(ctx, ek)
		if _, err := pipe.Exec(ctx); pipelineErr(err) != nil {
			return reply{}, err
		}
		raw, err := get.Bytes()
		if errors.Is(err, redis.Nil) {
			return reply{}, nil
		}
		return reply{found: true, raw: raw, ttl: ttl.Val(), err: err}, nil
	})
	if err != nil {
		return Inspection{}, fmt.Errorf("core: inspect %q: %w", name, err)
	}
	in := Inspection{Name: name, RedisKey: ek, Found: r.found, Raw: r.raw, TTL: r.ttl}
	switch {
	case r.err != nil:
		in.DecodeErr = fmt.Errorf("%w: %v", errCorrupt, r.err)
	case r.found:
		in.Entry, in.DecodeErr = DecodeEntry(r.raw)
	}
	return in, nil
}

// Tagged returns the names of up to limit items recorded under tag, walking
// the tag's set with SSCAN as InvalidateTags does (limit 0 means every
// one). A tag set keeps a name until the tag is invalidated or the set
// expires with its last entry, so some of them may no longer be stored:
// Inspect says which are.
func (e *Engine) Tagged(ctx context.Context, tag string, limit int) ([]string, error) {
	if err := validTag(tag); err != nil {
		return nil, fmt.Errorf("core: Tagged: %w", err)
	}
	tk := e.tagKey(tag)
	type page struct {
		members []string
		next    uint64
	}
	var names []string
	var cursor uint64
	for {
		p, err := call(ctx, e, "", tk, func(ctx context.Context) (page, error) {
			members, next, err := e.rdb.SScan(ctx, tk, cursor, "", tagScanCount).Result()
			return page{members, next}, err
		})
		if err != nil {
			return nil, fmt.Errorf("core: Tagged %q: %w", tag, err)
		}
		for _, m := range p.members {
			if name, ok := e.nameOf(m); ok {
				names = append(names, name)
			}
			if limit > 0 && len(names) == limit {
				return names, nil
			}
		}
		if cursor = p.next; cursor == 0 {
			return names, nil
		}
	}
}

// nameOf returns the item name of entry key ek, the inverse of entryKey.
func (e *Engine) nameOf(ek string) (string, bool) {
	rest, ok := strings.CutPrefix(ek, e.cfg.Namespace+"{")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "}")
}
