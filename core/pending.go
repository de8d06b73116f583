package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrQueued is returned, wrapped with the Redis error, by Invalidate and
// InvalidateTags when Redis could not be reached: the invalidation is
// remembered and replayed as soon as Redis answers again, and until then
// this engine serves nothing it names from the cache.
var ErrQueued = errors.New("core: invalidation queued until Redis answers")

// maxPending bounds the keys and tags remembered for replay.
const maxPending = 1 << 16

// replayEvery is how often queued invalidations are tried again; a lookup
// that reaches Redis brings the next try on.
const replayEvery = 100 * time.Millisecond

// recoveryGrace is how long an engine that saw Redis fail serves no entry
// stored before Redis answered it again: long enough for every instance
// to replay the invalidations it queued meanwhile (each tries every
// replayEvery, past the breaker), so that none of those entries is served
// after a write that could not reach Redis.
const recoveryGrace = 500 * time.Millisecond

// healths is what an engine saw of each Redis node lately: of the one it
// uses, or of each master of a Cluster, so that one master's outage
// suspects that master's entries alone.
type healths struct {
	single     health
	graceUntil atomic.Int64 // the latest graceUntil of any node: a hit past it looks no further
	nodes      sync.Map     // node → *health; read on every call to a Cluster
	n          atomic.Int32 // nodes held, at most maxNodes
}

// of returns the health of node ("" for a client that is not a cluster's).
func (hs *healths) of(node string) *health {
	if node == "" {
		return &hs.single
	}
	if h, ok := hs.nodes.Load(node); ok {
		return h.(*health)
	}
	if hs.n.Add(1) > maxNodes {
		hs.n.Add(-1)
		return &hs.single
	}
	h, loaded := hs.nodes.LoadOrStore(node, new(health))
	if loaded {
		hs.n.Add(-1)
	}
	return h.(*health)
}

// maxNodes bounds the nodes whose health is kept apart.
const maxNodes = 1024

// suspect reports whether ent, the entry of the item named name, found at
// now, must not be served (see health.suspect).
func (e *Engine) suspect(ctx context.Context, name string, ent *entry, now int64) bool {
	if now >= e.health.graceUntil.Load() {
		return false // no grace on anywhere: the hit path costs no node lookup
	}
	if e.cluster == nil {
		return e.health.single.suspect(ent, now)
	}
	return e.health.of(e.nodeOf(ctx, e.entryKey(name))).suspect(ent, now)
}

// health is what an engine saw of a Redis node lately.
type health struct {
	failing     atomic.Bool  // the last call failed
	graceBefore atomic.Int64 // entries stored before this (Unix ms) are not served...
	graceUntil  atomic.Int64 // ...until this; 0 when no grace is on
}

func (h *health) failed() { h.failing.Store(true) }

// answered notes a call node answered; the first after a failure starts
// the grace.
func (h *health) answered(e *Engine, node string) {
	if !h.failing.Load() || !h.failing.CompareAndSwap(true, false) {
		return
	}
	now := e.now().UnixMilli()
	h.graceBefore.Store(now)
	h.graceUntil.Store(now + recoveryGrace.Milliseconds())
	for until := now + recoveryGrace.Milliseconds(); ; {
		latest := e.health.graceUntil.Load()
		if latest >= until || e.health.graceUntil.CompareAndSwap(latest, until) {
			break
		}
	}
	e.emit(context.Background(), Event{Kind: EventBreaker, From: "failing", To: "answering", Detail: "recovered " + node})
}

// suspect reports whether ent, found at now, must not be served: it was
// stored before Redis answered again after a failure, and the grace is on.
func (h *health) suspect(ent *entry, now int64) bool {
	until := h.graceUntil.Load()
	if until == 0 {
		return false
	}
	if now >= until {
		h.graceUntil.CompareAndSwap(until, 0)
		return false
	}
	return ent.StoredAt < h.graceBefore.Load()
}

// pending is the invalidations that could not reach Redis, by key and by
// tag, until they are replayed. While it holds any, lookups of what it
// names bypass the cache; past maxPending it cannot tell what it lost, and
// every lookup bypasses the cache until a replay succeeds.
type pending struct {
	n    atomic.Int32 // keys, tags, and one for overflowed: a hit reads this alone
	kick chan struct{}

	mu         sync.Mutex
	keys, tags map[string]struct{} // protected by mu
	overflowed bool                // protected by mu
	replaying  bool                // a replayer runs; protected by mu
}

