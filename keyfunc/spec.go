package keyfunc

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"unsafe"
)

// Hash length bounds, in hex characters of SHA-256.
const (
	// DefaultHashLen is the hash length used when Spec.HashLen is 0: 32 hex
	// characters, 128 bits.
	DefaultHashLen = 32
	// MinHashLen is the shortest hash allowed: 12 hex characters, 48 bits.
	// It is safe only because the cache also stores a fingerprint of Key.ID
	// with every entry and treats a mismatch as a miss.
	MinHashLen = 12
	// MaxHashLen is the longest hash allowed: all 64 hex characters.
	MaxHashLen = 64
)

// MaxNameLen is the longest resource or tenant name, in bytes.
const MaxNameLen = 64

// ErrTenant is returned by Spec.Parts and Spec.Key for a non-empty tenant
// that ValidTenant rejects; test for it with errors.Is. The middleware
// bypasses the cache when it sees it.
var ErrTenant = errors.New("keyfunc: invalid tenant")

// ErrQuery is returned, wrapped, by Spec.Parts and Spec.Key when the request's
// raw query does not parse cleanly with url.ParseQuery (a bad % escape, a
// semicolon separator, too many parameters). The pairs url.ParseQuery drops
// are not what the client sent, so no key is derived from them; the
// middleware bypasses the cache for that request. This holds under an
// allow-list too (the error cannot always name the parameter it concerns); a
// Spec with an empty allow-list never parses the query and never returns it.
var ErrQuery = errors.New("keyfunc: malformed query")

// Spec says which parts of a request identify its response, for one route.
// The zero value is not valid: Resource is required.
type Spec struct {
	// Resource names the resource in the key; it must match [a-z0-9_]+ and be
	// at most MaxNameLen bytes.
	Resource string
	// Query lists the query parameters (decoded names) that are part of the
	// key. Nil means every parameter; a non-nil slice is an allow-list (an
	// empty one means none), which bounds cache-busting.
	Query []string
	// Headers lists the request headers that are part of the key, such as
	// Accept-Language. They must be valid tokens; Host is not allowed (use
	// IgnoreHost).
	Headers []string
	// IgnoreHost leaves the host out of the key. The default, false, keys by
	// host, which is the safe choice when one handler serves several hosts.
	IgnoreHost bool
	// HashLen is the number of hex characters of SHA-256 kept in Key.Name:
	// 0 means DefaultHashLen; otherwise it must be within MinHashLen and
	// MaxHashLen.
	HashLen int
}

// Key identifies a cached response.
type Key struct {
	// Name is the Redis key: v1:api:<resource>:<hash>:<tenant>, where hash is
	// the first HashLen hex characters of SHA-256 of ID and tenant is "_"
	// when the route is not tenant-scoped. It does not grow with the request:
	// at most 201 bytes.
	Name string
	// ID is the full canonical encoding (binary) of the request's Parts. The
	// cache stores a fingerprint of it with the entry to detect hash
	// collisions in Name.
	ID string
}

// Validate reports whether s is usable, with an error prefixed "keyfunc: "
// that names the first problem found.
func (s Spec) Validate() error {
	if !validIdent(s.Resource) {
		return fmt.Errorf("keyfunc: resource %q must match [a-z0-9_]+ and be at most %d bytes", s.Resource, MaxNameLen)
	}
	if s.HashLen != 0 && (s.HashLen < MinHashLen || s.HashLen > MaxHashLen) {
		return fmt.Errorf("keyfunc: hash length %d out of range: 0 (for %d) or %d..%d", s.HashLen, DefaultHashLen, MinHashLen, MaxHashLen)
	}
	seen := make(map[string]bool, len(s.Query)+len(s.Headers))
	for _, q := range s.Query {
		if q == "" {
			return errors.New("keyfunc: empty query parameter name")
		}
		if seen[q] {
			return fmt.Errorf("keyfunc: duplicate query parameter %q", q)
		}
		seen[q] = true
	}
	clear(seen)
	for _, h := range s.Headers {
		if !ValidHeaderName(h) {
			return fmt.Errorf("keyfunc: header name %q is not a valid token", h)
		}
		c := textproto.CanonicalMIMEHeaderKey(h)
		if c == "Host" {
			return errors.New("keyfunc: Host is not a header here; leave IgnoreHost false to key by host")
		}
		if seen[c] {
			return fmt.Errorf("keyfunc: duplicate header %q", c)
		}
		seen[c] = true
	}
	return nil
}

