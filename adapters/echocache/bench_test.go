package echocache_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/swrcache/swrcache/adapters/echocache"
	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/benchhttp"
	"github.com/swrcache/swrcache/internal/redistest"
)

// A cached hit through echo, from Redis (Hit) and from the memory tier
// (MemoryHit), against its floors: a handler that does one Redis GET per
// request and writes the bytes (RawGetHandler), and one that writes them
// from memory (Bare). Each runs over one key and over a thousand:
//
//	go test -run '^$' -bench . -benchmem ./adapters/echocache/

func BenchmarkEchoHit(b *testing.B) {
	benchhttp.Each(b, func(b *testing.B, keys int, run func(*testing.B, http.Handler, int)) {
		run(b, cached(b, core.MemoryConfig{}), keys)
	})
}

func BenchmarkEchoMemoryHit(b *testing.B) {
	benchhttp.Each(b, func(b *testing.B, keys int, run func(*testing.B, http.Handler, int)) {
		run(b, cached(b, core.MemoryConfig{MaxBytes: 64 << 20, MaxAge: time.Hour}), keys)
	})
}

func BenchmarkBare(b *testing.B) {
	benchhttp.Each(b, func(b *testing.B, keys int, run func(*testing.B, http.Handler, int)) {
		e := echo.New()
		e.GET("/pages/:id", func(c echo.Context) error { return c.HTMLBlob(http.StatusOK, benchhttp.Page) })
		run(b, e, keys)
	})
}

func BenchmarkRawGetHandler(b *testing.B) {
	benchhttp.Each(b, func(b *testing.B, keys int, run func(*testing.B, http.Handler, int)) {
		rdb := redistest.Client(b)
		prefix := redistest.Prefix(b)
		for i := range keys {
			if err := rdb.Set(context.Background(), prefix+benchhttp.Path(i), benchhttp.Page, time.Hour).Err(); err != nil {
				b.Fatal(err)
			}
		}
		e := echo.New()
		e.GET("/pages/:id", func(c echo.Context) error {
			v, err := rdb.Get(c.Request().Context(), prefix+c.Request().URL.Path).Bytes()
			if err != nil {
				return err
			}
			return c.HTMLBlob(http.StatusOK, v)
		})
		run(b, e, keys)
	})
}

// cached is the route behind the cache, on an engine with mem.
func cached(b *testing.B, mem core.MemoryConfig) http.Handler {
	br, err := breaker.New(breaker.Config{})
	if err != nil {
		b.Fatal(err)
	}
	engine, err := core.New(core.Config{Client: redistest.Client(b), Namespace: redistest.Prefix(b), Breaker: br, Memory: mem})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = engine.Close(context.Background()) })
	cache, err := echocache.New(engine, echocache.Config{Policy: core.Policy{TTL: time.Hour}, Key: echocache.KeySpec{Resource: "pages"}})
	if err != nil {
		b.Fatal(err)
	}
	e := echo.New()
	e.GET("/pages/:id", func(c echo.Context) error { return c.HTMLBlob(http.StatusOK, benchhttp.Page) }, cache)
	return e
}
