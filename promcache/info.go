package promcache

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// infoField is one INFO field exported as a metric.
type infoField struct {
	field string
	desc  *prometheus.Desc
	kind  prometheus.ValueType
}

// infoCollector reads INFO from every Redis node at scrape time, at most
// once per every, each read bounded by timeout, so that a busy scrape
// schedule or a stuck Redis never piles up commands.
type infoCollector struct {
	rdb     redis.UniversalClient
	every   time.Duration
	timeout time.Duration
	up      *prometheus.Desc
	fields  []infoField

	mu     sync.Mutex // serialises reads; protects last and at
	last   []prometheus.Metric
	at     time.Time
	readMu sync.Mutex // protects nodes during one read
	nodes  map[string]map[string]string
}

func newInfoCollector(ns string, rdb redis.UniversalClient, every, timeout time.Duration) *infoCollector {
	if every == 0 {
		every = 10 * time.Second
	}
	if timeout == 0 {
		timeout = time.Second
	}
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(ns+"_redis_"+name, help, []string{"node"}, nil)
	}
	g, c := prometheus.GaugeValue, prometheus.CounterValue
	return &infoCollector{
		rdb: rdb, every: every, timeout: timeout,
		up: d("up", "Whether the Redis node answered INFO at the last read."),
		fields: []infoField{
			{"used_memory", d("memory_used_bytes", "INFO used_memory: bytes the allocator holds for data."), g},
			{"maxmemory", d("memory_max_bytes", "INFO maxmemory: the memory limit; 0 means none."), g},
			{"mem_fragmentation_ratio", d("mem_fragmentation_ratio", "INFO mem_fragmentation_ratio: RSS over used memory (meaningless on small instances)."), g},
			{"connected_clients", d("connected_clients", "INFO connected_clients."), g},
			{"maxclients", d("max_clients", "INFO maxclients."), g},
			{"evicted_keys", d("evicted_keys_total", "INFO evicted_keys: keys evicted for maxmemory."), c},
			{"keyspace_hits", d("keyspace_hits_total", "INFO keyspace_hits."), c},
			{"keyspace_misses", d("keyspace_misses_total", "INFO keyspace_misses."), c},
		},
	}
}

// Describe sends the descriptors of the Redis gauges.
func (c *infoCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	for _, f := range c.fields {
		ch <- f.desc
	}
}

// Collect sends the last values, reading them again if they are older
// than every.
func (c *infoCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if time.Since(c.at) >= c.every {
		c.last, c.at = c.read(), time.Now()
	}
	last := c.last
	c.mu.Unlock()
	for _, m := range last {
		ch <- m
	}
}

// read reads INFO from every node and turns it into metrics.
func (c *infoCollector) read() []prometheus.Metric {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	c.nodes = map[string]map[string]string{}
	switch rdb := c.rdb.(type) {
	case *redis.ClusterClient:
		_ = rdb.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			c.readNode(ctx, n.Options().Addr, n)
			return nil
		})
	case *redis.Client:
		c.readNode(ctx, rdb.Options().Addr, rdb)
	default:
		c.readNode(ctx, "", c.rdb)
	}
	var out []prometheus.Metric
	for node, info := range c.nodes {
		up := 0.0
		if info != nil {
			up = 1
		}
		out = append(out, prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, node))
		for _, f := range c.fields {
			if v, err := strconv.ParseFloat(info[f.field], 64); err == nil {
				out = append(out, prometheus.MustNewConstMetric(f.desc, f.kind, v, node))
			}
		}
	}
	return out
}

func (c *infoCollector) readNode(ctx context.Context, node string, n redis.Cmdable) {
	// INFO with no section: its default sections hold every field read
	// here, and one section per call is all Redis before 7.0 accepts.
	raw, err := n.Info(ctx).Result()
	var info map[string]string
	if err == nil {
		info = parseInfo(raw)
	}
	c.readMu.Lock()
	c.nodes[node] = info
	c.readMu.Unlock()
}

// parseInfo turns INFO's "field:value" lines into a map.
func parseInfo(raw string) map[string]string {
	m := map[string]string{}
	for line := range strings.Lines(raw) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && !strings.HasPrefix(k, "#") {
			m[k] = v
		}
	}
	return m
}