// Parts returns the parts of r that identify its response under s, for the
// given tenant ("" when the route is not tenant-scoped) and the header names
// of a stored response's Vary (each argument may be a comma-separated list, as
// in the header itself), which are merged with s.Headers. A Vary on Host is
// keyed by r.Host.
//
// Parts never modifies r: it reads r.Method, r.Host (or r.URL.Host when r.Host
// is empty), r.URL.EscapedPath(), r.URL.RawQuery and r.Header, and copies what
// it keeps. It returns an error for an invalid spec, ErrTenant for an invalid
// non-empty tenant, an error for a Vary of "*" or an invalid Vary name, and
// ErrQuery for a malformed query. Its work is O(n log n) in the size of the
// query and the number of headers chosen.
func (s Spec) Parts(r *http.Request, tenant string, vary ...string) (Parts, error) {
	if err := s.Validate(); err != nil {
		return Parts{}, err
	}
	if tenant != "" && !ValidTenant(tenant) {
		return Parts{}, ErrTenant
	}
	if r == nil || r.URL == nil {
		return Parts{}, errors.New("keyfunc: request without URL")
	}
	names, err := s.headerNames(vary)
	if err != nil {
		return Parts{}, err
	}
	p := Parts{Method: normalMethod(r.Method), Path: r.URL.EscapedPath(), Tenant: tenant}
	if p.Path == "" {
		p.Path = "/"
	}
	if !s.IgnoreHost {
		p.Host = requestHost(r)
	}
	if p.Query, err = s.queryParams(r.URL.RawQuery); err != nil {
		return Parts{}, err
	}
	if len(names) > 0 {
		p.Headers = make([]Header, len(names))
		for i, name := range names {
			var vals []string
			if name == "Host" {
				if r.Host != "" {
					vals = []string{r.Host}
				}
			} else if hv := r.Header[name]; len(hv) > 0 {
				vals = slices.Clone(hv)
			}
			p.Headers[i] = Header{Name: name, Values: vals, Present: len(vals) > 0}
		}
	}
	return p, nil
}

// Key returns the key of r under s; see Parts for the arguments and errors.
func (s Spec) Key(r *http.Request, tenant string, vary ...string) (Key, error) {
	p, err := s.Parts(r, tenant, vary...)
	if err != nil {
		return Key{}, err
	}
	id := p.encode() // Parts returns the normal form already
	sum := sha256.Sum256(id)
	n := s.HashLen
	if n == 0 {
		n = DefaultHashLen
	}
	t := tenant
	if t == "" {
		t = "_"
	}
	var b strings.Builder
	b.Grow(len("v1:api:::") + len(s.Resource) + n + len(t))
	b.WriteString("v1:api:")
	b.WriteString(s.Resource)
	b.WriteByte(':')
	var digest [2 * sha256.Size]byte
	hex.Encode(digest[:], sum[:])
	b.Write(digest[:n])
	b.WriteByte(':')
	b.WriteString(t)
	// id is this call's own buffer, never written again: the ID aliases it
	// rather than copying it.
	return Key{Name: b.String(), ID: unsafe.String(unsafe.SliceData(id), len(id))}, nil
}

// headerNames returns the canonical names of s.Headers and the Vary names,
// sorted and deduplicated.
func (s Spec) headerNames(vary []string) ([]string, error) {
	names := make([]string, 0, len(s.Headers)+len(vary))
	for _, h := range s.Headers {
		names = append(names, textproto.CanonicalMIMEHeaderKey(h))
	}
	for _, v := range vary {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.Trim(f, " \t")
			switch {
			case f == "":
				continue
			case f == "*":
				return nil, errors.New("keyfunc: Vary: * cannot be cached")
			case !ValidHeaderName(f):
				return nil, fmt.Errorf("keyfunc: Vary name %q is not a valid token", f)
			}
			names = append(names, textproto.CanonicalMIMEHeaderKey(f))
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// queryParams parses raw into a fresh map and returns the parameters s keeps,
// sorted by name. Any parse error is returned as ErrQuery.
func (s Spec) queryParams(raw string) ([]Param, error) {
	if raw == "" || (s.Query != nil && len(s.Query) == 0) {
		return nil, nil
	}
	m, err := url.ParseQuery(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrQuery, err)
	}
	var names []string
	if s.Query == nil {
		names = make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
	} else {
		for _, k := range s.Query {
			if _, ok := m[k]; ok {
				names = append(names, k)
			}
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	slices.Sort(names)
	params := make([]Param, len(names))
	for i, k := range names {
		params[i] = Param{Name: k, Values: m[k]}
	}
	return params, nil
}

// KeyedQuery returns raw, a request's raw query, with only the parameters
// s keys, in their order and encoding as sent. Without an allow-list
// (Query nil) it returns raw unchanged. A handler that reads the result
// cannot be steered by a parameter the key ignores, so one request cannot
// store a response that others with a different unkeyed parameter get.
func (s Spec) KeyedQuery(raw string) string {
	if s.Query == nil || raw == "" {
		return raw
	}
	var b strings.Builder
	for seg := range strings.SplitSeq(raw, "&") {
		name, _, _ := strings.Cut(seg, "=")
		if name, err := url.QueryUnescape(name); err != nil || !slices.Contains(s.Query, name) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(seg)
	}
	return b.String()
}

// requestHost returns the lowercased host of r.
func requestHost(r *http.Request) string {
	if r.Host != "" {
		return asciiLower(r.Host)
	}
	return asciiLower(r.URL.Host)
}
