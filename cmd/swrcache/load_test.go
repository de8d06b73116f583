package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/swrcache/swrcache/adapters/httpcache"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
	"github.com/swrcache/swrcache/promcache"
)

// load drives an app whose route honours Cache-Control: no-cache: with the
// cache off every response comes from the origin; on, almost none does,
// and the app's memory is read from its /metrics.
func TestLoadComparesTheCacheOffAndOn(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := promcache.New(promcache.Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	e, err := core.New(core.Config{Client: redistest.Client(t), Namespace: redistest.Prefix(t), OnEvent: metrics.Hook,
		Memory: core.MemoryConfig{MaxBytes: 16 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	if err := metrics.WatchMemory(e); err != nil {
		t.Fatal(err)
	}
	cache, err := httpcache.New(e, httpcache.Config{Policy: core.Policy{TTL: time.Minute}, Key: httpcache.KeySpec{Resource: "items"}, HonorNoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	var origin atomic.Int64
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /items/{id}", cache(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin.Add(1)
		time.Sleep(2 * time.Millisecond)
		fmt.Fprintf(w, "item %s", r.PathValue("id"))
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	args := []string{"load", "--duration", "1s", "--warmup", "300ms", "--concurrency", "4", "--output", "json", "--metrics", srv.URL + "/metrics"}
	const urls = 5
	for i := range urls {
		args = append(args, "--url", fmt.Sprintf("%s/items/%d", srv.URL, i))
	}
	r := swrcache(t, args...)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	var phases []loadPhase
	if err := json.Unmarshal([]byte(r.stdout), &phases); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if len(phases) != 2 || phases[0].Name != "off" || phases[1].Name != "on" {
		t.Fatalf("phases %+v", phases)
	}
	off, on := phases[0], phases[1]
	t.Logf("off: %+v", off)
	t.Logf("on:  %+v", on)
	switch {
	case off.Requests == 0 || off.HitRatio != 0 || off.Origin != off.Requests:
		t.Errorf("with the cache off, %d of %d responses from the origin, hit ratio %v", off.Origin, off.Requests, off.HitRatio)
	case on.HitRatio < 0.99 || on.Origin > urls:
		t.Errorf("with the cache on, hit ratio %v and %d origin calls for %d URLs", on.HitRatio, on.Origin, urls)
	case on.RPS <= off.RPS:
		t.Errorf("%.0f req/s with the cache on, %.0f off", on.RPS, off.RPS)
	case on.RSSBytes == 0 || on.HeapBytes == 0 || on.MemoryTier == 0:
		t.Errorf("no memory figures from /metrics: %+v", on)
	}
}

func TestClassifyReadsCacheStatus(t *testing.T) {
	tests := []struct {
		given        string
		expectHit    bool
		expectOrigin bool
	}{
		{"swrcache; hit; ttl=30", true, false},
		{"swrcache; hit; ttl=30; detail=memory", true, false},
		{"swrcache; fwd=stale; ttl=-2", true, false},
		{"swrcache; fwd=uri-miss; stored", false, true},
		{"swrcache; fwd=uri-miss; collapsed", false, false},
		{"swrcache; fwd=bypass; detail=no-cache", false, true},
		{"", false, true},
		{"swrcache; hit, cdn; fwd=miss", true, false},
	}
	for _, tt := range tests {
		if hit, origin := classify(tt.given); hit != tt.expectHit || origin != tt.expectOrigin {
			t.Errorf("classify(%q) = %v, %v; want %v, %v", tt.given, hit, origin, tt.expectHit, tt.expectOrigin)
		}
	}
}

// --rate paces requests by a schedule, not one per tick: it never sends
// more than the rate allows, and past 1000 req/s too.
func TestLoadRateIsAnUpperBound(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(srv.Close)
	r := swrcache(t, "load", "--url", srv.URL+"/x", "--off-header", "", "--warmup", "0s", "--duration", "500ms", "--rate", "3000", "--concurrency", "8", "--output", "json")
	var phases []loadPhase
	if err := json.Unmarshal([]byte(r.stdout), &phases); err != nil || r.code != exitOK {
		t.Fatalf("exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
	}
	if n := phases[0].Requests; n > 3000/2+8 || n == 0 {
		t.Fatalf("%d requests in 500 ms at --rate 3000, want at most %d", n, 3000/2+8)
	}
	t.Logf("%d requests in 500 ms at --rate 3000 (%.0f req/s)", phases[0].Requests, phases[0].RPS)
}

// Targets that cannot work are said so: a usage error for what is not a
// URL, the first failure on stderr for one that does not answer.
func TestLoadSaysWhatWentWrong(t *testing.T) {
	if r := swrcache(t, "load", "--url", "not a url"); r.code != exitUsage || !strings.Contains(r.stderr, "not an http(s) URL") {
		t.Errorf("a URL that is not one: exit %d, %q", r.code, r.stderr)
	}
	if r := swrcache(t, "load", "--url", "http://127.0.0.1:1/x", "--metrics", "ftp://x"); r.code != exitUsage {
		t.Errorf("a --metrics that is not http: exit %d, %q", r.code, r.stderr)
	}
	dead := "http://" + deadAddr(t) + "/x"
	r := swrcache(t, "load", "--url", dead, "--off-header", "", "--warmup", "0s", "--duration", "200ms", "--concurrency", "2", "--metrics", dead)
	if r.code != exitProblem || !strings.Contains(r.stderr, "requests failed; the first:") || !strings.Contains(r.stderr, "no memory figures") {
		t.Errorf("a target that does not answer: exit %d, %q", r.code, r.stderr)
	}
}
