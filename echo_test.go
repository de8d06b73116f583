package swrcache_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/swrcache/swrcache/adapters/echocache"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/middleware"
)

func init() { adapters = append(adapters, adapter{name: "echo", serve: serveEcho}) }

// serveEcho serves h on echo behind the cache, on one route that answers
// every path for GET and HEAD (echo routes HEAD only where it is
// registered).
func serveEcho(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler) *httptest.Server {
	t.Helper()
	return serveEchoFor(t, e, cfg, h, http.MethodGet, http.MethodHead)
}

// serveEchoFor is serveEcho with the route registered for methods.
func serveEchoFor(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler, methods ...string) *httptest.Server {
	t.Helper()
	mw, err := echocache.New(e, cfg)
	if err != nil {
		t.Fatal(err)
	}
	app := echo.New()
	app.Match(methods, "/*", echo.WrapHandler(h), mw)
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return srv
}
