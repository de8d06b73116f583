package echocache

import (
	"net/http"
	"net/url"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/keyfunc"
	"github.com/swrcache/swrcache/middleware"
)

// Config is a route's caching policy, the same for every adapter; see
// middleware.Config. Router nil sends background refreshes through the
// echo instance that served the request.
type Config = middleware.Config

// KeySpec says which parts of a request identify its response; see
// keyfunc.Spec.
type KeySpec = keyfunc.Spec

// The values of Config.Freshness and Config.InvalidateOnWrite, so that a
// route is configured from this package alone.
const (
	RouteTTL     = middleware.RouteTTL
	FromResponse = middleware.FromResponse
	On           = middleware.On
	Off          = middleware.Off
)

// New returns the middleware for one route, or an error for an invalid cfg
// or a nil engine.
func New(e *core.Engine, cfg Config) (echo.MiddlewareFunc, error) {
	c, err := middleware.New(e, cfg)
	if err != nil {
		return nil, err
	}
	var router routerRunner
	if cfg.Router != nil {
		router.last.Store(&runner{run: middleware.Redispatch(cfg.Router)})
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			rest := func(w http.ResponseWriter, r *http.Request) error { return runRest(ec, next, w, r) }
			if ok, _ := middleware.RunDispatched(ec.Request(), rest); ok {
				return nil // a refresh: its Runner has the error; echo must not render it
			}
			return c.Serve(ec.Response(), ec.Request(), rest, router.get(ec.Echo()))
		}
	}, nil
}

// runRest runs the rest of the chain with w and r in place of the
// context's own: a fresh echo.Response on w, so that Before hooks and
// headers of middleware before the cache stay on the outer one, which w
// writes to in turn.
func runRest(ec echo.Context, next echo.HandlerFunc, w http.ResponseWriter, r *http.Request) error {
	res, req := ec.Response(), ec.Request()
	if w != http.ResponseWriter(res) {
		ec.SetResponse(echo.NewResponse(w, ec.Echo()))
		defer ec.SetResponse(res)
	}
	if r != req {
		if r.URL.RawQuery != req.URL.RawQuery { // a fill's keyed query: echo parses the query once per context
			defer hideQuery(ec.QueryParams(), r.URL.Query())()
		}
		ec.SetRequest(r)
		defer ec.SetRequest(req)
	}
	return next(ec)
}

// hideQuery deletes from the context's parsed query q the parameters that
// keep has not, and returns a function that puts them back.
func hideQuery(q, keep url.Values) func() {
	removed := url.Values{}
	for name, v := range q {
		if _, ok := keep[name]; !ok {
			removed[name] = v
			delete(q, name)
		}
	}
	return func() {
		for name, v := range removed {
			q[name] = v
		}
	}
}

// routerRunner is the Runner of the router refreshes go through: the echo
// instance the route was last served by, unless Config.Router is set.
type routerRunner struct{ last atomic.Pointer[runner] }

type runner struct {
	echo *echo.Echo // nil: Config.Router
	run  middleware.Runner
}

func (rr *routerRunner) get(e *echo.Echo) middleware.Runner {
	if r := rr.last.Load(); r != nil && (r.echo == nil || r.echo == e) {
		return r.run
	}
	r := &runner{echo: e, run: middleware.Redispatch(e)}
	rr.last.Store(r)
	return r.run
}

// IsRefresh reports whether c is a background refresh's request, sent
// through echo by the cache, rather than a client's. Use it as the Skipper
// of middleware that should count client requests only, such as a
// request logger.
func IsRefresh(c echo.Context) bool { return middleware.IsRefresh(c.Request()) }
