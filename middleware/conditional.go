package middleware

import (
	"cmp"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// How a stored response answers a request's preconditions and its Range
// (RFC 9110 sections 13 and 14). A cache evaluates them in the order of
// section 13.2.2: If-None-Match, else If-Modified-Since, gives a 304;
// then a GET with one byte range, and an If-Range that holds, gets that
// part of the body (206), or a 416 when the range starts past its end.
// Anything else gets the response as stored. Only a stored 200 is
// answered so: a 304 or a part of a 404 would describe no representation.
// Request fields are looked up by their canonical names, as Header.Values
// would find them, without canonicalizing a name on every hit.

// answer is what write sends for one request: the status, the body, and
// for a 206 the positions of its first and last byte in the stored body.
type answer struct {
	status      int
	body        []byte
	first, last int64
}

// answer says how r answers req.
func (r response) answer(req *http.Request) answer {
	whole := answer{status: r.Status, body: r.Body}
	if r.Status != http.StatusOK || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		return whole
	}
	if r.notModified(req.Header) {
		return answer{status: http.StatusNotModified}
	}
	// Range is defined for GET alone (section 14.2), and an empty body has
	// no byte a Content-Range could name: both are sent whole.
	if req.Method != http.MethodGet || len(r.Body) == 0 {
		return whole
	}
	spec, ok := singleRange(req.Header)
	if !ok || !r.complete() || !r.ifRangeHolds(req.Header) || (r.get("Content-Encoding") == "" && acceptsCoding(req.Header)) {
		return whole
	}
	size := int64(len(r.Body))
	first, last, ok := spec.span(size)
	if !ok {
		return answer{status: http.StatusRequestedRangeNotSatisfiable}
	}
	return answer{status: http.StatusPartialContent, body: r.Body[first : last+1], first: first, last: last}
}

// acceptsCoding reports whether a request's Accept-Encoding accepts a
// content coding other than identity. A compressor before the cache
// would then compress a part cut from an identity body, and its
// Content-Range would name bytes the client never gets: such a request
// gets the whole response, which a server may always send for a Range
// (RFC 9110 section 14.2). Browsers ask for media ranges with
// "identity", and Go's client sends no Accept-Encoding with a Range.
func acceptsCoding(h http.Header) bool {
	for _, v := range h["Accept-Encoding"] {
		for _, member := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(member, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding == "" || coding == "identity" {
				continue
			}
			if q, ok := strings.CutPrefix(strings.ReplaceAll(strings.ToLower(params), " ", ""), "q="); ok && strings.Trim(q, "0.") == "" {
				continue // q=0: not acceptable
			}
			return true
		}
	}
	return false
}

// contentRange is the Content-Range of a (RFC 9110 section 14.4) for a
// body of size bytes: the part's positions in a 206, "*" in a 416.
func (a answer) contentRange(size int) string {
	var buf [64]byte
	b := append(buf[:0], "bytes "...)
	if a.status == http.StatusPartialContent {
		b = strconv.AppendInt(b, a.first, 10)
		b = strconv.AppendInt(append(b, '-'), a.last, 10)
	} else {
		b = append(b, '*')
	}
	return string(strconv.AppendInt(append(b, '/'), int64(size), 10))
}

// notModified reports whether the preconditions in h say the client's
// copy of r is current. If-None-Match, when present, decides alone, by
// the weak comparison (section 13.1.2). Else a valid If-Modified-Since
// (section 13.1.3) holds when r's Last-Modified, or without one its Date
// (RFC 9111 section 4.3.2), is not later than it; a date that does not
// parse, or a field given twice, is ignored.
func (r response) notModified(h http.Header) bool {
	if inm := h["If-None-Match"]; len(inm) > 0 {
		return etagMatches(inm, r.get("Etag"))
	}
	ims := h["If-Modified-Since"]
	if len(ims) != 1 {
		return false
	}
	since, err := http.ParseTime(strings.Trim(ims[0], " \t"))
	if err != nil {
		return false
	}
	modified := r.get("Last-Modified")
	if modified == "" {
		modified = r.get("Date")
	}
	t, err := http.ParseTime(modified)
	return err == nil && !t.After(since)
}

// complete reports whether r's body is the whole representation: a
// stored Content-Length, if any, counts its bytes. Only then may it be
// cut into ranges.
func (r response) complete() bool {
	cl := r.get("Content-Length")
	if cl == "" {
		return true
	}
	n, err := strconv.ParseInt(cl, 10, 64)
	return err == nil && n == int64(len(r.Body))
}

