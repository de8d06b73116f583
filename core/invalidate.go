package core

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Invalidation is the notice published when items are invalidated, so that
// other instances (and any in-process layer they keep) can drop them too.
type Invalidation struct {
	Keys []string `json:"keys,omitempty"`
	Tags []string `json:"tags,omitempty"`
	// Missed, in a notice Subscribe makes up, says that notices may have
	// been missed: the subscription broke, or stopped hearing from the
	// master (a failover). Whatever an in-process layer holds must go.
	Missed bool `json:"-"`
	// Source identifies the engine that published the notice.
	Source string `json:"source,omitempty"`
}

// tagScanCount is how many members of a tag set one SSCAN asks for.
const tagScanCount = 500

// Invalidate removes the items named by keys, and their fill locks, so that a
// fill or refresh already under way stores nothing. It then publishes an
// Invalidation. If Redis cannot be reached, the invalidation is queued and
// replayed as soon as it can be, and until then this engine serves none of
// keys from the cache; the error returned (wrapping ErrQueued) says so, for
// a write path that reports it.
func (e *Engine) Invalidate(ctx context.Context, keys ...string) error {
	keys = dedupe(keys)
	for _, k := range keys {
		if err := validName(k); err != nil {
			return err
		}
	}
	if len(keys) == 0 {
		return nil
	}
	if e.mem != nil {
		e.mem.drop(keys, nil) // at once, whatever becomes of the rest
	}
	if err := e.invalidate(ctx, keys, nil); err != nil {
		return e.queue(ctx, keys, nil, err)
	}
	return nil
}

// InvalidateTags removes every item stored with any of tags, and their fill
// locks, walking each tag set with SSCAN (never a keyspace SCAN), then
// publishes an Invalidation. If Redis cannot be reached, the invalidation
// is queued, as for Invalidate: until it is replayed this engine serves no
// item with any of tags from the cache.
//
// A fill in flight may not be in a tag set yet: it records its tags only
// when it stores, and an HTTP response names its tags only once the handler
// has run. So InvalidateTags first sets each tag's mark, then scans. A fill
// records its tags and reads their marks in one pipeline before it stores:
// a mark set since the fill began (before it took its lock and loaded)
// means the tag was invalidated while it loaded, and it stores nothing. If
// it read the marks before they were set, it had recorded its tags before
// that too, so the scan that follows finds its key and deletes the entry,
// or the lock (then the store is refused).
//
// A fill's beginning, for this, is when the reply to its lock came, just
// before it loads: a write that InvalidateTags was called after is then
// either seen by the load, or announced by a mark set since. No two
// clocks are compared: a mark holds the time of its own Redis node (TIME,
// read just before it is set), the fill reads that node's time with the
// marks, and measures how long ago it began by its own monotonic clock.
// Each mark lives on its tag's node: no key is read by every fill, and a
// dead node holds up only its own tags.
func (e *Engine) InvalidateTags(ctx context.Context, tags ...string) error {
	tags = dedupe(tags)
	for _, t := range tags {
		if err := validTag(t); err != nil {
			return fmt.Errorf("core: InvalidateTags: %w", err)
		}
	}
	if len(tags) == 0 {
		return nil
	}
	if e.mem != nil {
		e.mem.drop(nil, tags) // at once, whatever becomes of the rest
	}
	if err := e.invalidate(ctx, nil, tags); err != nil {
		return e.queue(ctx, nil, tags, err)
	}
	return nil
}

// invalidate does the work of Invalidate and InvalidateTags, and of their
// replay: it can be done again, any number of times, to the same effect.
func (e *Engine) invalidate(ctx context.Context, keys, tags []string) error {
	if err := e.markTags(ctx, tags); err != nil {
		return err
	}
	for _, t := range tags {
		if err := e.invalidateTag(ctx, t); err != nil {
			return err
		}
	}
	if len(keys) > 0 {
		ek := make([]string, len(keys))
		for i, k := range keys {
			ek[i] = e.entryKey(k)
		}
		if err := e.unlinkEntries(ctx, ek); err != nil {
			return err
		}
	}
	if len(keys) == 0 && len(tags) == 0 {
		return nil
	}
	if e.mem != nil {
		// Again, now that Redis holds none of them: a read between the
		// first drop and the deletion may have put one back. This
		// engine's own notice is then skipped, so that what it fills
		// after its own write is not dropped by the notice's echo.
		e.mem.drop(keys, tags)
	}
	return e.publish(ctx, Invalidation{Keys: keys, Tags: tags, Source: e.id})
}

