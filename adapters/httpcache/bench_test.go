package httpcache_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/swrcache/swrcache/adapters/httpcache"
	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/benchhttp"
	"github.com/swrcache/swrcache/internal/redistest"
)

// A cached hit through net/http, from Redis (Hit) and from the memory
// tier (MemoryHit), against its floors: a handler that does one Redis GET
// per request and writes the bytes (RawGetHandler), and one that writes
// them from memory (Bare). Each runs over one key and over a thousand:
//
//	go test -run '^$' -bench . -benchmem ./adapters/httpcache/

func origin(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html")
	_, _ = w.Write(benchhttp.Page)
}

func BenchmarkHit(b *testing.B) {
	benchhttp.Each(b, func(b *testing.B, keys int, run func(*testing.B, http.Handler, int)) {
		run(b, cached(b, core.MemoryConfig{}), keys)
	})
}

func BenchmarkMemoryHit(b *testing.B) {
	benchhttp.Each(b, func(b *testing.B, keys int, run func(*testing.B, http.Handler, int)) {
		run(b, cached(b, core.MemoryConfig{MaxBytes: 64 << 20, MaxAge: time.Hour}), keys)
	})
}

func BenchmarkBare(b *testing.B) {
	benchhttp.Each(b, func(b *testing.B, keys int, run func(*testing.B, http.Handler, int)) {
		run(b, http.HandlerFunc(origin), keys)
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
		run(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v, err := rdb.Get(r.Context(), prefix+r.URL.Path).Bytes()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write(v)
		}), keys)
	})
}

// cached is the handler behind the cache, on an engine with mem.
func cached(b *testing.B, mem core.MemoryConfig) http.Handler {
	br, _ := breaker.New(breaker.Config{})
	e, err := core.New(core.Config{Client: redistest.Client(b), Namespace: redistest.Prefix(b), Breaker: br, Memory: mem})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close(context.Background()) })
	mw, err := httpcache.New(e, httpcache.Config{Policy: core.Policy{TTL: time.Hour}, Key: httpcache.KeySpec{Resource: "pages"}})
	if err != nil {
		b.Fatal(err)
	}
	return mw(http.HandlerFunc(origin))
}
