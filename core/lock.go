package core

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The fill lock is an efficiency lock: losing it costs at most one extra
// loader call, never a wrong value. It is SET NX PX with a random token, and
// only its holder may store under it or release it (held.go).

func newToken() string { return rand.Text() }

// lockState is what one try at a key's lock found.
type lockState struct {
	won   bool
	ent   *entry    // the key's entry, only if it is fresh
	start time.Time // when the try's reply came, before any load it leads to, by this process's monotonic clock (see InvalidateTags)
}

// locked is what tryLock reads back from Redis, returned by value.
type locked struct {
	won bool
	raw []byte
}

// tryLock tries once to take k's lock and, in the same round trip (one
// node: the entry and its lock share a slot), reads k's entry. A failure
// after the lock may have been taken remembers it, to be released.
func (e *Engine) tryLock(ctx context.Context, k Key, token string, check func([]byte) error) (lockState, error) {
	ek := e.entryKey(k.Name)
	got, err := call(ctx, e, k.Name, ek, func(ctx context.Context) (locked, error) {
		pipe := e.rdb.Pipeline()
		set := pipe.SetArgs(ctx, lockKey(ek), token, redis.SetArgs{Mode: "NX", TTL: e.cfg.LockTTL})
		get := pipe.Get(ctx, ek)
		if _, err := pipe.Exec(ctx); pipelineErr(err) != nil {
			return locked{}, err
		}
		if err := set.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return locked{}, err
		}
		raw, err := get.Bytes()
		if err != nil && !errors.Is(err, redis.Nil) {
			return locked{}, err
		}
		return locked{won: set.Err() == nil, raw: raw}, nil
	})
	if err != nil {
		if !errors.Is(err, errBypass) && !isReply(err) {
			e.orphans.add(lockKey(ek), token, e.cfg.LockTTL) // Redis may have taken it before failing
		}
		return lockState{}, err
	}
	st := lockState{won: got.won, start: time.Now()}
	if got.raw != nil {
		// Quiet: a corrupt entry here was reported by the read that led here.
		st.ent = e.parseEntry(ctx, k, got.raw, check, true)
		if now := e.now().UnixMilli(); st.ent != nil && (now >= st.ent.FreshUntil || e.suspect(ctx, k.Name, st.ent, now)) {
			st.ent = nil // not fresh, or not to be served yet (see lookup)
		}
	}
	return st, nil
}

// acquire takes k's lock, or waits for the instance holding it to store a
// fresh entry. It polls with jittered, growing pauses, trying the lock each
// time, so that when the holder stalls past the lock's TTL a waiter takes
// over. A lock this process failed to release earlier is released first.
// It gives up after LockWait with neither the lock nor an entry.
func (e *Engine) acquire(ctx context.Context, k Key, token string, check func([]byte) error) (lockState, error) {
	st, err := e.tryLock(ctx, k, token, check)
	if err == nil && !st.won && st.ent == nil && e.reclaim(ctx, k) {
		st, err = e.tryLock(ctx, k, token, check)
	}
	if err != nil || st.won || st.ent != nil {
		return st, err
	}
	waited := time.Now()
	contended := func(how string) {
		e.emit(ctx, Event{Kind: EventLockContended, Resource: k.resource, Key: k.Name, Duration: time.Since(waited), Detail: how})
	}
	deadline := waited.Add(e.cfg.LockWait)
	for pause := 5 * time.Millisecond; time.Now().Before(deadline); pause = min(2*pause, 100*time.Millisecond) {
		if err := e.sleep(ctx, pause); err != nil {
			contended("cancelled")
			return lockState{}, err
		}
		st, err = e.tryLock(ctx, k, token, check)
		switch {
		case err != nil:
			contended("redis-error")
			return st, err
		case st.ent != nil:
			contended("stored")
			return st, nil
		case st.won:
			contended("taken")
			return st, nil
		}
	}
	contended("timeout")
	return lockState{}, nil
}

