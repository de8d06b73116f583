package middleware

import (
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// bypassReason says why r must not use the cache, or "" when it may.
func (c *Cache) bypassReason(r *http.Request) string {
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		return "method"
	case r.ContentLength != 0 || len(r.TransferEncoding) > 0:
		// A GET with a body ("fat GET"): the body is not in the key, so a
		// handler that read it would let one request poison the entry.
		return "body"
	case c.cfg.Disabled != nil && c.cfg.Disabled():
		return "disabled"
	case c.cfg.Skipper != nil && c.cfg.Skipper(r):
		return "skipped"
	case r.Header.Get("Upgrade") != "" || hasToken(r.Header.Values("Connection"), "upgrade"):
		return "upgrade"
	case acceptsOnly(r, "text/event-stream"):
		return "stream"
	case multiRange(r):
		return "range" // several ranges go to the handler; one is answered from the cache
	case !c.cfg.AllowAuthorization && r.Header.Get("Authorization") != "":
		return "authorization"
	case c.cfg.HonorNoCache && (hasToken(r.Header.Values("Cache-Control"), "no-cache") ||
		hasToken(r.Header.Values("Cache-Control"), "no-store") || hasToken(r.Header.Values("Pragma"), "no-cache")):
		return "no-cache"
	case c.cfg.SampleRate < 1 && c.rand() >= c.cfg.SampleRate:
		return "sampled-out"
	}
	return ""
}

// acceptsOnly reports whether the request asks for mediaType alone, as an
// EventSource does.
func acceptsOnly(r *http.Request, mediaType string) bool {
	v := r.Header.Values("Accept")
	return len(v) == 1 && strings.EqualFold(strings.TrimSpace(v[0]), mediaType)
}

// directives are what h says to this cache about its caching: its
// targeted fields count in FromResponse mode alone.
func (c *Cache) directives(h http.Header) directives {
	if c.cfg.Freshness == FromResponse {
		return directivesOf(h, c.cfg.TargetedFields)
	}
	return directivesOf(h, nil)
}

// noStoreReason says why a response with this status and header must not
// be stored, or "".
func (c *Cache) noStoreReason(status int, h http.Header) string {
	d := c.directives(h)
	switch {
	case !slices.Contains(c.cfg.Statuses, status):
		return "status"
	case len(h.Values("Set-Cookie")) > 0:
		return "set-cookie"
	// Cache-Control: private keeps a response out even when a targeted
	// field would store it: never storing is always allowed, and a page
	// for one user is never shared. no-cache is stored, to be revalidated,
	// only in FromResponse mode.
	case d.noStore || d.private || hasToken(h.Values("Cache-Control"), "private") ||
		(d.noCache && c.cfg.Freshness == RouteTTL):
		return "cache-control"
	case isEventStream(h.Get("Content-Type")):
		return "streamed"
	case slices.Contains(varyNames(h), "*"):
		return "vary"
	case c.cfg.Freshness == FromResponse:
		_, reason := c.lifetime(d, status, h, time.Now())
		return reason
	}
	return ""
}

func isEventStream(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "text/event-stream"
}

// varyNames lists the field names of the Vary headers in h.
func varyNames(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

// hasToken reports whether the comma-separated header values hold token,
// ignoring case and any "=value".
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			if i := strings.IndexByte(f, '='); i >= 0 {
				f = strings.TrimSpace(f[:i])
			}
			if strings.EqualFold(f, token) {
				return true
			}
		}
	}
	return false
}

// etagMatches reports whether an If-None-Match value matches etag, by the
// weak comparison of RFC 9110 section 13.1.2: "*" matches any stored
// response; else one of the list's entity-tags, read whole (a W/, then a
// quoted string, which may hold commas), equals etag once both lose W/.
func etagMatches(ifNoneMatch []string, etag string) bool {
	want := strings.TrimPrefix(strings.TrimSpace(etag), "W/")
	for _, v := range ifNoneMatch {
		for rest := v; ; {
			rest = strings.TrimLeft(rest, " \t,")
			if rest == "" {
				break
			}
			if rest[0] == '*' {
				return true
			}
			tag := strings.TrimPrefix(rest, "W/")
			end := -1
			if tag != "" && tag[0] == '"' {
				end = strings.IndexByte(tag[1:], '"')
			}
			if end < 0 { // not an entity-tag: skip to the next member
				i := strings.IndexByte(rest, ',')
				if i < 0 {
					break
				}
				rest = rest[i+1:]
				continue
			}
			if want != "" && tag[:end+2] == want {
				return true
			}
			rest = tag[end+2:]
		}
	}
	return false
}
