package echocache

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/keyfunc"
	"github.com/swrcache/swrcache/middleware"
)

// Config is a route's caching policy.
type Config struct {
	// Policy is the policy itself: TTL and Key.Resource are required; the
	// stale windows, Tenant or TenantHeader, Statuses, MaxBody, Tags and the
	// rest have zero values that mean something sensible (see
	// middleware.Config). Its Skipper, on the *http.Request, still applies
	// and marks the bypass in the Cache-Status header.
	Policy

	// Skipper, when it returns true, sends the request past the cache
	// without a Cache-Status header, as echo's own skippers do. It is
	// checked before Policy.Skipper. nil means none.
	Skipper func(c echo.Context) bool
}

// Policy is the caching policy of a route, the same for every adapter; see
// middleware.Config.
type Policy = middleware.Config

// Key says which parts of a request identify its response; see
// keyfunc.Spec.
type Key = keyfunc.Spec

// New returns the middleware for one route, or an error for an invalid
// cfg or a nil engine.
func New(e *core.Engine, cfg Config) (echo.MiddlewareFunc, error) {
	return cfg.ToMiddleware(e)
}

// WithConfig returns the middleware for one route, like New, but panics on
// an invalid cfg or a nil engine, as echo's XWithConfig functions do.
func WithConfig(e *core.Engine, cfg Config) echo.MiddlewareFunc {
	mw, err := cfg.ToMiddleware(e)
	if err != nil {
		panic(err)
	}
	return mw
}

// ToMiddleware returns the middleware for one route, caching through e, or
// an error for an invalid c or a nil engine.
func (c Config) ToMiddleware(e *core.Engine) (echo.MiddlewareFunc, error) {
	cache, err := middleware.New(e, c.Policy)
	if err != nil {
		return nil, err
	}
	skip := c.Skipper
	runners := new(runnerCache)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			if ok, _ := middleware.RunDispatched(ec.Request(), func() error { return runFill(ec, next) }); ok {
				// The error reaches the client's request through the
				// Runner; returning it here too would have echo render and
				// log it for the fill as well.
				return nil
			}
			if skip != nil && skip(ec) {
				return next(ec)
			}
			// Serve hands bypass the writer and request it was given,
			// which are ec's own.
			bypass := func(http.ResponseWriter, *http.Request) error {
				if tags := cache.TagsHeader(); tags != "" { // for the cache, never for clients
					res := ec.Response()
					res.Before(func() { res.Header().Del(tags) })
				}
				return next(ec)
			}
			return cache.Serve(ec.Response(), ec.Request(), bypass, runners.get(ec.Echo()))
		}
	}, nil
}

// IsFill reports whether c is a request the cache sent through echo again
// to fill or refresh an entry, not a client's. Use it as the Skipper of
// middleware that should count client requests only, such as a request
// logger.
func IsFill(c echo.Context) bool {
	_, ok := c.Request().Context().Value(fillKey{}).(*fill)
	return ok
}

// fillKey is the context key of a fill's *fill.
type fillKey struct{}

// fill is what the cache's position in a fill's run through echo needs:
// the recorder, and a slot for a panic of the route.
type fill struct {
	w        http.ResponseWriter // the recorder the fill writes to
	panicked bool
	value    any // what the route panicked with
}

// errPanicked unwinds a fill's run through echo after a panic of the route.
var errPanicked = errors.New("echocache: the route panicked")

// runnerCache keeps the Runner for the echo instance the route was last
// served by (a route is almost always served by one).
type runnerCache struct {
	last atomic.Pointer[runner]
}

type runner struct {
	echo *echo.Echo
	run  middleware.Runner
}

func (rc *runnerCache) get(e *echo.Echo) middleware.Runner {
	if r := rc.last.Load(); r != nil && r.echo == e {
		return r.run
	}
	r := &runner{echo: e, run: newRunner(e)}
	rc.last.Store(r)
	return r.run
}

// newRunner returns the Runner for fills and refreshes: the request (a deep
// copy made by middleware.Cache, private to the fill) goes through the
// whole of e again, carrying a *fill for runFill, and a panic of the route
// is raised again once echo is done with the request, so that the cache
// hands it to the client's goroutine.
func newRunner(e *echo.Echo) middleware.Runner {
	dispatch := middleware.Redispatch(e)
	return func(w http.ResponseWriter, r *http.Request) error {
		f := &fill{w: w}
		err := dispatch(w, r.WithContext(context.WithValue(r.Context(), fillKey{}, f)))
		if f.panicked {
			panic(f.value)
		}
		return err
	}
}

// runFill runs the rest of the chain for a fill. The middleware before the
// cache has run again for it and may have set response headers (a request
// id, Vary, CORS), wrapped the writer (Gzip) or registered Before hooks.
// All of that belongs to each client's response, where it happens again,
// not to the stored one; so the rest of the chain writes to the recorder
// through a fresh echo.Response with an empty header. The outer Response
// gets the status and size back, for the middleware before the cache. A
// panic is kept for newRunner and the run unwinds with an error, so that
// no recovery before the cache turns it into a response.
func runFill(c echo.Context, next echo.HandlerFunc) (err error) {
	f, ok := c.Request().Context().Value(fillKey{}).(*fill)
	if !ok {
		return next(c) // dispatched by a Runner other than ours
	}
	outer := c.Response()
	inner := echo.NewResponse(f.w, c.Echo())
	clear(inner.Header())
	c.SetResponse(inner)
	defer func() {
		if v := recover(); v != nil {
			f.panicked, f.value = true, v
			err = errPanicked
		}
		if inner.Committed {
			outer.Status, outer.Size, outer.Committed = inner.Status, inner.Size, true
		}
		c.SetResponse(outer)
	}()
	return next(c)
}
