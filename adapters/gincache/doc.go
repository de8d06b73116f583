// Package gincache is the swrcache middleware for gin. It puts Redis in
// front of a route with stale-while-revalidate, one handler call per URL
// across every instance, and a circuit breaker:
//
//	router := gin.New()
//	router.Use(gin.Recovery())
//	cached, err := gincache.New(engine, router, gincache.Config{
//		TTL:                  30 * time.Second,
//		StaleWhileRevalidate: 5 * time.Minute,
//		Key:                  gincache.Key{Resource: "user"},
//	})
//	if err != nil { ... }
//	router.GET("/users/:id", cached, getUser)
//
// A hit is written by the middleware, which then aborts the chain: the
// handlers after it do not run. A request that bypasses the cache (a POST,
// an Authorization header, the Skipper...) runs the rest of the chain on
// gin's own writer, untouched.
//
// # Fills run in a request of their own
//
// gin recycles its *gin.Context as soon as a request ends, but a fill may
// outlive the request that started it (its client may leave while other
// callers still wait for the response) and a background refresh runs long
// after. So a fill never touches the caller's context: the middleware sends
// a copy of the request through the router again, on the fill's goroutine,
// and recognises it when it arrives (see middleware.Redispatch). That is
// why New takes the *gin.Engine, and it has three consequences:
//
//   - Middleware registered before the cache (router.Use, a group's
//     middleware, handlers before the cache on the route) runs once more
//     for a fill: gin.Logger logs it as a request of its own. A background
//     refresh carries no cookies and no credentials, so an authentication
//     middleware before the cache refuses it and the entry is simply not
//     refreshed; with TenantHeader the tenant header is carried.
//   - What that middleware does to the response of a fill is not stored:
//     the headers it set before the cache ran are dropped, and each hit gets
//     the ones its own request set. A request ID or a cookie set by an
//     outer middleware therefore neither leaks into other responses nor
//     keeps the route from being stored. Middleware that rewrites the body
//     must not come before the cache: a compressor there would compress
//     each hit a second time. Wrap the router instead (an http.Handler
//     around it stays outside the fills), or put it after the cache, with
//     Accept-Encoding in Key.Headers.
//   - A route is cached for GET; for HEAD to be served from the same entry,
//     register the route for HEAD too (router.Match with both methods).
//
// A handler that calls c.Abort (or c.AbortWithStatus...) or records an
// error with c.Error is not stored: its response goes to the caller that
// triggered it alone. A panic in a fill reaches gin.Recovery in the fill's
// own request, whose answer (a 500, or what the handler wrote before it
// panicked) is never stored; with no recovery middleware the panic is
// raised again in the caller's request, and nothing is stored either.
package gincache
