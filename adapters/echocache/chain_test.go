package echocache_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/swrcache/swrcache/adapters/echocache"
	"github.com/swrcache/swrcache/core"
)

// exclaim wraps the response writer, as Gzip does: every write gets a "!".
func exclaim(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		res := c.Response()
		res.Writer = exclaimer{res.Writer}
		return next(c)
	}
}

type exclaimer struct{ http.ResponseWriter }

func (w exclaimer) Write(p []byte) (int, error) {
	return w.ResponseWriter.Write(append(append([]byte(nil), p...), '!'))
}

func TestMiddlewareBeforeTheCacheStaysOutOfTheStoredResponse(t *testing.T) {
	e := echo.New()
	var ids, clientRequests atomic.Int32
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("X-Request-Id", fmt.Sprint(ids.Add(1)))
			c.Response().Header().Add("Vary", "Origin") // as CORS does
			c.Response().Before(func() { c.Response().Header().Set("Set-Cookie", "csrf=1") })
			return next(c)
		}
	}, exclaim, func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			clientRequests.Add(1)
			return next(c)
		}
	})
	e.GET("/x", func(c echo.Context) error { return c.String(http.StatusOK, "hello") }, newCache(t, cacheConfig()))

	first := serve(e, http.MethodGet, "/x")
	second := serve(e, http.MethodGet, "/x")
	if !strings.Contains(cacheStatus(first), "stored") || !isHit(second) {
		t.Fatalf("Cache-Status %q then %q, want stored then a hit", cacheStatus(first), cacheStatus(second))
	}
	for i, w := range []string{first.Body.String(), second.Body.String()} {
		if w != "hello!" {
			t.Errorf("response %d: body %q, want the writer wrapped once", i+1, w)
		}
	}
	if a, b := first.Header().Get("X-Request-Id"), second.Header().Get("X-Request-Id"); a == b || b != fmt.Sprint(ids.Load()) {
		t.Errorf("request ids %s then %s of %d: the hit replayed a stored one", a, b, ids.Load())
	}
	if v := second.Header().Values("Vary"); len(v) != 1 || v[0] != "Origin" {
		t.Errorf("hit Vary %q, want the outer middleware's alone", v)
	}
	if clientRequests.Load() != 2 {
		t.Errorf("middleware before the cache ran %d times for 2 client requests, want once each", clientRequests.Load())
	}
}

func TestInvalidateDropsEntriesAfterASuccessfulWrite(t *testing.T) {
	engine := newEngine(t)
	cfg := cacheConfig()
	cfg.Tags = []string{"things"}
	cache, err := echocache.New(engine, cfg)
	if err != nil {
		t.Fatal(err)
	}
	invalidate, err := echocache.Invalidate(engine, echocache.InvalidateConfig{
		Tags: func(*http.Request) []string { return []string{"things"} },
	})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	var version atomic.Int32
	e.GET("/things/:id", func(c echo.Context) error {
		return c.String(http.StatusOK, fmt.Sprint("version ", version.Load()))
	}, cache)
	e.PUT("/things/:id", func(c echo.Context) error {
		if c.QueryParam("fail") != "" {
			return echo.ErrBadRequest
		}
		version.Add(1)
		return c.NoContent(http.StatusNoContent)
	}, invalidate)

	serve(e, http.MethodGet, "/things/1")
	if w := serve(e, http.MethodPut, "/things/1?fail=1"); w.Code != http.StatusBadRequest {
		t.Fatalf("failing PUT: %d", w.Code)
	}
	if w := serve(e, http.MethodGet, "/things/1"); !isHit(w) {
		t.Fatalf("after a failed write: Cache-Status %q, want a hit", cacheStatus(w))
	}
	if w := serve(e, http.MethodPut, "/things/1"); w.Code != http.StatusNoContent {
		t.Fatalf("PUT: %d", w.Code)
	}
	if w := serve(e, http.MethodGet, "/things/1"); isHit(w) || w.Body.String() != "version 1" {
		t.Fatalf("after a write: %q (%s), want the new version from the route", w.Body, cacheStatus(w))
	}
}

