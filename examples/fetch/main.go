// Command fetch shows the swrcache engine in front of a slow loader: a miss
// then hits, 100 concurrent callers sharing one load, an N+1 turned into
// one batch, and tag invalidation.
//
//	go run ./examples/fetch
//
// It uses REDIS_URL, else a Redis on 127.0.0.1:6379, else an embedded
// in-memory Redis (miniredis), and says which.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/exampleapp"
)

type product struct {
	ID    int     `json:"id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
}

func main() {
	rdb, stop := exampleapp.Redis()
	defer stop()
	if err := run(context.Background(), rdb, fmt.Sprintf("swr-example:%d:", time.Now().UnixNano()), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run is the walk-through, on rdb, under the key prefix ns.
func run(ctx context.Context, rdb redis.UniversalClient, ns string, w io.Writer) error {
	br, err := breaker.New(breaker.DefaultConfig())
	if err != nil {
		return err
	}
	engine, err := core.New(core.Config{Client: rdb, Namespace: ns, Breaker: br})
	if err != nil {
		return err
	}
	defer engine.Close(ctx)

	var loads atomic.Int32
	loadProduct := func(id int) func(context.Context) (product, error) {
		return func(context.Context) (product, error) {
			loads.Add(1)
			time.Sleep(200 * time.Millisecond) // a slow database
			return product{ID: id, Name: fmt.Sprintf("product %d", id), Price: 9.99}, nil
		}
	}
	policy := core.Policy{TTL: time.Minute, StaleWhileRevalidate: 5 * time.Minute, Tags: []string{"products"}}

	for i := range 3 {
		start := time.Now()
		p, err := core.Fetch(ctx, engine, "product:1", policy, loadProduct(1))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "fetch %d: %-10s in %v\n", i+1, p.Name, time.Since(start).Round(100*time.Microsecond))
	}

	loads.Store(0)
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = core.Fetch(ctx, engine, "product:2", policy, loadProduct(2))
		}()
	}
	wg.Wait()
	fmt.Fprintf(w, "100 concurrent callers of a cold key: %d load\n", loads.Load())

	var batches atomic.Int32
	loadMany := func(_ context.Context, keys []string) (map[string]product, error) {
		batches.Add(1)
		out := make(map[string]product, len(keys))
		for _, k := range keys {
			out[k] = product{Name: k}
		}
		return out, nil
	}
	ids := []string{"product:1", "product:2", "product:3", "product:4", "product:5"}
	got, err := core.FetchMany(ctx, engine, ids, policy, loadMany)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "batch of %d keys (2 cached): %d loader call\n", len(got), batches.Load())

	if err := engine.InvalidateTags(ctx, "products"); err != nil {
		return err
	}
	loads.Store(0)
	_, _ = core.Fetch(ctx, engine, "product:1", policy, loadProduct(1))
	fmt.Fprintf(w, "after invalidating the tag \"products\": %d load\n", loads.Load())
	return nil
}
