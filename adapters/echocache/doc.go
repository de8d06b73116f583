// Package echocache is the swrcache middleware for echo v4
// (github.com/labstack/echo/v4). It reads like echo's own middleware: a
// Config with a Skipper, New and Config.ToMiddleware that return an error,
// and WithConfig that panics on an invalid Config, as echo's XWithConfig
// functions do.
//
//	cache := echocache.WithConfig(engine, echocache.Config{Policy: echocache.Policy{
//		TTL: 30 * time.Second, Key: echocache.Key{Resource: "product"}, TenantHeader: "X-Tenant",
//	}})
//	e.GET("/products/:id", getProduct, cache)
//
// Echo routes HEAD only where a route is registered for it; register a
// cached route with e.Match([]string{http.MethodGet, http.MethodHead}, ...)
// to serve HEAD from the GET entry.
//
// # Misses, refreshes and the rest of the chain
//
// Echo recycles its Context when a request ends, but a fill runs on a
// context detached from every caller, and a background refresh runs long
// after the request that triggered it. So neither ever touches the
// caller's echo.Context: the cache sends the request through the whole
// echo instance again (middleware.Redispatch), and echo gives it a Context
// of its own, on a copy of the request. Middleware registered before the
// cache (e.Pre, e.Use, a group's, the route's own listed earlier) therefore
// runs once more for a fill; IsFill lets a logger or a metrics middleware
// skip those requests:
//
//	e.Use(middleware.LoggerWithConfig(middleware.LoggerConfig{Skipper: echocache.IsFill}))
//
// What is stored is what the route after the cache produced, as with
// net/http: when a fill reaches the cache, the rest of the chain writes to
// the recorder through a fresh echo.Response with an empty header. The
// headers, writer wrappers (Gzip) and Before hooks that earlier middleware
// set up for the fill are dropped; they run again on every client request,
// hit or miss, on the real response. A background refresh carries only the
// key's headers and the tenant header, so middleware before the cache that
// refuses such a request (authentication) keeps refreshes from storing
// anything, and the stale entry is served until its window ends: on such
// routes leave StaleWhileRevalidate at 0.
//
// # Errors and panics
//
// An error returned by the route is returned by the middleware untouched,
// on the client's request, for echo's HTTPErrorHandler; nothing is stored.
// The fill's own run through echo returns nil, so the error is rendered and
// logged once. A panic in the route is taken out of the fill's run and
// raised again on the client's goroutine, where echo's Recover middleware
// sees it; nothing is stored, not even a response written before the panic.
//
// Requests that bypass the cache (a Skipper, a method other than GET and
// HEAD, an Authorization header, ...) run the rest of the chain with the
// request's own Context and echo.Response, untouched.
package echocache
