// Package benchhttp drives the adapters' benchmarks: the same GETs, over
// one key or many, through handlers built alike, so that a cached hit and
// its baselines (a bare handler, a handler doing one Redis GET) compare
// in one run.
package benchhttp

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/swrcache/swrcache/internal/benchcpu"
)

// Page is the body every benchmark handler answers: about 1 KB of HTML.
var Page = bytes.Repeat([]byte("<p>lorem ipsum</p>"), 60)

// Keys are the request counts the benchmarks run over: one hot key, and
// a thousand warm ones requested in turn.
var Keys = []int{1, 1000}

// Path is the i-th key's path.
func Path(i int) string { return fmt.Sprintf("/pages/%d", i) }

// Run warms h with one GET per key, then sends it the GETs in turn from
// parallel goroutines, reporting cpu-ns/op and allocations.
func Run(b *testing.B, h http.Handler, keys int) {
	b.Helper()
	reqs := make([]*http.Request, keys)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, Path(i)+"?lang=en", nil)
		h.ServeHTTP(httptest.NewRecorder(), reqs[i])
	}
	b.ReportAllocs()
	b.SetParallelism(8) // 16 requests in flight on 2 cores, as a busy server has them
	b.ResetTimer()
	defer benchcpu.Start(b)()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, reqs[i%keys])
			i++
			if w.Code != http.StatusOK || w.Body.Len() != len(Page) {
				b.Errorf("got %d, %d bytes", w.Code, w.Body.Len())
				return
			}
		}
	})
}

// Each runs fn as a sub-benchmark per entry of Keys, in process (h
// called directly) and served (through a loopback HTTP server): run is
// Run or Served.
func Each(b *testing.B, fn func(b *testing.B, keys int, run func(*testing.B, http.Handler, int))) {
	for _, mode := range []struct {
		name string
		run  func(*testing.B, http.Handler, int)
	}{{"inproc", Run}, {"served", Served}} {
		for _, n := range Keys {
			b.Run(fmt.Sprintf("%s/keys=%d", mode.name, n), func(b *testing.B) { fn(b, n, mode.run) })
		}
	}
}

// Served is Run over a real HTTP server on loopback, as a load tester
// such as wrk sees it: each request goes through a client and a server,
// both in this process, so cpu-ns/op counts the whole exchange, and the
// ratio of two handlers' ns/op is the ratio of their throughputs.
func Served(b *testing.B, h http.Handler, keys int) {
	b.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	urls := make([]string, keys)
	get := func(url string) bool {
		resp, err := client.Get(url)
		if err != nil {
			b.Error(err)
			return false
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || n != int64(len(Page)) {
			b.Errorf("got %d, %d bytes", resp.StatusCode, n)
			return false
		}
		return true
	}
	for i := range urls {
		urls[i] = srv.URL + Path(i) + "?lang=en"
		get(urls[i])
	}
	b.ReportAllocs()
	b.SetParallelism(8) // 16 connections on 2 cores, as a load tester keeps them busy
	b.ResetTimer()
	defer benchcpu.Start(b)()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if !get(urls[i%keys]) {
				return
			}
			i++
		}
	})
}
