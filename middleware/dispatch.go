package middleware

import (
	"context"
	"net/http"
)

// IsRefresh reports whether r is a background refresh's request rather than
// a client's. Adapters export it for their framework's context; loggers,
// metrics and rate limiters can skip such requests. Middleware registered
// before the cache sees them only on echo and gin, whose refreshes go
// through the router again.
func IsRefresh(r *http.Request) bool {
	_, ok := r.Context().Value(refreshKey{}).(*dispatched)
	return ok
}

type refreshKey struct{}

// dispatched is what a refresh's request carries: where the adapter, once
// the request reaches the cache, writes the rest of the chain's response,
// and what that chain returned.
type dispatched struct {
	w       http.ResponseWriter // nil: the request is not sent through a router
	reached bool
	err     error
}

// asRefresh marks r as a background refresh's request.
func asRefresh(r *http.Request, d *dispatched) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), refreshKey{}, d))
}

// Redispatch returns a Runner that sends a refresh's request through h,
// a whole router (an *echo.Echo, a *gin.Engine), as a request of its own:
// the framework gives it a context of its own, so nothing of the recycled
// context of the request that triggered the refresh is touched. Middleware
// registered before the cache runs for it (IsRefresh tells it apart); once
// it reaches the cache, the adapter runs the rest of the chain into the
// Runner's writer (RunDispatched), so what is recorded is, as for fills,
// what the handlers after the cache produced. The router's own writer
// discards. The Runner returns the error the rest of the chain returned,
// and ErrNoStore when the request never reached the cache (a middleware
// before it refused the request) or the chain panicked into a recovery
// before the cache.
func Redispatch(h http.Handler) Runner {
	return func(w http.ResponseWriter, r *http.Request) error {
		d := &dispatched{w: w}
		h.ServeHTTP(discard{header: make(http.Header)}, asRefresh(r, d))
		if !d.reached {
			return ErrNoStore
		}
		return d.err
	}
}

// RunDispatched is for adapters, at the cache's position in the chain. If
// r was sent by a Redispatch Runner, it runs next, the rest of the chain,
// with the Runner's writer, records what next returned for the Runner, and
// returns true with it; otherwise it does nothing and returns false.
func RunDispatched(r *http.Request, next Next) (bool, error) {
	d, ok := r.Context().Value(refreshKey{}).(*dispatched)
	if !ok || d.w == nil || d.reached {
		return false, nil
	}
	d.reached = true
	// If next panics, a recovery before the cache (gin.Recovery, echo's
	// Recover) turns the panic into a response the router's writer
	// discards: nothing must be stored.
	d.err = ErrNoStore
	d.err = next(d.w, r)
	return true, d.err
}

// discard is the router's writer for a refresh.
type discard struct{ header http.Header }

func (d discard) Header() http.Header             { return d.header }
func (discard) Write(p []byte) (int, error)       { return len(p), nil }
func (discard) WriteHeader(int)                   {}
func (discard) Flush()                            {}
func (discard) CloseNotify() <-chan bool          { return make(chan bool) }
func (discard) WriteString(s string) (int, error) { return len(s), nil }
