package middleware

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/keyfunc"
)

// Config is one route's caching policy, the same for every adapter. Every
// field but TTL and Key.Resource has a zero value that means something
// sensible.
type Config struct {
	// Policy is the route's freshness policy, as for core.Fetch: TTL
	// (required), StaleWhileRevalidate and StaleIfError (served when the
	// handler fails: an error, a panic or a 5xx), RefreshAhead, Beta and
	// Tags.
	core.Policy

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

	// Statuses lists the status codes that may be stored: 200 to 499, less
	// 206 (partial content) and 304 (no body to replay). nil means RFC
	// 9110's heuristically cacheable ones below 500: 200, 203, 204, 300,
	// 301, 308, 404, 405, 410 and 414; in FromResponse mode also 302 and
	// 307, stored only when they say how long. A 5xx is a failure, never
	// stored.
	Statuses []int
	// MaxBody is the largest body stored, in bytes, and the most a fill
	// holds in memory. A larger response streams to its client, is not
	// stored, and for a minute later requests for its key go straight to
	// the handler. 0 means 4 MiB.
	MaxBody int64
	// TagsHeader names a response header whose comma-separated values are
	// recorded as tags on top of Policy.Tags; the header never reaches
	// clients. "" means none.
	TagsHeader string

	// Skipper returns true for requests that must not use the cache; they
	// go to the handler with Cache-Status "fwd=bypass; detail=skipped".
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

	// Freshness says where a stored response's lifetime comes from:
	// RouteTTL (the zero value) takes the route's Policy as it is;
	// FromResponse takes it from the response, as an HTTP cache does, with
	// the Policy's TTL and windows as caps.
	Freshness Freshness
	// TargetedFields lists, most specific first, the response fields that
	// speak to this cache alone and, in FromResponse mode, take precedence
	// over Cache-Control and Expires (RFC 9213), such as
	// "Acme-CDN-Cache-Control". nil means CDN-Cache-Control; an empty list
	// means none.
	TargetedFields []string
	// InvalidateOnWrite makes a successful POST, PUT, PATCH, DELETE (or any
	// method not known to be safe) on the route invalidate the stored
	// responses of its URL, all their variants, and of its Location and
	// Content-Location when they are on the same host (RFC 9111 section
	// 4.4). Default means on in FromResponse mode and off in RouteTTL mode.
	InvalidateOnWrite Switch

	// Router is what background refreshes of echo and gin routes are sent
	// through, as requests of their own (see IsRefresh): gin needs its
	// *gin.Engine here; for echo, nil means the echo instance that served
	// the request. net/http does not use it: a refresh there calls the
	// handler after the cache directly.
	Router http.Handler
}

// Freshness is where a route's stored responses get their lifetime; see
// Config.Freshness.
type Freshness uint8

const (
	// RouteTTL stores every response for the route's Policy: TTL and
	// windows. Cache-Control can only keep a response out (no-store,
	// private, no-cache) or forbid serving it stale (must-revalidate,
	// proxy-revalidate, s-maxage).
	RouteTTL Freshness = iota
	// FromResponse takes each response's lifetime from its targeted field
	// (RFC 9213) or else its s-maxage, max-age or Expires, less its Age
	// (RFC 9111 sections 4.2.1 to 4.2.3); the route's TTL when it says
	// nothing, and as a cap. Its stale-while-revalidate and stale-if-error
	// (RFC 5861) set the windows, capped by the Policy's. A no-cache
	// response with a validator is stored and revalidated before each use.
	FromResponse
)

// Switch is an option that is on, off, or the default of its mode.
type Switch uint8

// The values of a Switch.
const (
	Default Switch = iota
	On
	Off
)

// DefaultStatuses are the status codes RFC 9110 (section 15.1) defines as
// heuristically cacheable, less 206 (partial content is not assembled) and
// 501 (a 5xx is a failure, for stale-if-error, and never stored).
var DefaultStatuses = []int{200, 203, 204, 300, 301, 308, 404, 405, 410, 414}

// DefaultMaxBody is the default of Config.MaxBody.
const DefaultMaxBody = 4 << 20

