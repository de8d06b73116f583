package echocache_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/swrcache/swrcache/adapters/echocache"
	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/benchcpu"
	"github.com/swrcache/swrcache/internal/redistest"
)

// The floor for any Redis-backed hit is an echo handler that does one GET
// and writes the bytes; BenchmarkEchoHit is a cached hit through echo and
// the middleware. Run them together:
//
//	go test -run '^$' -bench . -benchmem ./adapters/echocache/

var page = bytes.Repeat([]byte("<p>lorem ipsum</p>"), 60)

func BenchmarkEchoHit(b *testing.B) {
	br, err := breaker.New(breaker.Config{})
	if err != nil {
		b.Fatal(err)
	}
	engine, err := core.New(core.Config{Client: redistest.Client(b), Namespace: redistest.Prefix(b), Breaker: br})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = engine.Close(context.Background()) })
	cache, err := echocache.New(engine, echocache.Config{Policy: core.Policy{TTL: time.Hour}, Key: echocache.KeySpec{Resource: "pages"}})
	if err != nil {
		b.Fatal(err)
	}
	e := echo.New()
	e.GET("/pages/:id", func(c echo.Context) error { return c.HTMLBlob(http.StatusOK, page) }, cache)
	req := httptest.NewRequest(http.MethodGet, "/pages/1?lang=en", nil)
	e.ServeHTTP(httptest.NewRecorder(), req)
	b.ResetTimer()
	defer benchcpu.Start(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			e.ServeHTTP(w, req)
			if w.Code != http.StatusOK || w.Body.Len() != len(page) || w.Header().Get("Age") == "" {
				b.Errorf("got %d, %d bytes, Cache-Status %q", w.Code, w.Body.Len(), w.Header().Get("Cache-Status"))
				return
			}
		}
	})
}

func BenchmarkRawGetHandler(b *testing.B) {
	rdb := redistest.Client(b)
	key := redistest.Prefix(b) + "page"
	if err := rdb.Set(context.Background(), key, page, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	e := echo.New()
	e.GET("/pages/:id", func(c echo.Context) error {
		v, err := rdb.Get(c.Request().Context(), key).Bytes()
		if err != nil {
			return err
		}
		return c.HTMLBlob(http.StatusOK, v)
	})
	req := httptest.NewRequest(http.MethodGet, "/pages/1?lang=en", nil)
	b.ResetTimer()
	defer benchcpu.Start(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			e.ServeHTTP(w, req)
			if w.Code != http.StatusOK || w.Body.Len() != len(page) {
				b.Errorf("got %d, %d bytes", w.Code, w.Body.Len())
				return
			}
		}
	})
}
