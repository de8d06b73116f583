package promcache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/core"
)

// Config says where the metrics go and what they may read.
type Config struct {
	// Registerer receives the collectors. Required: a library never
	// registers on the global registry by itself. Pass
	// prometheus.DefaultRegisterer to use it.
	Registerer prometheus.Registerer

	// Namespace prefixes every metric name. "" means "swrcache".
	Namespace string

	// MaxResources bounds the distinct resource label values; events of
	// further resources are counted under "other". 0 means 100.
	MaxResources int

	// Buckets are the classic buckets of the lookup latency histogram, in
	// seconds. nil means DefaultBuckets, which cover the operating
	// guide's targets (p50 under 2 ms, p99 under 10 ms, alert above 50 ms).
	Buckets []float64

	// NativeHistograms adds native (sparse) buckets to every histogram,
	// alongside the classic ones, for servers that scrape them.
	NativeHistograms bool

	// Redis, when set, is read with INFO at scrape time for the server
	// gauges (memory, clients, evictions, keyspace hits): every master of
	// a Cluster, else the one server. nil means no Redis gauges.
	Redis redis.UniversalClient

	// RedisEvery is the least time between two INFO reads: a scrape in
	// between gets the last values. 0 means 10s.
	RedisEvery time.Duration

	// RedisTimeout bounds one INFO read, all nodes together. A node that
	// does not answer in time is reported down. 0 means 1s.
	RedisTimeout time.Duration
}

// DefaultBuckets are the classic buckets of the lookup latency histogram.
var DefaultBuckets = []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// loadBuckets are those of loads, refreshes and lock waits: longer.
var loadBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Metrics turns engine events into Prometheus metrics. Hook is its
// core.Config.OnEvent. It is safe for concurrent use.
type Metrics struct {
	lookups     *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	bypasses    *prometheus.CounterVec
	loads       *prometheus.HistogramVec
	refreshes   *prometheus.CounterVec
	revalidated *prometheus.CounterVec
	refreshTime *prometheus.HistogramVec
	lockWaits   *prometheus.CounterVec
	lockTime    *prometheus.HistogramVec
	corrupt     *prometheus.CounterVec
	redisErrors prometheus.Counter
	breaker     *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	invalidated *prometheus.CounterVec

	resources resources
	outcomes  sync.Map // outcomeKey → outcomeSeries, the hot path's children

	reg prometheus.Registerer // for WatchMemory
	ns  string
}

type outcomeKey struct {
	resource string
	kind     core.EventKind
}

type outcomeSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// New registers the metrics on cfg.Registerer and returns them, or an
// error for an invalid cfg or a name already registered.
func New(cfg Config) (*Metrics, error) {
	switch {
	case cfg.Registerer == nil:
		return nil, errors.New("promcache: Config.Registerer is required (prometheus.DefaultRegisterer for the global registry)")
	case cfg.MaxResources < 0:
		return nil, errors.New("promcache: Config.MaxResources must not be negative")
	case cfg.RedisEvery < 0 || cfg.RedisTimeout < 0:
		return nil, errors.New("promcache: Config.RedisEvery and RedisTimeout must not be negative")
	}
	ns := cfg.Namespace
	if ns == "" {
		ns = "swrcache"
	}
	buckets := cfg.Buckets
	if buckets == nil {
		buckets = DefaultBuckets
	}
	for i := range buckets {
		if math.IsNaN(buckets[i]) || i > 0 && buckets[i] <= buckets[i-1] {
			return nil, fmt.Errorf("promcache: Config.Buckets must be increasing numbers, got %v", buckets)
		}
	}
	hist := func(name, help string, b []float64, labels ...string) *prometheus.HistogramVec {
		o := prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help, Buckets: b}
		if cfg.NativeHistograms {
			o.NativeHistogramBucketFactor = 1.1
			o.NativeHistogramMaxBucketNumber = 160
			o.NativeHistogramMinResetDuration = time.Hour
		}
		return prometheus.NewHistogramVec(o, labels)
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
	}
	m := &Metrics{
		lookups:     counter("lookups_total", "Lookups by outcome: hit, stale, stale-if-error (served from the cache), miss, collapsed, bypass.", "resource", "outcome"),
		latency:     hist("lookup_duration_seconds", "Time a lookup took, by outcome; a miss includes the load.", buckets, "resource", "outcome"),
		bypasses:    counter("bypasses_total", "Lookups that did not use Redis, by reason.", "resource", "reason"),
		loads:       hist("load_duration_seconds", "Foreground loads (fills), stored or failed.", loadBuckets, "resource", "result"),
		refreshes:   counter("refreshes_total", "Background refreshes: ok, failed, skipped.", "resource", "result"),
		refreshTime: hist("refresh_duration_seconds", "Loader time of background refreshes, ok or failed.", loadBuckets, "resource"),
		revalidated: counter("revalidations_total", "Fills and refreshes whose loader confirmed the stored value (an HTTP 304): only what changed went to Redis.", "resource"),
		lockWaits:   counter("lock_waits_total", "Waits for a fill lock another instance held, by how they ended: stored, taken, timeout.", "resource", "result"),
		lockTime:    hist("lock_wait_duration_seconds", "Time spent waiting for a fill lock another instance held.", loadBuckets, "resource"),
		corrupt:     counter("corrupt_entries_total", "Entries that failed to decode or belonged to another key; treated as misses.", "resource"),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "redis_errors_total", Help: "Redis operations that failed or timed out."}),
		breaker:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "breaker_state", Help: "Circuit breaker state: 0 closed, 1 half-open, 2 open; node is a Cluster master's address, or empty."}, []string{"node"}),
		transitions: counter("breaker_transitions_total", "Circuit breaker state changes, by the state entered.", "node", "to"),
		invalidated: counter("invalidations_total", "Invalidations: done, queued (Redis unreachable), replayed, lost, not-stored, subscription-lost.", "result"),
		resources:   resources{max: cfg.MaxResources},
		reg:         cfg.Registerer,
		ns:          ns,
	}
	if m.resources.max == 0 {
		m.resources.max = 100
	}
	cs := []prometheus.Collector{m.lookups, m.latency, m.bypasses, m.loads, m.refreshes, m.refreshTime, m.revalidated,
		m.lockWaits, m.lockTime, m.corrupt, m.redisErrors, m.breaker, m.transitions, m.invalidated}
	if cfg.Redis != nil {
		cs = append(cs, newInfoCollector(ns, cfg.Redis, cfg.RedisEvery, cfg.RedisTimeout))
	}
	for i, c := range cs {
		if err := cfg.Registerer.Register(c); err != nil {
			for _, r := range cs[:i] {
				cfg.Registerer.Unregister(r)
			}
			return nil, fmt.Errorf("promcache: %w", err)
		}
	}
	m.breaker.WithLabelValues("").Set(0) // the state before any change: closed
	return m, nil
}

// WatchMemory registers the gauges of e's memory tier, read at scrape
// time: swrcache_memory_bytes (by the tier's weighing, at most its
// MaxBytes), swrcache_memory_entries and swrcache_memory_live (1 while
// its subscription hears the notices). Call it once the engine is built.
func (m *Metrics) WatchMemory(e *core.Engine) error {
	gauge := func(name, help string, f func(core.MemoryStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: m.ns, Name: name, Help: help},
			func() float64 { return f(e.MemoryStats()) })
	}
	for _, c := range []prometheus.Collector{
		gauge("memory_bytes", "Bytes the memory tier holds, by its own weighing.", func(s core.MemoryStats) float64 { return float64(s.Bytes) }),
		gauge("memory_entries", "Entries the memory tier holds.", func(s core.MemoryStats) float64 { return float64(s.Entries) }),
		gauge("memory_live", "1 while the memory tier's subscription hears the invalidation notices.", func(s core.MemoryStats) float64 {
			if s.Live {
				return 1
			}
			return 0
		}),
	} {
		if err := m.reg.Register(c); err != nil {
			return fmt.Errorf("promcache: %w", err)
		}
	}
	return nil
}