// Validate reports the first problem with c, or nil. Each message names the
// field and says what to change.
func (c Config) Validate() error {
	if err := c.Policy.Validate(); err != nil {
		return err
	}
	switch {
	case c.MaxBody < 0:
		return errors.New("middleware: MaxBody must not be negative; 0 means 4 MiB")
	case math.IsNaN(c.SampleRate) || c.SampleRate < 0 || c.SampleRate > 1:
		return fmt.Errorf("middleware: SampleRate must be in [0, 1], got %v", c.SampleRate)
	case c.AllowAuthorization && c.Tenant == nil && c.TenantHeader == "" && len(c.Key.Headers) == 0:
		return errors.New("middleware: AllowAuthorization needs a key that separates users: a Tenant or Key.Headers")
	case c.Freshness > FromResponse:
		return fmt.Errorf("middleware: Freshness %d is neither RouteTTL nor FromResponse", c.Freshness)
	case c.InvalidateOnWrite > Off:
		return fmt.Errorf("middleware: InvalidateOnWrite %d is not Default, On or Off", c.InvalidateOnWrite)
	case c.Statuses != nil && len(c.Statuses) == 0:
		return errors.New("middleware: Statuses is empty, so nothing would ever be stored; leave it nil for the default list")
	}
	for _, s := range c.Statuses {
		if err := storable(s); err != nil {
			return err
		}
	}
	if c.TenantHeader != "" && !keyfunc.ValidHeaderName(c.TenantHeader) {
		return fmt.Errorf("middleware: TenantHeader %q is not a header name", c.TenantHeader)
	}
	if c.TargetedFields != nil && c.Freshness != FromResponse {
		return errors.New("middleware: TargetedFields is read only in FromResponse mode; set Freshness, or leave it nil")
	}
	for _, f := range c.TargetedFields {
		switch {
		case !keyfunc.ValidHeaderName(f):
			return fmt.Errorf("middleware: TargetedFields: %q is not a header name", f)
		case strings.EqualFold(f, "Cache-Control") || strings.EqualFold(f, "Expires"):
			return fmt.Errorf("middleware: TargetedFields: %q is what targeted fields take precedence over; name fields such as CDN-Cache-Control", f)
		}
	}
	if c.Name != "" && !validToken(c.Name) {
		return fmt.Errorf("middleware: Name %q must be a token (a letter, then letters, digits and !#$%%&'*+-.^_`|~:/), as Cache-Status parsers read it (RFC 9211, RFC 8941)", c.Name)
	}
	if c.TagsHeader != "" && !keyfunc.ValidHeaderName(c.TagsHeader) {
		return fmt.Errorf("middleware: TagsHeader %q is not a header name", c.TagsHeader)
	}
	if slices.Contains(responseFields, http.CanonicalHeaderKey(c.TagsHeader)) {
		return fmt.Errorf("middleware: TagsHeader %q is a standard response field, which would be taken off every response; name one of your own, such as X-Cache-Tags", c.TagsHeader)
	}
	if err := c.Key.Validate(); err != nil {
		return fmt.Errorf("middleware: Key: %w", err)
	}
	return nil
}

// validToken reports whether s is a Structured Field token (RFC 8941
// section 3.3.4), as a Cache-Status member's name must be.
func validToken(s string) bool {
	for i := range len(s) {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		switch {
		case i == 0 && (letter || c == '*'):
		case i > 0 && (letter || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~:/", c) >= 0):
		default:
			return false
		}
	}
	return s != ""
}

// responseFields are standard response fields, never a TagsHeader: the
// cache takes the tags header off every response.
var responseFields = []string{"Age", "Cache-Control", "Cache-Status", "Connection", "Content-Disposition",
	"Content-Encoding", "Content-Language", "Content-Length", "Content-Location", "Content-Range",
	"Content-Security-Policy", "Content-Type", "Date", "Etag", "Expires", "Last-Modified", "Link",
	"Location", "Retry-After", "Server", "Set-Cookie", "Strict-Transport-Security", "Trailer",
	"Transfer-Encoding", "Vary", "Www-Authenticate"}

// storable reports why status may not be listed in Config.Statuses.
func storable(s int) error {
	switch {
	case s < 100 || s > 599:
		return fmt.Errorf("middleware: Statuses: %d is not an HTTP status", s)
	case s < 200:
		return fmt.Errorf("middleware: Statuses: %d is informational, never a response to store", s)
	case s >= 500:
		return fmt.Errorf("middleware: Statuses: %d is a failure, never stored (StaleIfError serves the last good response instead)", s)
	case s == http.StatusPartialContent:
		return errors.New("middleware: Statuses: 206 is a part of a response; the cache stores whole ones")
	case s == http.StatusNotModified:
		return errors.New("middleware: Statuses: 304 has no body to replay; the cache answers If-None-Match with its own 304s")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Statuses == nil {
		c.Statuses = DefaultStatuses
		if c.Freshness == FromResponse { // stored only with an explicit lifetime: no heuristic one for them
			c.Statuses = append(slices.Clone(DefaultStatuses), http.StatusFound, http.StatusTemporaryRedirect)
		}
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
	if c.Resource == "" {
		c.Resource = c.Key.Resource // the route's name in events, metrics, spans and logs
	}
	if c.Tenant == nil && c.TenantHeader != "" {
		h := http.CanonicalHeaderKey(c.TenantHeader)
		c.Tenant = func(r *http.Request) (string, bool) {
			v := r.Header.Values(h)
			return firstOf(v), len(v) == 1
		}
	}
	if c.TagsHeader != "" {
		c.TagsHeader = http.CanonicalHeaderKey(c.TagsHeader)
	}
	if c.TargetedFields == nil {
		c.TargetedFields = []string{"CDN-Cache-Control"}
	}
	c.TargetedFields = slices.Clone(c.TargetedFields)
	for i, f := range c.TargetedFields {
		c.TargetedFields[i] = http.CanonicalHeaderKey(f)
	}
	if c.InvalidateOnWrite == Default && c.Freshness == FromResponse {
		c.InvalidateOnWrite = On
	}
	return c
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
