// Package httpcache is the swrcache middleware for net/http and anything
// built on http.Handler, such as chi:
//
//	users, err := httpcache.New(engine, httpcache.Config{
//		Policy: core.Policy{TTL: time.Minute},
//		Key:    httpcache.KeySpec{Resource: "users"},
//	})
//	if err != nil { ... }
//	mux.Handle("GET /users/{id}", users(getUser))
//
// Config is the same for every adapter (middleware.Config); New,
// Invalidate and IsRefresh are the same three functions as in echocache
// and gincache.
//
// A miss runs the handler on the client's own request, through a writer
// that records the response and sends it on; requests that bypass the
// cache reach the handler with the server's own writer, or one that keeps
// every interface of it (Flusher, Hijacker, io.ReaderFrom, Unwrap for
// http.ResponseController). A background refresh calls the handler
// directly, with a request rebuilt from the one that found the entry due,
// marked so that IsRefresh reports it; middleware wrapped around the
// cache never sees it.
//
// HEAD is answered from the GET entry when the router sends it to the
// route: http.ServeMux does so for a "GET /path" pattern; with chi,
// register the route for HEAD too (r.Head, or r.Method for both).
package httpcache
