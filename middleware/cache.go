package middleware

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/keyfunc"
)

// Cache applies one route's Config on top of an engine. It is safe for
// concurrent use; build it once per route with New.
type Cache struct {
	engine *core.Engine
	cfg    Config // written once by New
	policy core.Policy
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
	cfg = cfg.withDefaults()
	return &Cache{
		engine: e,
		cfg:    cfg,
		policy: core.Policy{TTL: cfg.TTL, StaleWhileRevalidate: cfg.StaleWhileRevalidate, StaleIfError: cfg.StaleIfError,
			RefreshAhead: cfg.RefreshAhead, Tags: cfg.Tags},
		rand:   rand.Float64,
		passes: passList{m: make(map[string]time.Time)},
	}, nil
}

// Next runs the rest of the route's handler chain for r on the request's
// own goroutine, writing to w. An error is the framework's (echo returns
// one); ErrNoStore means the response must not be stored (gin's abort) but
// is no error.
type Next func(w http.ResponseWriter, r *http.Request) error

// Runner runs the route for r, writing to w, like Next, but may be called
// from another goroutine after the request that triggered it has finished:
// fills run on a context detached from every caller, and background
// refreshes long after. For net/http the inner handler is a Runner; for a
// framework that recycles its per-request context, Redispatch makes one.
type Runner func(w http.ResponseWriter, r *http.Request) error

// ErrNoStore, returned by a Next or Runner, keeps its response out of the
// cache.
var ErrNoStore = errors.New("middleware: response not to be stored")

// Serve answers r from the cache, or fills it with run. next serves the
// requests that bypass the cache, straight to w. Serve returns the error
// the handler chain returned, untouched, and nothing for Redis trouble,
// which only makes it call the handler directly.
func (c *Cache) Serve(w http.ResponseWriter, r *http.Request, next Next, run Runner) error {
	if reason := c.bypassReason(r); reason != "" {
		return c.pass(w, r, next, reason)
	}
	tenant := ""
	if c.cfg.Tenant != nil {
		t, ok := c.cfg.Tenant(r)
		if !ok || !keyfunc.ValidTenant(t) {
			return c.pass(w, r, next, "tenant")
		}
		tenant = t
	}
	base, err := c.cfg.Key.Key(r, tenant)
	if err != nil {
		return c.pass(w, r, next, "key")
	}
	if c.passes.has(base.Name) {
		return c.pass(w, r, next, "uncacheable")
	}
	vary := c.varies.get(base.Name)
	for range 2 { // the base key, then at most one variant
		key := base
		if len(vary) > 0 {
			if !varyBounded(r, vary) {
				return c.pass(w, r, next, "vary-value")
			}
			if key, err = c.cfg.Key.Key(r, tenant, vary...); err != nil {
				return c.pass(w, r, next, "key")
			}
		}
		got, res, own, err := c.lookup(r, run, tenant, base.Name, key, vary)
		if err != nil {
			return c.failed(w, r, next, err)
		}
		switch {
		case got.vary == nil:
			now := time.Now()
			var age time.Duration
			if res.Status == core.StatusHit || res.Status == core.StatusStale || res.Status == core.StatusStaleIfError {
				age = now.Sub(res.StoredAt)
			}
			got.resp.write(w, r, c.cacheStatus(res, own.detail, now), age)
			return nil
		case own.resp != nil: // this request's fill learned the Vary
			status := c.cfg.Name + "; fwd=uri-miss"
			if own.stored {
				status += "; stored"
			}
			own.resp.write(w, r, status, 0)
			return nil
		case len(vary) > 0:
			return c.pass(w, r, next, "vary") // a marker under a variant key: changed under us
		}
		c.varies.put(base.Name, got.vary)
		vary = got.vary
	}
	return c.pass(w, r, next, "vary")
}

// own is what a lookup's own fill left for its caller.
type own struct {
	detail string    // why its response was not stored
	resp   *response // its response, when what it stored was a vary marker
	stored bool      // that response was stored under its variant key
}

// lookup reads key, or fills it by running the route.
func (c *Cache) lookup(r *http.Request, run Runner, tenant, base string, key keyfunc.Key, vary []string) (stored, core.Result, own, error) {
	snap := c.snapshot(r, tenant, vary)
	// The fill copies r on its own goroutine; once Serve returns, r belongs
	// to the framework again, so the copy must happen before that or not at
	// all (then the waiters call the handler themselves). A leader whose
	// client left returns before its fill ends, so the fill leaves its own
	// under mu too.
	var mu sync.Mutex
	returned := false // protected by mu
	var mine own      // protected by mu
	load := func(ctx context.Context) (core.Item, error) {
		if core.Refreshing(ctx) {
			item, _, err := c.fill(ctx, snap.request(ctx), tenant, base, vary, run)
			return item, err
		}
		mu.Lock()
		if returned {
			mu.Unlock()
			return core.Item{}, errLeaderGone
		}
		req := r.Clone(ctx)
		mu.Unlock()
		item, o, err := c.fill(ctx, req, tenant, base, vary, run)
		mu.Lock()
		mine = o
		mu.Unlock()
		return item, err
	}
	got, res, err := core.LookupValue(r.Context(), c.engine, core.Key{Name: key.Name, ID: key.ID}, c.policy, load, decodeStored)
	mu.Lock()
	returned = true
	o := mine
	mu.Unlock()
	return got, res, o, err
}

// TagsHeader returns the canonical name of Config.TagsHeader, or "". It is
// for adapters whose bypass path writes through the framework's own
// writer rather than the one Serve passes to Next: they must remove the
// header before the response is sent, as the net/http path does.
func (c *Cache) TagsHeader() string {
	if c.cfg.TagsHeader == "" {
		return ""
	}
	return http.CanonicalHeaderKey(c.cfg.TagsHeader)
}

