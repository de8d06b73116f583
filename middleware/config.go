package middleware

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/swrcache/swrcache/keyfunc"
)

// Config is one route's caching policy. Every field but TTL and
// Key.Resource has a zero value that means something sensible.
type Config struct {
	// TTL is how long a response is fresh. Required.
	TTL time.Duration
	// StaleWhileRevalidate serves a stale response for this long after TTL
	// while a background refresh replaces it. 0 means never.
	StaleWhileRevalidate time.Duration
	// StaleIfError serves a stale response for this long after TTL when the
	// handler fails (an error, a panic or a 5xx). 0 means never.
	StaleIfError time.Duration
	// RefreshAhead refreshes a response in the background this long before
	// it goes stale, so hot routes never expire. 0 means min(30s, TTL/10);
	// negative means never.
	RefreshAhead time.Duration

	// Key says which parts of a request identify its response. Resource is
	// required; by default the key covers the method, host, escaped path and
	// every query parameter. A request header the handler reads must be
	// listed in Key.Headers, or the handler must name it in Vary.
	Key keyfunc.Spec
	// PassUnkeyedQuery hands the handler, when it fills the cache, the
	// query parameters Key.Query leaves out of the key. By default, with
	// an allow-list, a fill's request carries only the keyed parameters
	// (keyfunc.Spec.KeyedQuery), so no parameter outside the key can shape
	// a stored response. Requests that bypass the cache are never changed.
	PassUnkeyedQuery bool

	// Tenant returns the request's tenant, from something the app trusts (a
	// verified token claim, a header its own gateway sets), never from
	// X-Forwarded-*. ok false, or a tenant that is not [a-z0-9_]+, bypasses
	// the cache for that request. nil means the route is not tenant-scoped,
	// unless TenantHeader is set.
	Tenant func(r *http.Request) (tenant string, ok bool)
	// TenantHeader names a trusted request header that carries the tenant;
	// it sets Tenant when Tenant is nil, and background refreshes carry it.
	TenantHeader string

	// Statuses lists the status codes that may be stored. nil means RFC
	// 9110's heuristically cacheable ones: 200, 203, 204, 300, 301, 308, 404,
	// 405, 410, 414 and 501.
	Statuses []int
	// MaxBody is the largest body stored, in bytes. A larger response is
	// served to its caller and not stored, and for a minute later requests
	// for the same key go straight to the handler. 0 means 4 MiB.
	MaxBody int64
	// Tags are recorded with every response stored for the route, for
	// invalidation.
	Tags []string
	// TagsHeader names a response header whose comma-separated values are
	// recorded as tags too; the header is not sent to clients. "" means none.
	TagsHeader string

	// Skipper returns true for requests that must not use the cache.
	Skipper func(r *http.Request) bool
	// SampleRate is the fraction of requests that use the cache, for a
	// canary rollout; the rest go straight to the handler. 0 means 1 (all).
	SampleRate float64
	// Disabled, when set and returning true, sends every request straight
	// to the handler: a kill switch that can be flipped at run time.
	Disabled func() bool

	// AllowAuthorization caches requests carrying an Authorization header.
	// Set it only when the key separates users (a Tenant or a key header
	// per user); it is an error without a Tenant or Key.Headers.
	AllowAuthorization bool
	// HonorNoCache makes a request with Cache-Control: no-cache or no-store
	// bypass the cache. Off by default: any client could otherwise make
	// every request reach the handler.
	HonorNoCache bool

	// Name is the cache's name in Cache-Status. "" means "swrcache".
	Name string
}

// DefaultStatuses are the status codes RFC 9110 (section 15.1) defines as
// heuristically cacheable, less 206 (partial content is not assembled).
var DefaultStatuses = []int{200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}

// DefaultMaxBody is the default of Config.MaxBody.
const DefaultMaxBody = 4 << 20

// Validate reports the first problem with c, or nil.
func (c Config) Validate() error {
	switch {
	case c.TTL < time.Millisecond:
		return fmt.Errorf("middleware: TTL must be at least 1ms, got %v", c.TTL)
	case c.StaleWhileRevalidate < 0 || c.StaleIfError < 0:
		return errors.New("middleware: stale windows must not be negative")
	case c.MaxBody < 0:
		return errors.New("middleware: MaxBody must not be negative")
	case math.IsNaN(c.SampleRate) || c.SampleRate < 0 || c.SampleRate > 1:
		return fmt.Errorf("middleware: SampleRate must be in [0, 1], got %v", c.SampleRate)
	case c.AllowAuthorization && c.Tenant == nil && c.TenantHeader == "" && len(c.Key.Headers) == 0:
		return errors.New("middleware: AllowAuthorization needs a key that separates users: a Tenant or Key.Headers")
	}
	for _, s := range c.Statuses {
		if s < 100 || s > 599 {
			return fmt.Errorf("middleware: status %d is not an HTTP status", s)
		}
	}
	if c.TenantHeader != "" && !keyfunc.ValidHeaderName(c.TenantHeader) {
		return fmt.Errorf("middleware: TenantHeader %q is not a header name", c.TenantHeader)
	}
	if c.TagsHeader != "" && !keyfunc.ValidHeaderName(c.TagsHeader) {
		return fmt.Errorf("middleware: TagsHeader %q is not a header name", c.TagsHeader)
	}
	if err := c.Key.Validate(); err != nil {
		return fmt.Errorf("middleware: %w", err)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Statuses == nil {
		c.Statuses = DefaultStatuses
	}
	c.Statuses = slices.Clone(c.Statuses)
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.SampleRate == 0 {
		c.SampleRate = 1
	}
	if c.Name == "" {
		c.Name = "swrcache"
	}
	if c.Tenant == nil && c.TenantHeader != "" {
		h := http.CanonicalHeaderKey(c.TenantHeader)
		c.Tenant = func(r *http.Request) (string, bool) {
			v := r.Header.Values(h)
			return firstOf(v), len(v) == 1
		}
	}
	return c
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
