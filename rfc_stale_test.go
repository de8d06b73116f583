package swrcache_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swrcache/swrcache/middleware"
)

// Issue 12's two bugs, in the route-TTL mode, through every adapter.

// RFC 9111 sections 4.2.3 and 5.1: a cache that replays a response keeps
// the Age it arrived with and adds the time it has held it.
func TestAgeIsKeptAndAddedTo(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			var calls atomic.Int32
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Cache-Control", "max-age=100000")
				w.Header().Set("Age", "30") // an upstream cache held it 30 s
				fmt.Fprint(w, "body")
			})
			srv := a.serve(t, newEngine(t, nil), baseConfig(), h)
			if first := get(t, srv, "/x"); first.header.Get("Age") != "30" {
				t.Fatalf("the miss said Age %q, want the origin's 30", first.header.Get("Age"))
			}
			time.Sleep(1100 * time.Millisecond) // held a second here
			hit := get(t, srv, "/x")
			age, err := strconv.Atoi(hit.header.Get("Age"))
			if !hit.hit() || err != nil || age < 31 || calls.Load() != 1 {
				t.Fatalf("the hit (%q) said Age %q, want at least 31: 30 upstream and 1 here", hit.cacheStatus(), hit.header.Get("Age"))
			}
		})
	}
}

// RFC 9111 sections 4.2.4, 5.2.2.2, 5.2.2.8 and 5.2.2.10: a response that
// says must-revalidate, proxy-revalidate or s-maxage is never served
// stale by a shared cache: not while it revalidates, and not when the
// origin fails.
func TestResponsesThatForbidStaleAreNeverServedStale(t *testing.T) {
	directives := []string{"max-age=1, must-revalidate", "max-age=1, proxy-revalidate", "s-maxage=1"}
	for _, a := range adapters {
		for _, cc := range directives {
			for _, window := range []string{"stale-while-revalidate", "stale-if-error"} {
				t.Run(a.name+"/"+cc+"/"+window, func(t *testing.T) {
					var calls atomic.Int32
					var failing atomic.Bool
					h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						n := calls.Add(1)
						if failing.Load() {
							http.Error(w, "origin down", http.StatusServiceUnavailable)
							return
						}
						w.Header().Set("Cache-Control", cc)
						fmt.Fprintf(w, "body %d", n)
					})
					cfg := baseConfig()
					cfg.TTL, cfg.RefreshAhead = 500*time.Millisecond, -1
					if window == "stale-while-revalidate" {
						cfg.StaleWhileRevalidate = time.Minute
					} else {
						cfg.StaleIfError = time.Minute
					}
					srv := a.serve(t, newEngine(t, nil), cfg, h)
					if r := get(t, srv, "/x"); r.body != "body 1" || !strings.Contains(r.cacheStatus(), "stored") {
						t.Fatalf("first: %q %q", r.body, r.cacheStatus())
					}
					time.Sleep(600 * time.Millisecond) // past the route's TTL
					failing.Store(window == "stale-if-error")
					r := get(t, srv, "/x")
					if strings.Contains(r.cacheStatus(), "fwd=stale") || r.body == "body 1" {
						t.Fatalf("after the TTL: %d %q %q: served stale", r.status, r.body, r.cacheStatus())
					}
					if window == "stale-if-error" && r.status != http.StatusServiceUnavailable {
						t.Fatalf("the origin failed: got %d %q, want its 503", r.status, r.body)
					}
				})
			}
		}
	}
}

// The same route, with a response that allows stale: served stale, as
// before, so the tests above check the directives and not the windows.
func TestResponsesThatAllowStaleAreStillServedStale(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			var calls atomic.Int32
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=1")
				fmt.Fprintf(w, "body %d", calls.Add(1))
			})
			cfg := baseConfig()
			cfg.TTL, cfg.RefreshAhead, cfg.StaleWhileRevalidate = 500*time.Millisecond, -1, time.Minute
			srv := a.serve(t, newEngine(t, nil), cfg, h)
			get(t, srv, "/x")
			time.Sleep(600 * time.Millisecond)
			if r := get(t, srv, "/x"); r.body != "body 1" || !strings.Contains(r.cacheStatus(), "fwd=stale") {
				t.Fatalf("after the TTL: %q %q, want the stale body 1", r.body, r.cacheStatus())
			}
		})
	}
}

// The same in the FromResponse mode, where the response's own
// stale-while-revalidate and stale-if-error would open the windows: the
// directives that forbid stale still win.
func TestResponsesThatForbidStaleAreNeverServedStaleFromResponse(t *testing.T) {
	directives := []string{"max-age=1, must-revalidate", "max-age=1, proxy-revalidate", "s-maxage=1"}
	for _, a := range adapters {
		for _, cc := range directives {
			for _, failing := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/origin failing %v", a.name, cc, failing), func(t *testing.T) {
					t.Parallel()
					var calls atomic.Int32
					var fail atomic.Bool
					h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						n := calls.Add(1)
						if fail.Load() {
							http.Error(w, "origin down", http.StatusServiceUnavailable)
							return
						}
						w.Header().Set("Cache-Control", cc+", stale-while-revalidate=60, stale-if-error=60")
						fmt.Fprintf(w, "body %d", n)
					})
					cfg := baseConfig()
					cfg.Freshness, cfg.StaleWhileRevalidate, cfg.StaleIfError = middleware.FromResponse, time.Minute, time.Minute
					srv := a.serve(t, newEngine(t, nil), cfg, h)
					if r := get(t, srv, "/x"); r.body != "body 1" || !strings.Contains(r.cacheStatus(), "stored") {
						t.Fatalf("first: %q %q", r.body, r.cacheStatus())
					}
					time.Sleep(1100 * time.Millisecond) // past its lifetime
					fail.Store(failing)
					r := get(t, srv, "/x")
					if strings.Contains(r.cacheStatus(), "fwd=stale") || r.body == "body 1" {
						t.Fatalf("after its lifetime: %d %q %q: served stale", r.status, r.body, r.cacheStatus())
					}
					if failing && r.status != http.StatusServiceUnavailable {
						t.Fatalf("the origin failed: got %d %q, want its 503", r.status, r.body)
					}
				})
			}
		}
	}
}
