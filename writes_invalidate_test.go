package swrcache_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

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
