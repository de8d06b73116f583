// Package cacheproxy is the heart of examples/proxy, a package of its own
// so that the repository's conformance tables run through it: an
// httputil.ReverseProxy to an upstream behind httpcache, taking each
// response's lifetime from the response (middleware.FromResponse).
package cacheproxy

import (
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/swrcache/swrcache/adapters/httpcache"
	"github.com/swrcache/swrcache/core"
)

// Config is the example's route: with FromResponse, TTL is the lifetime
// of a response that gives none, and the most any response gets; the
// windows are the most its stale-while-revalidate and stale-if-error get.
// The key covers the method, host, path and every query parameter. As
// Varnish does by default, a request with a cookie goes past the cache:
// the cookie is not in the key, and the upstream may answer it for its
// user alone.
func Config() httpcache.Config {
	return httpcache.Config{
		Policy:    core.Policy{TTL: 10 * time.Minute, StaleWhileRevalidate: time.Minute, StaleIfError: 10 * time.Minute},
		Freshness: httpcache.FromResponse,
		Key:       httpcache.KeySpec{Resource: "upstream"},
		Skipper:   func(r *http.Request) bool { return r.Header.Get("Cookie") != "" },
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
func New(engine *core.Engine, upstream *url.URL, cfg httpcache.Config, o Options) (http.Handler, error) {
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
	// ReverseProxy flushes every chunked response as it goes, which the
	// cache would take for a stream and never store.
	return cache(httpcache.FlushStreamsOnly(proxy)), nil
}
