package core

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/redis/go-redis/v9"
)

// refresh starts a background refresh of k, whose entry seen was found due, unless
// one is running already, in this process or (by the lock) in another, or
// the worker pool is full: then the current value keeps being served. l's
// Reload runs here, on the caller's goroutine, only if the refresh starts.
func (e *Engine) refresh(ctx context.Context, k Key, p Policy, l Loader, seen *entry) {
	detached := context.WithoutCancel(ctx) // keeps trace values, drops cancellation
	skipped := e.bg.goRefreshMany([]string{k.Name}, func() func([]string) {
		var reload func(context.Context) (Item, error)
		if rv, ok := l.(Revalidator); ok {
			reload = rv.ReloadFrom(seen.Value)
		} else {
			reload = l.Reload()
		}
		return func([]string) {
			defer e.recoverRefresh(detached, k.resource, k.Name)
			e.runRefresh(detached, k, p, reload, seen)
		}
	})
	if skipped != "" && skipped != "running" {
		e.emit(ctx, Event{Kind: EventRefreshSkipped, Resource: k.resource, Key: k.Name, Detail: skipped})
	}
}

// recoverRefresh reports a refresh that panicked.
func (e *Engine) recoverRefresh(ctx context.Context, resource, key string) {
	if v := recover(); v != nil {
		e.emit(ctx, Event{Kind: EventRefreshFailed, Resource: resource, Key: key, Err: &PanicError{Value: v, Stack: debug.Stack()}})
	}
}

// runRefresh tries k's lock without waiting; the holder reloads and stores.
func (e *Engine) runRefresh(parent context.Context, k Key, p Policy, reload func(context.Context) (Item, error), seen *entry) {
	ctx, cancel := context.WithTimeout(parent, e.cfg.LoadTimeout)
	defer cancel()
	token := newToken()
	var gen uint64 // the memory tier's invalidations before the refresh reads
	if e.mem != nil {
		gen = e.mem.gen.Load()
	}
	lk, err := e.tryLock(ctx, k, token, nil)
	if err == nil && !lk.won && e.reclaim(ctx, k) {
		lk, err = e.tryLock(ctx, k, token, nil)
	}
	switch {
	case err != nil:
		return // reported by call
	case !lk.won:
		e.emit(ctx, Event{Kind: EventRefreshSkipped, Resource: k.resource, Key: k.Name, Detail: "locked"})
		return
	case lk.ent != nil && lk.ent.StoredAt > seen.StoredAt && !e.refreshDue(lk.ent, p, e.now()):
		e.unlock(ctx, k, token) // another instance refreshed it already
		if e.mem.maxAgeFor(p) > 0 {
			e.mem.put(k, lk.ent, e.now(), gen)
		}
		return
	}
	released := false
	defer func() {
		if !released { // the reload failed, panicked, or was not stored
			e.unlock(ctx, k, token)
		}
	}()
	wctx, end := e.startWork(ctx, Work{Kind: WorkRefresh, Resource: k.resource, Key: k.Name, Keys: 1})
	failed := errLoadPanicked
	defer func() { end(failed) }()
	start := time.Now()
	item, err := reload(wctx)
	took := time.Since(start)
	switch {
	case err != nil:
		failed = err
		e.emit(ctx, Event{Kind: EventRefreshFailed, Resource: k.resource, Key: k.Name, Duration: took, Err: err})
		return
	case item.NoStore:
		failed = errRefreshNoStore
		e.emit(ctx, Event{Kind: EventRefreshFailed, Resource: k.resource, Key: k.Name, Duration: took, Err: errRefreshNoStore})
		return
	}
	var ent *entry
	if ent, released = e.store(ctx, k, p, item, took, token, lk.start, seen); !released {
		failed = errNotStored
		e.emit(ctx, Event{Kind: EventRefreshFailed, Resource: k.resource, Key: k.Name, Duration: took, Err: errNotStored})
		return
	}
	failed = nil
	if e.mem.maxAgeFor(p) > 0 {
		e.mem.put(k, ent, e.now(), gen)
	}
	e.storeExtra(ctx, p, item, took, lk.start)
	e.emit(ctx, Event{Kind: EventRefreshOK, Resource: k.resource, Key: k.Name, Duration: took, Detail: revalidated(item, seen)})
}