// Hook records ev; set it as core.Config.OnEvent (with core.Hooks to
// combine it with others).
func (m *Metrics) Hook(_ context.Context, ev core.Event) {
	switch ev.Kind {
	case core.EventHit, core.EventStale, core.EventStaleIfError, core.EventMiss, core.EventCollapsed, core.EventBypass:
		s := m.outcome(ev.Resource, ev.Kind)
		s.count.Inc()
		s.latency.Observe(ev.Duration.Seconds())
		if ev.Kind == core.EventBypass {
			m.bypasses.WithLabelValues(m.resources.label(ev.Resource), bypassReason(ev.Detail)).Inc()
		}
	case core.EventFill:
		m.loads.WithLabelValues(m.resources.label(ev.Resource), "stored").Observe(ev.Duration.Seconds())
		if ev.Detail == "revalidated" {
			m.revalidated.WithLabelValues(m.resources.label(ev.Resource)).Inc()
		}
	case core.EventLoadFailed:
		m.loads.WithLabelValues(m.resources.label(ev.Resource), "failed").Observe(ev.Duration.Seconds())
	case core.EventRefreshOK, core.EventRefreshFailed:
		res := m.resources.label(ev.Resource)
		result := "ok"
		if ev.Kind == core.EventRefreshFailed {
			result = "failed"
		}
		m.refreshes.WithLabelValues(res, result).Inc()
		m.refreshTime.WithLabelValues(res).Observe(ev.Duration.Seconds())
		if ev.Detail == "revalidated" {
			m.revalidated.WithLabelValues(res).Inc()
		}
	case core.EventRefreshSkipped:
		m.refreshes.WithLabelValues(m.resources.label(ev.Resource), "skipped").Inc()
	case core.EventLockContended:
		res := m.resources.label(ev.Resource)
		m.lockWaits.WithLabelValues(res, oneOf(ev.Detail, "stored", "taken", "timeout", "redis-error", "cancelled")).Inc()
		m.lockTime.WithLabelValues(res).Observe(ev.Duration.Seconds())
	case core.EventCorrupt:
		m.corrupt.WithLabelValues(m.resources.label(ev.Resource)).Inc()
	case core.EventRedisError:
		m.redisErrors.Inc()
	case core.EventBreaker:
		m.breakerChanged(ev)
	case core.EventInvalidate:
		m.invalidated.WithLabelValues(invalidation(ev)).Inc()
	}
}

// outcome returns the series of one resource's outcome, made once.
func (m *Metrics) outcome(resource string, kind core.EventKind) outcomeSeries {
	k := outcomeKey{resource, kind}
	if s, ok := m.outcomes.Load(k); ok {
		return s.(outcomeSeries)
	}
	label := m.resources.label(resource)
	s := outcomeSeries{
		count:   m.lookups.WithLabelValues(label, kind.String()),
		latency: m.latency.WithLabelValues(label, kind.String()),
	}
	if label != "other" { // "other" is looked up each time: it stands for unbounded names
		m.outcomes.Store(k, s)
	}
	return s
}

var breakerStates = map[string]float64{"closed": 0, "half-open": 1, "open": 2}

func (m *Metrics) breakerChanged(ev core.Event) {
	to, ok := breakerStates[ev.To]
	if !ok {
		return // "failing" → "answering": a node's recovery, not a breaker state
	}
	node := ev.Detail // a Cluster master's address, or "" for the one breaker
	m.breaker.WithLabelValues(node).Set(to)
	m.transitions.WithLabelValues(node, ev.To).Inc()
}

// invalidation names what an invalidate event reports.
func invalidation(ev core.Event) string {
	d := ev.Detail
	switch {
	case strings.HasPrefix(d, "replayed"):
		return "replayed"
	case strings.HasPrefix(d, "lost at close"):
		return "lost"
	case strings.HasPrefix(d, "subscription lost"):
		return "subscription-lost"
	case strings.Contains(d, "not stored"):
		return "not-stored"
	case ev.Err != nil:
		return "queued"
	}
	return "done"
}

// knownReasons are the bypass reasons of the engine and the HTTP layer;
// anything else is counted as "other", so a label never grows unbounded.
var knownReasons = []string{
	"breaker-open", "redis-error", "invalidation-pending", "cancelled", // core
	"body", "disabled", "skipped", "upgrade", "stream", "authorization", "no-cache", "sampled-out",
	"tenant", "key", "uncacheable", "vary-value", "vary", "error", // middleware
}

func bypassReason(d string) string { return oneOf(d, knownReasons...) }

func oneOf(v string, known ...string) string {
	for _, k := range known {
		if v == k {
			return v
		}
	}
	return "other"
}

// resources bounds the resource label: the first max names seen keep
// their own; later ones share "other".
type resources struct {
	max int
	mu  sync.Mutex
	m   map[string]struct{} // protected by mu
}

func (r *resources) label(name string) string {
	if name == "" {
		return "unnamed"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.m[name]; ok {
		return name
	}
	if len(r.m) >= r.max {
		return "other"
	}
	if r.m == nil {
		r.m = make(map[string]struct{})
	}
	r.m[name] = struct{}{}
	return name
}
