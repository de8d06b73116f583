// Package echocache is the swrcache middleware for echo v4
// (github.com/labstack/echo/v4), a native echo.MiddlewareFunc:
//
//	users, err := echocache.New(engine, echocache.Config{
//		Policy: core.Policy{TTL: time.Minute, StaleWhileRevalidate: 10 * time.Minute},
//		Key:    echocache.KeySpec{Resource: "users"},
//	})
//	if err != nil { ... }
//	e.GET("/users/:id", getUser, users)
//
// Config is the same for every adapter (middleware.Config); New,
// Invalidate and IsRefresh are the same three functions as in httpcache
// and gincache. Echo routes HEAD only where a route is registered for it;
// register a cached route with e.Match([]string{http.MethodGet,
// http.MethodHead}, ...) to serve HEAD from the GET entry.
//
// # Where it sits in the chain
//
// What is stored is exactly what the rest of the chain writes: it gets an
// echo.Response of its own, on a writer that records the response and
// sends it on to the echo.Response that middleware before the cache set
// up, with its headers, writer wrappers (Gzip) and Before hooks. Those
// apply to every response, hit or miss, and are never stored.
//
// Middleware before the cache runs once per client request. A miss runs
// the rest of the chain on the client's own request and echo.Context;
// requests for the same URL that arrive meanwhile wait for it and get its
// response, or run the handler themselves when it cannot be shared.
//
// A background refresh has no client request: echo recycles its Context,
// so the middleware sends a request rebuilt from the one that found the
// entry due (the URL, the key's headers and the tenant; no cookies, no
// credentials) through echo again (Config.Router, else the echo instance
// that served the route), and records the rest of the chain when it
// reaches the cache. Middleware before the cache runs for it; IsRefresh
// tells such requests apart:
//
//	e.Use(middleware.LoggerWithConfig(middleware.LoggerConfig{Skipper: echocache.IsRefresh}))
//
// An authentication middleware before the cache refuses a refresh (it
// carries no credentials) and the entry is then not refreshed: on such
// routes leave StaleWhileRevalidate at 0.
//
// # Errors and panics
//
// An error returned by the route is returned by the middleware untouched,
// for echo's HTTPErrorHandler; nothing is stored. Requests that waited on
// that fill get the same error. A panic goes up the client's own request
// to echo's Recover, as without the cache; requests that waited on it get
// a 500, and the middleware returns middleware.ErrHandlerPanicked for
// them. Nothing is stored.
package echocache
