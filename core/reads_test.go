package core

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/swrcache/swrcache/internal/redistest"
)

// Concurrent reads of many keys are sent together, and every caller gets
// its own entry: the right value, a miss for a missing key, and an error
// for a key holding something else, which fails that read alone.
func TestConcurrentReadsAreBatchedAndEachGetsItsOwn(t *testing.T) {
	if redistest.IsCluster(t) {
		t.Skip("in a Cluster every read is a GET of its own")
	}
	rdb := redistest.Client(t)
	ns := redistest.Prefix(t)
	e := newEngine(t, rdb, ns, nil)
	p := Policy{TTL: time.Hour}
	const keys = 300
	for i := range keys {
		if _, err := e.Lookup(context.Background(), Key{Name: fmt.Sprint("k", i)}, p, item(fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
	}
	// A key that holds a list: GET on it is an error reply.
	if err := rdb.RPush(context.Background(), e.entryKey("wrong"), "x").Err(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 32 {
		wg.Go(func() {
			for range 200 {
				switch i := rand.IntN(keys + 20); {
				case i < keys:
					res, err := e.Lookup(context.Background(), Key{Name: fmt.Sprint("k", i)}, p, item("reloaded"))
					if err != nil || res.Status != StatusHit || string(res.Value) != fmt.Sprint("v", i) {
						errs <- fmt.Errorf("k%d: %v %q %v", i, res.Status, res.Value, err)
						return
					}
				case i < keys+10:
					res, err := e.Lookup(context.Background(), Key{Name: "wrong"}, p, item("loaded"))
					if err != nil || res.Status != StatusBypass || string(res.Value) != "loaded" {
						errs <- fmt.Errorf("wrong: %v %q %v, want a bypass", res.Status, res.Value, err)
						return
					}
				default:
					if _, err := rdb.Get(context.Background(), e.entryKey(fmt.Sprint("absent", i))).Result(); err == nil {
						errs <- fmt.Errorf("absent%d exists", i)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if LargestReadBatch(e) < 2 {
		t.Fatalf("32 concurrent readers never shared a pipeline (largest batch %d)", LargestReadBatch(e))
	}
	t.Logf("largest batch: %d GETs", LargestReadBatch(e))
}
