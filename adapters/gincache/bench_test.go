package gincache_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/swrcache/swrcache/adapters/gincache"
	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/benchcpu"
	"github.com/swrcache/swrcache/internal/redistest"
)

// The floor for any Redis-backed hit through gin is a handler that does one
// GET and writes the bytes; BenchmarkGinHit is a cached hit through the
// middleware. Run them together:
//
//	go test -run '^$' -bench . -benchmem ./adapters/gincache/

var page = bytes.Repeat([]byte("<p>lorem ipsum</p>"), 60)

func BenchmarkGinHit(b *testing.B) {
	br, _ := breaker.New(breaker.Config{})
	e, err := core.New(core.Config{Client: redistest.Client(b), Namespace: redistest.Prefix(b), Breaker: br})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close(context.Background()) })
	router := gin.New()
	mw, err := gincache.New(e, gincache.Config{Policy: core.Policy{TTL: time.Hour}, Key: gincache.KeySpec{Resource: "pages"}, Router: router})
	if err != nil {
		b.Fatal(err)
	}
	router.GET("/pages/:id", mw, func(c *gin.Context) { c.Data(http.StatusOK, "text/html", page) })
	benchmarkGET(b, router)
}

func BenchmarkRawGetHandler(b *testing.B) {
	rdb := redistest.Client(b)
	key := redistest.Prefix(b) + "page"
	if err := rdb.Set(context.Background(), key, page, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	router := gin.New()
	router.GET("/pages/:id", func(c *gin.Context) {
		v, err := rdb.Get(c.Request.Context(), key).Bytes()
		if err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.Data(http.StatusOK, "text/html", v)
	})
	benchmarkGET(b, router)
}

// benchmarkGET warms h with one request, then sends it the same GET from
// parallel goroutines.
func benchmarkGET(b *testing.B, h http.Handler) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, "/pages/1?lang=en", nil)
	h.ServeHTTP(httptest.NewRecorder(), req)
	b.ReportAllocs()
	b.ResetTimer()
	defer benchcpu.Start(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK || w.Body.Len() != len(page) {
				b.Errorf("got %d, %d bytes", w.Code, w.Body.Len())
				return
			}
		}
	})
}
