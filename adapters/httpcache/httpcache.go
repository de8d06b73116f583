package httpcache

import (
	"net/http"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/keyfunc"
	"github.com/swrcache/swrcache/middleware"
)

// Config is a route's caching policy, the same for every adapter; see
// middleware.Config. Router is not used: a background refresh calls the
// handler after the cache directly.
type Config = middleware.Config

// KeySpec says which parts of a request identify its response; see
// keyfunc.Spec.
type KeySpec = keyfunc.Spec

// InvalidateConfig says what a write route invalidates; see
// middleware.InvalidateConfig.
type InvalidateConfig = middleware.InvalidateConfig

// New returns the middleware for one route, or an error for an invalid cfg
// or a nil engine.
func New(e *core.Engine, cfg Config) (func(http.Handler) http.Handler, error) {
	c, err := middleware.New(e, cfg)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		run := func(w http.ResponseWriter, r *http.Request) error {
			next.ServeHTTP(w, r)
			return nil
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// An error here was answered already (a 500 for a request that
			// waited on a panicking fill), or its client left.
			_ = c.Serve(w, r, run, run)
		})
	}, nil
}

// Invalidate returns the middleware for a write route: after a 2xx answer
// to a POST, PUT, PATCH or DELETE, and before that answer reaches the
// client, it invalidates the tags cfg names.
func Invalidate(e *core.Engine, cfg InvalidateConfig) (func(http.Handler) http.Handler, error) {
	iv, err := middleware.NewInvalidator(e, cfg)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hook := iv.Hook(r)
			next.ServeHTTP(middleware.HookWriter(w, hook), r)
			hook(http.StatusOK) // a handler that wrote nothing answered 200
		})
	}, nil
}

// IsRefresh reports whether r is a background refresh's request, rebuilt
// from the client request that found the entry due, rather than a
// client's: the handler may skip per-client work (logging, metrics).
func IsRefresh(r *http.Request) bool { return middleware.IsRefresh(r) }