// lockOnly tries once to take k's lock, and nothing else.
func (e *Engine) lockOnly(ctx context.Context, k Key, token string) (bool, error) {
	lk := lockKey(e.entryKey(k.Name))
	return call(ctx, e, k.Name, lk, func(ctx context.Context) (bool, error) {
		err := e.rdb.SetArgs(ctx, lk, token, redis.SetArgs{Mode: "NX", TTL: e.cfg.LockTTL}).Err()
		if errors.Is(err, redis.Nil) {
			return false, nil
		}
		return err == nil, err
	})
}

// sleep waits for a random time in [d/2, d), or until ctx ends.
func (e *Engine) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d/2 + time.Duration(e.rand()*float64(d/2)))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// store writes item as k's entry, if token still holds k's lock, and
// releases the lock. Its tags are recorded first, so an entry is never in
// Redis without the tag sets that can invalidate it; and if one of them was
// invalidated since the fill began (start, before its lock was taken and
// its load began), the value may predate the change that invalidation
// announced, and nothing is stored.
// prev is the entry the item replaces, if any: see Item.Unchanged.
func (e *Engine) store(ctx context.Context, k Key, p Policy, item Item, took time.Duration, token string, start time.Time, prev *entry) (*entry, bool) {
	now := e.now()
	tags := e.tags(ctx, k, p, item)
	if item.Unchanged > 0 && prev != nil {
		// A revalidated value is the one it replaces: it keeps that one's
		// tags, even those its loader no longer says (an HTTP 304 need
		// not repeat a tags header).
		for _, t := range prev.Tags {
			if !slices.Contains(tags, t) {
				tags = append(slices.Clip(tags), t)
			}
		}
	}
	ent := newEntry(k, policyFor(p, item), item.Value, tags, now, took)
	raw := ent.encode()
	ttl := ent.redisTTL(now)
	ek := e.entryKey(k.Name)
	if stale, err := e.tagEntries(ctx, k.Name, []string{ek}, ent.Tags, ttl, start); err != nil || stale {
		if stale {
			e.emit(ctx, Event{Kind: EventInvalidate, Resource: k.resource, Key: k.Name, Detail: "fill not stored: a tag was invalidated while it loaded"})
		}
		return ent, false
	}
	stored, err := call(ctx, e, k.Name, ek, func(ctx context.Context) (bool, error) {
		if tail := unchangedTail(item, prev); tail > 0 {
			return e.storeSpliced(ctx, ek, lockKey(ek), raw, prev, tail, ttl, token)
		}
		return e.storeHeld(ctx, ek, lockKey(ek), raw, ttl, token)
	})
	return ent, err == nil && stored
}

// storeExtra stores the extra items of a fill that stored its own: with its
// tags, as of when it began, each under its own lock, taken without
// waiting (an instance already filling that key is left to it).
func (e *Engine) storeExtra(ctx context.Context, p Policy, item Item, took time.Duration, start time.Time) {
	for _, x := range item.Extra {
		token := newToken()
		if won, err := e.lockOnly(ctx, x.Key, token); err != nil || !won {
			continue
		}
		if _, ok := e.store(ctx, x.Key, p, Item{Value: x.Value, Tags: item.Tags, NoStale: item.NoStale, Lifetime: item.Lifetime}, took, token, start, nil); !ok {
			e.unlock(ctx, x.Key, token)
		}
	}
}

// tags merges the policy's and the item's tags, dropping invalid ones.
func (e *Engine) tags(ctx context.Context, k Key, p Policy, item Item) []string {
	if len(item.Tags) == 0 {
		return p.Tags
	}
	tags := make([]string, 0, len(p.Tags)+len(item.Tags))
	tags = append(tags, p.Tags...)
	for _, t := range item.Tags {
		if err := validTag(t); err != nil {
			e.emit(ctx, Event{Kind: EventLoadFailed, Resource: k.resource, Key: k.Name, Err: fmt.Errorf("core: Item.Tags: %w", err), Detail: "tag dropped"})
			continue
		}
		tags = append(tags, t)
	}
	return tags
}

