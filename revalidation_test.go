package swrcache_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
	"github.com/swrcache/swrcache/middleware"
)

// versioned is an origin that serves a 256 KiB document through
// http.ServeContent, which answers conditional requests: it counts the
// bodies it sends, and stamps each answer, 304s included, with X-Version.
type versioned struct {
	calls, bodies atomic.Int32
	cacheControl  string
}

var document = bytes.Repeat([]byte("0123456789abcdef"), 16<<10)

func (v *versioned) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := v.calls.Add(1)
	w.Header().Set("Cache-Control", v.cacheControl)
	w.Header().Set("ETag", `"doc-1"`)
	w.Header().Set("X-Version", fmt.Sprint(n))
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "", time.Time{}, bytes.NewReader(document))
	if cw.wrote {
		v.bodies.Add(1)
	}
}

type countingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.wrote = c.wrote || len(p) > 0
	return c.ResponseWriter.Write(p)
}

// Issue 12, must show 3: a stale entry whose handler answers 304 to the
// cache's conditional request is revalidated: the client gets the stored
// body with the 304's header, the handler sends no body, and the body is
// not sent to Redis again. Both ways an entry is revalidated: a
// background refresh inside stale-while-revalidate (route-TTL mode), and
// the fill of an expired entry kept for it (FromResponse mode).
func TestRevalidationSendsNoBodyAgain(t *testing.T) {
	modes := []struct {
		name   string
		config func(*middleware.Config)
		cc     string
		expect string // the Cache-Status of the request that finds the entry stale
	}{
		{"route TTL, a background refresh", func(c *middleware.Config) {
			c.TTL, c.StaleWhileRevalidate, c.RefreshAhead = time.Second, time.Minute, -1
		}, "max-age=60", "fwd=stale"},
		{"FromResponse, the fill of a kept entry", func(c *middleware.Config) {
			c.Freshness = middleware.FromResponse
		}, "max-age=1", "fwd=stale; fwd-status=304"},
	}
	for _, a := range adapters {
		for _, m := range modes {
			t.Run(a.name+"/"+m.name, func(t *testing.T) {
				sent := &redistest.Sent{}
				rdb := redistest.Client(t)
				rdb.AddHook(sent)
				origin := &versioned{cacheControl: m.cc}
				cfg := baseConfig()
				m.config(&cfg)
				var revalidated atomic.Int32
				count := func(c *core.Config) {
					c.OnEvent = func(_ context.Context, ev core.Event) {
						if (ev.Kind == core.EventFill || ev.Kind == core.EventRefreshOK) && ev.Detail == "revalidated" {
							revalidated.Add(1)
						}
					}
				}
				srv := a.serve(t, newEngineOn(t, rdb, redistest.Prefix(t), count), cfg, origin)
				before := sent.Bytes()
				first := get(t, srv, "/doc")
				if !strings.Contains(first.cacheStatus(), "stored") || first.body != string(document) {
					t.Fatalf("first: %q, %d bytes", first.cacheStatus(), len(first.body))
				}
				time.Sleep(1100 * time.Millisecond) // stale now
				firstStore := sent.Bytes() - before // the store may end after the client has its response
				before = sent.Bytes()
				stale := get(t, srv, "/doc")
				if !strings.Contains(stale.cacheStatus(), m.expect) || stale.status != http.StatusOK || stale.body != string(document) {
					t.Fatalf("stale: %d %q, %d bytes; want 200, %q, the whole body", stale.status, stale.cacheStatus(), len(stale.body), m.expect)
				}
				waitUntil(t, "the revalidation", func() bool { return origin.calls.Load() == 2 })
				var hit reply
				waitUntil(t, "the revalidated entry", func() bool {
					hit = get(t, srv, "/doc")
					return hit.hit() && hit.header.Get("X-Version") == "2"
				})
				revalidation := sent.Bytes() - before
				if origin.bodies.Load() != 1 || hit.body != string(document) {
					t.Fatalf("the origin sent %d bodies, want 1: the revalidation was answered 304", origin.bodies.Load())
				}
				waitUntil(t, "the revalidated event", func() bool { return revalidated.Load() > 0 }) // sent after the store
				if revalidated.Load() != 1 {
					t.Fatalf("%d fills or refreshes reported revalidated, want 1", revalidated.Load())
				}
				if revalidation > 16<<10 {
					t.Fatalf("the revalidation sent %d bytes to Redis; want the header only, not the %d-byte body", revalidation, len(document))
				}
				t.Logf("bytes sent to Redis: first store %d, revalidation %d (body %d)", firstStore, revalidation, len(document))
			})
		}
	}
}
