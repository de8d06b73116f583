// Package middleware is swrcache's HTTP caching policy on net/http types,
// shared by the framework adapters (adapters/httpcache, echocache,
// gincache): what may be stored, how a response is recorded and replayed,
// the Cache-Status and Age headers, conditional requests, Vary, and how
// fills and background refreshes run the route.
//
// A Cache applies one route's Config on top of a core.Engine. An adapter
// calls Serve with the request, its writer at the cache's position in the
// chain, and two functions: Next, which runs the rest of the chain (the
// handlers after the cache) with a writer and request Serve may replace,
// on the request's own goroutine; and a Runner for background refreshes.
//
// # Fills
//
// A request that finds no usable entry leads the fill of its key, in this
// process, and across instances by a Redis lock (see core.Lookup). It runs
// the rest of the chain itself, through a fillWriter: the handlers write
// their header into a map of their own, so nothing middleware before the
// cache set (a request ID, CORS, a compressor's Content-Encoding) is
// stored, and the body is recorded up to MaxBody. The response goes on to
// the client at the same time: a small one (up to 4 KiB) once the fill is
// stored, with a Cache-Status that says so; a larger one, or one that
// flushes, as it is written. A response past MaxBody, flushed or hijacked
// is not stored, and the requests waiting on the fill are let go at once
// to run the handler themselves, as are those waiting on a response that
// may not be shared (Set-Cookie, Cache-Control: private...).
//
// What is stored is decided twice: before the handler runs (method, a
// request body, Authorization, tenant, upgrades and streams, the kill
// switch, the canary rate) and after (status, Set-Cookie, Cache-Control,
// Vary: *, size, streaming, an error or abort).
//
// # Freshness
//
// A route's Freshness says where a stored response's lifetime comes from.
// RouteTTL, the default, stores it for the route's Policy. FromResponse
// reads it as an HTTP cache does (origin.go): the first valid targeted
// field (RFC 9213), else s-maxage, max-age or Expires, less the response's
// age; the route's TTL as the heuristic lifetime and the cap; its
// stale-while-revalidate and stale-if-error within the route's windows.
// It hands the engine a core.Lifetime per response. In both modes a stale
// response with a validator is revalidated (revalidate.go): the handler
// gets a conditional request, and a 304 updates the stored header without
// the body being sent to Redis again (core.Item.Unchanged). A stored 200
// answers a client's conditionals and a single Range itself
// (conditional.go).
//
// # Refreshes
//
// Background refreshes run a request rebuilt from the one that found the
// entry due, with the key's headers and the tenant and none of its
// credentials, marked so that IsRefresh reports it. For net/http the
// handler after the cache is the Runner; echo and gin recycle their
// per-request contexts, so their Runner (Redispatch) sends the request
// through the router again and the adapter, at the cache's position, runs
// the rest of the chain into the refresh's recorder (RunDispatched).
//
// # Write routes
//
// Invalidator handles write routes: after a 2xx answer to a POST, PUT,
// PATCH or DELETE, and before that answer reaches the client, it
// invalidates the tags the route names. With InvalidateOnWrite (on by
// default in FromResponse mode), a cached route also invalidates, on a
// non-error answer to an unsafe method, the stored responses of the
// request's URL, Location and Content-Location (unsafe.go, RFC 9111
// section 4.4).
package middleware
