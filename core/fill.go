package core

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"
)

// Item is what a Loader returns.
type Item struct {
	// Value is the bytes to cache.
	Value []byte
	// Tags are recorded on top of Policy.Tags.
	Tags []string
	// NoStore serves Value to the caller whose loader produced it and to no
	// one else: it is neither stored nor handed to collapsed callers, who run
	// their own loaders instead.
	NoStore bool
	// Extra items are stored along with this one, once it is stored, each
	// under its own key, with the same policy and tags. The HTTP layer
	// stores a response that varies on a request header so: under a key
	// for that header's value, with a marker naming the header under the
	// route's key.
	Extra []Extra
	// NoStale stores the item, and its Extra items, without the policy's
	// stale windows: once it is no longer fresh it is never served, not
	// while it revalidates, not when the loader fails, not from memory
	// while Redis is down. The HTTP layer sets it for a response that says
	// must-revalidate, proxy-revalidate or s-maxage (RFC 9111 sections
	// 4.2.4, 5.2.2.2, 5.2.2.8, 5.2.2.10).
	NoStale bool
	// Lifetime, when not nil, replaces the policy's TTL and windows for
	// this item and its Extra items: a loader that learns from the source
	// how long its value stays good says so here (the HTTP layer's
	// FromResponse mode). It is taken as it is: cap it by the policy
	// yourself if you need to.
	Lifetime *Lifetime
	// Unchanged, when positive, says that the last Unchanged bytes of Value
	// are the last bytes of the value the loader was asked to replace
	// (Fill.Previous, Revalidator.ReloadFrom), unchanged: the engine has
	// Redis keep them from the stored entry rather than send them again.
	// The HTTP layer's revalidation, which updates a response's headers
	// and keeps its body, uses it. When the stored entry changed
	// meanwhile, the whole value is sent.
	Unchanged int
}

// Lifetime is how long one item is served; see Item.Lifetime. Negative
// durations count as 0.
type Lifetime struct {
	// TTL is how long the item is fresh. 0 stores it stale already: it is
	// served only inside its windows and, past them, loaded again, with
	// Fill.Previous while Keep holds it.
	TTL time.Duration
	// StaleWhileRevalidate and StaleIfError are the item's windows after
	// TTL, as in Policy.
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	// Keep holds the entry in Redis this long after TTL, past its windows,
	// never to be served but to be handed to the next load as
	// Fill.Previous, so that it can be revalidated rather than loaded
	// whole.
	Keep time.Duration
}

// policyFor is the policy item is stored under: p, with the item's own
// lifetime if it has one, and without stale windows when the item may not
// be served stale.
func policyFor(p Policy, item Item) Policy {
	if l := item.Lifetime; l != nil {
		p.TTL, p.StaleWhileRevalidate, p.StaleIfError = max(l.TTL, 0), max(l.StaleWhileRevalidate, 0), max(l.StaleIfError, 0)
		p.keep = max(l.Keep, 0)
	}
	if item.NoStale {
		p.StaleWhileRevalidate, p.StaleIfError = 0, 0
	}
	return p
}

// Extra is an item a fill stores along with its own; see Item.Extra.
type Extra struct {
	Key   Key
	Value []byte
}

// A Revalidator is a Loader whose background refreshes are given the
// value they replace, as Fill.Previous is given to a load.
type Revalidator interface {
	Loader
	// ReloadFrom is Reload for a refresh of the stored value prev, which
	// the returned function may read, never modify, after ReloadFrom has
	// returned.
	ReloadFrom(prev []byte) func(ctx context.Context) (Item, error)
}

// Loader produces the item of one key, like otter's Loader or groupcache's
// Getter. LoaderFunc adapts a function.
type Loader interface {
	// Load produces the item for a caller that found no usable entry. f
	// says what the engine will do with it. For Lookup, Load runs on the
	// goroutine and context of the caller that leads the fill; for Fetch,
	// on a goroutine of the engine with a context detached from every
	// caller and bounded by Config.LoadTimeout.
	Load(ctx context.Context, f Fill) (Item, error)
	// Reload starts a background refresh. It is called on the caller's
	// goroutine, before the lookup that found the entry due returns, and
	// returns the function that the refresh calls later, on a goroutine of
	// the engine, with a detached context bounded by Config.LoadTimeout.
	// That function must not use anything the caller may reuse once its
	// lookup has returned: Reload copies what it needs.
	Reload() func(ctx context.Context) (Item, error)
}

