package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// MemoryConfig configures the engine's memory tier: entries kept in the
// process, decoded from Redis and ready to serve, so that a hit costs no
// round trip, and so that the origin is shielded while Redis is down. The
// zero value means no memory tier.
//
// An entry is served from memory with the same windows as from Redis
// (fresh, stale-while-revalidate, refresh ahead of expiry, once across
// instances). It is dropped on every invalidation, from this instance or
// any other (the engine subscribes to the notices); it is served only
// while that subscription is known to hear every notice; and it is read
// from Redis again once it is MaxAge old, whatever the notices say. While
// Redis cannot be reached, entries are served from memory inside their
// stale-if-error window, and what the loader loads meanwhile is kept in
// memory too.
type MemoryConfig struct {
	// MaxBytes bounds the memory the tier's entries take: their values,
	// keys and tags, and 128 bytes each for the rest. At least 1 MiB; 0
	// means no memory tier. When it is full, the tier keeps the entries
	// read most often (W-TinyLFU), not the newest: an entry read once may
	// not be kept, and one larger than MaxBytes never is.
	MaxBytes int64

	// MaxAge is how long an entry read from Redis may be served from memory
	// before it is read again: the most a copy can lag behind Redis if a
	// notice is late. Policy.Memory sets it per policy. 0 means 5s.
	MaxAge time.Duration
}

// DefaultMemoryMaxAge is MemoryConfig.MaxAge's default.
const DefaultMemoryMaxAge = 5 * time.Second

// memOverhead is what an entry costs in memory beyond its bytes: the
// cache's node, the entry struct and the slice headers.
const memOverhead = 128

func (c MemoryConfig) validate() error {
	switch {
	case c.MaxBytes < 0:
		return errors.New("core: Config.Memory.MaxBytes must not be negative; 0 means no memory tier")
	case c.MaxAge < 0:
		return fmt.Errorf("core: Config.Memory.MaxAge must not be negative, got %v; 0 means %v", c.MaxAge, DefaultMemoryMaxAge)
	case c.MaxBytes > 0 && c.MaxBytes < 1<<20:
		return fmt.Errorf("core: Config.Memory.MaxBytes %d is under 1 MiB: too small to hold anything worth keeping", c.MaxBytes)
	case c.MaxBytes == 0 && c.MaxAge != 0:
		return errors.New("core: Config.Memory.MaxAge is set but MaxBytes is 0: the memory tier is off; set MaxBytes to turn it on")
	case c.MaxAge > 0 && c.MaxAge < time.Millisecond:
		return fmt.Errorf("core: Config.Memory.MaxAge %v is under 1ms: nothing would be served from memory", c.MaxAge)
	}
	return nil
}

// memory is the memory tier.
type memory struct {
	cache  *otter.Cache[string, *memEntry] // by Key.Name
	maxAge time.Duration

	// gen counts the invalidations seen: a read or load that began before
	// one does not fill memory, as it may hold what was invalidated.
	gen atomic.Uint64
	// live: the engine's subscription hears the notices now.
	live atomic.Bool
	// since (Unix ns): entries put before it may have missed a notice, and
	// are served only while Redis cannot be reached.
	since atomic.Int64

	closed atomic.Bool        // Close emptied it: nothing more goes in
	stop   context.CancelFunc // ends the subscription
	done   chan struct{}      // closed when it has ended
}

// memEntry is an entry in memory.
type memEntry struct {
	id  string // Key.ID: a name that collides with another identity is a miss
	ent *entry
	at  int64 // Unix ns: when it was read from Redis, stored there, or loaded without it
}

func newMemory(c MemoryConfig) (*memory, error) {
	cache, err := otter.New(&otter.Options[string, *memEntry]{
		MaximumWeight: uint64(c.MaxBytes),
		Weigher: func(name string, me *memEntry) uint32 {
			n := memOverhead + len(name) + len(me.id) + cap(me.ent.Value) + cap(me.ent.Fingerprint)
			for _, t := range me.ent.Tags {
				n += len(t) + 16
			}
			return uint32(min(n, 1<<31))
		},
		// The caller runs the cache's upkeep: no goroutine of its own.
		Executor: func(fn func()) { fn() },
	})
	if err != nil {
		return nil, fmt.Errorf("core: memory tier: %w", err)
	}
	m := &memory{cache: cache, maxAge: c.MaxAge}
	if m.maxAge == 0 {
		m.maxAge = DefaultMemoryMaxAge
	}
	return m, nil
}

