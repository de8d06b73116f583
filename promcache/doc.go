// Package promcache exports swrcache's events as Prometheus metrics.
//
// Metrics.Hook is a core.Config.OnEvent hook (combine it with others
// with core.Hooks). Every lookup ends with exactly one outcome event, so
// the counters add up: swrcache_lookups_total{resource,outcome} counts
// lookups by outcome (hit, stale, stale-if-error, miss, collapsed,
// bypass), and swrcache_lookup_duration_seconds times them, with classic
// buckets that cover the operating guide's targets (p50 under 2 ms, p99
// under 10 ms, alert above 50 ms). The hit ratio is
//
//	sum(rate(swrcache_lookups_total{outcome=~"hit|stale|stale-if-error"}[5m]))
//	  / sum(rate(swrcache_lookups_total[5m]))
//
// The steps inside lookups have their own metrics: loads, refreshes,
// lock waits, corrupt entries, Redis errors, breaker state and
// transitions, invalidations, and bypass reasons.
//
// Labels are bounded: resource is core.Policy.Resource (or the route's
// pattern, for the HTTP adapters), never a key or a tenant, and at most
// Config.MaxResources of them; reasons and results come from fixed sets.
//
// With Config.Redis set, a collector reads INFO from every Redis master
// at scrape time, at most once per Config.RedisEvery and within
// Config.RedisTimeout, for the memory, client and eviction alerts:
// swrcache_redis_memory_used_bytes against swrcache_redis_memory_max_bytes,
// swrcache_redis_connected_clients against swrcache_redis_max_clients.
//
// The alert rules and the Grafana dashboard built on these names are in
// the repository's deploy directory; they expect the default Namespace.
package promcache
