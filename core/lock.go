package core

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// The fill lock is an efficiency lock: losing it costs at most one extra
// loader call, never a wrong value. It is SET NX PX with a random token, and
// only its holder may store under it or release it (held.go).

func newToken() string { return rand.Text() }

// tryLock tries once to take k's lock and, in the same round trip, reads
// k's entry and the invalidation epoch (see InvalidateTags). ent is the
// entry only if it is fresh.
func (e *Engine) tryLock(ctx context.Context, k Key, token string, check func([]byte) error) (won bool, ent *entry, epoch int64, err error) {
	var raw []byte
	ek := e.entryKey(k.Name)
	err = e.call(ctx, k.Name, func(ctx context.Context) error {
		pipe := e.rdb.Pipeline()
		set := pipe.SetArgs(ctx, lockKey(ek), token, redis.SetArgs{Mode: "NX", TTL: e.cfg.LockTTL})
		get := pipe.Get(ctx, ek)
		ep := pipe.Get(ctx, e.epochKey())
		_, _ = pipe.Exec(ctx) // each command's own error is checked below
		if err := set.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		b, err := get.Bytes()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if epoch, err = ep.Int64(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		won, raw = set.Err() == nil, b
		return nil
	})
	if err != nil {
		return false, nil, 0, err
	}
	if raw != nil {
		// Quiet: a corrupt entry here was reported by the read that led here.
		ent = e.parseEntry(ctx, k, raw, check, true)
		if ent != nil && e.now().UnixMilli() >= ent.FreshUntil {
			ent = nil
		}
	}
	return won, ent, epoch, nil
}

// acquire takes k's lock, or waits for the instance holding it to store a
// fresh entry. It polls with jittered, growing pauses, trying the lock each
// time, so that when the holder stalls past the lock's TTL a waiter takes
// over. A lock this process failed to release earlier is released first.
// It gives up after LockWait with (false, nil, 0, nil).
func (e *Engine) acquire(ctx context.Context, k Key, token string, check func([]byte) error) (won bool, ent *entry, epoch int64, err error) {
	won, ent, epoch, err = e.tryLock(ctx, k, token, check)
	if err == nil && !won && ent == nil && e.reclaim(ctx, k) {
		won, ent, epoch, err = e.tryLock(ctx, k, token, check)
	}
	if err != nil || won || ent != nil {
		return won, ent, epoch, err
	}
	e.emit(ctx, Event{Kind: EventLockContended, Key: k.Name})
	deadline := time.Now().Add(e.cfg.LockWait)
	for pause := 5 * time.Millisecond; time.Now().Before(deadline); pause = min(2*pause, 100*time.Millisecond) {
		if err := e.sleep(ctx, pause); err != nil {
			return false, nil, 0, err
		}
		won, ent, epoch, err = e.tryLock(ctx, k, token, check)
		if err != nil || won || ent != nil {
			return won, ent, epoch, err
		}
	}
	return false, nil, 0, nil
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
// invalidated after the invalidation epoch read when the lock was taken
// (before the load began), the value may predate the change that
// invalidation announced, and nothing is stored.
func (e *Engine) store(ctx context.Context, k Key, p Policy, item Item, took time.Duration, token string, epoch int64) (*entry, bool) {
	now := e.now()
	ent := newEntry(k, p, item.Value, e.tags(ctx, k, p, item), now, took)
	raw, err := ent.encode()
	if err != nil {
		e.emit(ctx, Event{Kind: EventLoadFailed, Key: k.Name, Err: err})
		return nil, false
	}
	ttl := ent.redisTTL(now)
	ek := e.entryKey(k.Name)
	stored := false
	err = e.call(ctx, k.Name, func(ctx context.Context) error {
		if stale, err := e.tagEntry(ctx, ek, ent.Tags, ttl, epoch); err != nil || stale {
			if stale {
				e.emit(ctx, Event{Kind: EventInvalidate, Key: k.Name, Detail: "fill not stored: a tag was invalidated while it loaded"})
			}
			return err
		}
		var err error
		stored, err = e.storeHeld(ctx, ek, lockKey(ek), raw, ttl, token)
		return err
	})
	return ent, err == nil && stored
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
			e.emit(ctx, Event{Kind: EventLoadFailed, Key: k.Name, Err: err, Detail: "tag dropped"})
			continue
		}
		tags = append(tags, t)
	}
	return tags
}

// tagEntry records entry key ek in the set of each tag and, in the same
// pipeline, reads each tag's invalidation mark. It reports whether a tag
// was invalidated after epoch: see InvalidateTags for why that, and the
// lock, leave no window for a stale store.
func (e *Engine) tagEntry(ctx context.Context, ek string, tags []string, ttl time.Duration, epoch int64) (stale bool, err error) {
	if len(tags) == 0 {
		return false, nil
	}
	pipe := e.rdb.Pipeline()
	e.queueTags(ctx, pipe, ek, tags, ttl)
	marks := make([]*redis.FloatCmd, len(tags))
	for i, t := range tags {
		marks[i] = pipe.ZScore(ctx, e.markKey(t), markMember)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return false, err
	}
	for _, m := range marks {
		if at, err := m.Result(); err == nil && int64(at) > epoch {
			return true, nil
		}
	}
	return false, nil
}

// queueTags queues on pipe the commands that record ek in the set of each
// tag. A tag set lives as long as the longest-lived entry added to it
// (EXPIRE NX sets a first expiry, GT only ever extends it), so tag sets
// never outlive their entries for long.
func (e *Engine) queueTags(ctx context.Context, pipe redis.Pipeliner, ek string, tags []string, ttl time.Duration) {
	life := ttl.Truncate(time.Second) + time.Second // EXPIRE counts whole seconds
	for _, t := range tags {
		tk := e.tagKey(t)
		pipe.SAdd(ctx, tk, ek)
		pipe.ExpireNX(ctx, tk, life)
		pipe.ExpireGT(ctx, tk, life)
	}
}
