// Package swrcache puts Redis in front of existing handlers and functions:
// stale-while-revalidate, one origin call per key across every instance,
// and a circuit breaker that sends traffic straight to the origin when
// Redis is slow or down.
//
// The kit is split by concern:
//
//   - core: the engine (entries, read path, fills, locks, refresh,
//     invalidation, events) and the Fetch/FetchMany decorators;
//   - breaker: a circuit breaker for core, built on sony/gobreaker;
//   - keyfunc: canonical, tenant-scoped cache keys for HTTP requests.
//
// See the README for a tour.
package swrcache