// markSlack and markDrift cover the difference in pace between a Redis
// node's clock and this process's (1000 ppm, more than NTP ever slews): a
// fill refuses to store after an invalidation that came up to
// markSlack + elapsed/markDrift before it began.
const (
	markSlack = 50 * time.Microsecond
	markDrift = 1000
)

// markTags sets each tag's mark to the time of the tag's node, for as long
// as a fill that began before may still store: its lock's life, or a
// Fetch's load.
func (e *Engine) markTags(ctx context.Context, tags []string) error {
	if len(tags) == 0 {
		return nil
	}
	life := e.cfg.LoadTimeout + e.cfg.LockTTL + time.Second
	for _, group := range e.byNode(ctx, tags, e.markKey) {
		_, err := call(ctx, e, "", e.markKey(group[0]), func(ctx context.Context) (struct{}, error) {
			node, err := e.nodeClient(ctx, e.markKey(group[0]))
			if err != nil {
				return struct{}{}, err
			}
			now, err := node.Time(ctx).Result()
			if err != nil {
				return struct{}{}, err
			}
			pipe := node.Pipeline()
			for _, t := range group {
				pipe.Set(ctx, e.markKey(t), now.UnixMicro(), life)
			}
			_, err = pipe.Exec(ctx)
			return struct{}{}, err
		})
		if err != nil {
			return fmt.Errorf("core: invalidate tags: %w", err)
		}
	}
	return nil
}

func (e *Engine) invalidateTag(ctx context.Context, tag string) error {
	tk := e.tagKey(tag)
	type page struct {
		members []string
		next    uint64
	}
	var cursor uint64
	for {
		p, err := call(ctx, e, "", tk, func(ctx context.Context) (page, error) {
			members, next, err := e.rdb.SScan(ctx, tk, cursor, "", tagScanCount).Result()
			return page{members, next}, err
		})
		if err != nil {
			return fmt.Errorf("core: invalidate tag %q: %w", tag, err)
		}
		if err := e.unlinkEntries(ctx, p.members); err != nil {
			return err
		}
		if cursor = p.next; cursor == 0 {
			break
		}
	}
	_, err := call(ctx, e, "", tk, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, e.rdb.Unlink(ctx, tk).Err()
	})
	return err
}

// unlinkEntries removes entry keys and their locks, one entry per command
// (an entry and its lock share a slot) so that no command spans Cluster
// slots, in a pipeline per master.
func (e *Engine) unlinkEntries(ctx context.Context, entryKeys []string) error {
	for _, chunk := range e.byNode(ctx, entryKeys, func(ek string) string { return ek }) {
		_, err := call(ctx, e, "", chunk[0], func(ctx context.Context) (struct{}, error) {
			pipe := e.rdb.Pipeline()
			for _, ek := range chunk {
				pipe.Unlink(ctx, ek, lockKey(ek)) // same hash tag: same slot
			}
			_, err := pipe.Exec(ctx)
			return struct{}{}, err
		})
		if err != nil {
			return fmt.Errorf("core: invalidate: %w", err)
		}
	}
	e.emit(ctx, Event{Kind: EventInvalidate, Detail: fmt.Sprintf("%d entries", len(entryKeys))})
	return nil
}

func (e *Engine) publish(ctx context.Context, inv Invalidation) error {
	msg, err := json.Marshal(inv)
	if err != nil {
		return fmt.Errorf("core: invalidate: %w", err)
	}
	_, err = call(ctx, e, "", "", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, e.rdb.Publish(ctx, e.channel(), msg).Err()
	})
	if err != nil {
		return fmt.Errorf("core: publish invalidation: %w", err)
	}
	return nil
}