func (p *pending) init() { p.kick = make(chan struct{}, 1) }

// add remembers keys and tags, and reports whether a replayer must start,
// and whether it could not hold them all.
func (p *pending) add(keys, tags []string) (start, overflowed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.keys == nil {
		p.keys, p.tags = make(map[string]struct{}), make(map[string]struct{})
	}
	for _, set := range []struct {
		m     map[string]struct{}
		names []string
	}{{p.keys, keys}, {p.tags, tags}} {
		for _, name := range set.names {
			if len(p.keys)+len(p.tags) >= maxPending {
				p.overflowed = true
				break
			}
			set.m[name] = struct{}{}
		}
	}
	p.count()
	start = !p.replaying
	p.replaying = true
	return start, p.overflowed
}

// count updates n; p.mu is held.
func (p *pending) count() {
	n := len(p.keys) + len(p.tags)
	if p.overflowed {
		n++
	}
	p.n.Store(int32(n))
}

// blocks reports whether an item under key, with tags, must not be served
// from the cache: an invalidation that names it has not reached Redis.
func (p *pending) blocks(key string, tags []string) bool {
	if p.n.Load() == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.overflowed {
		return true
	}
	if _, ok := p.keys[key]; ok {
		return true
	}
	for _, t := range tags {
		if _, ok := p.tags[t]; ok {
			return true
		}
	}
	return false
}

// snapshot returns what is pending.
func (p *pending) snapshot() (keys, tags []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.keys {
		keys = append(keys, k)
	}
	for t := range p.tags {
		tags = append(tags, t)
	}
	return keys, tags
}

// done forgets what a replay sent, and reports whether anything is left;
// if not, the replayer stops.
func (p *pending) done(keys, tags []string) (left bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		delete(p.keys, k)
	}
	for _, t := range tags {
		delete(p.tags, t)
	}
	p.overflowed = false // what it could not hold is lost; the event said so
	p.count()
	p.replaying = p.n.Load() > 0
	return p.replaying
}

// nudge brings the next replay on, if one waits.
func (p *pending) nudge() {
	if p.n.Load() == 0 {
		return
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// queue remembers an invalidation that failed with err, starts the replayer
// if none runs, and returns the error for the caller.
func (e *Engine) queue(ctx context.Context, keys, tags []string, err error) error {
	start, overflowed := e.pending.add(keys, tags)
	if start {
		e.bg.goOwned(e.replay)
	}
	detail := fmt.Sprintf("queued %d keys, %d tags", len(keys), len(tags))
	if overflowed {
		detail += fmt.Sprintf("; over %d pending, some are lost: every lookup bypasses the cache until a replay", maxPending)
	}
	e.emit(ctx, Event{Kind: EventInvalidate, Err: err, Detail: detail})
	return fmt.Errorf("%w: %w", ErrQueued, err)
}

// replay sends the pending invalidations to Redis until none is left,
// every replayEvery (sooner when a lookup reaches Redis), past the breaker.
// Once the engine closes it tries once more and stops.
func (e *Engine) replay(stop <-chan struct{}) {
	ctx := context.WithValue(context.Background(), unguardedKey{}, true)
	for closing := false; !closing; {
		t := time.NewTimer(replayEvery)
		select {
		case <-t.C:
		case <-e.pending.kick:
		case <-stop:
			closing = true
		}
		t.Stop()
		keys, tags := e.pending.snapshot()
		if err := e.invalidate(ctx, keys, tags); err != nil {
			if closing {
				e.emit(ctx, Event{Kind: EventInvalidate, Err: err, Detail: fmt.Sprintf("lost at close: %d keys, %d tags", len(keys), len(tags))})
			}
			continue
		}
		e.emit(ctx, Event{Kind: EventInvalidate, Detail: fmt.Sprintf("replayed %d keys, %d tags", len(keys), len(tags))})
		if !e.pending.done(keys, tags) {
			return
		}
	}
}
