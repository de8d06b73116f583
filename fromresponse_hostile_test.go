package swrcache_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swrcache/swrcache/middleware"
)

// Hostile or broken origins in the FromResponse mode and revalidation:
// found by a review of issue 12, each a regression test.

// An Expires long past with a large Age: the lifetime less the age
// overflows, and a response that is stale on arrival is stored fresh.
func TestAResponseExpiredLongAgoWithAHugeAgeIsNotStoredFresh(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Expires", "Thu, 01 Jan 1970 00:00:00 GMT")
		w.Header().Set("Date", "Fri, 31 Dec 9999 23:59:59 GMT")
		w.Header().Set("Age", "2147483648")
		fmt.Fprintf(w, "v%d", calls.Add(1))
	})
	cfg := baseConfig()
	cfg.Freshness = middleware.FromResponse
	srv := serveNetHTTP(t, newEngine(t, nil), cfg, h)
	first := get(t, srv, "/r")
	second := get(t, srv, "/r")
	t.Logf("first %q, second %q %q Age=%q", first.cacheStatus(), second.body, second.cacheStatus(), second.header.Get("Age"))
	if second.hit() {
		t.Fatalf("a response that expired before it was sent is served as a hit: %q", second.cacheStatus())
	}
}

// The cache's own conditional request is answered 304 with a body past
// the hold (or with a flush): the 304 goes on to a client that sent no
// precondition, with no body.
func TestTheCachesConditionalNeverSendsA304ToAnUnconditionalClient(t *testing.T) {
	for _, flush := range []bool{false, true} {
		var calls atomic.Int32
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("ETag", `"e1"`)
			w.Header().Set("Cache-Control", "max-age=1")
			if r.Header.Get("If-None-Match") == `"e1"` {
				w.WriteHeader(http.StatusNotModified)
				if flush {
					w.(http.Flusher).Flush()
				} else {
					w.Write(bytes.Repeat([]byte("x"), 8<<10)) // a buggy 304 with a body
				}
				return
			}
			w.Write([]byte("the document"))
		})
		cfg := baseConfig()
		cfg.Freshness = middleware.FromResponse
		srv := serveNetHTTP(t, newEngine(t, nil), cfg, h)
		get(t, srv, "/doc")
		time.Sleep(1100 * time.Millisecond)
		r := get(t, srv, "/doc") // no If-None-Match from the client
		t.Logf("flush=%v: %d %q body %q", flush, r.status, r.cacheStatus(), r.body)
		if r.status != http.StatusOK {
			t.Errorf("flush=%v: an unconditional GET got %d", flush, r.status)
		}
	}
}

// A handler that answers the cache's conditional request with a 304 for
// another entity tag (RFC 9111 section 4.3.4: it selects no stored
// response): the stored response is not updated, and the route runs
// again without conditions, through every adapter; gin's context runs its
// handlers once, so the rerun goes through the route's Runner.
func TestA304ForAnotherValidatorRunsTheRouteAgain(t *testing.T) {
	for _, target := range confTargets() {
		t.Run(target.name, func(t *testing.T) {
			var calls atomic.Int32
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				w.Header().Set("Cache-Control", "max-age=1")
				if r.Header.Get("If-None-Match") != "" {
					w.Header().Set("ETag", `"other"`)
					w.WriteHeader(http.StatusNotModified)
					return
				}
				w.Header().Set("ETag", fmt.Sprintf(`"v%d"`, n))
				fmt.Fprintf(w, "version %d", n)
			})
			cfg := baseConfig()
			cfg.Freshness, cfg.Router = middleware.FromResponse, nil
			srv := target.serve(t, newEngine(t, nil), cfg, h)
			if r := get(t, srv, "/r"); r.body != "version 1" {
				t.Fatalf("first: %d %q", r.status, r.body)
			}
			time.Sleep(1100 * time.Millisecond) // stale, kept: the next request revalidates
			r := get(t, srv, "/r")
			if r.status != http.StatusOK || r.body != "version 3" || !strings.Contains(r.cacheStatus(), "fwd-status=200") {
				t.Fatalf("after the 304 for another tag: %d %q %q; want the route run again: 200, version 3", r.status, r.body, r.cacheStatus())
			}
			if again := get(t, srv, "/r"); !again.hit() || again.body != "version 3" {
				t.Fatalf("then: %q %q; want a hit on version 3", again.body, again.cacheStatus())
			}
		})
	}
}
