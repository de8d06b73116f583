package middleware

import (
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/swrcache/swrcache/core"
)

// response is what the cache stores for one request; codec.go encodes it.
type response struct {
	Status int
	Header [][]string // each: a canonical name, then its values in order
	Body   []byte
}

// unstored are never stored: hop-by-hop fields (RFC 9110 section 7.6.1)
// and per-user state. A Cache-Status from a cache behind this one is
// stored, and replays append this cache's (RFC 9211 section 2).
var unstored = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Set-Cookie"}

// capture turns what fw recorded into a response, dropping the fields that
// must not be replayed and drop (the tags header).
func capture(fw *fillWriter, drop string) response {
	h := fw.sent
	if h == nil {
		h = fw.header
	}
	skip := func(name string) bool {
		return slices.Contains(unstored, name) || name == drop || hasToken(h.Values("Connection"), name)
	}
	names := make([]string, 0, len(h))
	for name := range h {
		if !skip(http.CanonicalHeaderKey(name)) && len(h[name]) > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	fields := make([][]string, 0, len(names))
	for _, name := range names {
		fields = append(fields, append([]string{http.CanonicalHeaderKey(name)}, h[name]...))
	}
	return response{Status: fw.status, Header: fields, Body: fw.body}
}

// values returns the values of r's field name, nil if it has none.
func (r response) values(name string) []string {
	for _, f := range r.Header {
		if f[0] == name {
			return f[1:]
		}
	}
	return nil
}

// setAge sets r's Age to age, in whole seconds, when it says less or
// nothing.
func (r *response) setAge(age time.Duration) {
	secs := int64(age / time.Second)
	for _, f := range r.Header {
		if f[0] == "Age" {
			if n, err := strconv.ParseInt(f[1], 10, 64); err != nil || n < secs {
				f[1] = strconv.FormatInt(secs, 10)
			}
			return
		}
	}
	if secs > 0 {
		r.Header = append(r.Header, []string{"Age", strconv.FormatInt(secs, 10)})
		slices.SortFunc(r.Header, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	}
}

func (r response) get(name string) string {
	for _, f := range r.Header {
		if f[0] == name {
			return f[1]
		}
	}
	return ""
}

// write replays r on w: every header value as stored, set before the
// status, then the body, unless the request is HEAD. A stored 200 answers
// the request's preconditions and Range first (see answer): a 304 keeps
// the stored header and sends no body; a 206 sends the part its
// Content-Range names; a 416 sends none of the stored header, and no body.
func (r response) write(w http.ResponseWriter, req *http.Request, cacheStatus string, age time.Duration) {
	a := r.answer(req)
	h := w.Header()
	if a.status != http.StatusRequestedRangeNotSatisfiable {
		r.setHeader(h)
	}
	vals := make([]string, 3) // one allocation for the fields the cache sets itself
	// Age: the age the response arrived with (an upstream cache's, kept
	// when stored), plus its time here (RFC 9111 sections 4.2.3 and 5.1).
	var upstream int64
	if v := r.get("Age"); v != "" {
		upstream, _ = strconv.ParseInt(v, 10, 64)
		upstream = min(upstream, math.MaxInt32+1) // larger counts as 2^31 (RFC 9111 section 1.2.2)
	}
	if age > 0 || upstream > 0 {
		vals[0] = strconv.FormatInt(max(upstream, 0)+int64(age/time.Second), 10)
		h["Age"] = vals[0:1:1]
	}
	vals[1] = cacheStatus
	if up := r.values("Cache-Status"); len(up) > 0 && a.status != http.StatusRequestedRangeNotSatisfiable {
		h["Cache-Status"] = append(up[:len(up):len(up)], cacheStatus) // the upstream caches' first
	} else {
		h["Cache-Status"] = vals[1:2:2]
	}
	switch a.status {
	case http.StatusNotModified:
		h.Del("Content-Length")
	case http.StatusPartialContent, http.StatusRequestedRangeNotSatisfiable:
		h["Content-Range"] = []string{a.contentRange(len(r.Body))}
		vals[2] = strconv.Itoa(len(a.body))
		h["Content-Length"] = vals[2:3:3]
	default:
		if h.Get("Content-Length") == "" && a.status != http.StatusNoContent {
			vals[2] = strconv.Itoa(len(a.body))
			h["Content-Length"] = vals[2:3:3]
		}
	}
	w.WriteHeader(a.status)
	if req.Method != http.MethodHead && len(a.body) > 0 {
		_, _ = w.Write(a.body)
	}
}

// setHeader sets every field of r on h, as stored.
func (r response) setHeader(h http.Header) {
	for _, f := range r.Header {
		if f[0] == "Vary" {
			h[f[0]] = append(h[f[0]], f[1:]...) // keep an outer middleware's Vary: Origin
			continue
		}
		h[f[0]] = f[1:] // r was decoded for this caller alone
	}
}

// cacheStatus is the RFC 9211 Cache-Status value for a result served from
// the cache; it never names the key.
func (c *Cache) cacheStatus(res core.Result) string {
	left := time.Until(res.FreshUntil)
	secs := int64(left / time.Second) // whole seconds left; once stale, whole seconds past, rounded up
	if left < 0 && left%time.Second != 0 {
		secs--
	}
	var buf [96]byte // one allocation, for the result
	b := append(buf[:0], c.cfg.Name...)
	ttl := func(b []byte) []byte { return strconv.AppendInt(append(b, "; ttl="...), secs, 10) }
	switch {
	case res.Memory && res.Status == core.StatusHit:
		b = append(ttl(append(b, "; hit"...)), "; detail=memory"...)
	case res.Memory: // stale, or stale-if-error while Redis is out of reach
		b = append(append(ttl(append(b, "; fwd=stale"...)), "; detail="...), res.Detail...)
	case res.Status == core.StatusHit:
		b = ttl(append(b, "; hit"...))
	case res.Status == core.StatusStale:
		b = ttl(append(b, "; fwd=stale"...))
	case res.Status == core.StatusStaleIfError:
		b = append(ttl(append(b, "; fwd=stale"...)), "; detail=stale-if-error"...)
	case res.Status == core.StatusBypass:
		b = append(append(b, "; fwd=bypass; detail="...), res.Detail...)
	default:
		b = append(b, "; fwd=uri-miss; collapsed"...)
	}
	return string(b)
}
