package core

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/internal/benchcpu"
	"github.com/swrcache/swrcache/internal/redistest"
)

// The benchmarks compare a cached hit with the floor for any Redis-backed
// hit: one go-redis GET of the same bytes. Run them together:
//
//	go test -run '^$' -bench . -benchmem ./core/
//
// The Parallel variants measure throughput with GOMAXPROCS callers.

type user struct {
	ID    int      `json:"id"`
	Name  string   `json:"name"`
	Email string   `json:"email"`
	Roles []string `json:"roles"`
	Bio   string   `json:"bio"`
}

var benchUser = user{ID: 42, Name: "Alex", Email: "alex@example.com", Roles: []string{"admin", "dev"},
	Bio: string(bytes.Repeat([]byte("lorem ipsum "), 60))}

// benchSetup stores benchUser under "u" and returns the engine and the Redis
// key of the entry.
func benchSetup(b *testing.B, withBreaker bool) (*Engine, string) {
	b.Helper()
	rdb := redistest.Client(b)
	var br Breaker
	if withBreaker {
		cb, err := breaker.New(breaker.Config{})
		if err != nil {
			b.Fatal(err)
		}
		br = cb
	}
	e := newEngine(b, rdb, redistest.Prefix(b), func(c *Config) { c.Breaker = br })
	if _, err := Fetch(context.Background(), e, "u", Policy{TTL: time.Hour}, func(context.Context) (user, error) { return benchUser, nil }); err != nil {
		b.Fatal(err)
	}
	return e, e.entryKey("u")
}

func BenchmarkRawGet(b *testing.B) {
	e, key := benchSetup(b, false)
	rdb, ctx := e.cfg.Client, context.Background()
	b.ResetTimer()
	defer benchcpu.Start(b)()
	for b.Loop() {
		if v, err := rdb.Get(ctx, key).Bytes(); err != nil || len(v) == 0 {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookupHit(b *testing.B) {
	e, _ := benchSetup(b, true)
	ctx, k, p := context.Background(), Key{Name: "u"}, Policy{TTL: time.Hour}
	b.ResetTimer()
	defer benchcpu.Start(b)()
	for b.Loop() {
		if res, err := e.Lookup(ctx, k, p, nil); err != nil || res.Status != StatusHit {
			b.Fatal(res.Status, err)
		}
	}
}

func BenchmarkFetchHit(b *testing.B) {
	e, _ := benchSetup(b, true)
	ctx, p := context.Background(), Policy{TTL: time.Hour}
	b.ResetTimer()
	defer benchcpu.Start(b)()
	for b.Loop() {
		if u, err := Fetch(ctx, e, "u", p, func(context.Context) (user, error) { return user{}, nil }); err != nil || u.ID != 42 {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawGetParallel(b *testing.B) {
	e, key := benchSetup(b, false)
	rdb, ctx := e.cfg.Client, context.Background()
	b.ResetTimer()
	defer benchcpu.Start(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := rdb.Get(ctx, key).Bytes(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkFetchHitParallel(b *testing.B) {
	e, _ := benchSetup(b, true)
	ctx, p := context.Background(), Policy{TTL: time.Hour}
	b.ResetTimer()
	defer benchcpu.Start(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if u, err := Fetch(ctx, e, "u", p, func(context.Context) (user, error) { return user{}, nil }); err != nil || u.ID != 42 {
				b.Error(err)
				return
			}
		}
	})
}
