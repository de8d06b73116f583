package core

import (
	"context"
	"time"
)

// FetchMany with the memory tier: keys whose entries in memory may be
// served are served from there, the others read from Redis (and kept in
// memory); while Redis is out of reach, memory copies inside their
// stale-if-error window are served.

// memBatch is what a FetchMany needs of the memory tier: how long its
// policy's entries may be served from it (0: not at all), and its
// invalidations when the batch began.
type memBatch struct {
	age time.Duration
	gen uint64
}

// fromMemoryMany serves the keys whose entries in memory may be served
// without Redis, as FetchMany serves them from Redis, and returns the
// others.
func fromMemoryMany[T any](ctx context.Context, e *Engine, keys []string, p Policy, age time.Duration,
	decode func([]byte) (T, error), out map[string]T, o *outcomes, stale *[]string) []string {
	now := e.now()
	return servedFromMemory(e, keys, decode, out, func(me *memEntry) bool {
		return e.mem.servable(me, now, age) && now.UnixMilli() < me.ent.StaleUntil
	}, func(key string, ent *entry) {
		switch {
		case now.UnixMilli() >= ent.FreshUntil:
			o.reportMemory(ctx, key, EventStale)
			*stale = append(*stale, key)
		case e.refreshDue(ent, p, now):
			o.reportMemory(ctx, key, EventHit)
			*stale = append(*stale, key)
		default:
			o.reportMemory(ctx, key, EventHit)
		}
	})
}

// shieldMany serves, while Redis is out of reach, the keys of chunk whose
// entries in memory are inside their stale-if-error window, and returns
// the others.
func shieldMany[T any](ctx context.Context, e *Engine, chunk []string, decode func([]byte) (T, error), out map[string]T, o *outcomes) []string {
	now := e.now().UnixMilli()
	return servedFromMemory(e, chunk, decode, out, func(me *memEntry) bool { return now < me.ent.ErrorUntil },
		func(key string, _ *entry) { o.reportMemory(ctx, key, EventStaleIfError) })
}

// servedFromMemory puts in out the value of each key whose entry in
// memory may serve (no invalidation of it waits to reach Redis) and
// decodes, calling served for it, and returns the other keys.
func servedFromMemory[T any](e *Engine, keys []string, decode func([]byte) (T, error), out map[string]T,
	may func(*memEntry) bool, served func(key string, ent *entry)) []string {
	rest := keys[:0:0]
	for _, key := range keys {
		k := Key{Name: key}
		me := e.mem.get(k)
		if me == nil || !may(me) || e.blocked(k, me.ent) {
			rest = append(rest, key)
			continue
		}
		v, err := decode(me.ent.Value)
		if err != nil {
			rest = append(rest, key)
			continue
		}
		out[key] = v
		served(key, me.ent)
	}
	return rest
}

// reportMemory reports the outcome of a key served from the memory tier.
func (o *outcomes) reportMemory(ctx context.Context, key string, kind EventKind) {
	if o == nil {
		return
	}
	o.e.emit(ctx, Event{Kind: kind, Resource: o.resource, Key: key, Duration: time.Since(o.start), Detail: "memory"})
}

// putMany keeps a batch's items, loaded under p in took, in memory, unless
// an invalidation came since gen.
func (e *Engine) putMany(p Policy, items map[string][]byte, took time.Duration, gen uint64) {
	now := e.now()
	for key, b := range items {
		k := Key{Name: key}
		e.mem.put(k, newEntry(k, p, b, p.Tags, now, took), now, gen)
	}
}
