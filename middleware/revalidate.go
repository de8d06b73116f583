package middleware

import (
	"net/http"
	"slices"
	"strings"
)

// A stored response with a validator (an ETag, a Last-Modified) that is
// due to be replaced, by a background refresh or by the fill of an
// expired entry the engine still holds (core.Fill.Previous), is
// revalidated: the handler gets a conditional request for it (RFC 9111
// section 4.3.1), and a 304 updates the stored header and freshness while
// the body stays as stored, not even sent to Redis again (section 4.3.4,
// core.Item.Unchanged). A handler that answers conditionals, as
// http.ServeContent and httputil.ReverseProxy in front of one do, skips
// its body's work.

// revalidatable decodes prev, a stored value, when a conditional request
// can revalidate it.
func revalidatable(prev []byte) (response, bool) {
	if len(prev) == 0 {
		return response{}, false
	}
	s, err := decodeStored(prev)
	if err != nil || s.vary != nil || (s.resp.get("Etag") == "" && s.resp.get("Last-Modified") == "") {
		return response{}, false
	}
	return s.resp, true
}

// conditional returns req asking whether prev is still good: with its
// ETag in If-None-Match and its Last-Modified in If-Modified-Since.
func conditional(req *http.Request, prev response) *http.Request {
	r := *req
	r.Header = req.Header.Clone()
	if etag := prev.get("Etag"); etag != "" {
		r.Header.Set("If-None-Match", etag)
	}
	if lm := prev.get("Last-Modified"); lm != "" {
		r.Header.Set("If-Modified-Since", lm)
	}
	return &r
}

// revalidation is how a fill or refresh runs the route: with a stored
// response to revalidate (ok), as a conditional request first, and again
// with again, a way to run the route a second time for the same request
// (a Runner), when the answer is a 304 that cannot update it. Without
// again (a gin route with no Router), there is no conditional request.
type revalidation struct {
	prev  response
	ok    bool
	again Next
}

// run runs next for req into a fillWriter from newWriter, and returns the
// writer that recorded the answer. With a stored response, the request
// is conditional: a 304 updates the stored response (revalidate), and a
// 304 that cannot (another validator, a body, a flush) is followed by the
// request again without conditions, so that neither the store nor a
// client ever gets a 304 it did not ask for.
func (v revalidation) run(newWriter func() *fillWriter, next Next, req *http.Request) (*fillWriter, error) {
	fw := newWriter()
	if !v.ok || v.again == nil {
		err := next(fw, req)
		fw.finish(err)
		return fw, err
	}
	fw.conditional = true
	err := next(fw, conditional(req, v.prev))
	fw.finish(err)
	if err != nil || fw.status != http.StatusNotModified || fw.revalidate(v.prev) || fw.committed || fw.hijacked {
		return fw, err
	}
	// next may run only once per request (gin's context has moved past the
	// handlers): the route's Runner runs it again.
	fw = newWriter()
	err = v.again(fw, req)
	fw.finish(err)
	return fw, err
}

// notUpdated are the fields a 304 never changes in the stored response, on
// top of those never stored: Content-Length (RFC 9111 section 3.2), and
// those that describe the stored body or what it varies on, which a 304
// from a compressor after the cache may set for a body it never sent.
var notUpdated = []string{"Content-Length", "Content-Encoding", "Content-Type", "Content-Range", "Vary"}

// sameValidators reports whether a 304 with header h may update prev (RFC
// 9111 section 4.3.4): a strong entity-tag must be prev's strong one, a
// weak one match prev's by the weak comparison; without one, the same
// Last-Modified, or none.
func sameValidators(h http.Header, prev response) bool {
	if etag := h.Get("Etag"); etag != "" {
		if !strings.HasPrefix(etag, "W/") {
			return etag == prev.get("Etag")
		}
		return strings.TrimPrefix(etag, "W/") == strings.TrimPrefix(prev.get("Etag"), "W/")
	}
	if lm := h.Get("Last-Modified"); lm != "" && prev.get("Last-Modified") != "" {
		return lm == prev.get("Last-Modified")
	}
	return true
}

// revalidate turns the 304 that w recorded, the handler's answer to a
// conditional request for prev, into prev updated with the 304's fields,
// which replace the stored ones of the same names (RFC 9111 sections
// 3.2 and 4.3.4). A stored Age the 304 does not renew is dropped: the
// response was just validated. It reports false, changing nothing, when
// w did not record such a 304 or already sent it on.
func (w *fillWriter) revalidate(prev response) bool {
	if w.status != http.StatusNotModified || w.committed || w.hijacked || !sameValidators(w.sent, prev) {
		return false
	}
	h := make(http.Header, len(prev.Header)+len(w.sent))
	for _, f := range prev.Header {
		if f[0] != "Age" {
			h[f[0]] = slices.Clone(f[1:])
		}
	}
	for name, values := range w.sent {
		if name = http.CanonicalHeaderKey(name); !slices.Contains(notUpdated, name) && len(values) > 0 {
			h[name] = slices.Clone(values)
		}
	}
	w.status, w.sent, w.header, w.body = prev.Status, h, h, prev.Body
	w.size, w.revalidated = int64(len(prev.Body)), true
	return true
}
