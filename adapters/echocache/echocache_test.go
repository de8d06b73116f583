package echocache_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/goleak"

	"github.com/swrcache/swrcache/adapters/echocache"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, redistest.LeakOptions()...) }

// newEngine builds an engine on the test Redis under the test's own prefix.
func newEngine(t testing.TB) *core.Engine {
	t.Helper()
	e, err := core.New(core.Config{Client: redistest.Client(t), Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	})
	return e
}

// cacheConfig is the policy most tests use.
func cacheConfig() echocache.Config {
	return echocache.Config{Policy: core.Policy{TTL: time.Minute}, Key: echocache.KeySpec{Resource: "things"}}
}

// newCache returns the cache middleware for cfg on a fresh engine.
func newCache(t *testing.T, cfg echocache.Config) echo.MiddlewareFunc {
	t.Helper()
	mw, err := echocache.New(newEngine(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

// serve sends one request through e, with header given as name, value pairs.
func serve(e *echo.Echo, method, path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	return w
}

func cacheStatus(w *httptest.ResponseRecorder) string { return w.Header().Get("Cache-Status") }

func isHit(w *httptest.ResponseRecorder) bool { return strings.Contains(cacheStatus(w), "; hit") }

func TestMissThenHitReplaysStatusHeadersAndBody(t *testing.T) {
	e := echo.New()
	var outer []string // the status and commitment middleware before the cache see
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			outer = append(outer, fmt.Sprint(c.Response().Status, c.Response().Committed))
			return err
		}
	})
	var calls atomic.Int32
	e.GET("/things/:id", func(c echo.Context) error {
		n := calls.Add(1)
		h := c.Response().Header()
		h.Add("X-Multi", "a")
		h.Add("X-Multi", "b, c")
		h.Add("X-Multi", "d")
		return c.String(http.StatusNonAuthoritativeInfo, fmt.Sprintf("thing %s, call %d", c.Param("id"), n))
	}, newCache(t, cacheConfig()))

	first := serve(e, http.MethodGet, "/things/7")
	if cacheStatus(first) != "swrcache; fwd=uri-miss; stored" || first.Code != http.StatusNonAuthoritativeInfo {
		t.Fatalf("first: %d, Cache-Status %q", first.Code, cacheStatus(first))
	}
	second := serve(e, http.MethodGet, "/things/7")
	if !strings.HasPrefix(cacheStatus(second), "swrcache; hit; ttl=") || calls.Load() != 1 {
		t.Fatalf("second: Cache-Status %q after %d calls, want a hit", cacheStatus(second), calls.Load())
	}
	if second.Code != first.Code || second.Body.String() != "thing 7, call 1" || second.Body.String() != first.Body.String() {
		t.Errorf("hit: %d %q, want %d %q", second.Code, second.Body, first.Code, first.Body)
	}
	if got := second.Header().Values("X-Multi"); !slices.Equal(got, []string{"a", "b, c", "d"}) {
		t.Errorf("hit X-Multi %q, want every value in order", got)
	}
	if second.Header().Get("Content-Type") != first.Header().Get("Content-Type") || second.Header().Get("Age") == "" {
		t.Errorf("hit header %v", second.Header())
	}
	if want := []string{"203 true", "203 true"}; !slices.Equal(outer, want) {
		t.Errorf("echo.Response before the cache: %q, want %q", outer, want)
	}
}