// LoaderFunc is a Loader that calls the function itself both to load and to
// reload.
type LoaderFunc func(ctx context.Context) (Item, error)

// Load calls l.
func (l LoaderFunc) Load(ctx context.Context, _ Fill) (Item, error) { return l(ctx) }

// Reload returns l.
func (l LoaderFunc) Reload() func(ctx context.Context) (Item, error) { return l }

// Fill tells a Loader what becomes of the item it loads.
type Fill struct {
	// Status is StatusMiss when Redis is used, and StatusBypass when it is
	// not (Detail says why).
	Status Status
	// Store reports whether the item is to be stored, unless it says
	// NoStore. It may still not be, if Redis fails or the key is
	// invalidated while it loads.
	Store bool
	// Fallback reports whether an expired entry may be served, inside its
	// stale-if-error window, if the load fails. A loader that streams its
	// result to its caller (the HTTP layer) holds back a failure then.
	Fallback bool
	// Detail says why the item will not be stored: "breaker-open",
	// "redis-error", or "lock-wait-timeout" (another instance held the
	// key's lock for longer than LockWait).
	Detail string
	// Previous is the value of the expired entry this load replaces, when
	// Redis still holds one (inside its stale-if-error window, or its
	// Lifetime.Keep): a loader that can ask its source whether that value
	// is still good (an HTTP conditional request) may return it, or a
	// value ending with it (Item.Unchanged). Read it, never modify it.
	Previous []byte

	release func() // see Release; nil when no one waits on this load
}

// Release tells the callers waiting on this load, in this process and in
// others, not to wait for its item: it will not be shared or stored (a
// response that streams, or grew too large). They load on their own at
// once, instead of when this load ends. Load may call it at any time,
// once or more; the item it then returns is neither shared nor stored.
func (f Fill) Release() {
	if f.release != nil {
		f.release()
	}
}

// PanicError is the error callers get from a fill whose loader panicked:
// the callers that waited on it in any case, and, when the fill ran on the
// engine's goroutine (Fetch), the caller that started it too. A loader
// that runs on its caller's goroutine (Lookup) panics on up that
// goroutine, so that the caller's own recovery sees it, as without the
// cache. Nothing is stored.
type PanicError struct {
	Value any    // what the loader panicked with
	Stack []byte // the loader's stack at the panic
}

func (p *PanicError) Error() string { return fmt.Sprintf("core: loader panicked: %v", p.Value) }

// Unwrap returns the value the loader panicked with, if it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// errLeaderGone ends a flight whose leader's caller left before it could
// finish: those that waited on it go round again, and one of them leads.
var errLeaderGone = errors.New("core: the caller leading the fill has gone")

// fill is one caller's part in filling a key.
type fill struct {
	k      Key
	p      Policy
	l      Loader
	check  func([]byte) error // whether a value read from Redis decodes for the caller
	old    *entry             // an expired entry, for stale-if-error
	bypass string             // why Redis is not used, or ""
	detach bool               // the shared work runs on a goroutine of the engine (Fetch)
	mem    bool               // the policy uses the memory tier: what is stored or loaded goes there too
	gen    uint64             // the memory tier's invalidations when the lookup began

	fl       *flight // the flight this caller leads, if it leads one
	released bool    // Load released the flight's waiters: its item is its own
}

// fill loads f's key once for every caller in this process that asks at the
// same time, and once across instances (the Redis lock, in shared). The
// first caller leads; the others wait for it, each on its own context. An
// item that may not be shared sends each waiter to its own loader; a
// leader whose caller left sends its waiters round again.
func (e *Engine) fill(ctx context.Context, f *fill) (Result, error) {
	key := flightKey(f.k)
	for {
		fl, lead := e.flights.join(key)
		if lead {
			f.fl = fl
			if !f.detach {
				return e.lead(ctx, f, fl, key)
			}
			e.leadDetached(ctx, f, fl, key)
		}
		select {
		case <-fl.done:
		case <-ctx.Done():
			return Result{Status: StatusCollapsed}, ctx.Err()
		}
		switch {
		case errors.Is(fl.err, errLeaderGone):
			continue
		case fl.err != nil && lead: // a detached fill this caller started
			return e.staleIfError(ctx, f, fl.res.Status, fl.err)
		case fl.err != nil:
			return e.staleIfError(ctx, f, StatusCollapsed, fl.err)
		case !fl.shared && !lead:
			return e.loadAlone(ctx, f)
		}
		res := fl.res
		if !lead && res.Status == StatusMiss {
			res.Status, res.Stored = StatusCollapsed, false
		}
		return res, nil
	}
}

