// Package core is the engine of swrcache: a Redis cache in front of any
// loader, with stale-while-revalidate, stampede control across instances,
// and a fail-open path for when Redis is slow or down.
//
// An Engine is built once per process with New and shared by every route
// or call site. Fetch caches one value, FetchMany removes an N+1, and
// Lookup and LookupValue work on raw bytes for the HTTP layer.
//
// # Entries and their clock
//
// Each item is one Redis value: a magic prefix, a format version, then a
// msgpack map holding the value, the time it was stored, the end of its
// fresh period, of its stale-while-revalidate window and of its
// stale-if-error window (Unix milliseconds), its tags, and a fingerprint of
// the key's full identity. Freshness is decided from those times, never
// from the Redis TTL, which is only the hard expiry. An entry that fails to
// decode, has another version, or carries another key's fingerprint is a
// miss: reported as EventCorrupt, overwritten by the fill, never served.
//
// # Read path
//
// A fresh entry is served; inside the refresh-ahead window before it goes
// stale (or earlier, by XFetch's probabilistic draw) a background refresh
// starts. A stale entry inside its SWR window is served at once and
// refreshed in the background. Otherwise the caller fills: callers in this
// process share one fill (singleflight, on a context detached from all of
// them, each waiting on its own context), and across instances one takes
// a Redis lock (SET NX PX with a random token) while the others poll for
// its value, taking the lock over if its holder stalls past the lock's
// TTL. The holder stores only while it still holds the lock and releases
// it with a compare-and-delete script. If the loader fails and the old
// entry is inside its stale-if-error window, the old value is served.
//
// Background refreshes belong to the engine: a bounded pool that skips
// work when full, deduplicated in-process and by a try-lock across
// instances, recovered from panics, and waited for by Close.
//
// # Failure model
//
// Redis is an optimisation, never a dependency of correctness. Every Redis
// operation has its own deadline (Config.OpTimeout), enforced even for a
// client that ignores context deadlines, and goes through the Breaker.
// When Redis fails or the breaker is open, the loader is called instead,
// still coalesced within the process; the result says so (StatusBypass).
// Lookups never return an error because of Redis.
//
// # Events
//
// The engine never logs on its own. Everything it does is reported to
// Config.OnEvent, and to Config.Logger when one is set, so metrics and
// logs can be added without touching it.
package core
