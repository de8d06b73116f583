package gincache_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"

	"github.com/swrcache/swrcache/adapters/gincache"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
	"github.com/swrcache/swrcache/middleware"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m, redistest.LeakOptions()...)
}

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

func config() gincache.Config {
	return gincache.Config{Policy: core.Policy{TTL: time.Minute}, Key: gincache.KeySpec{Resource: "things"}}
}

// route serves GET and HEAD /things/:id on router with the cache in front
// of handlers.
func route(t *testing.T, router *gin.Engine, cfg gincache.Config, handlers ...gin.HandlerFunc) {
	t.Helper()
	cfg.Router = router
	mw, err := gincache.New(newEngine(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	router.Match([]string{http.MethodGet, http.MethodHead}, "/things/:id", append([]gin.HandlerFunc{mw}, handlers...)...)
}

// serve sends one request through router, as the server would, and returns
// what the client got: headers as they were when the status was written.
func serve(router http.Handler, method, path string, header ...string) *http.Response {
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	router.ServeHTTP(w, req)
	return w.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// counting answers 200 with a body naming its call.
func counting(calls *atomic.Int32) gin.HandlerFunc {
	return func(c *gin.Context) { c.String(http.StatusOK, "call %d", calls.Add(1)) }
}

func TestMissThenHitReplaysStatusHeadersAndBody(t *testing.T) {
	router := gin.New()
	var calls atomic.Int32
	route(t, router, config(), func(c *gin.Context) {
		calls.Add(1)
		c.Writer.Header().Add("X-Multi", "a")
		c.Writer.Header().Add("X-Multi", "b, c")
		c.Writer.Header().Add("X-Multi", "d")
		c.Data(http.StatusNotFound, "text/plain", []byte("no thing "+c.Param("id")))
	})
	first := serve(router, http.MethodGet, "/things/1")
	if got := first.Header.Get("Cache-Status"); got != "swrcache; fwd=uri-miss; stored" {
		t.Fatalf("first Cache-Status = %q", got)
	}
	firstBody := body(t, first)
	second := serve(router, http.MethodGet, "/things/1")
	if got := second.Header.Get("Cache-Status"); !strings.Contains(got, "; hit; ttl=") {
		t.Fatalf("second Cache-Status = %q", got)
	}
	for i, r := range []*http.Response{first, second} {
		if r.StatusCode != http.StatusNotFound || !slices.Equal(r.Header.Values("X-Multi"), []string{"a", "b, c", "d"}) ||
			r.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("response %d: %d %v", i+1, r.StatusCode, r.Header)
		}
	}
	if b := body(t, second); b != firstBody || b != "no thing 1" || calls.Load() != 1 {
		t.Fatalf("second body %q after %d calls, want %q from the cache", b, calls.Load(), firstBody)
	}
}

func TestHitRunsNoHandlerAfterTheCache(t *testing.T) {
	router := gin.New()
	var after, calls atomic.Int32
	route(t, router, config(), func(c *gin.Context) { after.Add(1) }, counting(&calls))
	for range 3 {
		serve(router, http.MethodGet, "/things/1")
	}
	if after.Load() != 1 || calls.Load() != 1 {
		t.Fatalf("the chain after the cache ran %d and %d times, want once", after.Load(), calls.Load())
	}
}

func TestAbortedOrErroredResponseIsNotStored(t *testing.T) {
	for name, handler := range map[string]func(c *gin.Context){
		"AbortWithStatus": func(c *gin.Context) { c.AbortWithStatus(http.StatusNotFound) },
		"Abort":           func(c *gin.Context) { c.String(http.StatusOK, "partial"); c.Abort() },
		"Error":           func(c *gin.Context) { c.String(http.StatusOK, "oops"); _ = c.Error(errors.New("half done")) },
	} {
		t.Run(name, func(t *testing.T) {
			router := gin.New()
			var calls atomic.Int32
			route(t, router, config(), func(c *gin.Context) { calls.Add(1); handler(c) })
			first := serve(router, http.MethodGet, "/things/1")
			second := serve(router, http.MethodGet, "/things/1")
			if calls.Load() != 2 || second.Header.Get("Cache-Status") != "swrcache; fwd=uri-miss; detail=aborted" {
				t.Fatalf("%d handler calls, Cache-Status %q; want the handler again", calls.Load(), second.Header.Get("Cache-Status"))
			}
			if first.StatusCode != second.StatusCode || body(t, first) != body(t, second) {
				t.Fatalf("the caller did not get the handler's response")
			}
		})
	}
}

func TestPanicAnswers500ThroughRecoveryAndIsNotStored(t *testing.T) {
	router := gin.New()
	router.Use(gin.RecoveryWithWriter(io.Discard))
	var calls atomic.Int32
	route(t, router, config(), func(c *gin.Context) {
		if calls.Add(1) == 1 {
			panic("boom")
		}
		c.String(http.StatusOK, "fine")
	})
	if r := serve(router, http.MethodGet, "/things/1"); r.StatusCode != http.StatusInternalServerError {
		t.Fatalf("panic answered %d, want 500", r.StatusCode)
	}
	if r := serve(router, http.MethodGet, "/things/1"); body(t, r) != "fine" || calls.Load() != 2 {
		t.Fatalf("after the panic: %q, %d calls; want the handler again", body(t, r), calls.Load())
	}
}

func TestPanicWithoutRecoveryIsRaisedInTheCallersRequest(t *testing.T) {
	router := gin.New()
	route(t, router, config(), func(*gin.Context) { panic("boom") })
	defer func() {
		if v := recover(); v != "boom" {
			t.Fatalf("recovered %v, want the handler's panic", v)
		}
	}()
	serve(router, http.MethodGet, "/things/1")
	t.Fatal("no panic")
}

func TestHeadIsServedFromTheGetEntry(t *testing.T) {
	router := gin.New()
	var calls atomic.Int32
	route(t, router, config(), counting(&calls))
	get := serve(router, http.MethodGet, "/things/1")
	head := serve(router, http.MethodHead, "/things/1")
	if !strings.Contains(head.Header.Get("Cache-Status"), "; hit") || body(t, head) != "" ||
		head.StatusCode != http.StatusOK || head.Header.Get("Content-Length") != fmt.Sprint(len(body(t, get))) {
		t.Fatalf("HEAD: %d %v", head.StatusCode, head.Header)
	}
	if fresh := serve(router, http.MethodHead, "/things/2"); fresh.StatusCode != http.StatusOK || body(t, fresh) != "" {
		t.Fatalf("HEAD on a miss: %d", fresh.StatusCode)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d handler calls, want 2", calls.Load())
	}
}

func TestBypassRunsTheChainOnceOnGinsWriter(t *testing.T) {
	router := gin.New()
	var calls atomic.Int32
	route(t, router, config(), func(c *gin.Context) {
		if _, ok := c.Writer.(gin.ResponseWriter); !ok {
			t.Error("the handler did not get gin's writer")
		}
		c.Next()
	}, counting(&calls))
	r := serve(router, http.MethodGet, "/things/1", "Authorization", "Bearer alice")
	if r.Header.Get("Cache-Status") != "swrcache; fwd=bypass; detail=authorization" || body(t, r) != "call 1" {
		t.Fatalf("bypass: %q, %q", r.Header.Get("Cache-Status"), body(t, r))
	}
}

func TestSkipperSeesTheRequest(t *testing.T) {
	router := gin.New()
	var calls atomic.Int32
	cfg := config()
	cfg.Skipper = func(r *http.Request) bool { return r.URL.Query().Has("fresh") }
	route(t, router, cfg, counting(&calls))
	serve(router, http.MethodGet, "/things/1?fresh")
	r := serve(router, http.MethodGet, "/things/1?fresh")
	if r.Header.Get("Cache-Status") != "swrcache; fwd=bypass; detail=skipped" || calls.Load() != 2 {
		t.Fatalf("Cache-Status %q after %d calls", r.Header.Get("Cache-Status"), calls.Load())
	}
}

func TestHeadersOfMiddlewareBeforeTheCacheAreNotStored(t *testing.T) {
	router := gin.New()
	var requests atomic.Int32
	router.Use(func(c *gin.Context) {
		n := requests.Add(1)
		c.Header("X-Request-Id", fmt.Sprint(n))
		c.SetCookie("visitor", fmt.Sprint(n), 60, "/", "", false, true)
	})
	var calls atomic.Int32
	route(t, router, config(), counting(&calls))
	serve(router, http.MethodGet, "/things/1")
	r := serve(router, http.MethodGet, "/things/1")
	if !strings.Contains(r.Header.Get("Cache-Status"), "; hit") || calls.Load() != 1 {
		t.Fatalf("Cache-Status %q after %d calls; an outer cookie kept the route from being stored", r.Header.Get("Cache-Status"), calls.Load())
	}
	// Request 1 filled the cache; 2 is the hit.
	if requests.Load() != 2 {
		t.Fatalf("the middleware before the cache ran %d times for 2 requests, want once each", requests.Load())
	}
	if id, cookies := r.Header.Values("X-Request-Id"), r.Cookies(); !slices.Equal(id, []string{"2"}) ||
		len(cookies) != 1 || cookies[0].Value != "2" {
		t.Fatalf("the hit carries request IDs %v and cookies %v, want its own alone", id, cookies)
	}
}

func TestNewRejectsWhatCannotWork(t *testing.T) {
	e := newEngine(t)
	withRouter := func(c gincache.Config) gincache.Config { c.Router = gin.New(); return c }
	for _, tc := range []struct {
		name        string
		givenEngine *core.Engine
		givenConfig gincache.Config
	}{
		{"a config without TTL", e, withRouter(gincache.Config{Key: gincache.KeySpec{Resource: "x"}})},
		{"a config without a resource", e, withRouter(gincache.Config{Policy: core.Policy{TTL: time.Minute}})},
		{"an invalid tenant header", e, withRouter(gincache.Config{Policy: core.Policy{TTL: time.Minute}, Key: gincache.KeySpec{Resource: "x"}, TenantHeader: "X Tenant"})},
		{"no router for a route that refreshes", e, config()},
		{"no engine", nil, withRouter(config())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if mw, err := gincache.New(tc.givenEngine, tc.givenConfig); err == nil || mw != nil {
				t.Fatal("New accepted it")
			}
		})
	}
	noRefresh := config()
	noRefresh.RefreshAhead = -1
	if _, err := gincache.New(e, noRefresh); err != nil {
		t.Fatalf("a route that never refreshes needs no router: %v", err)
	}
}

// gin parses a request's query once per context and cannot be told to
// parse it again: when middleware before the cache read it, a fill's
// handler would see the parameters the key leaves out, so the response is
// not stored, and no entry is poisoned.
func TestAFillAfterMiddlewareParsedTheQueryIsNotStored(t *testing.T) {
	router := gin.New()
	router.Use(func(c *gin.Context) { _ = c.Query("lang") })
	cfg := config()
	cfg.Key.Query = []string{"id"}
	route(t, router, cfg, func(c *gin.Context) {
		c.String(http.StatusOK, "lang=%s id=%s", c.Query("lang"), c.Query("id"))
	})
	if r := serve(router, http.MethodGet, "/things/1?id=1&lang=evil"); !strings.Contains(r.Header.Get("Cache-Status"), "detail=aborted") {
		t.Fatalf("a fill that saw an unkeyed parameter: %q, want it not stored", r.Header.Get("Cache-Status"))
	}
	if r := serve(router, http.MethodGet, "/things/1?id=1"); body(t, r) != "lang= id=1" {
		t.Fatalf("a plain request: %q (%s), want no poisoned entry", body(t, r), r.Header.Get("Cache-Status"))
	}
	// Without an unkeyed parameter, or with the query unread, fills store.
	if r := serve(router, http.MethodGet, "/things/2?id=2"); !strings.Contains(r.Header.Get("Cache-Status"), "stored") {
		t.Fatalf("a fill with the keyed parameters only: %q, want it stored", r.Header.Get("Cache-Status"))
	}
}

// The route's parameters reach InvalidateConfig.Tags as path values, as
// with net/http: a write invalidates the one item it changed.
func TestInvalidateReadsTheRoutesParametersAsPathValues(t *testing.T) {
	router := gin.New()
	engine := newEngine(t)
	cfg := config()
	cfg.TagsHeader, cfg.Router = "X-Cache-Tags", router
	cache, err := gincache.New(engine, cfg)
	if err != nil {
		t.Fatal(err)
	}
	invalidate, err := gincache.Invalidate(engine, gincache.InvalidateConfig{
		Tags: func(r *http.Request) []string { return []string{"thing:" + r.PathValue("id")} },
	})
	if err != nil {
		t.Fatal(err)
	}
	router.GET("/things/:id", cache, func(c *gin.Context) {
		c.Header("X-Cache-Tags", "thing:"+c.Param("id"))
		c.String(http.StatusOK, "thing %s", c.Param("id"))
	})
	router.PUT("/things/:id", invalidate, func(c *gin.Context) { c.Status(http.StatusNoContent) })
	serve(router, http.MethodGet, "/things/1")
	serve(router, http.MethodGet, "/things/2")
	if r := serve(router, http.MethodPut, "/things/1"); r.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT: %d", r.StatusCode)
	}
	if r := serve(router, http.MethodGet, "/things/1"); strings.Contains(r.Header.Get("Cache-Status"), "hit") {
		t.Fatalf("the written item: %s, want it invalidated", r.Header.Get("Cache-Status"))
	}
	if r := serve(router, http.MethodGet, "/things/2"); !strings.Contains(r.Header.Get("Cache-Status"), "hit") {
		t.Fatalf("another item: %s, want it still cached", r.Header.Get("Cache-Status"))
	}
}

