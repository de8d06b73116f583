package swrcache_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/faultproxy"
	"github.com/swrcache/swrcache/internal/redistest"
)

// Must show 3: with go-redis's default of ignoring context deadlines and a
// Redis that hangs, the engine gives up on its calls after OpTimeout and
// the calls finish later on goroutines of the engine. Run with -race: no
// result of an abandoned call is read by the caller that gave up on it,
// through any path (reads, fills, refreshes, batches, invalidations), and
// no caller fails.
func TestAbandonedRedisCallsShareNothingWithTheirCallers(t *testing.T) {
	if redistest.Embedded() {
		t.Skip("needs a real Redis behind the fault proxy")
	}
	quietRedisLog(t)
	proxy := faultproxy.Start(t, redistest.Addr(t))
	rdb := redis.NewClient(&redis.Options{ // go-redis's defaults: ContextTimeoutEnabled false, retries on
		Addr:        proxy.Addr(),
		ReadTimeout: 300 * time.Millisecond, // the default 3s, shortened so that Close is quick
	})
	t.Cleanup(func() { _ = rdb.Close() })
	ns := redistest.Prefix(t)
	e := newEngineOn(t, rdb, ns, func(c *core.Config) { c.OpTimeout = 30 * time.Millisecond })
	cfg := baseConfig()
	cfg.TTL, cfg.StaleWhileRevalidate = 200*time.Millisecond, time.Minute
	var calls atomic.Int32
	srv := serveNetHTTP(t, e, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		fmt.Fprintf(w, "page %s", r.URL.Path)
	}))
	p := core.Policy{TTL: 200 * time.Millisecond, StaleWhileRevalidate: time.Minute}
	value := func(key string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return "value " + key, nil }
	}
	for i := range 5 { // entries that will be stale, to start refreshes
		get(t, srv, fmt.Sprintf("/warm/%d", i))
		if _, err := core.Fetch(context.Background(), e, fmt.Sprint("warm", i), p, value(fmt.Sprint("warm", i))); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(250 * time.Millisecond)
	proxy.Blackhole()

	var wg sync.WaitGroup
	errs := make(chan string, 1000)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				path := fmt.Sprintf("/warm/%d", i%5)
				if i%3 == 0 {
					path = fmt.Sprintf("/cold/%d-%d", w, i)
				}
				if r := get(t, srv, path); r.status != http.StatusOK || r.body != "page "+path {
					errs <- fmt.Sprintf("%s: %d %q (%s)", path, r.status, r.body, r.cacheStatus())
				}
				key := fmt.Sprint("warm", i%5)
				if v, err := core.Fetch(context.Background(), e, key, p, value(key)); err != nil || v != "value "+key {
					errs <- fmt.Sprintf("Fetch %s: %q %v", key, v, err)
				}
				keys := []string{fmt.Sprint("warm", i%5), fmt.Sprint("batch", w, i)}
				got, err := core.FetchMany(context.Background(), e, keys, p, func(_ context.Context, missing []string) (map[string]string, error) {
					out := map[string]string{}
					for _, k := range missing {
						out[k] = "value " + k
					}
					return out, nil
				})
				if err != nil || len(got) != 2 {
					errs <- fmt.Sprintf("FetchMany: %v %v", got, err)
				}
				if i%5 == 0 {
					_ = e.InvalidateTags(context.Background(), "tag") // fails: Redis hangs
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	t.Logf("%d handler calls; %d connections to the blackholed proxy", calls.Load(), proxy.Stats().Conns)
	proxy.Heal()
}

// Close waits for a fill in flight, that is for a request running the
// handler, its store included.
func TestCloseWaitsForAFillInFlight(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			e := newEngine(t, nil)
			entered, release := make(chan struct{}), make(chan struct{})
			srv := a.serve(t, e, baseConfig(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(entered)
				<-release
				fmt.Fprint(w, "filled")
			}))
			done := make(chan reply, 1)
			go func() { done <- get(t, srv, "/x") }()
			<-entered
			closed := make(chan error, 1)
			go func() { closed <- e.Close(context.Background()) }()
			select {
			case err := <-closed:
				t.Fatalf("Close returned (%v) while a fill was running", err)
			case <-time.After(100 * time.Millisecond):
			}
			close(release)
			if err := <-closed; err != nil {
				t.Fatal(err)
			}
			if r := <-done; r.body != "filled" || !strings.Contains(r.cacheStatus(), "stored") {
				t.Fatalf("the fill Close waited for: %q (%s), want it stored", r.body, r.cacheStatus())
			}
		})
	}
}
