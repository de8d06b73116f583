package swrcache_test

import (
	"bytes"
	"fmt"
	"net/http"
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