var errRefreshNoStore = errors.New("core: refresh loaded a value marked not to be stored")

var errNotStored = errors.New("core: refreshed value not stored: redis failed, the lock was lost, or a tag was invalidated")

// refreshMany refreshes the stale keys of a batch in one background job: it
// claims the keys not being refreshed in this process, takes the lock of
// each in one pipeline without waiting, loads those it won with one loader
// call, and stores them.
func (e *Engine) refreshMany(ctx context.Context, keys []string, p Policy, load func(ctx context.Context, keys []string) (map[string][]byte, error)) {
	detached := context.WithoutCancel(ctx)
	skipped := e.bg.goRefreshMany(keys, func() func([]string) {
		return func(claimed []string) {
			defer e.recoverRefresh(detached, p.Resource, "")
			e.runRefreshMany(detached, claimed, p, load)
		}
	})
	if skipped != "" && skipped != "running" {
		e.emit(ctx, Event{Kind: EventRefreshSkipped, Resource: p.Resource, Detail: skipped})
	}
}

func (e *Engine) runRefreshMany(parent context.Context, keys []string, p Policy, load func(ctx context.Context, keys []string) (map[string][]byte, error)) {
	ctx, cancel := context.WithTimeout(parent, e.cfg.LoadTimeout)
	defer cancel()
	token := newToken()
	var gen uint64 // the memory tier's invalidations before the refresh reads
	if e.mem != nil {
		gen = e.mem.gen.Load()
	}
	won := e.lockMany(ctx, keys, token)
	if len(won) == 0 {
		return
	}
	defer e.unlockMany(ctx, won, token)
	wctx, end := e.startWork(ctx, Work{Kind: WorkRefresh, Resource: p.Resource, Keys: len(won)})
	start := time.Now()
	items, err := callMany(func() (map[string][]byte, error) { return load(wctx, won) })
	took := time.Since(start)
	end(err)
	if err != nil {
		e.emit(ctx, Event{Kind: EventRefreshFailed, Resource: p.Resource, Duration: took, Err: err, Detail: fmt.Sprintf("batch of %d", len(won))})
		return
	}
	e.storeMany(ctx, p, items, start, took)
	if e.mem.maxAgeFor(p) > 0 {
		e.putMany(p, items, took, gen)
	}
	e.emit(ctx, Event{Kind: EventRefreshOK, Resource: p.Resource, Duration: took, Detail: fmt.Sprintf("batch of %d", len(items))})
}

// lockMany tries the locks of keys in pipelines and returns those it took.
// A pipeline Redis did not answer is a failure, for the breaker too.
func (e *Engine) lockMany(ctx context.Context, keys []string, token string) []string {
	var won []string
	for _, chunk := range e.byNode(ctx, keys, e.entryKey) {
		got, _ := call(ctx, e, "", e.entryKey(chunk[0]), func(ctx context.Context) ([]string, error) {
			pipe := e.rdb.Pipeline()
			cmds := make([]*redis.StatusCmd, len(chunk))
			for i, key := range chunk {
				cmds[i] = pipe.SetArgs(ctx, lockKey(e.entryKey(key)), token, redis.SetArgs{Mode: "NX", TTL: e.cfg.LockTTL})
			}
			if _, err := pipe.Exec(ctx); pipelineErr(err) != nil {
				return nil, err
			}
			var took []string
			for i, cmd := range cmds {
				if cmd.Err() == nil {
					took = append(took, chunk[i])
				}
			}
			return took, nil
		})
		won = append(won, got...)
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
