package swrcache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/faultproxy"
	"github.com/swrcache/swrcache/internal/redistest"
)

// slowHandler answers /u/<n> with a body naming the path, after 100ms.
func slowHandler(calls *atomic.Int32, delay time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		time.Sleep(delay)
		fmt.Fprintf(w, "page %s", r.URL.Path)
	})
}

func bigPool(o *redis.Options) { o.PoolSize = 64 }

// Must show 2: two instances on one Redis, 50 concurrent requests for each
// of 10 cold URLs, a 100ms handler: 10 handler calls in all.
func TestStampedeAcrossTwoInstancesCallsTheHandlerOncePerURL(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			ns := redistest.Prefix(t)
			var calls atomic.Int32
			h := slowHandler(&calls, 100*time.Millisecond)
			cfg := baseConfig()
			var evMu sync.Mutex
			events := map[string]int{}
			hook := func(c *core.Config) {
				c.OpTimeout = 2 * time.Second // this test is about the lock, not a slow Redis
				c.OnEvent = func(_ context.Context, e core.Event) {
					evMu.Lock()
					events[e.Kind.String()+" "+e.Detail]++
					evMu.Unlock()
				}
			}
			servers := []string{
				a.serve(t, newEngineOn(t, redistest.Client(t, bigPool), ns, hook), cfg, h).URL,
				a.serve(t, newEngineOn(t, redistest.Client(t, bigPool), ns, hook), cfg, h).URL,
			}
			httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
			defer httpc.CloseIdleConnections()
			const urls, each = 10, 50
			start := make(chan struct{})
			var wg sync.WaitGroup
			var failures atomic.Int32
			for u := range urls {
				for i := range each {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						req, err := http.NewRequest(http.MethodGet, servers[i%2]+fmt.Sprintf("/u/%d", u), nil)
						if err != nil {
							failures.Add(1)
							return
						}
						req.Host = "api.example.com" // both instances sit behind one name
						resp, err := httpc.Do(req)
						if err != nil {
							failures.Add(1)
							return
						}
						defer resp.Body.Close()
						body, _ := io.ReadAll(resp.Body)
						if resp.StatusCode != http.StatusOK || string(body) != fmt.Sprintf("page /u/%d", u) {
							failures.Add(1)
						}
					}()
				}
			}
			close(start)
			wg.Wait()
			if failures.Load() != 0 {
				t.Fatalf("%d requests failed", failures.Load())
			}
			if n := calls.Load(); n != urls {
				evMu.Lock()
				defer evMu.Unlock()
				t.Fatalf("%d handler calls for %d cold URLs on two instances, want %d; events %v", n, urls, urls, events)
			}
		})
	}
}

// Must show 3: Redis blackholed mid-load: no 5xx, responses say fwd=bypass,
// the handler is called directly; after recovery, hits again.
func TestRedisBlackholedMidLoadBypassesAndRecovers(t *testing.T) {
	if redistest.Embedded() {
		t.Skip("needs a real Redis behind the proxy")
	}
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			proxy := faultproxy.Start(t, redistest.Addr(t))
			rdb := redistest.NodeClient(t, proxy.Addr())
			br, err := breaker.New(breaker.Config{OpenTimeout: 500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			var calls atomic.Int32
			srv := a.serve(t, newEngineOn(t, rdb, redistest.Prefix(t), func(c *core.Config) { c.Breaker = br }),
				baseConfig(), slowHandler(&calls, time.Millisecond))
			const urls = 10
			for u := range urls {
				get(t, srv, fmt.Sprintf("/u/%d", u))
			}
			type tally struct{ hits, bypass, bad, n int }
			var mu sync.Mutex
			var phase *tally
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						path := fmt.Sprintf("/u/%d", (w+i)%urls)
						r := get(t, srv, path)
						mu.Lock()
						p := phase
						p.n++
						switch {
						case r.status >= 500 || r.body != "page "+path:
							p.bad++
						case r.hit():
							p.hits++
						case strings.Contains(r.cacheStatus(), "fwd=bypass"):
							p.bypass++
						}
						mu.Unlock()
					}
				}()
			}
			run := func(until func() bool) tally {
				mu.Lock()
				phase = &tally{}
				mu.Unlock()
				waitUntil(t, "the phase to play out", until)
				mu.Lock()
				defer mu.Unlock()
				return *phase
			}
			current := func() tally { mu.Lock(); defer mu.Unlock(); return *phase }
			healthy := run(func() bool { return current().n >= 200 })
			proxy.Blackhole()
			blackholed := run(func() bool { return current().bypass >= 200 })
			proxy.Heal()
			run(func() bool { return br.State() == breaker.Closed && current().hits >= 50 })
			recovered := run(func() bool { return current().n >= 200 })
			close(stop)
			wg.Wait()
			t.Logf("healthy %+v, blackholed %+v, recovered %+v", healthy, blackholed, recovered)
			for name, p := range map[string]tally{"healthy": healthy, "blackholed": blackholed, "recovered": recovered} {
				if p.bad != 0 {
					t.Errorf("%s: %d bad responses (5xx or wrong body)", name, p.bad)
				}
			}
			if healthy.hits != healthy.n || recovered.hits != recovered.n {
				t.Errorf("healthy or recovered phase served misses: %+v %+v", healthy, recovered)
			}
		})
	}
}