// pass runs next on the real writer, without the cache.
func (c *Cache) pass(w http.ResponseWriter, r *http.Request, next Next, reason string) error {
	if reason != "method" {
		w.Header().Set("Cache-Status", c.cfg.Name+"; fwd=bypass; detail="+reason)
	}
	if c.cfg.TagsHeader != "" { // the tags header is for the cache, never for clients
		tags := http.CanonicalHeaderKey(c.cfg.TagsHeader)
		w = HookWriter(w, func(int) { w.Header().Del(tags) })
	}
	if err := next(w, r); !errors.Is(err, ErrNoStore) {
		return err
	}
	return nil
}

// failed handles a lookup that ended in an error: the handler's own error
// goes back to the framework untouched, a panic is re-raised for the
// framework's recovery, a 5xx is replayed as the handler wrote it, and
// anything else but the client leaving fails open to the handler.
func (c *Cache) failed(w http.ResponseWriter, r *http.Request, next Next, err error) error {
	var he *handlerError
	var oe *originError
	var pe *core.PanicError
	switch {
	case errors.As(err, &he):
		return he.err
	case errors.As(err, &oe):
		oe.resp.write(w, r, c.cfg.Name+"; fwd=uri-miss; detail=status", 0)
		return nil
	case errors.As(err, &pe):
		// The framework's recovery sees the handler's own value; the stack
		// is the fill's (pe.Stack holds the handler's).
		panic(pe.Value)
	case r.Context().Err() != nil:
		return err // the client left: nothing to write
	}
	return c.pass(w, r, next, "error")
}

// errLeaderGone ends a fill whose leader returned before the fill could
// copy its request.
var errLeaderGone = errors.New("middleware: the request that started the fill has ended")

// handlerError carries an error the handler chain returned.
type handlerError struct{ err error }

func (e *handlerError) Error() string { return "middleware: handler: " + e.err.Error() }
func (e *handlerError) Unwrap() error { return e.err }

// originError carries a 5xx response, a failure for stale-if-error.
type originError struct{ resp response }

func (e *originError) Error() string {
	return "middleware: handler answered " + http.StatusText(e.resp.Status)
}

// fill runs the route for r into a recorder and says what to cache under
// a key of the route's base key (with vary, the names its variant key
// adds).
func (c *Cache) fill(ctx context.Context, r *http.Request, tenant, base string, vary []string, run Runner) (core.Item, own, error) {
	rec := newRecorder(c.cfg.MaxBody)
	req := r // the caller's deep copy, or a rebuilt request for a refresh
	if req.Method == http.MethodHead {
		req.Method = http.MethodGet // HEAD is served from the GET entry
	}
	c.keepKeyedQuery(req)
	err := run(rec, req)
	if err != nil && !errors.Is(err, ErrNoStore) {
		return core.Item{}, own{}, &handlerError{err}
	}
	resp := capture(rec, c.cfg.TagsHeader)
	if rec.status >= 500 {
		return core.Item{}, own{}, &originError{resp}
	}
	value, err2 := resp.encode()
	if err2 != nil {
		return core.Item{}, own{}, err2
	}
	item := core.Item{Value: value, Tags: c.responseTags(rec)}
	reason := c.noStoreReason(rec)
	if errors.Is(err, ErrNoStore) {
		reason = "aborted"
	}
	extra := extraVary(rec.sentHeader(), c.cfg.Key.Headers, vary)
	switch {
	case reason != "":
	case len(extra) > 0 && len(vary) > 0:
		reason = "vary-changed" // the route varies on more than its marker says
		c.varies.forget(base)
	case len(extra) > maxVaryNames:
		reason = "vary"
	case len(extra) > 0 && !varyBounded(req, extra):
		reason = "vary-value"
	case len(extra) > 0:
		return c.learnVary(ctx, req, tenant, extra, item, resp)
	}
	if reason == "too-large" || reason == "streamed" {
		c.passes.add(base)
	}
	item.NoStore = reason != ""
	return item, own{detail: reason}, nil
}

// keepKeyedQuery drops from r's query the parameters the key leaves out,
// unless the route passes them on.
func (c *Cache) keepKeyedQuery(r *http.Request) {
	if c.cfg.Key.Query == nil || c.cfg.PassUnkeyedQuery {
		return
	}
	if q := c.cfg.Key.KeyedQuery(r.URL.RawQuery); q != r.URL.RawQuery {
		u := *r.URL
		u.RawQuery, u.ForceQuery = q, false
		r.URL = &u
		r.RequestURI = u.RequestURI()
	}
}

// learnVary stores a response that varies on extra under its variant key,
// and returns the vary marker to store under the base key.
func (c *Cache) learnVary(ctx context.Context, r *http.Request, tenant string, extra []string, item core.Item, resp response) (core.Item, own, error) {
	vkey, err := c.cfg.Key.Key(r, tenant, extra...)
	if err != nil {
		item.NoStore = true
		return item, own{detail: "key"}, nil
	}
	_, res, err := core.LookupValue(ctx, c.engine, core.Key{Name: vkey.Name, ID: vkey.ID}, c.policy,
		func(context.Context) (core.Item, error) { return item, nil }, decodeStored)
	return core.Item{Value: encodeMarker(extra), Tags: item.Tags}, own{resp: &resp, stored: err == nil && res.Stored}, nil
}

func (c *Cache) responseTags(rec *recorder) []string {
	if c.cfg.TagsHeader == "" {
		return nil
	}
	var tags []string
	for _, v := range rec.sentHeader().Values(c.cfg.TagsHeader) {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}