// flightKey is the full identity of k, so that keys whose names collide never
// share a fill.
func flightKey(k Key) string { return k.Name + "\x00" + k.ID }

// lead does the shared work of a fill on the caller's goroutine. A panic of
// the loader is handed to the waiters and raised again on this goroutine,
// from where it was recovered, so its stack is intact for the caller's own
// recovery.
func (e *Engine) lead(ctx context.Context, f *fill, fl *flight, key string) (Result, error) {
	if e.bg.enter() {
		defer e.bg.leave()
	}
	finished := false
	defer func() {
		if finished {
			return
		}
		v := recover()
		if v == nil { // runtime.Goexit: it goes on unwinding by itself
			e.flights.finish(key, fl, Result{}, false, errLeaderGone)
			return
		}
		pe := &PanicError{Value: v, Stack: debug.Stack()}
		e.emit(ctx, Event{Kind: EventLoadFailed, Resource: f.p.Resource, Key: f.k.Name, Err: pe})
		e.flights.finish(key, fl, Result{}, false, pe)
		panic(v)
	}()
	res, shared, err := e.shared(ctx, f)
	finished = true
	shared = shared && !f.released
	if err != nil && ctx.Err() != nil {
		e.flights.finish(key, fl, Result{}, false, errLeaderGone)
		return Result{Status: res.Status}, ctx.Err()
	}
	e.flights.finish(key, fl, res, shared, err)
	if err != nil {
		return e.staleIfError(ctx, f, res.Status, err)
	}
	return res, nil
}

// leadDetached does the shared work of a fill on a goroutine of the engine,
// detached from every caller and bounded by LoadTimeout, or on the caller's
// goroutine after Close or when too many fills run.
func (e *Engine) leadDetached(ctx context.Context, f *fill, fl *flight, key string) {
	work := func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.LoadTimeout)
		defer cancel()
		var (
			res    Result
			shared bool
			err    error
		)
		defer func() {
			if v := recover(); v != nil {
				err = &PanicError{Value: v, Stack: debug.Stack()}
				e.emit(dctx, Event{Kind: EventLoadFailed, Resource: f.p.Resource, Key: f.k.Name, Err: err})
			}
			e.flights.finish(key, fl, res, shared, err)
		}()
		res, shared, err = e.shared(dctx, f)
		shared = shared && !f.released
	}
	if !e.bg.goFill(work) {
		work()
	}
}

// shared is the work of one fill: take the key's lock (or wait for the
// instance holding it), load, store, release. It reports whether the
// result may be handed to the callers waiting on it.
func (e *Engine) shared(ctx context.Context, f *fill) (Result, bool, error) {
	if f.bypass != "" {
		return e.loadOnly(ctx, f, StatusBypass, f.bypass)
	}
	token := newToken()
	lk, err := e.acquire(ctx, f.k, token, f.check)
	switch {
	case err != nil && ctx.Err() != nil:
		return Result{}, false, ctx.Err()
	case err != nil:
		return e.loadOnly(ctx, f, StatusBypass, bypassDetail(err))
	case lk.ent != nil:
		// Someone stored a fresh value since our read: flights only
		// collapse calls that overlap, and the lock only fills that overlap.
		if lk.won {
			e.unlock(ctx, f.k, token)
		}
		return cached(lk.ent, StatusCollapsed), true, nil
	case !lk.won:
		return e.loadOnly(ctx, f, StatusMiss, "lock-wait-timeout")
	}
	released := false
	defer func() {
		if !released { // the load failed, panicked, or was not stored
			e.unlock(ctx, f.k, token)
		}
	}()
	how := Fill{Status: StatusMiss, Store: true, Fallback: e.fallback(f), Previous: f.old.value()}
	how.release = e.releaser(f, func() { e.unlock(ctx, f.k, token) })
	item, took, err := e.load(ctx, f, how)
	released = f.released // Release unlocked already
	if err != nil {
		return Result{Status: StatusMiss}, false, err
	}
	if item.NoStore || f.released {
		return Result{Value: item.Value, Status: StatusMiss}, false, nil
	}
	ent, stored := e.store(ctx, f.k, f.p, item, took, token, lk.start, f.old)
	released = stored // the store released the lock
	res := Result{Value: item.Value, Status: StatusMiss, Stored: stored}
	if stored && f.mem {
		e.mem.put(f.k, ent, e.now(), f.gen)
	}
	if stored {
		res.StoredAt, res.FreshUntil = time.UnixMilli(ent.StoredAt), time.UnixMilli(ent.FreshUntil)
		e.emit(ctx, Event{Kind: EventFill, Resource: f.p.Resource, Key: f.k.Name, Duration: took, Detail: revalidated(item, f.old)})
		e.storeExtra(ctx, f.p, item, took, lk.start)
	}
	return res, true, nil
}