// ifRangeHolds reports whether the range asked for may come from r: there
// is no If-Range, or it names r's current validator (section 13.1.5). An
// entity-tag must equal r's ETag by the strong comparison, so a weak one
// never does; a date must equal r's Last-Modified, and that is a strong
// validator for a cache only when r has a Date at least 60 seconds later
// (section 8.8.2.2). Any other If-Range fails, and the whole response is
// sent.
func (r response) ifRangeHolds(h http.Header) bool {
	v := h["If-Range"]
	switch {
	case len(v) == 0:
		return true
	case len(v) > 1:
		return false
	}
	validator := strings.Trim(v[0], " \t")
	if strings.HasPrefix(validator, `"`) || strings.HasPrefix(validator, "W/") {
		etag := strings.Trim(r.get("Etag"), " \t")
		return len(validator) >= 2 && validator[0] == '"' && validator == etag
	}
	date, err := http.ParseTime(validator)
	if err != nil {
		return false
	}
	modified, err := http.ParseTime(r.get("Last-Modified"))
	if err != nil || !modified.Equal(date) {
		return false
	}
	stamped, err := http.ParseTime(r.get("Date"))
	return err == nil && stamped.Sub(modified) >= time.Minute
}

// byteRange is one range-spec of a bytes Range (section 14.1.2), its
// positions as the digits written: first is "" for a suffix range
// ("-500", the last 500 bytes), last is "" for an open one ("9500-").
type byteRange struct{ first, last string }

// singleRange returns the range of a request whose Range asks for exactly
// one byte range, and false for none, several, another unit, or a field
// that is malformed or invalid (section 14.1.1): those are ignored.
func singleRange(h http.Header) (byteRange, bool) {
	v := h["Range"]
	if len(v) != 1 {
		return byteRange{}, false
	}
	spec, n := byteRanges(v[0])
	return spec, n == 1
}

// multiRange reports whether r is a GET whose Range asks for more than
// one byte range. The cache does not answer it: a multipart/byteranges
// response is the handler's to make.
func multiRange(r *http.Request) bool {
	v := r.Header["Range"]
	if r.Method != http.MethodGet || len(v) != 1 {
		return false
	}
	_, n := byteRanges(v[0])
	return n > 1
}

// byteRanges parses the value of a Range field: it returns the first of
// its range-specs and how many it holds, or 0 when it is not a bytes
// range-set, or any spec is malformed or invalid. Empty list elements
// are skipped (section 5.6.1).
func byteRanges(v string) (first byteRange, n int) {
	unit, set, ok := strings.Cut(v, "=")
	if !ok || !strings.EqualFold(strings.Trim(unit, " \t"), "bytes") {
		return byteRange{}, 0
	}
	for more := true; more; {
		var elem string
		elem, set, more = strings.Cut(set, ",")
		if elem = strings.Trim(elem, " \t"); elem == "" {
			continue
		}
		spec, ok := parseRangeSpec(elem)
		if !ok {
			return byteRange{}, 0
		}
		if n == 0 {
			first = spec
		}
		n++
	}
	return first, n
}

// parseRangeSpec parses "first-last", "first-" or "-suffix". A last
// position before the first makes the spec invalid (section 14.1.1).
func parseRangeSpec(s string) (byteRange, bool) {
	first, last, ok := strings.Cut(s, "-")
	switch {
	case !ok || first == "" && last == "":
		return byteRange{}, false
	case first != "" && !isDigits(first), last != "" && !isDigits(last):
		return byteRange{}, false
	case first != "" && last != "" && compareDigits(last, first) < 0:
		return byteRange{}, false
	}
	return byteRange{first: first, last: last}, true
}

// span resolves br against a body of size bytes (size > 0): the positions
// of the first and last bytes it selects, or false when it selects none,
// which is when it starts at or past the end, or is a suffix of 0 bytes
// (section 14.1.1). A last position past the end, or a suffix longer than
// the body, stops at the end.
func (br byteRange) span(size int64) (first, last int64, ok bool) {
	if br.first == "" {
		n := position(br.last)
		if n == 0 {
			return 0, 0, false
		}
		return size - min(n, size), size - 1, true
	}
	first, last = position(br.first), size-1
	if first >= size {
		return 0, 0, false
	}
	if br.last != "" {
		last = min(position(br.last), last)
	}
	return first, last, true
}

// position is the number a run of digits writes, or math.MaxInt64 when it
// is larger: a position past the end of any body.
func position(digits string) int64 {
	var n int64
	for i := range len(digits) {
		d := int64(digits[i] - '0')
		if n > (math.MaxInt64-d)/10 {
			return math.MaxInt64
		}
		n = n*10 + d
	}
	return n
}

// compareDigits compares the numbers two runs of digits write, however
// long they are.
func compareDigits(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// answeredFields are the request fields the cache answers itself from a
// stored response. A fill must not pass them to the handler, whose whole
// 200 is what the cache stores.
var answeredFields = [...]string{"If-None-Match", "If-Modified-Since", "Range", "If-Range"}

// conditionalHeaders reports whether h holds any of answeredFields.
func conditionalHeaders(h http.Header) bool {
	for _, name := range answeredFields {
		if len(h[name]) > 0 {
			return true
		}
	}
	return false
}

// withoutConditionals returns a copy of h without answeredFields.
func withoutConditionals(h http.Header) http.Header {
	h = h.Clone()
	for _, name := range answeredFields {
		delete(h, name)
	}
	return h
}
