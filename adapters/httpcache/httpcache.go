package httpcache

import (
	"mime"
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

// The values of Config.Freshness and Config.InvalidateOnWrite, so that a
// route is configured from this package alone.
const (
	RouteTTL     = middleware.RouteTTL
	FromResponse = middleware.FromResponse
	On           = middleware.On
	Off          = middleware.Off
)

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

// FlushStreamsOnly wraps a handler that flushes what is not a stream, so
// that the cache in front of it can store its responses: flushes pass on
// only for an event stream (text/event-stream). Put it around an
// httputil.ReverseProxy: ReverseProxy flushes after every write of a
// response that came without a Content-Length (any chunked one, as most
// dynamic responses over a couple of KiB are), and the cache takes a
// response that flushes for a stream, which it never stores.
func FlushStreamsOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&streamsOnly{ResponseWriter: w}, r)
	})
}

// streamsOnly passes Flush on only for an event stream.
type streamsOnly struct{ http.ResponseWriter }

func (w *streamsOnly) Flush() {
	if mt, _, err := mime.ParseMediaType(w.Header().Get("Content-Type")); err == nil && mt == "text/event-stream" {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

// Unwrap returns the cache's writer, for http.ResponseController.
func (w *streamsOnly) Unwrap() http.ResponseWriter { return w.ResponseWriter }
