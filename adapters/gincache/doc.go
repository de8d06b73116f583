// Package gincache is the swrcache middleware for gin. It puts Redis in
// front of a route with stale-while-revalidate, one handler call per URL
// across every instance, and a circuit breaker:
//
//	router := gin.New()
//	router.Use(gin.Recovery(), gin.LoggerWithConfig(gin.LoggerConfig{Skip: gincache.IsRefresh}))
//	users, err := gincache.New(engine, gincache.Config{
//		Policy: core.Policy{TTL: time.Minute, StaleWhileRevalidate: 10 * time.Minute},
//		Key:    gincache.KeySpec{Resource: "users"},
//		Router: router, // background refreshes are sent through it
//	})
//	if err != nil { ... }
//	router.GET("/users/:id", users, getUser)
//
// Config is the same for every adapter (middleware.Config); New,
// Invalidate and IsRefresh are the same three functions as in httpcache
// and echocache.
//
// # Where it sits in the chain
//
// What is stored is exactly what the handlers after the cache write: the
// middleware gives them a writer of its own, which records the response
// and sends it on to gin's writer, as middleware before the cache left it.
// A compressor, a request ID, CORS headers, cookies of middleware before
// the cache apply to every response, hit or miss, and are never stored. A
// hit is written to gin's writer too, and the chain is aborted: the
// handlers after the cache do not run.
//
// Middleware before the cache runs once per client request. A miss runs
// the rest of the chain on the client's own request and gin.Context;
// requests for the same URL that arrive meanwhile wait for it and get its
// response, or run the handler themselves when it cannot be shared (a
// Set-Cookie, a stream, a response past MaxBody, which streams to its
// client from the first bytes and lets them go at once).
//
// A background refresh has no client request: gin recycles its Context
// when a request ends, so the middleware sends a request rebuilt from the
// one that found the entry due (the URL, the key's headers and the
// tenant; no cookies, no credentials) through Config.Router, and records
// the rest of the chain when it reaches the cache. Middleware before the
// cache runs for it; IsRefresh tells such requests apart, for loggers and
// metrics. An authentication middleware before the cache refuses it (it
// carries no credentials) and the entry is then not refreshed: on such
// routes leave StaleWhileRevalidate at 0.
//
// # Errors, aborts and panics
//
// A handler that calls c.Abort (or c.AbortWithStatus...) or records an
// error with c.Error is not stored: its response goes to its own client
// alone. A panic goes up the client's own request to gin.Recovery, as
// without the cache; requests that waited on it get a 500 and the error
// (middleware.ErrHandlerPanicked) in c.Errors. Nothing is stored.
//
// gin parses a request's query once per context. If middleware before the
// cache read it (c.Query...) and the route keys only some parameters
// (KeySpec.Query), a fill's handler would see the others: that response
// is then not stored.
//
// A route is cached for GET; for HEAD to be served from the same entry,
// register the route for HEAD too (router.Match with both methods).
package gincache
