package swrcache_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/swrcache/swrcache/adapters/gincache"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/middleware"
)

func init() {
	gin.SetMode(gin.TestMode)
	adapters = append(adapters, adapter{name: "gin", serve: serveGin})
}

// serveGin serves h behind gin.Recovery and the cache, on a catch-all
// route registered for GET and HEAD.
func serveGin(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler) *httptest.Server {
	t.Helper()
	return serveGinFor(t, e, cfg, h, http.MethodGet, http.MethodHead)
}

// serveGinFor is serveGin with the route registered for methods.
func serveGinFor(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler, methods ...string) *httptest.Server {
	t.Helper()
	r := gin.New()
	r.Use(gin.RecoveryWithWriter(io.Discard))
	cfg.Router = r
	mw, err := gincache.New(e, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.Match(methods, "/*path", mw, gin.WrapH(h))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}
