package core

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"golang.org/x/sync/singleflight"
)

// stale is an expired entry, kept in case the loader fails and its
// stale-if-error window still allows serving it.
type stale[T any] struct {
	ent *entry
	v   T
}

// filled is the outcome of one shared fill.
type filled struct {
	res     Result
	noStore bool // the value is the leader's alone
}

// PanicError is the error every caller of a fill gets when its loader
// panicked: the panic never crashes the process and never leaves a caller
// waiting.
type PanicError struct {
	Value any    // what the loader panicked with
	Stack []byte // the loader's stack at the panic
}

func (p *PanicError) Error() string { return fmt.Sprintf("core: loader panicked: %v", p.Value) }

// fill loads k once for every caller in this process that asks at the same
// time (singleflight), and once across instances (the Redis lock, in shared).
// The shared work runs on a context detached from every caller; each caller
// stops waiting when its own context ends.
func fill[T any](ctx context.Context, e *Engine, k Key, p Policy, load Loader,
	decode func([]byte) (T, error), old stale[T], bypass string) (T, Result, error) {
	var zero T
	leader := false // set only if this caller's function is the one that runs
	ch := e.flights.DoChan(flightKey(k), func() (any, error) {
		leader = true
		return e.shared(ctx, k, p, load, checker(decode), bypass)
	})
	var r singleflight.Result
	select {
	case r = <-ch:
	case <-ctx.Done():
		return zero, Result{}, ctx.Err()
	}
	if r.Err != nil {
		return staleIfError(ctx, e, k, old, r.Err)
	}
	f := r.Val.(*filled)
	res := f.res
	if !leader {
		if f.noStore {
			return loadAlone(ctx, e, k, load, decode, old)
		}
		if res.Status == StatusMiss {
			res.Status, res.Stored = StatusCollapsed, false
		}
	}
	v, err := decode(res.Value)
	if err != nil {
		return zero, Result{}, fmt.Errorf("core: decode loaded value: %w", err)
	}
	return v, res, nil
}

// flightKey is the full identity of k, so that keys whose names collide never
// share a fill.
func flightKey(k Key) string { return k.Name + "\x00" + k.ID }

func checker[T any](decode func([]byte) (T, error)) func([]byte) error {
	return func(b []byte) error {
		_, err := decode(b)
		return err
	}
}

// shared is the work of one fill: take the key's lock (or wait for the
// instance holding it), load, store, release.
func (e *Engine) shared(parent context.Context, k Key, p Policy, load Loader, check func([]byte) error, bypass string) (*filled, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), e.cfg.LoadTimeout)
	defer cancel()
	if bypass != "" {
		return e.loadOnly(ctx, k, load, StatusBypass, bypass)
	}
	token := newToken()
	won, ent, epoch, err := e.acquire(ctx, k, token, check)
	switch {
	case err != nil:
		return e.loadOnly(ctx, k, load, StatusBypass, bypassDetail(err))
	case ent != nil:
		// Someone stored a fresh value since our read: singleflight only
		// collapses calls that overlap, and the lock only fills that overlap.
		if won {
			e.unlock(ctx, k, token)
		}
		res := cached(ent, StatusCollapsed)
		return &filled{res: res}, nil
	case !won:
		return e.loadOnly(ctx, k, load, StatusMiss, "lock-wait-timeout")
	}
	epoch = outerEpoch(parent, epoch)
	item, took, err := e.load(withEpoch(ctx, epoch), k, load, EventLoadFailed)
	if err != nil || item.NoStore {
		e.unlock(ctx, k, token)
		if err != nil {
			return nil, err
		}
		return &filled{res: Result{Value: item.Value, Status: StatusMiss}, noStore: true}, nil
	}
	ent, stored := e.store(ctx, k, p, item, took, token, epoch)
	res := Result{Value: item.Value, Status: StatusMiss, Stored: stored}
	if stored {
		res.StoredAt, res.FreshUntil = time.UnixMilli(ent.StoredAt), time.UnixMilli(ent.FreshUntil)
		e.emit(ctx, Event{Kind: EventFill, Key: k.Name, Duration: took})
	} else {
		e.unlock(ctx, k, token)
	}
	return &filled{res: res}, nil
}

// fillEpochKey marks the context of a load with the invalidation epoch its fill
// read before it began.
type fillEpochKey struct{}

func withEpoch(ctx context.Context, epoch int64) context.Context {
	return context.WithValue(ctx, fillEpochKey{}, epoch)
}

// outerEpoch returns the older of epoch and that of a fill whose load ctx
// runs in: a loader that stores a value it read earlier, through a nested
// lookup (the HTTP layer stores a Vary variant so), stores it as of then.
func outerEpoch(ctx context.Context, epoch int64) int64 {
	if outer, ok := ctx.Value(fillEpochKey{}).(int64); ok {
		return min(outer, epoch)
	}
	return epoch
}

// loadOnly loads without Redis.
func (e *Engine) loadOnly(ctx context.Context, k Key, load Loader, s Status, detail string) (*filled, error) {
	if s == StatusBypass {
		e.emit(ctx, Event{Kind: EventBypass, Key: k.Name, Detail: detail})
	}
	item, _, err := e.load(ctx, k, load, EventLoadFailed)
	if err != nil {
		return nil, err
	}
	return &filled{res: Result{Value: item.Value, Status: s, Detail: detail}, noStore: item.NoStore}, nil
}

// load calls the loader, turning a panic into a *PanicError, and reports a
// failure as an event of kind failed.
func (e *Engine) load(ctx context.Context, k Key, load Loader, failed EventKind) (item Item, took time.Duration, err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
		took = time.Since(start)
		if err != nil {
			e.emit(ctx, Event{Kind: failed, Key: k.Name, Duration: took, Err: err})
		}
	}()
	item, err = load(ctx)
	return item, 0, err
}

// loadAlone serves a caller whose leader's value was not to be shared.
func loadAlone[T any](ctx context.Context, e *Engine, k Key, load Loader, decode func([]byte) (T, error), old stale[T]) (T, Result, error) {
	var zero T
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.LoadTimeout)
	defer cancel()
	item, _, err := e.load(lctx, k, load, EventLoadFailed)
	if err != nil {
		return staleIfError(ctx, e, k, old, err)
	}
	v, err := decode(item.Value)
	if err != nil {
		return zero, Result{}, fmt.Errorf("core: decode loaded value: %w", err)
	}
	return v, Result{Value: item.Value, Status: StatusMiss}, nil
}

// staleIfError serves old when the load failed inside its stale-if-error
// window, else returns err.
func staleIfError[T any](ctx context.Context, e *Engine, k Key, old stale[T], err error) (T, Result, error) {
	if old.ent != nil && e.now().UnixMilli() < old.ent.ErrorUntil {
		e.emit(ctx, Event{Kind: EventStaleIfError, Key: k.Name, Err: err})
		return old.v, cached(old.ent, StatusStaleIfError), nil
	}
	var zero T
	return zero, Result{}, err
}
