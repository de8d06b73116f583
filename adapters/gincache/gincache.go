package gincache

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/keyfunc"
	"github.com/swrcache/swrcache/middleware"
)

// Config is a route's caching policy, the same for every adapter; see
// middleware.Config. Router must be the *gin.Engine the route is
// registered on, unless the route never refreshes in the background.
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
// or a nil engine. Register it on the route, before the handler.
func New(e *core.Engine, cfg Config) (gin.HandlerFunc, error) {
	c, err := middleware.New(e, cfg)
	if err != nil {
		return nil, err
	}
	var refresh middleware.Runner
	switch {
	case cfg.Router != nil:
		refresh = middleware.Redispatch(cfg.Router)
	case cfg.StaleWhileRevalidate > 0 || cfg.RefreshAhead >= 0:
		return nil, errors.New("gincache: Config.Router must be the *gin.Engine the route is registered on: background refreshes are sent through it (with RefreshAhead < 0 and no StaleWhileRevalidate there are none)")
	}
	return func(gc *gin.Context) {
		ran := false // the rest of the chain ran on this context
		rest := func(w http.ResponseWriter, r *http.Request) error {
			ran = true
			return runRest(gc, w, r)
		}
		if ok, _ := middleware.RunDispatched(gc.Request, rest); ok {
			return
		}
		if err := c.Serve(gc.Writer, gc.Request, rest, refresh); err != nil {
			_ = gc.Error(err)
		}
		if !ran {
			gc.Abort() // the cache answered: the handler must not run
		}
	}, nil
}

// runRest runs the rest of the chain with w and r in place of the
// context's own, and reports with middleware.ErrNoStore a chain that
// aborted or recorded an error.
func runRest(gc *gin.Context, w http.ResponseWriter, r *http.Request) error {
	outer, req := gc.Writer, gc.Request
	gw := &writer{ResponseWriter: outer, w: w, status: http.StatusOK, size: -1}
	if w != http.ResponseWriter(outer) {
		gc.Writer = gw
	}
	gc.Request = r
	defer func() { gc.Writer, gc.Request = outer, req }()
	// gin parses the query once per context: if middleware before the
	// cache did, a fill's handler would see the parameters its key leaves
	// out; then it must not store.
	stale := seesUnkeyed(gc, req, r)
	errs := len(gc.Errors)
	gc.Next()
	if w != http.ResponseWriter(outer) {
		// gin sends a status set without a body once the chain is done;
		// gw does it here even when middleware after the cache put a
		// writer of its own in front of it (gin-contrib/gzip does, and
		// leaves it there). Once the status is written it does nothing.
		gw.WriteHeaderNow()
	}
	if stale || gc.IsAborted() || len(gc.Errors) > errs {
		return middleware.ErrNoStore
	}
	return nil
}

// seesUnkeyed reports whether the context's parsed query holds parameters
// of orig that the fill's request fill left out.
func seesUnkeyed(gc *gin.Context, orig, fill *http.Request) bool {
	if orig.URL.RawQuery == fill.URL.RawQuery {
		return false
	}
	keep := fill.URL.Query()
	for name := range orig.URL.Query() {
		if _, kept := keep[name]; !kept {
			if _, seen := gc.GetQuery(name); seen {
				return true
			}
		}
	}
	return false
}

// IsRefresh reports whether c is a background refresh's request, sent
// through the router by the cache, rather than a client's: use it to skip
// such requests in a logger or metrics middleware.
func IsRefresh(c *gin.Context) bool { return middleware.IsRefresh(c.Request) }
