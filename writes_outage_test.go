package swrcache_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/adapters/httpcache"
	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/faultproxy"
	"github.com/swrcache/swrcache/internal/redistest"
)

// writeRig is one instance of an app with a cached read route and a write
// route that invalidates, on a Redis behind a fault proxy.
type writeRig struct {
	srv      *httptest.Server
	br       *breaker.Breaker
	replayed chan time.Time // when a replay of queued invalidations ran
	queued   atomic.Int32   // invalidations OnError heard were queued
}

func newWriteRig(t *testing.T, addr, ns string, version *atomic.Int32) *writeRig {
	t.Helper()
	rdb := redis.NewClient(redistest.Options(addr))
	t.Cleanup(func() { _ = rdb.Close() })
	br, err := breaker.New(breaker.Config{OpenTimeout: 500 * time.Millisecond, ConsecutiveFailures: 3})
	if err != nil {
		t.Fatal(err)
	}
	rig := &writeRig{br: br, replayed: make(chan time.Time, 16)}
	e := newEngineOn(t, rdb, ns, func(c *core.Config) {
		c.Breaker, c.OpTimeout = br, 100*time.Millisecond
		c.OnEvent = func(_ context.Context, ev core.Event) {
			if ev.Kind == core.EventInvalidate && strings.HasPrefix(ev.Detail, "replayed") {
				rig.replayed <- time.Now()
			}
		}
	})
	cfg := baseConfig()
	cfg.TTL, cfg.TagsHeader = time.Hour, "X-Cache-Tags"
	cached := mustNetHTTP(t, e, cfg)
	invalidate, err := httpcache.Invalidate(e, httpcache.InvalidateConfig{
		Tags: func(r *http.Request) []string { return []string{"item:" + r.PathValue("id")} },
		OnError: func(_ *http.Request, err error) {
			if errors.Is(err, core.ErrQueued) {
				rig.queued.Add(1)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", cached(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Cache-Tags", "item:"+r.PathValue("id"))
		fmt.Fprintf(w, "item %s v%d", r.PathValue("id"), version.Load())
	})))
	mux.Handle("PUT /items/{id}", invalidate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		version.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})))
	rig.srv = httptest.NewServer(mux)
	t.Cleanup(rig.srv.Close)
	return rig
}

// Must show 1 of issue 9: a write whose invalidation cannot reach Redis (it
// is blackholed, or the breaker is open) is not lost: after recovery, no
// instance serves the response from before the write. The writer replays
// it within replayEvery of Redis answering; an instance that saw Redis fail
// serves nothing stored before Redis came back until every instance's
// replay has had the time to run.
func TestAWriteDuringAnOutageIsNeverLost(t *testing.T) {
	if redistest.Embedded() {
		t.Skip("needs a real Redis behind the fault proxy")
	}
	quietRedisLog(t)
	proxy := faultproxy.Start(t, redistest.Addr(t))
	ns := redistest.Prefix(t)
	var version atomic.Int32
	a := newWriteRig(t, proxy.Addr(), ns, &version)
	b := newWriteRig(t, proxy.Addr(), ns, &version)
	body := func(rig *writeRig) reply { return get(t, rig.srv, "/items/1") }

	for _, fault := range []struct {
		name string
		// during brings the fault on; it returns once A's write cannot
		// reach Redis, and after ends it.
		during, after func()
	}{
		{"Redis blackholed", func() {
			proxy.Blackhole()
			body(a) // both instances serve during the outage, from the handler
			body(b)
		}, proxy.Heal},
		{"the breakers open", func() {
			proxy.Blackhole()
			waitUntil(t, "both breakers to open", func() bool {
				body(a)
				body(b)
				return a.br.State() == breaker.Open && b.br.State() == breaker.Open
			})
			proxy.Heal() // Redis is fine again, but the breakers have not let a call through yet
		}, func() {}},
	} {
		t.Run(fault.name, func(t *testing.T) {
			for _, rig := range []*writeRig{a, b} { // both instances cache the current version
				waitUntil(t, "a hit", func() bool { return body(rig).hit() })
			}
			before := fmt.Sprintf("item 1 v%d", version.Load())
			queued := a.queued.Load()
			fault.during()
			if r := do(t, a.srv, http.MethodPut, "/items/1"); r.status != http.StatusNoContent {
				t.Fatalf("the write during the outage: %d, want its own answer", r.status)
			}
			if a.queued.Load() != queued+1 {
				t.Fatal("OnError did not hear that the invalidation was queued")
			}
			healed := time.Now()
			fault.after()
			var replayedAt time.Time
			stale := 0
			for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
				for _, rig := range []*writeRig{a, b} {
					if body(rig).body == before {
						stale++
					}
				}
				select {
				case replayedAt = <-a.replayed:
				default:
				}
			}
			if replayedAt.IsZero() {
				select {
				case replayedAt = <-a.replayed:
				case <-time.After(10 * time.Second):
					t.Fatal("the queued invalidation was never replayed")
				}
			}
			t.Logf("%s: replayed %v after recovery; %d responses from before the write", fault.name, replayedAt.Sub(healed).Round(time.Millisecond), stale)
			if stale != 0 {
				t.Fatalf("%d responses after recovery carried the body from before the write", stale)
			}
		})
	}
}
