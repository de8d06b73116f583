package httpcache_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/swrcache/swrcache/adapters/httpcache"
	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/benchcpu"
	"github.com/swrcache/swrcache/internal/redistest"
)

// The floor for any Redis-backed hit is a handler that does one GET and
// writes the bytes; BenchmarkHit is a cached hit through the middleware.
// Run them together:
//
//	go test -run '^$' -bench . -benchmem ./adapters/httpcache/

var page = bytes.Repeat([]byte("<p>lorem ipsum</p>"), 60)

func origin(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html")
	w.Write(page)
}

func BenchmarkHit(b *testing.B) {
	rdb := redistest.Client(b)
	br, _ := breaker.New(breaker.Config{})
	e, err := core.New(core.Config{Client: rdb, Namespace: redistest.Prefix(b), Breaker: br})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close(context.Background()) })
	mw, err := httpcache.New(e, httpcache.Config{Policy: core.Policy{TTL: time.Hour}, Key: httpcache.KeySpec{Resource: "pages"}})
	if err != nil {
		b.Fatal(err)
	}
	h := mw(http.HandlerFunc(origin))
	req := httptest.NewRequest(http.MethodGet, "/pages/1?lang=en", nil)
	h.ServeHTTP(httptest.NewRecorder(), req)
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

func BenchmarkRawGetHandler(b *testing.B) {
	rdb := redistest.Client(b)
	key := redistest.Prefix(b) + "page"
	if err := rdb.Set(context.Background(), key, page, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := rdb.Get(r.Context(), key).Bytes()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write(v)
	})
	req := httptest.NewRequest(http.MethodGet, "/pages/1?lang=en", nil)
	b.ResetTimer()
	defer benchcpu.Start(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("got %d", w.Code)
				return
			}
		}
	})
}
