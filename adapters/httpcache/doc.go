// Package httpcache is the swrcache middleware for net/http and anything
// built on http.Handler, such as chi:
//
//	mw, err := httpcache.New(engine, httpcache.Config{TTL: time.Minute, Key: httpcache.Key{Resource: "users"}})
//	mux.Handle("GET /users/{id}", mw(getUser))
//
// It never wraps the ResponseWriter it passes on: requests that bypass the
// cache reach the handler with the server's own writer, so Flusher,
// Hijacker and http.ResponseController work as before.
package httpcache
