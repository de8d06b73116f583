package deploy_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
	"github.com/swrcache/swrcache/promcache"
)

// The metrics table the deploy tests check the files against is what
// promcache exports: the same names, types and labels.
func TestMetricListIsWhatPromcacheExports(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := promcache.New(promcache.Config{Registerer: reg, Redis: redistest.Client(t)})
	if err != nil {
		t.Fatal(err)
	}
	e, err := core.New(core.Config{Client: redistest.Client(t), Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	if err := m.WatchMemory(e); err != nil {
		t.Fatal(err)
	}
	// One event of every kind, so that every vector has a series.
	for kind := core.EventHit; kind.String() != "unknown"; kind++ {
		m.Hook(context.Background(), core.Event{Kind: kind, Resource: "r", Err: errors.New("x"), From: "closed", To: "open"})
	}
	m.Hook(context.Background(), core.Event{Kind: core.EventFill, Resource: "r", Detail: "revalidated"})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]metric{}
	for _, f := range families {
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		got[f.GetName()] = metric{histogram: f.GetType() == dto.MetricType_HISTOGRAM, labels: labels}
	}
	want := maps.Clone(metrics)
	if redistest.Embedded() { // miniredis answers INFO without the memory, client and stats fields
		t.Log("embedded miniredis: the Redis INFO gauges other than swrcache_redis_up are not compared")
		maps.DeleteFunc(want, func(name string, _ metric) bool {
			return strings.HasPrefix(name, "swrcache_redis_") && name != "swrcache_redis_up" && name != "swrcache_redis_errors_total"
		})
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		w := want[name]
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: promcache does not export it", name)
		case w.histogram != g.histogram:
			t.Errorf("%s: histogram %v here, %v in promcache", name, w.histogram, g.histogram)
		case !slices.Equal(slices.Sorted(slices.Values(w.labels)), slices.Sorted(slices.Values(g.labels))):
			t.Errorf("%s: labels %v here, %v in promcache", name, w.labels, g.labels)
		}
	}
	for name := range got {
		if _, ok := metrics[name]; !ok {
			t.Errorf("promcache exports %s, which the deploy metrics table lacks", name)
		}
	}
}
