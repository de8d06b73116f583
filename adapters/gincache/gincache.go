package gincache

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/keyfunc"
	"github.com/swrcache/swrcache/middleware"
)

// Config is a route's caching policy; see middleware.Config. Its Skipper
// receives c.Request.
type Config = middleware.Config

// Key says which parts of a request identify its response; see keyfunc.Spec.
type Key = keyfunc.Spec

// New returns the middleware for one route, or an error for an invalid cfg
// or a nil engine or router. router is the gin engine the route is
// registered on: fills and background refreshes are sent through it again
// (see the package documentation). Register the middleware on the route,
// before its handler:
//
//	router.GET("/users/:id", cached, getUser)
func New(e *core.Engine, router *gin.Engine, cfg Config) (gin.HandlerFunc, error) {
	if router == nil {
		return nil, errors.New("gincache: nil router")
	}
	c, err := middleware.New(e, cfg)
	if err != nil {
		return nil, err
	}
	// Fills get a deep copy of the request from middleware.Cache, so the
	// middleware before the cache may change it on the fill's goroutine.
	run := middleware.Redispatch(router)
	return func(gc *gin.Context) {
		if ok, _ := middleware.RunDispatched(gc.Request, func() error { return fill(gc) }); ok {
			return
		}
		ran := false // the rest of the chain ran on this context
		next := func(http.ResponseWriter, *http.Request) error {
			ran = true
			if tags := c.TagsHeader(); tags != "" { // for the cache, never for clients
				gc.Writer = &stripWriter{ResponseWriter: gc.Writer, name: tags}
			}
			return rest(gc)
		}
		if err := c.Serve(gc.Writer, gc.Request, next, run); err != nil {
			_ = gc.Error(err) // the client left before a response was ready
		}
		if !ran {
			gc.Abort() // the cache answered: the handler must not run again
		}
	}, nil
}

// rest runs the handlers after the cache and reports, with
// middleware.ErrNoStore, a chain that aborted or recorded an error.
func rest(gc *gin.Context) error {
	errs := len(gc.Errors)
	gc.Next()
	if gc.IsAborted() || len(gc.Errors) > errs {
		return middleware.ErrNoStore
	}
	return nil
}

// fill runs the rest of the chain for a request the cache sent through the
// router, writing into the cache's recorder. The response headers set so
// far come from middleware registered before the cache, which runs again
// for every request, hits included: they are dropped, so that one request's
// values (a request ID, a cookie) are neither stored nor replayed to others.
func fill(gc *gin.Context) error {
	clear(gc.Writer.Header())
	return rest(gc)
}

// stripWriter removes one header field before the response's header is
// sent. It overrides every method of gin.ResponseWriter that can send it.
type stripWriter struct {
	gin.ResponseWriter
	name string
}

func (w *stripWriter) WriteHeader(code int) {
	w.Header().Del(w.name)
	w.ResponseWriter.WriteHeader(code)
}

func (w *stripWriter) WriteHeaderNow() {
	w.Header().Del(w.name)
	w.ResponseWriter.WriteHeaderNow()
}

func (w *stripWriter) Write(b []byte) (int, error) {
	w.Header().Del(w.name)
	return w.ResponseWriter.Write(b)
}

func (w *stripWriter) WriteString(s string) (int, error) {
	w.Header().Del(w.name)
	return w.ResponseWriter.WriteString(s)
}

func (w *stripWriter) Flush() {
	w.Header().Del(w.name)
	w.ResponseWriter.Flush()
}