func TestAnErrorOfTheRouteIsReturnedUntouchedAndNotStored(t *testing.T) {
	errBoom := errors.New("boom")
	e := echo.New()
	var rendered []error
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		rendered = append(rendered, err)
		_ = c.String(http.StatusTeapot, "rendered")
	}
	var returned []error // what the cache middleware returned to client requests
	catch := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			returned = append(returned, err)
			return err
		}
	}
	var calls atomic.Int32
	e.GET("/x", func(c echo.Context) error {
		calls.Add(1)
		return errBoom
	}, catch, newCache(t, cacheConfig()))

	for i := range 2 {
		if w := serve(e, http.MethodGet, "/x"); w.Code != http.StatusTeapot || w.Body.String() != "rendered" {
			t.Fatalf("request %d: %d %q, want the error handler's response", i+1, w.Code, w.Body)
		}
	}
	if calls.Load() != 2 {
		t.Errorf("%d route calls, want 2: the failure was stored", calls.Load())
	}
	if len(returned) != 2 || returned[0] != errBoom || returned[1] != errBoom {
		t.Errorf("the middleware returned %v, want errBoom itself twice", returned)
	}
	if len(rendered) != 2 || !errors.Is(rendered[0], errBoom) {
		t.Errorf("HTTPErrorHandler got %v, want errBoom once per request", rendered)
	}
}

func TestTheSkipperSendsRequestsPastTheCache(t *testing.T) {
	cfg := cacheConfig()
	cfg.Skipper = func(r *http.Request) bool { return r.URL.Query().Has("fresh") }
	e := echo.New()
	var calls atomic.Int32
	e.GET("/x", func(c echo.Context) error {
		return c.String(http.StatusOK, fmt.Sprint(calls.Add(1)))
	}, newCache(t, cfg))

	serve(e, http.MethodGet, "/x?fresh=1")
	w := serve(e, http.MethodGet, "/x?fresh=1")
	if calls.Load() != 2 || cacheStatus(w) != "swrcache; fwd=bypass; detail=skipped" {
		t.Fatalf("%d calls, Cache-Status %q; want 2 and the skip marked", calls.Load(), cacheStatus(w))
	}
	serve(e, http.MethodGet, "/x")
	if w := serve(e, http.MethodGet, "/x"); !isHit(w) {
		t.Fatalf("unskipped request: Cache-Status %q, want a hit", cacheStatus(w))
	}
}

func TestAnInvalidConfigIsAnErrorFromNew(t *testing.T) {
	engine := newEngine(t)
	tests := []struct {
		name        string
		givenEngine *core.Engine
		givenConfig echocache.Config
	}{
		{name: "no TTL", givenEngine: engine, givenConfig: echocache.Config{Key: echocache.KeySpec{Resource: "things"}}},
		{name: "no resource", givenEngine: engine, givenConfig: echocache.Config{Policy: core.Policy{TTL: time.Minute}}},
		{name: "no engine", givenConfig: cacheConfig()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if mw, err := echocache.New(tt.givenEngine, tt.givenConfig); err == nil || mw != nil {
				t.Errorf("New: %v, want an error and no middleware", err)
			}
		})
	}
}

func TestHEADIsServedFromTheGETEntry(t *testing.T) {
	e := echo.New()
	var calls atomic.Int32
	e.Match([]string{http.MethodGet, http.MethodHead}, "/*", func(c echo.Context) error {
		c.Response().Header().Set("X-Thing", "1")
		return c.String(http.StatusOK, fmt.Sprintf("body %d of %s", calls.Add(1), c.Request().Method))
	}, newCache(t, cacheConfig()))

	g := serve(e, http.MethodGet, "/a")
	h := serve(e, http.MethodHead, "/a")
	if !isHit(h) || h.Body.Len() != 0 || h.Header().Get("X-Thing") != "1" || h.Header().Get("Content-Length") != fmt.Sprint(g.Body.Len()) {
		t.Errorf("HEAD after GET: %q, %d body bytes, header %v", cacheStatus(h), h.Body.Len(), h.Header())
	}
	h = serve(e, http.MethodHead, "/b")
	g = serve(e, http.MethodGet, "/b")
	if h.Body.Len() != 0 || !strings.Contains(cacheStatus(h), "stored") || !isHit(g) || g.Body.String() != "body 2 of GET" {
		t.Errorf("GET after HEAD: %q %q, want a hit on the GET the HEAD stored", cacheStatus(g), g.Body)
	}
}