// tagEntries records entry keys eks (of item name, "" for a batch) in the
// set of each tag and, in the same pipeline, reads each tag's invalidation
// mark. It reports whether a tag was invalidated since start: see
// InvalidateTags for why that, and the lock, leave no window for a stale
// store. Tags are sent in one call per Redis node that holds some, so that
// in a Cluster a dead master holding a tag fails the store without
// counting against the healthy master holding the entry.
func (e *Engine) tagEntries(ctx context.Context, name string, eks, tags []string, ttl time.Duration, start time.Time) (stale bool, err error) {
	for _, group := range e.byNode(ctx, tags, e.tagKey) {
		stale, err := call(ctx, e, name, e.tagKey(group[0]), func(ctx context.Context) (bool, error) {
			return e.tagEntriesOn(ctx, eks, group, ttl, start)
		})
		if err != nil || stale {
			return stale, err
		}
	}
	return false, nil
}

// tagEntriesOn is tagEntries for tags that live on one node. It reads the
// node's clock with the marks, on a client of that node alone.
func (e *Engine) tagEntriesOn(ctx context.Context, eks, tags []string, ttl time.Duration, start time.Time) (stale bool, err error) {
	node, err := e.nodeClient(ctx, e.tagKey(tags[0]))
	if err != nil {
		return false, err
	}
	pipe := node.Pipeline()
	e.queueTags(ctx, pipe, eks, tags, ttl)
	marks := make([]*redis.StringCmd, len(tags))
	for i, t := range tags {
		marks[i] = pipe.Get(ctx, e.markKey(t))
	}
	clock := pipe.Time(ctx)
	// Any failure but a missing mark counts, error replies too: an entry
	// must never be stored without the tag sets that can invalidate it.
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return false, err
	}
	if stale, err := invalidatedSince(marks, clock, start); err != nil || !stale {
		return stale, err
	}
	// A mark inside the window may only look recent: elapsed counts the
	// reply's way back, and a process descheduled there (a busy machine,
	// the race detector) widens it. Ask again, with a quick round trip:
	// marks only move forward, so this answer is as safe as the first.
	pipe = node.Pipeline()
	for i, t := range tags {
		marks[i] = pipe.Get(ctx, e.markKey(t))
	}
	clock = pipe.Time(ctx)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return false, err
	}
	return invalidatedSince(marks, clock, start)
}

// invalidatedSince reports whether one of the marks read with clock, the
// node's time, may be later than start, on this process's clock: the time
// since start, measured once the replies are in, bounds the node's time
// since then, with markSlack and markDrift for the clocks' pace.
func invalidatedSince(marks []*redis.StringCmd, clock *redis.TimeCmd, start time.Time) (bool, error) {
	elapsed := time.Since(start) // on this process's clock, up to the replies
	now, err := clock.Result()
	if err != nil {
		return false, err
	}
	for _, m := range marks {
		raw, err := m.Result()
		if errors.Is(err, redis.Nil) {
			continue // no mark: no invalidation for as long as a fill may take
		}
		at, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return true, nil // not a mark this engine wrote: assume the worst
		}
		// How long ago the tag was invalidated, on its node's clock.
		ago := now.Sub(time.UnixMicro(at))
		if ago <= elapsed+elapsed/markDrift+markSlack {
			return true, nil
		}
	}
	return false, nil
}

// queueTags queues on pipe the commands that record entry keys eks in the
// set of each tag. A tag set lives as long as the longest-lived entry added
// to it (EXPIRE NX sets a first expiry, GT only ever extends it), so tag
// sets never outlive their entries for long.
func (e *Engine) queueTags(ctx context.Context, pipe redis.Pipeliner, eks, tags []string, ttl time.Duration) {
	life := ttl.Truncate(time.Second) + time.Second // EXPIRE counts whole seconds
	members := make([]any, len(eks))
	for i, ek := range eks {
		members[i] = ek
	}
	for _, t := range tags {
		tk := e.tagKey(t)
		pipe.SAdd(ctx, tk, members...)
		pipe.ExpireNX(ctx, tk, life)
		pipe.ExpireGT(ctx, tk, life)
	}
}
