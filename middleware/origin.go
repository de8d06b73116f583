package middleware

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/swrcache/swrcache/core"
)

// directives are what a response says about its caching to this cache:
// the directives of its first targeted field (RFC 9213) when it has one
// with a valid value, else those of its Cache-Control.
type directives struct {
	targeted                        bool // from a targeted field: Expires is ignored
	noStore, private, noCache       bool
	public                          bool
	mustRevalidate, proxyRevalidate bool
	sMaxAge, maxAge                 delta
	staleWhileRevalidate            delta
	staleIfError                    delta
}

// delta is a directive's delta-seconds, if the directive is present.
type delta struct {
	set bool
	d   time.Duration
}

// maxDelta is what a delta-seconds too large to represent counts as (RFC
// 9111 section 1.2.2).
const maxDelta = time.Duration(math.MaxInt32+1) * time.Second

// directivesOf reads h's caching directives for a cache that listens to
// the targeted fields in targets, most specific first.
func directivesOf(h http.Header, targets []string) directives {
	for _, name := range targets {
		if d, ok := parseTargeted(h.Values(name)); ok {
			return d
		}
	}
	d, _ := parseDirectives(h.Values("Cache-Control"), false)
	return d
}

// parseTargeted parses a targeted field, a structured Dictionary (RFC
// 9213 section 2.1): an empty or invalid one is ignored as a whole.
func parseTargeted(values []string) (directives, bool) {
	if len(values) == 0 || strings.TrimSpace(strings.Join(values, "")) == "" {
		return directives{}, false
	}
	d, ok := parseDirectives(values, true)
	d.targeted = true
	return d, ok
}

// parseDirectives reads the directives of Cache-Control (RFC 9111 section
// 5.2), or, when strict, of a targeted field, whose members must be
// lowercase keys with integer or no values. Of a directive given twice the
// first counts (section 4.2.1). An invalid delta-seconds counts as 0: the
// response is stale, the safe reading.
func parseDirectives(values []string, strict bool) (directives, bool) {
	var d directives
	for _, v := range values {
		for _, member := range strings.Split(v, ",") {
			name, arg, hasArg := strings.Cut(strings.TrimSpace(member), "=")
			name = strings.TrimSpace(name)
			if name == "" {
				if strict {
					return directives{}, false // an empty member, a trailing comma: not a Dictionary (RFC 8941 section 4.2.2)
				}
				continue
			}
			if strict && (name != strings.ToLower(name) || !validSFKey(name)) {
				return directives{}, false
			}
			arg = strings.TrimSpace(arg)
			if strict && hasArg && !isDigits(arg) && arg != "?1" && arg != "?0" {
				return directives{}, false
			}
			d.apply(strings.ToLower(name), arg, hasArg)
		}
	}
	return d, true
}

// apply records one directive; arg is its value, maybe quoted.
func (d *directives) apply(name, arg string, hasArg bool) {
	switch name {
	case "no-store":
		d.noStore = true
	case "private":
		d.private = true
	case "public":
		d.public = true
	case "no-cache":
		d.noCache = true
	case "must-revalidate":
		d.mustRevalidate = true
	case "proxy-revalidate":
		d.proxyRevalidate = true
	case "s-maxage":
		d.sMaxAge.parse(arg, hasArg)
	case "max-age":
		d.maxAge.parse(arg, hasArg)
	case "stale-while-revalidate":
		d.staleWhileRevalidate.parse(arg, hasArg)
	case "stale-if-error":
		d.staleIfError.parse(arg, hasArg)
	}
}