// loadOnly loads without storing.
func (e *Engine) loadOnly(ctx context.Context, f *fill, s Status, detail string) (Result, bool, error) {
	how := Fill{Status: s, Detail: detail, Fallback: e.fallback(f)}
	how.release = e.releaser(f, nil)
	item, took, err := e.load(ctx, f, how)
	if err != nil {
		return Result{Status: s, Detail: detail}, false, err
	}
	if s == StatusBypass && f.mem && !item.NoStore && !f.released {
		// Redis is out of reach: memory keeps the item, so the origin
		// sees one load per key per memory lifetime, not one per request.
		now := e.now()
		e.mem.put(f.k, newEntry(f.k, policyFor(f.p, item), item.Value, append(slices.Clip(f.p.Tags), item.Tags...), now, took), now, f.gen)
	}
	return Result{Value: item.Value, Status: s, Detail: detail}, !item.NoStore && !f.released, nil
}

// releaser returns the function behind Fill.Release for the load of the
// flight f leads: it lets the waiters go, not shared, and unlock releases
// the Redis lock, if it holds one, so that other instances go too. It runs
// on the loader's goroutine.
func (e *Engine) releaser(f *fill, unlock func()) func() {
	if f.fl == nil || f.detach {
		return nil // no waiters, or the leader's caller waits with them
	}
	return func() {
		if f.released {
			return
		}
		f.released = true
		e.flights.finish(flightKey(f.k), f.fl, Result{}, false, nil)
		if unlock != nil {
			unlock()
		}
	}
}

// load calls the loader and reports a failure.
func (e *Engine) load(ctx context.Context, f *fill, how Fill) (Item, time.Duration, error) {
	wctx, end := e.startWork(ctx, Work{Kind: WorkFill, Resource: f.p.Resource, Key: f.k.Name, Keys: 1})
	ended := false
	defer func() {
		if !ended {
			end(errLoadPanicked)
		}
	}()
	start := time.Now()
	item, err := f.l.Load(wctx, how)
	took := time.Since(start)
	ended = true
	end(err)
	if err != nil {
		e.emit(ctx, Event{Kind: EventLoadFailed, Resource: f.p.Resource, Key: f.k.Name, Duration: took, Err: err})
	}
	return item, took, err
}

// loadAlone serves a caller whose leader's item was not to be shared, with
// its own loader, on its own goroutine and context.
func (e *Engine) loadAlone(ctx context.Context, f *fill) (Result, error) {
	item, _, err := e.load(ctx, f, Fill{Status: StatusMiss, Fallback: e.fallback(f)})
	if err != nil {
		return e.staleIfError(ctx, f, StatusMiss, err)
	}
	return Result{Value: item.Value, Status: StatusMiss}, nil
}

// fallback reports whether f's expired entry may still be served if the
// load fails.
func (e *Engine) fallback(f *fill) bool {
	return f.old != nil && e.now().UnixMilli() < f.old.ErrorUntil
}

// staleIfError serves f's expired entry when the load failed inside its
// stale-if-error window, else returns err with s, the caller's part in
// the fill that failed (miss, collapsed or bypass).
func (e *Engine) staleIfError(ctx context.Context, f *fill, s Status, err error) (Result, error) {
	if e.fallback(f) {
		return cached(f.old, StatusStaleIfError), nil
	}
	if s == 0 {
		s = StatusMiss
	}
	return Result{Status: s}, err
}
