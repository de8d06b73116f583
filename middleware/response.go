package middleware

import (
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

// unstored are never stored: hop-by-hop fields (RFC 9110 section 7.6.1),
// per-user state, and what the cache sets itself on replay.
var unstored = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Set-Cookie", "Age", "Cache-Status"}

// capture turns what rec recorded into a response, dropping the fields that
// must not be replayed and drop (the tags header).
func capture(rec *recorder, drop string) response {
	h := rec.sentHeader()
	skip := func(name string) bool {
		return slices.Contains(unstored, name) || strings.EqualFold(name, drop) || hasToken(h.Values("Connection"), name)
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
	return response{Status: rec.status, Header: fields, Body: rec.body.Bytes()}
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
// status, then the body, unless the request is HEAD or its If-None-Match
// matches the stored ETag (a 304).
func (r response) write(w http.ResponseWriter, req *http.Request, cacheStatus string, age time.Duration) {
	h := w.Header()
	for _, f := range r.Header {
		if f[0] == "Vary" {
			h[f[0]] = append(h[f[0]], f[1:]...) // keep an outer middleware's Vary: Origin
			continue
		}
		h[f[0]] = f[1:] // r was decoded for this caller alone
	}
	if age > 0 {
		h.Set("Age", strconv.FormatInt(int64(age/time.Second), 10))
	}
	h.Set("Cache-Status", cacheStatus)
	status, body := r.Status, r.Body
	if status == http.StatusOK && etagMatches(req.Header.Values("If-None-Match"), r.get("Etag")) {
		status, body = http.StatusNotModified, nil
		h.Del("Content-Length")
	} else if h.Get("Content-Length") == "" && status != http.StatusNoContent {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	if req.Method != http.MethodHead && len(body) > 0 {
		_, _ = w.Write(body)
	}
}

// cacheStatus is the RFC 9211 Cache-Status value for a result; it never
// names the key.
func (c *Cache) cacheStatus(res core.Result, detail string, now time.Time) string {
	ttl := int64(res.FreshUntil.Sub(now) / time.Second)
	s := c.cfg.Name
	switch res.Status {
	case core.StatusHit:
		s += "; hit; ttl=" + strconv.FormatInt(ttl, 10)
	case core.StatusStale:
		s += "; fwd=stale; ttl=" + strconv.FormatInt(ttl, 10)
	case core.StatusStaleIfError:
		s += "; fwd=stale; ttl=" + strconv.FormatInt(ttl, 10) + "; detail=stale-if-error"
	case core.StatusCollapsed:
		s += "; fwd=uri-miss; collapsed"
	case core.StatusBypass:
		s += "; fwd=bypass; detail=" + res.Detail
	default:
		s += "; fwd=uri-miss"
		if res.Stored {
			s += "; stored"
		} else if detail != "" {
			s += "; detail=" + detail
		}
	}
	return s
}
