// Package middleware is swrcache's HTTP caching policy on net/http types,
// shared by the framework adapters (adapters/httpcache, echocache,
// gincache): what may be stored, how a response is captured and replayed,
// the Cache-Status and Age headers, conditional requests, Vary, and how
// fills and background refreshes run the route.
//
// A Cache applies one route's Config on top of a core.Engine. Serve takes
// two functions from the adapter: Next serves requests that bypass the
// cache, on the request's own goroutine and writer; a Runner fills and
// refreshes entries from a goroutine of the engine's, after the request
// that triggered it may have finished. For net/http the inner handler is
// both. echo and gin recycle their per-request contexts when a request
// returns, so their Runner (Redispatch) sends a copy of the request through
// the framework again, marked so that the adapter runs the rest of its
// chain into the cache's recorder (RunDispatched).
//
// What is stored is decided twice: before the handler runs (method, a
// request body, Authorization, tenant, upgrades and streams, the kill
// switch, the canary rate) and after (status, Set-Cookie, Cache-Control,
// Vary: *, size, streaming, an error or abort). A response that may not
// be stored goes to the request that produced it only; requests that
// collapsed onto that fill run the handler themselves. Background
// refreshes run a request rebuilt from the one that found the entry stale,
// with the key's headers and the tenant and none of its credentials.
//
// Invalidator handles write routes: after a 2xx answer to a POST, PUT,
// PATCH or DELETE, and before that answer reaches the client, it
// invalidates the tags the route names.
package middleware
