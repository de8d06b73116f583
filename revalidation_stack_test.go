package swrcache_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
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

// gin-contrib/gzip after the cache swaps gin's writer: the 304 of a
// revalidation still reaches the cache as a 304, and the stored body is
// served whole.
func TestGinGzipAfterTheCacheAndA304Revalidation(t *testing.T) {
	body := stackBody(8 << 10)
	h := answersItsConditionals(body)
	s := compressStacks[0]
	cfg := baseConfig()
	cfg.Freshness = middleware.FromResponse
	srv := s.serve(t, newEngine(t, nil), cfg, h, true)
	c := rawClient(t)
	first := c.get(t, srv.URL+"/f")
	t.Logf("first: %d %q CE=%q len=%d", first.status, first.header.Get("Cache-Status"), first.header.Get("Content-Encoding"), len(first.raw))
	time.Sleep(1100 * time.Millisecond)
	for i := range 3 {
		r := c.get(t, srv.URL+"/f", "Accept-Encoding", "gzip")
		t.Logf("#%d: %d %q CE=%q len=%d", i, r.status, r.header.Get("Cache-Status"), r.header.Get("Content-Encoding"), len(r.raw))
		r = c.get(t, srv.URL+"/f")
		t.Logf("#%d identity: %d %q CE=%q len=%d", i, r.status, r.header.Get("Cache-Status"), r.header.Get("Content-Encoding"), len(r.raw))
	}
}

func TestGinGzipAfterTheCacheKeepsAStatusOnlyAnswer(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotFound)
	})
	s := compressStacks[0]
	srv := s.serve(t, newEngine(t, nil), baseConfig(), h, true)
	c := rawClient(t)
	for i := range 2 {
		r := c.get(t, srv.URL+"/f", "Accept-Encoding", "gzip")
		t.Logf("#%d: %d %q CE=%q len=%d", i, r.status, r.header.Get("Cache-Status"), r.header.Get("Content-Encoding"), len(r.raw))
	}
}
