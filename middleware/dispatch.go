package middleware

import (
	"context"
	"errors"
	"fmt"
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
// ErrNoStore when the chain panicked into a recovery before the cache, and
// an error wrapping ErrNotReached when the request never reached the
// cache.
func Redispatch(h http.Handler) Runner {
	return func(w http.ResponseWriter, r *http.Request) error {
		d := &dispatched{w: w}
		rec := &discard{header: make(http.Header)}
		h.ServeHTTP(rec, asRefresh(r, d))
		if !d.reached {
			return fmt.Errorf("%w (the router answered %d)", ErrNotReached, rec.status)
		}
		return d.err
	}
}

// ErrNotReached is the error of a refresh sent through a router that never
// reached the cache: the router is not the one the route is registered
// on (Config.Router), or middleware before the cache refused a request
// without credentials. Nothing is stored; the entry is served stale until
// its window ends.
var ErrNotReached = errors.New("middleware: a background refresh sent through Config.Router did not reach the cache: is it the router the route is on, and does middleware before the cache let a request without credentials through?")

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

// discard is the router's writer for a refresh: it keeps the status alone.
type discard struct {
	header http.Header
	status int
}

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(p []byte) (int, error) { d.WriteHeader(http.StatusOK); return len(p), nil }
func (d *discard) WriteString(s string) (int, error) {
	d.WriteHeader(http.StatusOK)
	return len(s), nil
}
func (*discard) Flush()                   {}
func (*discard) CloseNotify() <-chan bool { return make(chan bool) }

func (d *discard) WriteHeader(status int) {
	if d.status == 0 {
		d.status = status
	}
}
