package gincache_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/swrcache/swrcache/adapters/gincache"
	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/benchhttp"
	"github.com/swrcache/swrcache/internal/redistest"
)

// A cached hit through gin, from Redis (Hit) and from the memory tier
// (MemoryHit), against its floors: a handler that does one Redis GET per
// request and writes the bytes (RawGetHandler), and one that writes them
// from memory (Bare). Each runs over one key and over a thousand:
//
//	go test -run '^$' -bench . -benchmem ./adapters/gincache/

func BenchmarkGinHit(b *testing.B) {
	benchhttp.Each(b, func(b *testing.B, keys int, run func(*testing.B, http.Handler, int)) {
		run(b, cached(b, core.MemoryConfig{}), keys)
	})
}

func BenchmarkGinMemoryHit(b *testing.B) {
	benchhttp.Each(b, func(b *testing.B, keys int, run func(*testing.B, http.Handler, int)) {
		run(b, cached(b, core.MemoryConfig{MaxBytes: 64 << 20, MaxAge: time.Hour}), keys)
	})
}

func BenchmarkBare(b *testing.B) {
	benchhttp.Each(b, func(b *testing.B, keys int, run func(*testing.B, http.Handler, int)) {
		router := gin.New()
		router.GET("/pages/:id", func(c *gin.Context) { c.Data(http.StatusOK, "text/html", benchhttp.Page) })
		run(b, router, keys)
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
		router := gin.New()
		router.GET("/pages/:id", func(c *gin.Context) {
			v, err := rdb.Get(c.Request.Context(), prefix+c.Request.URL.Path).Bytes()
			if err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			c.Data(http.StatusOK, "text/html", v)
		})
		run(b, router, keys)
	})
}

// cached is the route behind the cache, on an engine with mem.
func cached(b *testing.B, mem core.MemoryConfig) http.Handler {
	br, _ := breaker.New(breaker.Config{})
	e, err := core.New(core.Config{Client: redistest.Client(b), Namespace: redistest.Prefix(b), Breaker: br, Memory: mem})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close(context.Background()) })
	router := gin.New()
	mw, err := gincache.New(e, gincache.Config{Policy: core.Policy{TTL: time.Hour}, Key: gincache.KeySpec{Resource: "pages"}, Router: router})
	if err != nil {
		b.Fatal(err)
	}
	router.GET("/pages/:id", mw, func(c *gin.Context) { c.Data(http.StatusOK, "text/html", benchhttp.Page) })
	return router
}