// A Router that is not the one the route is on can be told apart only
// when a refresh goes through it: the refresh fails, saying why, and the
// entry stays stale until its window ends.
func TestARefreshThroughTheWrongRouterFailsSayingWhy(t *testing.T) {
	failed := make(chan error, 8)
	e, err := core.New(core.Config{Client: redistest.Client(t), Namespace: redistest.Prefix(t),
		OnEvent: func(_ context.Context, ev core.Event) {
			if ev.Kind == core.EventRefreshFailed {
				failed <- ev.Err
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	router := gin.New()
	cfg := config()
	cfg.TTL, cfg.StaleWhileRevalidate, cfg.RefreshAhead = 100*time.Millisecond, time.Minute, -1
	cfg.Router = gin.New() // not router
	mw, err := gincache.New(e, cfg)
	if err != nil {
		t.Fatal(err)
	}
	router.GET("/things/:id", mw, func(c *gin.Context) { c.String(http.StatusOK, "thing") })
	serve(router, http.MethodGet, "/things/1")
	time.Sleep(150 * time.Millisecond)
	if r := serve(router, http.MethodGet, "/things/1"); !strings.Contains(r.Header.Get("Cache-Status"), "fwd=stale") {
		t.Fatalf("Cache-Status %q, want a stale hit that starts a refresh", r.Header.Get("Cache-Status"))
	}
	select {
	case err := <-failed:
		if !errors.Is(err, middleware.ErrNotReached) || !strings.Contains(err.Error(), "answered 404") {
			t.Fatalf("the refresh failed with %v, want ErrNotReached and the router's 404", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no refresh failure reported")
	}
}
