package middleware

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/keyfunc"
)

// Cache applies one route's Config on top of an engine. It is safe for
// concurrent use; build it once per route with New.
type Cache struct {
	engine *core.Engine
	cfg    Config // written once by New
	rand   func() float64
	passes passList // keys whose responses are too large or streamed
	varies varyMemo // vary markers seen, by base key
}

// New returns the Cache for cfg on e, or the error from cfg.Validate.
func New(e *core.Engine, cfg Config) (*Cache, error) {
	if e == nil {
		return nil, errors.New("middleware: nil engine")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Cache{engine: e, cfg: cfg.withDefaults(), rand: rand.Float64}, nil
}

// Next runs the rest of the route's chain, the handlers after the cache,
// for r, writing to w, on the request's own goroutine. Serve calls it with
// the writer and request it was given, or with its own writer (recording
// the response, or hooking its status) and a copy of the request: the
// adapter installs them for the rest of the chain. An error is the
// framework's (echo returns one); ErrNoStore means the response must not
// be stored (gin's abort) but is no error.
type Next func(w http.ResponseWriter, r *http.Request) error

// Runner runs the route for a background refresh: r is a request rebuilt
// from the one that found the entry due, and w records the response. It
// is called on a goroutine of the engine, after that request may have
// ended. For net/http the handler after the cache is a Runner; echo and
// gin, which recycle their per-request contexts, send the request through
// the router again (Redispatch).
type Runner func(w http.ResponseWriter, r *http.Request) error

// ErrNoStore, returned by a Next or Runner, keeps its response out of the
// cache.
var ErrNoStore = errors.New("middleware: response not to be stored")

// ErrHandlerPanicked is returned, wrapping the *core.PanicError, to a
// request that waited on a fill whose handler panicked. Serve has written
// a 500 for it already; the panic itself went up the goroutine of the
// request that ran the handler, to the framework's recovery.
var ErrHandlerPanicked = errors.New("middleware: the handler of the fill this request waited on panicked")

// Serve answers r from the cache, or runs the rest of the chain with next,
// as a fill when its response may be stored. refresh runs background
// refreshes. Serve returns the error the chain returned, untouched, for
// the framework to render; ErrHandlerPanicked; or the context's error when
// the client left. Redis trouble is never an error: the request then goes
// to the handler. It reports the request's outcome to the engine's hook,
// once, whatever lookups it took.
func (c *Cache) Serve(w http.ResponseWriter, r *http.Request, next Next, refresh Runner) error {
	var o outcome
	if !c.engine.Observed() {
		return c.serve(w, r, next, refresh, &o)
	}
	start, returned := time.Now(), false
	defer func() { // also when the handler panics, up through the fill
		if !returned {
			o.err = errPanicked
		}
		if o.kind != 0 {
			c.engine.Report(r.Context(), core.Event{Kind: o.kind, Resource: c.cfg.Resource, Key: o.key,
				Duration: time.Since(start), Err: o.err, Detail: o.detail})
		}
	}()
	err := c.serve(w, r, next, refresh, &o)
	returned = true
	return err
}

var errPanicked = errors.New("middleware: the handler panicked")

// outcome is what became of one request, for its event: exactly one per
// request the cache applies to, whatever lookups it took.
type outcome struct {
	kind   core.EventKind // 0: the cache does not apply (an unsafe method)
	key    string
	detail string
	err    error
}

func (o *outcome) set(res core.Result, err error) {
	o.kind, o.detail, o.err = res.Status.Event(), res.Detail, err
}

func (c *Cache) serve(w http.ResponseWriter, r *http.Request, next Next, refresh Runner, o *outcome) error {
	if reason := c.bypassReason(r); reason != "" {
		if reason == "method" && c.cfg.InvalidateOnWrite == On && !safeMethod(r.Method) {
			w, done := c.invalidating(w, r)
			err := c.pass(w, r, next, reason, o)
			if err == nil {
				done(http.StatusOK) // the handler wrote nothing: net/http answers 200
			}
			return err
		}
		return c.pass(w, r, next, reason, o)
	}
	tenant := ""
	if c.cfg.Tenant != nil {
		t, ok := c.cfg.Tenant(r)
		if !ok || !keyfunc.ValidTenant(t) {
			return c.pass(w, r, next, "tenant", o)
		}
		tenant = t
	}
	base, err := c.cfg.Key.Key(r, tenant)
	if err != nil {
		return c.pass(w, r, next, "key", o)
	}
	o.key = base.Name
	if c.passes.has(base.Name) {
		return c.pass(w, r, next, "uncacheable", o)
	}
	vary := c.varies.get(base.Name)
	for range 2 { // the base key, then at most one variant
		key := base
		if len(vary) > 0 {
			if !varyBounded(r, vary) {
				return c.pass(w, r, next, "vary-value", o)
			}
			if key, err = c.cfg.Key.Key(r, tenant, vary...); err != nil {
				return c.pass(w, r, next, "key", o)
			}
		}
		l := &load{c: c, w: w, r: r, next: next, refresh: refresh, tenant: tenant, base: base.Name, vary: vary}
		o.kind = core.EventMiss // until the lookup says otherwise: its fill's handler may panic
		got, res, err := core.LookupValue(r.Context(), c.engine, core.Key{Name: key.Name, ID: key.ID}, c.cfg.Policy, l, decodeStored)
		o.key = key.Name
		o.set(res, err)
		switch {
		case l.fw != nil:
			if res.Status != core.StatusStaleIfError && l.fill.Detail != "" && o.detail == "" {
				o.detail = l.fill.Detail
			}
			return l.served(got, res, err)
		case err != nil:
			return c.failed(w, r, next, err, o)
		case got.vary == nil:
			var age time.Duration
			if res.Status == core.StatusHit || res.Status == core.StatusStale || res.Status == core.StatusStaleIfError {
				age = time.Since(res.StoredAt)
			}
			got.resp.write(w, r, c.cacheStatus(res), age)
			return nil
		case len(vary) > 0:
			return c.pass(w, r, next, "vary", o) // a marker under a variant key: changed under us
		}
		c.varies.put(base.Name, got.vary)
		vary = got.vary
	}
	return c.pass(w, r, next, "vary", o)
}

// pass runs next on the request's own writer, without the cache.
func (c *Cache) pass(w http.ResponseWriter, r *http.Request, next Next, reason string, o *outcome) error {
	status := ""
	if reason != "method" {
		status = c.cfg.Name + "; fwd=bypass; detail=" + reason
		w.Header().Set("Cache-Status", status) // for a response the framework renders, too
		o.kind, o.detail, o.err = core.EventBypass, reason, nil
	}
	if tags := c.cfg.TagsHeader; tags != "" || status != "" {
		h := w.Header()
		w = HookWriter(w, func(int) {
			if tags != "" {
				h.Del(tags) // the tags header is for the cache, never for clients
			}
			if status != "" {
				appendCacheStatus(h, status) // after the handler's own, from a cache behind it
			}
		})
	}
	if err := next(w, r); !errors.Is(err, ErrNoStore) {
		return err
	}
	return nil
}

// failed answers a request whose lookup failed without running the
// handler itself: it waited on a fill that failed.
func (c *Cache) failed(w http.ResponseWriter, r *http.Request, next Next, err error, o *outcome) error {
	var he *handlerError
	var oe *originError
	var pe *core.PanicError
	switch {
	case errors.As(err, &he):
		return he.err // the same error the fill's request returned, for the framework to render
	case errors.As(err, &oe) && oe.whole:
		oe.resp.write(w, r, c.cfg.Name+"; fwd=uri-miss; collapsed; detail=status", 0)
		return nil
	case errors.As(err, &pe) && !errors.Is(pe, http.ErrAbortHandler):
		w.Header().Set("Cache-Status", c.cfg.Name+"; fwd=uri-miss; collapsed; detail=panic")
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return fmt.Errorf("%w: %w", ErrHandlerPanicked, pe)
	case r.Context().Err() != nil:
		return err // the client left: nothing to write
	}
	return c.pass(w, r, next, "error", o)
}

// appendCacheStatus makes value the last member of h's Cache-Status, once:
// a cache behind this one (the handler may be a proxy) put its own first
// (RFC 9211 section 2).
func appendCacheStatus(h http.Header, value string) {
	v := h.Values("Cache-Status")
	if len(v) > 0 && v[len(v)-1] == value {
		return
	}
	upstream := make([]string, 0, len(v)+1)
	for _, s := range v {
		if s != value {
			upstream = append(upstream, s)
		}
	}
	h["Cache-Status"] = append(upstream, value)
}

// handlerError carries an error the handler chain returned.
type handlerError struct{ err error }

func (e *handlerError) Error() string { return "middleware: handler: " + e.err.Error() }
func (e *handlerError) Unwrap() error { return e.err }

// originError carries a 5xx response, a failure for stale-if-error.
type originError struct {
	resp  response
	whole bool // resp holds the whole response: it may be replayed to waiters
}

func (e *originError) Error() string {
	return "middleware: handler answered " + http.StatusText(e.resp.Status)
}
