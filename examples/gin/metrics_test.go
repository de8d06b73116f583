package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/exampleapp"
	"github.com/swrcache/swrcache/internal/redistest"
)

// outcomeOf reads a response's Cache-Status as the outcome the metrics
// should count, and the bypass reason if any; "" for a response the cache
// does not apply to.
func outcomeOf(cacheStatus string) (outcome, reason string) {
	params := map[string]string{}
	for _, p := range strings.Split(cacheStatus, ";")[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		params[k] = v
	}
	switch {
	case cacheStatus == "":
		return "", ""
	case params["fwd"] == "bypass":
		return "bypass", params["detail"]
	case params["fwd"] == "stale" && params["detail"] == "stale-if-error":
		return "stale-if-error", ""
	case params["fwd"] == "stale":
		return "stale", ""
	case params["fwd"] == "uri-miss" && hasParam(params, "collapsed"):
		return "collapsed", ""
	case params["fwd"] == "uri-miss":
		return "miss", ""
	case hasParam(params, "hit"):
		return "hit", ""
	}
	return "unknown:" + cacheStatus, ""
}

func hasParam(params map[string]string, name string) bool { _, ok := params[name]; return ok }

// tally counts the outcomes the responses reported, by route.
type tally struct {
	mu      sync.Mutex
	lookups map[[2]string]float64 // resource, outcome
	reasons map[[2]string]float64 // resource, reason
	memory  int                   // responses served from the memory tier
}

func (ta *tally) add(t *testing.T, resource string, resp *http.Response) {
	t.Helper()
	outcome, reason := outcomeOf(resp.Header.Get("Cache-Status"))
	if strings.HasPrefix(outcome, "unknown") {
		t.Errorf("%s: unreadable Cache-Status %q", resource, resp.Header.Get("Cache-Status"))
	}
	if outcome == "" {
		return
	}
	ta.mu.Lock()
	defer ta.mu.Unlock()
	ta.lookups[[2]string{resource, outcome}]++
	if strings.Contains(resp.Header.Get("Cache-Status"), "detail=memory") {
		ta.memory++
	}
	if reason != "" {
		ta.reasons[[2]string{resource, reason}]++
	}
}

// Must show 1: the metrics count exactly what the responses said, for a
// workload of misses, hits, collapsed requests, stale responses, bypasses
// for two reasons and a route whose responses vary on Accept-Language.
// It runs with the memory tier off, and on, as the example runs.
func TestMetricsCountWhatTheResponsesSaid(t *testing.T) {
	t.Run("redis", func(t *testing.T) { metricsCountWhatTheResponsesSaid(t, core.MemoryConfig{}) })
	t.Run("memory", func(t *testing.T) { metricsCountWhatTheResponsesSaid(t, core.MemoryConfig{MaxBytes: 64 << 20}) })
}