func (x *delta) parse(arg string, hasArg bool) {
	if x.set {
		return // the first occurrence counts
	}
	x.set = true
	arg = strings.Trim(arg, `"`) // a quoted value is tolerated (RFC 9111 section 5.2)
	if !hasArg || !isDigits(arg) {
		return // 0: stale
	}
	n, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || n > math.MaxInt32 {
		x.d = maxDelta
		return
	}
	x.d = time.Duration(n) * time.Second
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validSFKey reports whether s is a Structured Field key (RFC 8941
// section 3.1.2): lcalpha or "*", then lcalpha, digits, "_-.*".
func validSFKey(s string) bool {
	for i := range len(s) {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '*':
		case i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// noStale reports whether a response may never be served stale by a
// shared cache, in either mode: must-revalidate (RFC 9111 section
// 5.2.2.2), proxy-revalidate (5.2.2.8), s-maxage, which implies
// proxy-revalidate (5.2.2.10), or no-cache, which needs a successful
// validation before each use (5.2.2.4).
func (d directives) noStale() bool {
	return d.mustRevalidate || d.proxyRevalidate || d.sMaxAge.set || d.noCache
}

// lifetime is how long a response with this status that may be stored is
// served, in FromResponse mode, with now the time it was received: the
// reason it is not stored instead, or "".
func (c *Cache) lifetime(d directives, status int, h http.Header, now time.Time) (*core.Lifetime, string) {
	p := c.cfg.Policy
	validator := h.Get("Etag") != "" || h.Get("Last-Modified") != ""
	l := &core.Lifetime{}
	if validator {
		l.Keep = p.TTL // past its windows, kept to be revalidated
	}
	// A status that is not heuristically cacheable is stored only with an
	// explicit lifetime or public (RFC 9111 sections 3 and 4.2.2); no-cache
	// allows no more.
	explicit := d.sMaxAge.set || d.maxAge.set || (!d.targeted && len(h.Values("Expires")) > 0)
	if !explicit && !d.public && !heuristic(status) {
		return nil, "no-lifetime"
	}
	if d.noCache { // stored, and revalidated before each use (RFC 9111 section 5.2.2.4)
		if !validator {
			return nil, "no-cache"
		}
		return l, ""
	}
	fresh, age := freshnessLifetime(d, h, p.TTL), currentAge(h, now)
	if fresh > age { // compared, not subtracted: either may be near the limits of a Duration
		l.TTL = min(fresh-age, p.TTL)
	}
	if !d.noStale() {
		l.StaleWhileRevalidate = min(d.staleWhileRevalidate.d, p.StaleWhileRevalidate)
		l.StaleIfError = min(d.staleIfError.d, p.StaleIfError)
	}
	if l.TTL == 0 && l.StaleWhileRevalidate == 0 && l.StaleIfError == 0 && l.Keep == 0 {
		return nil, "stale"
	}
	return l, ""
}

// heuristic reports whether a response with status may be given a
// heuristic lifetime: RFC 9110 section 15.1 calls it heuristically
// cacheable.
func heuristic(status int) bool {
	switch status {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// freshnessLifetime is a response's freshness lifetime for a shared cache
// (RFC 9111 section 4.2.1): s-maxage, max-age, then Expires less Date,
// then heuristic, the route's TTL (section 4.2.2).
func freshnessLifetime(d directives, h http.Header, heuristic time.Duration) time.Duration {
	switch {
	case d.sMaxAge.set:
		return d.sMaxAge.d
	case d.maxAge.set:
		return d.maxAge.d
	case d.targeted || len(h.Values("Expires")) == 0:
		return heuristic
	}
	expires, err := http.ParseTime(h.Get("Expires"))
	if err != nil {
		return 0 // an invalid date, such as "0", is in the past (section 5.3)
	}
	date, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		date = time.Now() // the time it was received stands in for a Date
	}
	return expires.Sub(date)
}

// currentAge is the age of a response when it was received, from its Age
// and its Date (RFC 9111 section 4.2.3): the handler is next to the
// cache, so no delay in transit is added.
func currentAge(h http.Header, now time.Time) time.Duration {
	var age time.Duration
	if v := h.Get("Age"); isDigits(v) {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n <= math.MaxInt32 {
			age = time.Duration(n) * time.Second
		} else {
			age = maxDelta
		}
	}
	// The apparent age. A Date says whole seconds: a response dated the
	// second before it arrived may be a millisecond old, so one second is
	// not counted (a max-age=1 response would otherwise be stale on
	// arrival).
	if date, err := http.ParseTime(h.Get("Date")); err == nil {
		if apparent := now.Truncate(time.Second).Sub(date); apparent > time.Second && apparent > age {
			age = apparent
		}
	}
	return age
}
