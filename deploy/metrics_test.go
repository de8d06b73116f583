package deploy_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// metric is one metric swrcache exports: its labels (besides the target
// labels job and instance) and, where the set is closed, a label's values.
type metric struct {
	histogram bool // exported as _bucket{le}, _sum and _count
	labels    []string
	values    map[string][]string
}

var (
	outcomes = map[string][]string{"outcome": {"hit", "stale", "stale-if-error", "miss", "collapsed", "bypass"}}
	nodeOnly = metric{labels: []string{"node"}}
)

// metrics lists every metric swrcache exports (namespace swrcache);
// TestMetricListIsWhatPromcacheExports keeps it in step with promcache.
var metrics = map[string]metric{
	"swrcache_lookups_total":              {labels: []string{"resource", "outcome"}, values: outcomes},
	"swrcache_lookup_duration_seconds":    {histogram: true, labels: []string{"resource", "outcome"}, values: outcomes},
	"swrcache_bypasses_total":             {labels: []string{"resource", "reason"}},
	"swrcache_load_duration_seconds":      {histogram: true, labels: []string{"resource", "result"}, values: map[string][]string{"result": {"stored", "failed"}}},
	"swrcache_refreshes_total":            {labels: []string{"resource", "result"}, values: map[string][]string{"result": {"ok", "failed", "skipped"}}},
	"swrcache_refresh_duration_seconds":   {histogram: true, labels: []string{"resource"}},
	"swrcache_revalidations_total":        {labels: []string{"resource"}},
	"swrcache_lock_waits_total":           {labels: []string{"resource", "result"}},
	"swrcache_lock_wait_duration_seconds": {histogram: true, labels: []string{"resource"}},
	"swrcache_corrupt_entries_total":      {labels: []string{"resource"}},
	"swrcache_redis_errors_total":         {},
	"swrcache_breaker_state":              nodeOnly,
	"swrcache_breaker_transitions_total":  {labels: []string{"node", "to"}, values: map[string][]string{"to": {"closed", "half-open", "open"}}},
	"swrcache_invalidations_total":        {labels: []string{"result"}},

	// The memory tier, read at scrape time (Metrics.WatchMemory).
	"swrcache_memory_bytes":   {},
	"swrcache_memory_entries": {},
	"swrcache_memory_live":    {},

	// Read from Redis INFO at scrape time, per node.
	"swrcache_redis_up":                      nodeOnly,
	"swrcache_redis_memory_used_bytes":       nodeOnly,
	"swrcache_redis_memory_max_bytes":        nodeOnly,
	"swrcache_redis_mem_fragmentation_ratio": nodeOnly,
	"swrcache_redis_connected_clients":       nodeOnly,
	"swrcache_redis_max_clients":             nodeOnly,
	"swrcache_redis_evicted_keys_total":      nodeOnly,
	"swrcache_redis_keyspace_hits_total":     nodeOnly,
	"swrcache_redis_keyspace_misses_total":   nodeOnly,
}

// targetLabels are added by Prometheus to every series it scrapes.
var targetLabels = []string{"job", "instance"}

// series returns the metric that exports the series name, and the labels a
// selector of it may use.
func series(name string) (metric, []string, bool) {
	if m, ok := metrics[name]; ok && !m.histogram {
		return m, append(slices.Clone(m.labels), targetLabels...), true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		m, ok := metrics[strings.TrimSuffix(name, suffix)]
		if !ok || !m.histogram || !strings.HasSuffix(name, suffix) {
			continue
		}
		labels := append(slices.Clone(m.labels), targetLabels...)
		if suffix == "_bucket" {
			labels = append(labels, "le")
		}
		return m, labels, true
	}
	return metric{}, nil, false
}

var (
	metricName = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:])(swrcache_[a-zA-Z0-9_]+)`)
	selector   = regexp.MustCompile(`(swrcache_[a-zA-Z0-9_]+)\s*\{([^}]*)\}`)
	matcher    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
	grouping   = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	literal    = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`) // no regex syntax
)

