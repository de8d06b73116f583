package swrcache_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
	"github.com/swrcache/swrcache/middleware"
)

// InvalidateOnWrite in the route-TTL mode, where it is opt-in, on a
// tenant-scoped route: a write invalidates its own tenant's stored
// response of the URL, never another tenant's, and a write without a
// valid tenant invalidates nothing.
func TestAWriteInvalidatesOnlyItsTenantsEntries(t *testing.T) {
	for _, target := range confTargets() {
		t.Run(target.name, func(t *testing.T) {
			var calls atomic.Int32
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				fmt.Fprintf(w, "%s #%d", r.Header.Get("X-Tenant"), calls.Add(1))
			})
			cfg := baseConfig()
			cfg.TenantHeader, cfg.InvalidateOnWrite = "X-Tenant", middleware.On
			srv := target.serve(t, newEngine(t, nil), cfg, h)
			a1, b1 := get(t, srv, "/r", "X-Tenant", "a"), get(t, srv, "/r", "X-Tenant", "b")
			if r := do(t, srv, http.MethodPut, "/r", "X-Tenant", "b"); r.status != http.StatusNoContent {
				t.Fatalf("PUT: %d", r.status)
			}
			if r := do(t, srv, http.MethodPut, "/r", "X-Tenant", "NOT VALID"); r.status != http.StatusNoContent {
				t.Fatalf("PUT: %d", r.status)
			}
			a2, b2 := get(t, srv, "/r", "X-Tenant", "a"), get(t, srv, "/r", "X-Tenant", "b")
			if !a2.hit() || a2.body != a1.body {
				t.Fatalf("tenant a after b's write: %q %q; want a hit on %q", a2.body, a2.cacheStatus(), a1.body)
			}
			if b2.hit() || b2.body == b1.body {
				t.Fatalf("tenant b after its own write: %q %q; want a new response", b2.body, b2.cacheStatus())
			}
		})
	}
}

// A write handler that answers without writing anything (net/http then
// sends 200 itself) invalidates nothing.
func TestAWriteWhoseHandlerWritesNothingInvalidates(t *testing.T) {
	for _, target := range confTargets() {
		if target.name == "proxy" {
			continue
		}
		t.Run(target.name, func(t *testing.T) {
			var calls atomic.Int32
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet {
					return // the write is done; net/http answers 200
				}
				fmt.Fprintf(w, "v%d", calls.Add(1))
			})
			cfg := baseConfig()
			cfg.InvalidateOnWrite = middleware.On
			srv := target.serve(t, newEngine(t, nil), cfg, h)
			first := get(t, srv, "/r")
			if r := do(t, srv, http.MethodPost, "/r"); r.status != http.StatusOK {
				t.Fatalf("POST: %d", r.status)
			}
			after := get(t, srv, "/r")
			if after.hit() || after.body == first.body {
				t.Fatalf("after POST /r: %q %q; want the write to have invalidated %q", after.body, after.cacheStatus(), first.body)
			}
		})
	}
}

// With Key.IgnoreHost, every host shares one entry, but the URL tag holds
// the host: a write through another host name misses it.
func TestAWriteThroughAnotherHostInvalidatesWithIgnoreHost(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		fmt.Fprintf(w, "v%d", calls.Add(1))
	})
	cfg := baseConfig()
	cfg.InvalidateOnWrite, cfg.Key.IgnoreHost = middleware.On, true
	srv := serveNetHTTP(t, newEngine(t, nil), cfg, h)
	hostReq := func(method, host string) reply {
		req, _ := http.NewRequest(method, srv.URL+"/r", nil)
		req.Host = host
		return send(t, srv, req)
	}
	first := hostReq(http.MethodGet, "www.example.com")
	if again := hostReq(http.MethodGet, "example.com"); !again.hit() {
		t.Fatalf("IgnoreHost: the other host should share the entry: %q", again.cacheStatus())
	}
	hostReq(http.MethodPut, "example.com")
	after := hostReq(http.MethodGet, "example.com")
	if after.hit() || after.body == first.body {
		t.Fatalf("after PUT: %q %q; the shared entry was not invalidated", after.body, after.cacheStatus())
	}
}

// Two instances on one Redis, each with the memory tier, in the
// FromResponse mode, through every adapter: a write through one drops the
// URL's response from the other's memory too, so that instance's next
// read goes to the handler instead of serving its copy for 100 s.
func TestAWriteOnOneInstanceReachesAnothersMemory(t *testing.T) {
	for _, target := range confTargets() {
		t.Run(target.name, func(t *testing.T) {
			var version atomic.Int32
			version.Store(1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet {
					version.Add(1)
					w.WriteHeader(http.StatusNoContent)
					return
				}
				w.Header().Set("Cache-Control", "max-age=100")
				fmt.Fprintf(w, "version %d", version.Load())
			})
			rdb, ns := redistest.Client(t), redistest.Prefix(t)
			withMemory := func(c *core.Config) { c.Memory = core.MemoryConfig{MaxBytes: 8 << 20} }
			cfg := baseConfig()
			// The test's two servers have two ports; behind a load balancer
			// both would see one Host. IgnoreHost makes them share entries.
			cfg.Freshness, cfg.Key.IgnoreHost = middleware.FromResponse, true
			ea, eb := newEngineOn(t, rdb, ns, withMemory), newEngineOn(t, rdb, ns, withMemory)
			waitUntil(t, "both memory tiers to hear notices", func() bool { return ea.MemoryStats().Live && eb.MemoryStats().Live })
			a, b := target.serve(t, ea, cfg, h), target.serve(t, eb, cfg, h)
			get(t, a, "/r")
			if r := get(t, a, "/r"); !strings.Contains(r.cacheStatus(), "detail=memory") || r.body != "version 1" {
				t.Fatalf("second read on a: %q %q; want version 1 from memory", r.body, r.cacheStatus())
			}
			if r := do(t, b, http.MethodPut, "/r"); r.status != http.StatusNoContent {
				t.Fatalf("PUT on b: %d", r.status)
			}
			waitUntil(t, "a to read the new version", func() bool { return get(t, a, "/r").body == "version 2" })
		})
	}
}
