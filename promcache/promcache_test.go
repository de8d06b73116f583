package promcache_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
	"github.com/swrcache/swrcache/promcache"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, redistest.LeakOptions()...) }

func newMetrics(t *testing.T, cfg promcache.Config) (*promcache.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	cfg.Registerer = reg
	m, err := promcache.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// Every event kind lands in its metric, and the names pass promlint.
func TestEventsBecomeMetrics(t *testing.T) {
	m, reg := newMetrics(t, promcache.Config{})
	ctx := context.Background()
	for _, ev := range []core.Event{
		{Kind: core.EventHit, Resource: "a", Duration: time.Millisecond},
		{Kind: core.EventHit, Resource: "a", Duration: 3 * time.Millisecond},
		{Kind: core.EventMiss, Resource: "a", Duration: 100 * time.Millisecond},
		{Kind: core.EventBypass, Resource: "a", Detail: "breaker-open"},
		{Kind: core.EventBypass, Resource: "a", Detail: "a reason no one knows"},
		{Kind: core.EventFill, Resource: "a", Duration: 90 * time.Millisecond},
		{Kind: core.EventLoadFailed, Resource: "a", Err: errors.New("x")},
		{Kind: core.EventRefreshOK, Resource: "a"},
		{Kind: core.EventRefreshOK, Resource: "a", Detail: "revalidated"},
		{Kind: core.EventFill, Resource: "a", Detail: "revalidated"},
		{Kind: core.EventRefreshFailed, Resource: "a", Err: errors.New("x")},
		{Kind: core.EventRefreshSkipped, Resource: "a", Detail: "full"},
		{Kind: core.EventLockContended, Resource: "a", Detail: "stored", Duration: 20 * time.Millisecond},
		{Kind: core.EventCorrupt, Resource: "a"},
		{Kind: core.EventRedisError, Err: errors.New("x")},
		{Kind: core.EventBreaker, From: "closed", To: "open", Detail: "10.0.0.1:6379"},
		{Kind: core.EventBreaker, From: "failing", To: "answering", Detail: "recovered 10.0.0.1:6379"},
		{Kind: core.EventInvalidate, Detail: "3 entries"},
		{Kind: core.EventInvalidate, Err: errors.New("down"), Detail: "queued"},
	} {
		m.Hook(ctx, ev)
	}
	want := `
# HELP swrcache_lookups_total Lookups by outcome: hit, stale, stale-if-error (served from the cache), miss, collapsed, bypass.
# TYPE swrcache_lookups_total counter
swrcache_lookups_total{outcome="bypass",resource="a"} 2
swrcache_lookups_total{outcome="hit",resource="a"} 2
swrcache_lookups_total{outcome="miss",resource="a"} 1
# HELP swrcache_bypasses_total Lookups that did not use Redis, by reason.
# TYPE swrcache_bypasses_total counter
swrcache_bypasses_total{reason="breaker-open",resource="a"} 1
swrcache_bypasses_total{reason="other",resource="a"} 1
# HELP swrcache_refreshes_total Background refreshes: ok, failed, skipped.
# TYPE swrcache_refreshes_total counter
swrcache_refreshes_total{resource="a",result="failed"} 1
swrcache_refreshes_total{resource="a",result="ok"} 2
swrcache_refreshes_total{resource="a",result="skipped"} 1
# HELP swrcache_revalidations_total Fills and refreshes whose loader confirmed the stored value (an HTTP 304): only what changed went to Redis.
# TYPE swrcache_revalidations_total counter
swrcache_revalidations_total{resource="a"} 2
# HELP swrcache_breaker_state Circuit breaker state: 0 closed, 1 half-open, 2 open; node is a Cluster master's address, or empty.
# TYPE swrcache_breaker_state gauge
swrcache_breaker_state{node=""} 0
swrcache_breaker_state{node="10.0.0.1:6379"} 2
# HELP swrcache_invalidations_total Invalidations: done, queued (Redis unreachable), replayed, lost, not-stored, subscription-lost.
# TYPE swrcache_invalidations_total counter
swrcache_invalidations_total{result="done"} 1
swrcache_invalidations_total{result="queued"} 1
# HELP swrcache_redis_errors_total Redis operations that failed or timed out.
# TYPE swrcache_redis_errors_total counter
swrcache_redis_errors_total 1
# HELP swrcache_corrupt_entries_total Entries that failed to decode or belonged to another key; treated as misses.
# TYPE swrcache_corrupt_entries_total counter
swrcache_corrupt_entries_total{resource="a"} 1
# HELP swrcache_lock_waits_total Waits for a fill lock another instance held, by how they ended: stored, taken, timeout.
# TYPE swrcache_lock_waits_total counter
swrcache_lock_waits_total{resource="a",result="stored"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "swrcache_lookups_total", "swrcache_bypasses_total",
		"swrcache_refreshes_total", "swrcache_revalidations_total", "swrcache_breaker_state", "swrcache_invalidations_total", "swrcache_redis_errors_total",
		"swrcache_corrupt_entries_total", "swrcache_lock_waits_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "swrcache_load_duration_seconds"); n != 2 {
		t.Fatalf("%d load duration series, want stored and failed", n)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("promlint: %v %v", problems, err)
	}
}

// A resource label never grows past MaxResources: later names share "other".
func TestResourceLabelsAreBounded(t *testing.T) {
	m, reg := newMetrics(t, promcache.Config{MaxResources: 3})
	for i := range 50 {
		m.Hook(context.Background(), core.Event{Kind: core.EventHit, Resource: "r" + string(rune('a'+i%26)) + string(rune('a'+i/26))})
	}
	m.Hook(context.Background(), core.Event{Kind: core.EventHit})
	if n := testutil.CollectAndCount(reg, "swrcache_lookups_total"); n != 5 {
		t.Fatalf("%d lookup series, want 3 resources, other and unnamed", n)
	}
}

// Two Metrics on one registry: an error, not a panic.
func TestRegisteringTwiceIsAnError(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := promcache.New(promcache.Config{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := promcache.New(promcache.Config{Registerer: reg}); err == nil {
		t.Fatal("the second New on one registry succeeded")
	}
	if _, err := promcache.New(promcache.Config{}); err == nil {
		t.Fatal("New without a Registerer succeeded")
	}
}

// The Redis gauges come from INFO at scrape time, at most once per
// RedisEvery, whatever the number of scrapes.
func TestRedisGaugesAreReadAtScrapeTimeAtMostOncePerInterval(t *testing.T) {
	srv := redistest.StartServer(t, "--maxmemory", "64mb", "--maxclients", "500")
	rdb := redis.NewClient(redistest.Options(srv.Addr()))
	t.Cleanup(func() { _ = rdb.Close() })
	_, reg := newMetrics(t, promcache.Config{Redis: rdb, RedisEvery: time.Hour})
	infoCalls := func() string {
		stats, err := rdb.Info(context.Background(), "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(stats) {
			if strings.HasPrefix(line, "cmdstat_info:") {
				calls, _, _ := strings.Cut(strings.TrimPrefix(line, "cmdstat_info:calls="), ",")
				return calls
			}
		}
		return "0"
	}
	for range 5 {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	// One INFO by the collector, one by infoCalls itself.
	if calls := infoCalls(); calls != "1" {
		t.Fatalf("INFO ran %s times for 5 scrapes before this count, want 1", calls)
	}
	want := `
# HELP swrcache_redis_memory_max_bytes INFO maxmemory: the memory limit; 0 means none.
# TYPE swrcache_redis_memory_max_bytes gauge
swrcache_redis_memory_max_bytes{node="` + srv.Addr() + `"} 6.7108864e+07
# HELP swrcache_redis_max_clients INFO maxclients.
# TYPE swrcache_redis_max_clients gauge
swrcache_redis_max_clients{node="` + srv.Addr() + `"} 500
# HELP swrcache_redis_up Whether the Redis node answered INFO at the last read.
# TYPE swrcache_redis_up gauge
swrcache_redis_up{node="` + srv.Addr() + `"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "swrcache_redis_memory_max_bytes", "swrcache_redis_max_clients", "swrcache_redis_up"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"swrcache_redis_memory_used_bytes", "swrcache_redis_connected_clients", "swrcache_redis_evicted_keys_total",
		"swrcache_redis_keyspace_hits_total", "swrcache_redis_keyspace_misses_total", "swrcache_redis_mem_fragmentation_ratio"} {
		if testutil.CollectAndCount(reg, name) != 1 {
			t.Errorf("no %s", name)
		}
	}
}

// A Redis that accepts connections and never answers costs a scrape at
// most RedisTimeout, and says it is down.
func TestASilentRedisIsReportedDownWithinTheDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() { // accept, read nothing, answer nothing
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ContextTimeoutEnabled: true, MaxRetries: -1, Protocol: 2})
	t.Cleanup(func() { _ = rdb.Close() })
	_, reg := newMetrics(t, promcache.Config{Redis: rdb, RedisTimeout: 100 * time.Millisecond})
	want := `
# HELP swrcache_redis_up Whether the Redis node answered INFO at the last read.
# TYPE swrcache_redis_up gauge
swrcache_redis_up{node="` + ln.Addr().String() + `"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "swrcache_redis_up", "swrcache_redis_memory_used_bytes"); err != nil {
		t.Fatal(err)
	}
}

// On a Cluster, every master is read: one node label each.
func TestRedisGaugesCoverEveryMasterOfACluster(t *testing.T) {
	if !redistest.IsCluster(t) {
		t.Skip("runs on a Redis Cluster (SWRCACHE_REDIS_CLUSTER)")
	}
	cc := redistest.Client(t).(*redis.ClusterClient)
	var n atomic.Int32 // ForEachMaster calls its function on a goroutine per master
	if err := cc.ForEachMaster(context.Background(), func(context.Context, *redis.Client) error { n.Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	masters := int(n.Load())
	_, reg := newMetrics(t, promcache.Config{Redis: cc})
	if n := testutil.CollectAndCount(reg, "swrcache_redis_up"); n != masters || masters < 3 {
		t.Fatalf("%d up series for %d masters", n, masters)
	}
	if n := testutil.CollectAndCount(reg, "swrcache_redis_max_clients"); n != masters {
		t.Fatalf("%d maxclients series for %d masters", n, masters)
	}
}

// Buckets out of order are refused at construction, not at the first lookup.
func TestBucketsOutOfOrderAreRefused(t *testing.T) {
	for _, b := range [][]float64{{3, 1}, {1, 1}} {
		if _, err := promcache.New(promcache.Config{Registerer: prometheus.NewRegistry(), Buckets: b}); err == nil {
			t.Errorf("Buckets %v accepted", b)
		}
	}
}