// checkMetricUse fails t with every problem metricProblems finds in text.
func checkMetricUse(t *testing.T, where, text string, q use) {
	t.Helper()
	for _, p := range metricProblems(text, q) {
		t.Errorf("%s: %s", where, p)
	}
}

// use says what a text holds: queries only, where a histogram's name
// alone selects nothing, or also prose, which may name the histogram.
type use int

const (
	queries use = iota
	prose
)

// metricProblems returns every swrcache_* name in text that is not an
// exported series (in prose, or a histogram), every label matcher on a
// label the series does not have or on a value the label never takes, and
// every by/without label that no swrcache series has.
func metricProblems(text string, q use) []string {
	var problems []string
	for _, m := range metricName.FindAllStringSubmatch(text, -1) {
		if _, _, ok := series(m[1]); !ok && (q == queries || !metrics[m[1]].histogram) {
			problems = append(problems, m[1]+" is not a metric swrcache exports")
		}
	}
	for _, sel := range selector.FindAllStringSubmatch(text, -1) {
		m, labels, ok := series(sel[1])
		if !ok {
			continue // reported above
		}
		for _, mt := range matcher.FindAllStringSubmatch(sel[2], -1) {
			label, op, value := mt[1], mt[2], mt[3]
			if !slices.Contains(labels, label) {
				problems = append(problems, fmt.Sprintf("%s has no label %q (it has %v)", sel[1], label, labels))
				continue
			}
			known, closed := m.values[label]
			if !closed || (op != "=" && op != "=~") || strings.Contains(value, "$") {
				continue
			}
			for _, v := range strings.Split(value, "|") {
				if (op == "=" || literal.MatchString(v)) && !slices.Contains(known, v) {
					problems = append(problems, fmt.Sprintf("%s{%s%s%q}: %q is not one of %v", sel[1], label, op, value, v, known))
				}
			}
		}
	}
	all := append(slices.Clone(targetLabels), "le")
	for _, m := range metrics {
		all = append(all, m.labels...)
	}
	for _, g := range grouping.FindAllStringSubmatch(text, -1) {
		for _, label := range strings.Split(g[1], ",") {
			if label = strings.TrimSpace(label); label != "" && !slices.Contains(all, label) {
				problems = append(problems, fmt.Sprintf("%q groups by %q, a label no swrcache series has", g[0], label))
			}
		}
	}
	return problems
}

func TestMetricProblemsAreFound(t *testing.T) {
	tests := []struct {
		name        string
		givenExpr   string
		expectFound bool
	}{
		{"an unknown name", `rate(swrcache_lookup_total[5m])`, true},
		{"a histogram without a suffix", `rate(swrcache_load_duration_seconds[5m])`, true},
		{"buckets of a counter", `rate(swrcache_lookups_total_bucket[5m])`, true},
		{"a label the metric lacks", `rate(swrcache_lookups_total{result="hit"}[5m])`, true},
		{"le outside _bucket", `swrcache_redis_up{le="1"}`, true},
		{"a misspelt outcome in a regex", `rate(swrcache_lookups_total{outcome=~"hit|stale_if_error"}[5m])`, true},
		{"a misspelt result", `rate(swrcache_refreshes_total{result="skiped"}[5m])`, true},
		{"a misspelt grouping label", `sum by (resorce) (rate(swrcache_lookups_total[5m]))`, true},
		{"a histogram quantile", `histogram_quantile(0.99, sum by (job, le) (rate(swrcache_lookup_duration_seconds_bucket{outcome=~"hit|stale"}[5m])))`, false},
		{"a variable and target labels", `sum by (resource) (rate(swrcache_refreshes_total{job=~"$job", instance!="a", result=~"ok|failed"}[5m]))`, false},
		{"a real regex", `rate(swrcache_lookups_total{outcome!~"stale.*"}[5m])`, false},
		{"an open label value", `swrcache_bypasses_total{reason="breaker-open"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := metricProblems(tt.givenExpr, queries)
			if found := len(got) > 0; found != tt.expectFound {
				t.Errorf("metricProblems(%s) = %q; want problems: %v", tt.givenExpr, got, tt.expectFound)
			}
		})
	}
}
