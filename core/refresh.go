package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// refresh starts a background refresh of k, which was stored at seen, unless
// one is running already, in this process or (by the lock) in another, or
// the worker pool is full: then the current value keeps being served.
func (e *Engine) refresh(ctx context.Context, k Key, p Policy, load Loader, seen int64) {
	detached := context.WithoutCancel(ctx) // keeps trace values, drops cancellation
	skipped := e.bg.goRefresh(k.Name, func() {
		defer func() {
			if r := recover(); r != nil {
				e.emit(detached, Event{Kind: EventRefreshFailed, Key: k.Name, Err: fmt.Errorf("core: refresh panicked: %v", r)})
			}
		}()
		e.runRefresh(detached, k, p, load, seen)
	})
	if skipped != "" && skipped != "running" {
		e.emit(ctx, Event{Kind: EventRefreshSkipped, Key: k.Name, Detail: skipped})
	}
}

// refreshingKey marks the context of a loader called by a background refresh.
type refreshingKey struct{}

// Refreshing reports whether ctx is that of a loader called by a background
// refresh rather than for a caller waiting on it. A loader that acts on
// behalf of the caller that triggered it (the HTTP layer runs the caller's
// request) must act on behalf of no one in a refresh: the trigger is just
// whoever happened to read the stale value.
func Refreshing(ctx context.Context) bool {
	v, _ := ctx.Value(refreshingKey{}).(bool)
	return v
}

// runRefresh tries k's lock without waiting; the holder reloads and stores.
func (e *Engine) runRefresh(parent context.Context, k Key, p Policy, load Loader, seen int64) {
	ctx, cancel := context.WithTimeout(context.WithValue(parent, refreshingKey{}, true), e.cfg.LoadTimeout)
	defer cancel()
	token := newToken()
	won, ent, epoch, err := e.tryLock(ctx, k, token, nil)
	if err == nil && !won && e.reclaim(ctx, k) {
		won, ent, epoch, err = e.tryLock(ctx, k, token, nil)
	}
	switch {
	case err != nil:
		return // reported by call
	case !won:
		e.emit(ctx, Event{Kind: EventRefreshSkipped, Key: k.Name, Detail: "locked"})
		return
	case ent != nil && ent.StoredAt > seen && !e.refreshDue(ent, p, e.now()):
		e.unlock(ctx, k, token) // another instance refreshed it already
		return
	}
	epoch = outerEpoch(parent, epoch)
	item, took, err := e.load(withEpoch(ctx, epoch), k, load, EventRefreshFailed)
	if err != nil || item.NoStore {
		e.unlock(ctx, k, token) // a failure was reported by load
		if err == nil {
			e.emit(ctx, Event{Kind: EventRefreshFailed, Key: k.Name, Duration: took, Err: errRefreshNoStore})
		}
		return
	}
	if _, stored := e.store(ctx, k, p, item, took, token, epoch); !stored {
		e.unlock(ctx, k, token)
		e.emit(ctx, Event{Kind: EventRefreshFailed, Key: k.Name, Duration: took, Err: errNotStored})
		return
	}
	e.emit(ctx, Event{Kind: EventRefreshOK, Key: k.Name, Duration: took})
}

var errRefreshNoStore = errors.New("core: refresh loaded a value marked not to be stored")

var errNotStored = fmt.Errorf("core: refreshed value not stored: redis failed or the lock was lost")

// refreshMany refreshes the stale keys of a batch in one background job: it
// claims the keys not being refreshed in this process, takes the lock of
// each in one pipeline without waiting, loads those it won with one loader
// call, and stores them.
func (e *Engine) refreshMany(ctx context.Context, keys []string, p Policy, load func(ctx context.Context, keys []string) (map[string][]byte, error)) {
	detached := context.WithoutCancel(ctx)
	skipped := e.bg.goRefreshMany(keys, func(claimed []string) {
		defer func() {
			if r := recover(); r != nil {
				e.emit(detached, Event{Kind: EventRefreshFailed, Err: fmt.Errorf("core: refresh panicked: %v", r)})
			}
		}()
		e.runRefreshMany(detached, claimed, p, load)
	})
	if skipped != "" && skipped != "running" {
		e.emit(ctx, Event{Kind: EventRefreshSkipped, Detail: skipped})
	}
}

func (e *Engine) runRefreshMany(parent context.Context, keys []string, p Policy, load func(ctx context.Context, keys []string) (map[string][]byte, error)) {
	ctx, cancel := context.WithTimeout(context.WithValue(parent, refreshingKey{}, true), e.cfg.LoadTimeout)
	defer cancel()
	token := newToken()
	won := e.lockMany(ctx, keys, token)
	if len(won) == 0 {
		return
	}
	defer e.unlockMany(ctx, won, token)
	start := time.Now()
	items, err := callMany(func() (map[string][]byte, error) { return load(ctx, won) })
	took := time.Since(start)
	if err != nil {
		e.emit(ctx, Event{Kind: EventRefreshFailed, Duration: took, Err: err, Detail: fmt.Sprintf("batch of %d", len(won))})
		return
	}
	e.storeMany(ctx, p, items, took)
	e.emit(ctx, Event{Kind: EventRefreshOK, Duration: took, Detail: fmt.Sprintf("batch of %d", len(items))})
}

// lockMany tries the locks of keys in pipelines and returns those it took.
func (e *Engine) lockMany(ctx context.Context, keys []string, token string) []string {
	var won []string
	for _, chunk := range chunks(keys, batchSize) {
		_ = e.call(ctx, "", func(ctx context.Context) error {
			pipe := e.rdb.Pipeline()
			cmds := make([]*redis.StatusCmd, len(chunk))
			for i, key := range chunk {
				cmds[i] = pipe.SetArgs(ctx, lockKey(e.entryKey(key)), token, redis.SetArgs{Mode: "NX", TTL: e.cfg.LockTTL})
			}
			_, _ = pipe.Exec(ctx)
			for i, cmd := range cmds {
				if cmd.Err() == nil {
					won = append(won, chunk[i])
				}
			}
			return nil
		})
	}
	return won
}

func encodeMany[T any](c Codec, load func(ctx context.Context, keys []string) (map[string]T, error)) func(ctx context.Context, keys []string) (map[string][]byte, error) {
	return func(ctx context.Context, keys []string) (map[string][]byte, error) {
		vals, err := load(ctx, keys)
		if err != nil {
			return nil, err
		}
		out := make(map[string][]byte, len(vals))
		for _, k := range keys {
			if v, ok := vals[k]; ok {
				if b, err := c.Marshal(v); err == nil {
					out[k] = b
				}
			}
		}
		return out, nil
	}
}
