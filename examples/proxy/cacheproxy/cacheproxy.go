// Package cacheproxy is the heart of examples/proxy, a package of its own
// so that the repository's conformance tables run through it: an
// httputil.ReverseProxy to an upstream behind httpcache, taking each
// response's lifetime from the response (middleware.FromResponse).
package cacheproxy

import (
	"log"
	"mime"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/swrcache/swrcache/adapters/httpcache"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/middleware"
)

// Config is the example's route: with FromResponse, TTL is the lifetime
// of a response that gives none, and the most any response gets; the
// windows are the most its stale-while-revalidate and stale-if-error get.
// The key covers the method, host, path and every query parameter.
func Config() middleware.Config {
	return middleware.Config{
		Policy:    core.Policy{TTL: 10 * time.Minute, StaleWhileRevalidate: time.Minute, StaleIfError: 10 * time.Minute},
		Freshness: middleware.FromResponse,
		Key:       httpcache.KeySpec{Resource: "upstream"},
	}
}

// Options are what a caller may change of the proxy; the zero value is
// the example's.
type Options struct {
	Transport http.RoundTripper // nil: http.DefaultTransport
	ErrorLog  *log.Logger       // nil: the log package's standard logger
}

// New returns the caching reverse proxy to upstream, with the route's
// configuration cfg (Config, or a variation of it).
func New(engine *core.Engine, upstream *url.URL, cfg middleware.Config, o Options) (http.Handler, error) {
	cache, err := httpcache.New(engine, cfg)
	if err != nil {
		return nil, err
	}
	// No X-Forwarded-For: what the upstream answers is shared by every
	// client, so it must not depend on which one asked first.
	proxy := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(upstream) },
		Transport: o.Transport,
		ErrorLog:  o.ErrorLog,
	}
	return cache(flushStreamsOnly(proxy)), nil
}

// flushStreamsOnly keeps ReverseProxy from flushing what is not an event
// stream. ReverseProxy flushes after every write of a response that came
// without a Content-Length (any chunked one, as most dynamic responses
// over a couple of KiB are), and the cache takes a response that flushes
// for a stream, which it never stores.
func flushStreamsOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&streamsOnly{ResponseWriter: w}, r)
	})
}

// streamsOnly passes Flush on only for an event stream.
type streamsOnly struct{ http.ResponseWriter }

func (w *streamsOnly) Flush() {
	if mt, _, err := mime.ParseMediaType(w.Header().Get("Content-Type")); err == nil && mt == "text/event-stream" {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

// Unwrap returns the cache's writer, for http.ResponseController.
func (w *streamsOnly) Unwrap() http.ResponseWriter { return w.ResponseWriter }
