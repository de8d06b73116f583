package middleware

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/swrcache/swrcache/keyfunc"
)

// Invalidation on unsafe methods (RFC 9111 section 4.4): with
// InvalidateOnWrite on, every response the route stores carries a tag for
// its URL (uriTag), and a non-error response to an unsafe request on the
// route invalidates the tags of its target URL and of its Location and
// Content-Location when they are on the same host, before the status goes
// out, so a client that reads right after its write gets no old copy. The
// tag holds the tenant: one tenant's write never touches another's
// entries.

// uriTag is the tag of the responses stored for a URL, for tenant: its
// host, escaped path and query, the query reduced to the parameters the
// route keys and sorted, so that a write to /a?y=2&x=1 reaches /a?x=1&y=2.
// It is a hash: a URL may be longer than a tag may be.
func (c *Cache) uriTag(tenant, host, path, query string) string {
	if c.cfg.Key.IgnoreHost {
		host = "" // every host shares the route's entries: a write through any reaches them
	}
	if c.cfg.Key.Query != nil {
		query = c.cfg.Key.KeyedQuery(query)
	}
	if v, err := url.ParseQuery(query); err == nil {
		query = v.Encode()
	}
	sum := sha256.Sum256([]byte(tenant + "\x00" + strings.ToLower(host) + "\x00" + path + "\x00" + query))
	return uriTagPrefix + hex.EncodeToString(sum[:16])
}

const uriTagPrefix = "swrcache:uri:"

// safeMethod reports whether method is safe (RFC 9110 section 9.2.1): a
// request with any other, an unknown one included, may change what the
// route's URLs return.
func safeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// invalidating wraps w so that, just before a non-error status to r is
// written, the stored responses of r's URL, Location and Content-Location
// are invalidated. The caller calls done with 200 when the handler
// returned without writing (net/http then answers 200 itself); it does
// nothing once a status was written. A request whose tenant is not known
// invalidates nothing: it could only name another tenant's entries.
func (c *Cache) invalidating(w http.ResponseWriter, r *http.Request) (_ http.ResponseWriter, done func(status int)) {
	tenant := ""
	if c.cfg.Tenant != nil {
		t, ok := c.cfg.Tenant(r)
		if !ok || !keyfunc.ValidTenant(t) {
			return w, func(int) {}
		}
		tenant = t
	}
	h := w.Header()
	var once sync.Once
	hook := func(status int) {
		if status < 200 {
			return
		}
		once.Do(func() {
			if status >= 400 {
				return
			}
			tags := c.targets(r, tenant, h)
			_ = c.engine.InvalidateTags(r.Context(), tags...) // a queued one is replayed by the engine
		})
	}
	return HookWriter(w, hook), hook
}

// targets lists the URL tags a write to r invalidates, given its
// response's header h.
func (c *Cache) targets(r *http.Request, tenant string, h http.Header) []string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	tags := []string{c.uriTag(tenant, r.Host, base.EscapedPath(), base.RawQuery)}
	for _, name := range []string{"Location", "Content-Location"} {
		v := h.Get(name)
		if v == "" {
			continue
		}
		u, err := base.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, r.Host) {
			// Another host's: not this cache's to invalidate (RFC 9111
			// section 4.4). The scheme may differ behind a proxy that ends
			// TLS; invalidating one URL too many only costs a fill.
			continue
		}
		tags = append(tags, c.uriTag(tenant, r.Host, u.EscapedPath(), u.RawQuery))
	}
	return tags
}
