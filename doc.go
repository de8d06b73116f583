// Package swrcache puts Redis in front of existing HTTP handlers and
// functions: stale-while-revalidate, one origin call per key across every
// instance, and a circuit breaker that sends traffic straight to the
// origin when Redis is slow or down.
//
// The kit is split by concern, dependencies pointing inward:
//
//   - core: the engine (entries, read path, fills, locks, refresh,
//     invalidation, events) and the Fetch/FetchMany decorators;
//   - breaker: a circuit breaker for core, built on sony/gobreaker;
//   - keyfunc: canonical, tenant-scoped cache keys for HTTP requests;
//   - middleware: the HTTP caching policy on net/http types;
//   - adapters/httpcache, adapters/echocache, adapters/gincache: one-line
//     middleware for net/http (and chi), echo v4 and gin.
//
// The tests in this directory run one table of HTTP behaviours, a stampede
// and a Redis outage through every adapter. See the README for a tour.
package swrcache