func TestABackgroundRefreshGoesThroughTheRouterAgain(t *testing.T) {
	cfg := cacheConfig()
	cfg.Policy = core.Policy{TTL: 200 * time.Millisecond, StaleWhileRevalidate: time.Minute, RefreshAhead: -1}
	e := echo.New()
	var refreshes atomic.Int32
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if echocache.IsRefresh(c) {
				refreshes.Add(1)
			}
			return next(c)
		}
	})
	var calls atomic.Int32
	e.GET("/things/:id", func(c echo.Context) error {
		return c.String(http.StatusOK, fmt.Sprintf("thing %s, call %d", c.Param("id"), calls.Add(1)))
	}, newCache(t, cfg))

	serve(e, http.MethodGet, "/things/7")
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() < 2 { // a stale hit starts the refresh
		if time.Now().After(deadline) {
			t.Fatal("no background refresh")
		}
		time.Sleep(20 * time.Millisecond)
		serve(e, http.MethodGet, "/things/7")
	}
	for {
		w := serve(e, http.MethodGet, "/things/7")
		if w.Body.String() == "thing 7, call 2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %q (%s), want the refreshed response with its path parameter", w.Body, cacheStatus(w))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if refreshes.Load() != 1 {
		t.Fatalf("IsRefresh was true for %d requests through echo, want the one refresh", refreshes.Load())
	}
}

// echo parses a request's query once per context. Middleware before the
// cache that read it must not let a fill's handler see the parameters the
// key leaves out (they could poison the entry), and reads it whole again
// once the chain after the cache is done.
func TestAFillSeesOnlyTheKeyedQueryEvenAfterMiddlewareParsedIt(t *testing.T) {
	cfg := cacheConfig()
	cfg.Key.Query = []string{"id"}
	e := echo.New()
	var after []string
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			_ = c.QueryParam("lang") // parses the whole query
			err := next(c)
			after = append(after, c.QueryParam("lang"))
			return err
		}
	})
	e.GET("/x", func(c echo.Context) error {
		return c.String(http.StatusOK, "lang="+c.QueryParam("lang")+" id="+c.QueryParam("id"))
	}, newCache(t, cfg))

	if w := serve(e, http.MethodGet, "/x?id=1&lang=evil"); w.Body.String() != "lang= id=1" {
		t.Fatalf("the fill's handler saw %q, want the keyed parameters only", w.Body)
	}
	if w := serve(e, http.MethodGet, "/x?id=1"); !isHit(w) || w.Body.String() != "lang= id=1" {
		t.Fatalf("a plain request: %q (%s), want the unpoisoned entry", w.Body, cacheStatus(w))
	}
	if len(after) == 0 || after[0] != "evil" {
		t.Fatalf("middleware before the cache read %q after the chain, want the whole query back", after)
	}
}

// The route's parameters reach InvalidateConfig.Tags as path values, as
// with net/http: a write invalidates the one item it changed.
func TestInvalidateReadsTheRoutesParametersAsPathValues(t *testing.T) {
	engine := newEngine(t)
	cfg := cacheConfig()
	cfg.TagsHeader = "X-Cache-Tags"
	cache, err := echocache.New(engine, cfg)
	if err != nil {
		t.Fatal(err)
	}
	invalidate, err := echocache.Invalidate(engine, echocache.InvalidateConfig{
		Tags: func(r *http.Request) []string { return []string{"thing:" + r.PathValue("id")} },
	})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.GET("/things/:id", func(c echo.Context) error {
		c.Response().Header().Set("X-Cache-Tags", "thing:"+c.Param("id"))
		return c.String(http.StatusOK, "thing "+c.Param("id"))
	}, cache)
	e.PUT("/things/:id", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }, invalidate)
	serve(e, http.MethodGet, "/things/1")
	serve(e, http.MethodGet, "/things/2")
	serve(e, http.MethodPut, "/things/1")
	if w := serve(e, http.MethodGet, "/things/1"); isHit(w) {
		t.Fatalf("the written item: %s, want it invalidated", cacheStatus(w))
	}
	if w := serve(e, http.MethodGet, "/things/2"); !isHit(w) {
		t.Fatalf("another item: %s, want it still cached", cacheStatus(w))
	}
}