// maxAgeFor returns how long p's entries may be served from memory, or 0
// when p keeps out of it (or there is no memory tier).
func (m *memory) maxAgeFor(p Policy) time.Duration {
	switch {
	case m == nil || p.Memory < 0:
		return 0
	case p.Memory > 0:
		return p.Memory
	}
	return m.maxAge
}

// get returns k's entry in memory, or nil.
func (m *memory) get(k Key) *memEntry {
	me, ok := m.cache.GetIfPresent(k.Name)
	if !ok || me.id != k.ID {
		return nil
	}
	return me
}

// servable reports whether me may be served without asking Redis: the
// subscription hears every notice, none may have been missed since it
// was put, and it is younger than maxAge.
func (m *memory) servable(me *memEntry, now time.Time, maxAge time.Duration) bool {
	return m.live.Load() && me.at > m.since.Load() && now.UnixNano()-me.at < int64(maxAge)
}

// put keeps ent as k's entry, read or stored at now, unless an
// invalidation came since gen was read. An invalidation between the check
// and the store is caught by checking again.
func (m *memory) put(k Key, ent *entry, now time.Time, gen uint64) {
	if m.gen.Load() != gen || m.closed.Load() {
		return
	}
	m.cache.Set(k.Name, &memEntry{id: k.ID, ent: ent, at: now.UnixNano()})
	if m.gen.Load() != gen {
		m.cache.Invalidate(k.Name)
	}
}

// drop removes the entries of keys and those tagged with any of tags.
func (m *memory) drop(keys, tags []string) {
	m.gen.Add(1)
	for _, k := range keys {
		m.cache.Invalidate(k)
	}
	if len(tags) == 0 {
		return
	}
	for name, me := range m.cache.All() {
		if slices.ContainsFunc(me.ent.Tags, func(t string) bool { return slices.Contains(tags, t) }) {
			m.cache.Invalidate(name)
		}
	}
}

// clear removes every entry.
func (m *memory) clear() {
	m.gen.Add(1)
	m.cache.InvalidateAll()
}

// notice applies a notice from the subscription: an invalidation drops
// what it names. A Missed notice when the subscription is lost makes
// every entry unservable while Redis answers (it may still be served
// while Redis cannot be reached, the shield); once subscribed again,
// everything goes.
func (m *memory) notice(inv Invalidation, self string) {
	if !inv.Missed {
		if inv.Source != self { // this engine dropped its own twice already
			m.drop(inv.Keys, inv.Tags)
		}
		return
	}
	m.since.Store(time.Now().UnixNano())
	if m.live.Load() {
		m.clear()
	}
}

// subscribe keeps the engine's memory coherent until ctx ends.
func (e *Engine) subscribeMemory(ctx context.Context) {
	defer close(e.mem.done)
	_ = e.subscribe(ctx, func(inv Invalidation) { e.mem.notice(inv, e.id) }, func(live bool) {
		e.mem.live.Store(live)
		if !live {
			e.mem.since.Store(time.Now().UnixNano())
		}
	})
}

// closeMemory ends the subscription and empties memory.
func (e *Engine) closeMemory(ctx context.Context) error {
	if e.mem == nil {
		return nil
	}
	e.mem.stop()
	select {
	case <-e.mem.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	e.mem.live.Store(false)
	e.mem.closed.Store(true)
	e.mem.clear()
	return nil
}

// MemoryStats is what the memory tier holds, for metrics and tests.
type MemoryStats struct {
	Bytes   uint64 // by the tier's own weighing; at most MemoryConfig.MaxBytes
	Entries int
	// Live: the tier's subscription hears the invalidation notices, so
	// entries may be served without asking Redis.
	Live bool
}

// MemoryStats reports what the memory tier holds; the zero value without
// one.
func (e *Engine) MemoryStats() MemoryStats {
	if e.mem == nil {
		return MemoryStats{}
	}
	return MemoryStats{Bytes: e.mem.cache.WeightedSize(), Entries: e.mem.cache.EstimatedSize(), Live: e.mem.live.Load()}
}
