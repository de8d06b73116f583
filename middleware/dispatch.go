package middleware

import (
	"context"
	"net/http"
)

// Redispatch returns a Runner that sends each request through h, a whole
// framework (an *echo.Echo, a *gin.Engine), as the server would, marked so
// that the adapter runs the rest of its chain (see RunDispatched) instead
// of reading the cache. The framework gives the request a context of its
// own, so nothing of the triggering request's recycled context is touched
// from the fill's goroutine. Middleware registered before the cache runs
// once more for such a request. The Runner returns the error the chain
// returned, not the response the framework rendered for it, and
// ErrNoStore for a chain that panicked into a recovery before the cache.
func Redispatch(h http.Handler) Runner {
	return func(w http.ResponseWriter, r *http.Request) error {
		d := &dispatched{}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), dispatchKey{}, d)))
		if !d.reached {
			return ErrNoStore // the chain stopped before the cache (an auth middleware refused it)
		}
		return d.err
	}
}

type dispatchKey struct{}

// dispatched carries the chain's outcome back to the Runner.
type dispatched struct {
	reached bool
	err     error
}

// RunDispatched is for adapters. If r was sent by a Redispatch Runner it
// runs next, the rest of the adapter's chain, records its error for the
// Runner, and returns true with that error; otherwise it does nothing and
// returns false.
func RunDispatched(r *http.Request, next func() error) (bool, error) {
	d, ok := r.Context().Value(dispatchKey{}).(*dispatched)
	if !ok {
		return false, nil
	}
	d.reached = true
	// If next panics, a recovery before the cache (gin.Recovery) may turn
	// the panic into the response the Runner sees, a 200 when the route
	// wrote before panicking: it must not be stored.
	d.err = ErrNoStore
	d.err = next()
	return true, d.err
}
