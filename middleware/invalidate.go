package middleware

import (
	"errors"
	"net/http"
	"sync"

	"github.com/swrcache/swrcache/core"
)

// InvalidateConfig says what a write route invalidates.
type InvalidateConfig struct {
	// Tags returns the tags the request's write makes stale, such as
	// "user:42". Required.
	Tags func(r *http.Request) []string
	// OnError receives a failed invalidation. The response still goes out:
	// the write it reports has happened. An error wrapping core.ErrQueued
	// means Redis could not be reached: the invalidation is queued and
	// replayed as soon as Redis answers, and nothing more needs doing. nil
	// means ignore.
	OnError func(r *http.Request, err error)
}

// Invalidator invalidates tags after successful writes: a 2xx answer to a
// POST, PUT, PATCH or DELETE. It does so before the status reaches the
// client, so a client that reads right after its write never gets the old
// response from the cache.
type Invalidator struct {
	engine *core.Engine
	cfg    InvalidateConfig
}

// NewInvalidator returns an Invalidator, or an error for an invalid cfg.
func NewInvalidator(e *core.Engine, cfg InvalidateConfig) (*Invalidator, error) {
	switch {
	case e == nil:
		return nil, errors.New("middleware: nil engine")
	case cfg.Tags == nil:
		return nil, errors.New("middleware: InvalidateConfig.Tags is required")
	}
	return &Invalidator{engine: e, cfg: cfg}, nil
}

// Hook returns the function an adapter calls with the status, just before
// the response's status is written; it invalidates if the write succeeded.
// It is safe to call more than once: informational statuses are ignored,
// and only the first final one acts.
func (iv *Invalidator) Hook(r *http.Request) func(status int) {
	var once sync.Once
	return func(status int) {
		if status < 200 {
			return
		}
		once.Do(func() {
			if !isWrite(r.Method) || status < 200 || status > 299 {
				return
			}
			tags := iv.cfg.Tags(r)
			if len(tags) == 0 {
				return
			}
			if err := iv.engine.InvalidateTags(r.Context(), tags...); err != nil && iv.cfg.OnError != nil {
				iv.cfg.OnError(r, err)
			}
		})
	}
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}
