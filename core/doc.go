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
// stale-if-error window (Unix milliseconds), when it is kept past them to
// be revalidated (Lifetime.Keep), its tags, and a fingerprint of the key's
// full identity. The times come from the Policy, or from the item's own
// Lifetime. Freshness is decided from those times, never from the Redis
// TTL, which is only the hard expiry. An entry that fails to
// decode, has another version, or carries another key's fingerprint is a
// miss: reported as EventCorrupt, overwritten by the fill, never served.
//
// # Read path
//
// A fresh entry is served; inside the refresh-ahead window before it goes
// stale (or earlier, by XFetch's probabilistic draw) a background refresh
// starts. A stale entry inside its SWR window is served at once and
// refreshed in the background. Otherwise the caller takes part in a fill:
// the first caller in the process for the key leads it and the others
// wait for its item, each on its own context; across instances one leader
// takes a Redis lock (SET NX PX with a random token) while the others poll
// for its value, taking the lock over if its holder stalls past the
// lock's TTL. The holder stores only while it still holds the lock and
// releases it with a compare-and-delete script. If the load fails and the
// old entry is inside its stale-if-error window, the old value is served.
//
// A Loader produces an item: Load for a fill, Reload for a background
// refresh. A load is given the value it replaces when Redis still holds
// one (Fill.Previous; a Revalidator's refreshes get it too), and a value
// that ends as that one did is stored without sending the unchanged tail
// again (Item.Unchanged). Lookup runs Load on its leader's goroutine and context, which
// lets the HTTP layer run a handler on the request that leads the fill and
// stream its response; a panic there goes on up that goroutine. Fetch runs
// its load on a goroutine of the engine, detached from every caller and
// bounded by LoadTimeout, so a caller that gives up fails no other. A load
// that learns its item will not be shared (a stream) lets its waiters go
// at once with Fill.Release.
//
// Background refreshes belong to the engine: a bounded pool that skips
// work when full, deduplicated in-process and by a try-lock across
// instances, recovered from panics. Close waits for them, for fills in
// flight, and for Redis calls the engine gave up on.
//
// # Invalidation
//
// Invalidate and InvalidateTags delete the items they name and their fill
// locks, and mark each tag with the time of its Redis node: a fill whose
// load began before one of its tags was marked stores nothing (it reads
// the node's time with the marks, so no two clocks are compared). An invalidation that cannot
// reach Redis is never dropped: it is queued (bounded, deduplicated),
// replayed past the breaker as soon as Redis answers, and until then this
// engine serves nothing it names from the cache. An engine that saw a
// node fail also serves no entry stored before that node answered again
// for a short grace, long enough for every other instance to replay what
// it queued. Subscribe hears the notices of every instance, follows a
// Sentinel failover, and says when notices may have been missed.
//
// # Topologies
//
// A single node, Sentinel (a failover client) and Cluster all work. In a
// Cluster no command spans slots (names may not contain braces, so an item
// and its lock share one), and a Breaker with AllowNode is asked per
// master (see Breaker), so a dead master bypasses only the keys it owns.
//
// # Failure model
//
// Redis is an optimisation, never a dependency of correctness. Every Redis
// operation has its own deadline (Config.OpTimeout), enforced even for a
// client that ignores context deadlines (the call then finishes on a
// goroutine of the engine, and its result comes back by value, so nothing
// is shared with a caller that gave up), and goes through the Breaker.
// When Redis fails or the breaker is open, the loader is called instead,
// still coalesced within the process; the result says so (StatusBypass).
// Lookups never return an error because of Redis.
//
// # Events
//
// The engine never logs on its own. Everything it does is reported to
// Config.OnEvent, and to Config.Logger when one is set, so metrics and
// logs can be added without touching it: the promcache, otelcache and
// slogcache packages are such hooks, combined with Hooks. Every lookup
// ends with exactly one outcome event (EventKind.Outcome: hit, stale,
// stale-if-error, miss, collapsed, bypass), timed and named by
// Policy.Resource; the steps inside it (fills, lock waits, refreshes,
// Redis errors) are events of their own. A layer that makes several
// lookups for one request reports its outcome itself: its Loader is an
// OutcomeReporter, and it calls Engine.Report.
package core
