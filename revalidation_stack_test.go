package swrcache_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/swrcache/swrcache/middleware"
)

// Ranges and revalidation through the compressors of every framework
// (compressStacks), before and after the cache: found by a review of
// issue 12, each a regression test.

// A compressor before the cache (the README's advice) and a Range answered
// from the cache: the 206 goes through the compressor.
func TestARangeThroughACompressorBeforeTheCacheIsNeverAPartLabelledCompressed(t *testing.T) {
	body := stackBody(8 << 10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	for _, s := range compressStacks {
		t.Run(s.name, func(t *testing.T) {
			srv := s.serve(t, newEngine(t, nil), baseConfig(), h, false)
			c := rawClient(t)
			c.get(t, srv.URL+"/f", "Accept-Encoding", "gzip")
			r := c.get(t, srv.URL+"/f", "Accept-Encoding", "gzip", "Range", "bytes=100-199")
			t.Logf("%d CE=%q CR=%q CL=%q len=%d CS=%q", r.status, r.header.Get("Content-Encoding"), r.header.Get("Content-Range"), r.header.Get("Content-Length"), len(r.raw), r.header.Get("Cache-Status"))
			if r.status == http.StatusPartialContent && r.header.Get("Content-Encoding") != "" {
				t.Errorf("a 206 of the identity bytes sent with Content-Encoding %q", r.header.Get("Content-Encoding"))
			}
			if r.status != http.StatusOK || !bytes.Equal(plain(t, r), body) {
				t.Errorf("accepting gzip: %d, want the whole response", r.status)
			}
			// Without a compression accepted, the part comes from the cache.
			r = c.get(t, srv.URL+"/f", "Accept-Encoding", "identity", "Range", "bytes=100-199")
			if r.status != http.StatusPartialContent || !bytes.Equal(r.raw, body[100:200]) || !strings.Contains(r.header.Get("Cache-Status"), "hit") {
				t.Errorf("identity: %d %q, %d bytes; want a 206 of bytes 100-199 from the cache", r.status, r.header.Get("Cache-Status"), len(r.raw))
			}
		})
	}
}

// answersItsConditionals serves body for a second with the ETag "v1", and
// answers If-None-Match: "v1" with a bare 304, as a handler does by hand.
func answersItsConditionals(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Cache-Control", "max-age=1")
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write(body)
	})
}

// A compressor inside the cache (the README: "a compressor after the cache
// works too") and a handler that answers its own conditionals: an
// identity response is stored first; its revalidation, led by a gzip
// client, gets a 304 the compressor marked gzip, and the merge labels the
// identity body gzip, for every later gzip client.
func TestARevalidationThroughACompressorAfterTheCacheKeepsTheStoredEncoding(t *testing.T) {
	body := stackBody(8 << 10)
	h := answersItsConditionals(body)
	for _, s := range compressStacks {
		t.Run(s.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.Freshness = middleware.FromResponse
			srv := s.serve(t, newEngine(t, nil), cfg, h, true)
			c := rawClient(t)
			first := c.get(t, srv.URL+"/f") // identity
			if !bytes.Equal(first.raw, body) {
				t.Fatalf("first: %d bytes", len(first.raw))
			}
			time.Sleep(1100 * time.Millisecond)
			for i := range 3 {
				r := c.get(t, srv.URL+"/f", "Accept-Encoding", "gzip")
				got := r.raw
				if r.header.Get("Content-Encoding") == "gzip" {
					zr, err := gzip.NewReader(bytes.NewReader(r.raw))
					if err != nil {
						t.Fatalf("gzip client #%d: %d, %q, Content-Encoding gzip but not gzip bytes: %v", i, r.status, r.header.Get("Cache-Status"), err)
					}
					got, _ = io.ReadAll(zr)
				}
				if !bytes.Equal(got, body) {
					t.Fatalf("gzip client #%d: wrong body", i)
				}
			}
		})
	}
}

// ginGzip is the stack with gin-contrib/gzip, whose writer replaces gin's.
func ginGzip(t *testing.T) compressStack {
	t.Helper()
	for _, s := range compressStacks {
		if strings.Contains(s.name, "gin") {
			return s
		}
	}
	t.Fatal("no gin stack in compressStacks")
	return compressStack{}
}

// plain returns r's body decoded from its Content-Encoding.
func plain(t *testing.T, r rawReply) []byte {
	t.Helper()
	if r.header.Get("Content-Encoding") != "gzip" {
		return r.raw
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.raw))
	if err != nil {
		t.Fatalf("%d %q: Content-Encoding gzip but not gzip bytes: %v", r.status, r.header.Get("Cache-Status"), err)
	}
	b, _ := io.ReadAll(zr)
	return b
}

// gin-contrib/gzip after the cache swaps gin's writer: the 304 of a
// revalidation still reaches the cache as a 304, and the stored body is
// served whole, to gzip and identity clients alike.
func TestGinGzipAfterTheCacheAndA304Revalidation(t *testing.T) {
	body := stackBody(8 << 10)
	cfg := baseConfig()
	cfg.Freshness = middleware.FromResponse
	srv := ginGzip(t).serve(t, newEngine(t, nil), cfg, answersItsConditionals(body), true)
	c := rawClient(t)
	if first := c.get(t, srv.URL+"/f"); first.status != http.StatusOK || !bytes.Equal(plain(t, first), body) {
		t.Fatalf("first: %d, %d bytes", first.status, len(first.raw))
	}
	time.Sleep(1100 * time.Millisecond) // stale: the next request revalidates
	for i := range 3 {
		for _, ae := range []string{"gzip", ""} {
			r := c.get(t, srv.URL+"/f", "Accept-Encoding", ae)
			if r.status != http.StatusOK || !bytes.Equal(plain(t, r), body) {
				t.Fatalf("#%d, Accept-Encoding %q: %d %q, %d bytes; want the whole body", i, ae, r.status, r.header.Get("Cache-Status"), len(r.raw))
			}
		}
	}
}

// A handler's bare 404 behind gin-contrib/gzip after the cache is stored
// as a 404, not as an empty 200.
func TestGinGzipAfterTheCacheKeepsAStatusOnlyAnswer(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotFound)
	})
	srv := ginGzip(t).serve(t, newEngine(t, nil), baseConfig(), h, true)
	c := rawClient(t)
	for i, want := range []string{"stored", "hit"} {
		r := c.get(t, srv.URL+"/f", "Accept-Encoding", "gzip")
		if r.status != http.StatusNotFound || !strings.Contains(r.header.Get("Cache-Status"), want) {
			t.Fatalf("#%d: %d %q; want the 404, %s", i, r.status, r.header.Get("Cache-Status"), want)
		}
	}
}