func metricsCountWhatTheResponsesSaid(t *testing.T, mem core.MemoryConfig) {
	rdb := redistest.Client(t)
	reg, hook, err := exampleapp.Metrics(rdb)
	if err != nil {
		t.Fatal(err)
	}
	engine, err := core.New(core.Config{Client: rdb, Namespace: redistest.Prefix(t), OnEvent: hook, Memory: mem})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close(context.Background()) })
	for deadline := time.Now().Add(10 * time.Second); mem.MaxBytes > 0 && !engine.MemoryStats().Live; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) { // the tier serves once it hears the notices
			t.Fatal("the memory tier's subscription never came up")
		}
	}
	app, err := newApp(engine, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)

	ta := &tally{lookups: map[[2]string]float64{}, reasons: map[[2]string]float64{}}
	get := func(resource, path string, headers ...string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("X-Tenant", "acme")
		for _, h := range headers {
			k, v, _ := strings.Cut(h, ": ")
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		ta.add(t, resource, resp)
	}

	get("user", "/users/1") // a miss, stored
	for range 3 {
		get("user", "/users/1") // hits
	}
	var wg sync.WaitGroup
	for range 6 { // one miss, the others collapsed on its 150 ms load
		wg.Go(func() { get("user", "/users/2") })
	}
	wg.Wait()
	get("users", "/users") // a miss on another route
	get("users", "/users")
	for _, lang := range []string{"fr", "fr", "en", "en", "fr"} { // a miss and hits per variant
		get("greeting", "/greeting", "Accept-Language: "+lang)
	}
	get("user", "/users/1", "X-Tenant: ACME!")         // bypass: not a valid tenant
	get("user", "/users/1", "Authorization: Bearer x") // bypass: authorization
	get("users", "/users", "Authorization: Bearer x")
	time.Sleep(2100 * time.Millisecond)                 // the greeting's 2 s TTL passes
	get("greeting", "/greeting", "Accept-Language: fr") // stale, refreshed in the background
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/users/1", strings.NewReader(`{"name":"Ada King"}`))
	req.Header.Set("X-Tenant", "acme")
	if resp, err := srv.Client().Do(req); err == nil { // a write: not a lookup
		resp.Body.Close()
	}

	if ta.lookups[[2]string{"user", "collapsed"}] == 0 || ta.lookups[[2]string{"greeting", "stale"}] != 1 ||
		ta.reasons[[2]string{"user", "tenant"}] != 1 || ta.reasons[[2]string{"user", "authorization"}] != 1 {
		t.Fatalf("the workload did not produce what it is for: %v %v", ta.lookups, ta.reasons)
	}
	var fams map[string]*dto.MetricFamily
	for deadline := time.Now().Add(5 * time.Second); ; {
		fams = scrape(t, srv.URL+"/metrics")
		if sumOf(fams["swrcache_refreshes_total"], map[string]string{"resource": "greeting", "result": "ok"}) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	var served, total, mServed, mTotal float64
	for k, want := range ta.lookups {
		labels := map[string]string{"resource": k[0], "outcome": k[1]}
		if got := sumOf(fams["swrcache_lookups_total"], labels); got != want {
			t.Errorf("swrcache_lookups_total%v = %v, the responses said %v", labels, got, want)
		}
		if got := histCount(fams["swrcache_lookup_duration_seconds"], labels); got != want {
			t.Errorf("swrcache_lookup_duration_seconds_count%v = %v, want %v", labels, got, want)
		}
		total += want
		if k[1] == "hit" || k[1] == "stale" || k[1] == "stale-if-error" {
			served += want
		}
	}
	for k, want := range ta.reasons {
		labels := map[string]string{"resource": k[0], "reason": k[1]}
		if got := sumOf(fams["swrcache_bypasses_total"], labels); got != want {
			t.Errorf("swrcache_bypasses_total%v = %v, the responses said %v", labels, got, want)
		}
	}
	for _, m := range fams["swrcache_lookups_total"].GetMetric() {
		mTotal += m.GetCounter().GetValue()
		switch label(m, "outcome") {
		case "hit", "stale", "stale-if-error":
			mServed += m.GetCounter().GetValue()
		}
	}
	if mTotal != total || mServed/mTotal != served/total {
		t.Fatalf("metrics: %v served of %v lookups (ratio %.4f); responses: %v of %v (ratio %.4f)", mServed, mTotal, mServed/mTotal, served, total, served/total)
	}
	if got := sumOf(fams["swrcache_refreshes_total"], map[string]string{"resource": "greeting", "result": "ok"}); got != 1 {
		t.Errorf("refreshes ok for /greeting = %v, want 1 (the stale response's)", got)
	}
	if !redistest.Embedded() && (fams["swrcache_redis_memory_used_bytes"] == nil || fams["swrcache_redis_max_clients"] == nil) {
		t.Errorf("no Redis server gauges in the scrape") // the embedded miniredis has no INFO memory
	}
	if (mem.MaxBytes > 0) != (ta.memory > 0) {
		t.Errorf("%d responses from the memory tier with MaxBytes %d", ta.memory, mem.MaxBytes)
	}
	t.Logf("hit ratio %.4f from %v lookups (%d from memory); %v", served/total, total, ta.memory, ta.lookups)
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func matches(m *dto.Metric, labels map[string]string) bool {
	for k, v := range labels {
		if label(m, k) != v {
			return false
		}
	}
	return true
}

func sumOf(f *dto.MetricFamily, labels map[string]string) float64 {
	var n float64
	for _, m := range f.GetMetric() {
		if matches(m, labels) {
			n += m.GetCounter().GetValue()
		}
	}
	return n
}

func histCount(f *dto.MetricFamily, labels map[string]string) float64 {
	var n float64
	for _, m := range f.GetMetric() {
		if matches(m, labels) {
			n += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return n
}
