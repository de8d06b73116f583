package middleware

import (
	"cmp"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// replayCase is one request answered by response.write from a stored
// response. expectRange and expectLength are the exact Content-Range and
// Content-Length, "" for none.
type replayCase struct {
	name          string
	givenResponse response
	givenMethod   string      // "" means GET
	givenHeader   http.Header // the request's
	expectStatus  int
	expectBody    string
	expectRange   string
	expectLength  string
	expectHeader  http.Header // further fields that must be there, exactly
	expectAbsent  []string    // further fields that must not be there
}

// Validators for the stored responses of the tables.
const (
	lastModified = "Mon, 02 Jan 2006 15:04:05 GMT"
	sameSecond   = "Mon, 02 Jan 2006 15:04:05 GMT"
	secondLater  = "Mon, 02 Jan 2006 15:04:06 GMT"
	minuteLater  = "Mon, 02 Jan 2006 15:05:05 GMT"
	secondBefore = "Mon, 02 Jan 2006 15:04:04 GMT"
)

// digits is a stored 200 of ten bytes, "0123456789", with a strong ETag,
// a Last-Modified and the given further fields.
func digits(fields ...[]string) response {
	return response{Status: http.StatusOK, Body: []byte("0123456789"), Header: append([][]string{
		{"Content-Type", "text/plain"}, {"Etag", `"v1"`}, {"Last-Modified", lastModified},
	}, fields...)}
}

func ranged(v string) http.Header { return http.Header{"Range": {v}} }

func runReplayCases(t *testing.T, tests []replayCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := cmp.Or(tt.givenMethod, http.MethodGet)
			req := httptest.NewRequest(method, "/", nil)
			for name, v := range tt.givenHeader {
				req.Header[name] = v
			}
			rec := httptest.NewRecorder()
			tt.givenResponse.write(rec, req, "swrcache; hit; ttl=10", 0)
			h := rec.Result().Header
			for name, want := range map[string]string{"Content-Range": tt.expectRange, "Content-Length": tt.expectLength} {
				if got := h.Values(name); want == "" && len(got) > 0 || want != "" && !slices.Equal(got, []string{want}) {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			checkReplayed(t, rec, tt.expectStatus, tt.expectBody, tt.expectHeader, tt.expectAbsent)
		})
	}
}

// checkReplayed checks what write replayed on rec, with the Cache-Status
// "swrcache; hit; ttl=10": the status, the body, the fields in
// expectHeader exactly, and none of those in expectAbsent.
func checkReplayed(t *testing.T, rec *httptest.ResponseRecorder, status int, body string, expectHeader http.Header, expectAbsent []string) {
	t.Helper()
	h := rec.Result().Header
	if rec.Code != status || rec.Body.String() != body {
		t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body, status, body)
	}
	if got := h.Get("Cache-Status"); got != "swrcache; hit; ttl=10" {
		t.Errorf("Cache-Status %q", got)
	}
	for name, want := range expectHeader {
		if !slices.Equal(h[name], want) {
			t.Errorf("%s = %q, want %q", name, h[name], want)
		}
	}
	for _, name := range expectAbsent {
		if v, ok := h[name]; ok {
			t.Errorf("%s = %q, want none", name, v)
		}
	}
}

func TestWriteAnswersPreconditions(t *testing.T) {
	// row expects a 304, with no body and no Content-Length, or else r
	// replayed whole.
	row := func(name string, r response, method string, header http.Header, expectStatus int) replayCase {
		c := replayCase{name: name, givenResponse: r, givenMethod: method, givenHeader: header, expectStatus: expectStatus}
		if expectStatus != http.StatusNotModified {
			c.expectBody, c.expectLength = string(r.Body), strconv.Itoa(len(r.Body))
		}
		return c
	}
	inm := func(v string) http.Header { return http.Header{"If-None-Match": {v}} }
	ims := func(v ...string) http.Header { return http.Header{"If-Modified-Since": v} }
	dated := response{Status: http.StatusOK, Body: []byte("x"), Header: [][]string{{"Date", lastModified}}}
	undated := response{Status: http.StatusOK, Body: []byte("x")}
	gone := response{Status: http.StatusNotFound, Body: []byte("gone"), Header: [][]string{{"Etag", `"v1"`}}}
	matching := row("a matching If-None-Match is a 304 that keeps the stored fields",
		digits([]string{"Content-Length", "10"}, []string{"Cache-Control", "max-age=60"}), "", inm(`"v1"`), 304)
	matching.expectHeader = http.Header{"Etag": {`"v1"`}, "Last-Modified": {lastModified}, "Cache-Control": {"max-age=60"}}
	runReplayCases(t, []replayCase{
		// RFC 9110 sections 13.1.2 and 15.4.5.
		matching,
		// RFC 9110 section 13.1.2: If-None-Match uses the weak comparison.
		row("a weak If-None-Match matches the strong stored ETag", digits(), "", inm(`W/"v0", W/"v1"`), 304),
		// RFC 9110 section 13.1.2.
		row("an If-None-Match that names another ETag gets the body", digits(), "", inm(`"v0"`), 200),
		// RFC 9110 section 13.1.3: If-Modified-Since is ignored when If-None-Match is there.
		row("an If-None-Match that fails is not overruled by a matching If-Modified-Since", digits(), "",
			http.Header{"If-None-Match": {`"v0"`}, "If-Modified-Since": {secondLater}}, 200),
		// RFC 9110 section 13.2.2, step 3: for GET and HEAD.
		row("HEAD with a matching If-None-Match is a 304", digits(), http.MethodHead, inm(`"v1"`), 304),
		// RFC 9110 section 13.1.3: not modified since a date equal to Last-Modified.
		row("an If-Modified-Since equal to Last-Modified is a 304", digits(), "", ims(sameSecond), 304),
		// RFC 9110 section 13.1.3.
		row("an If-Modified-Since after Last-Modified is a 304", digits(), "", ims(secondLater), 304),
		// RFC 9110 section 13.1.3.
		row("an If-Modified-Since before Last-Modified gets the body", digits(), "", ims(secondBefore), 200),
		// RFC 9110 section 5.6.7: the obsolete date formats are accepted.
		row("an If-Modified-Since in the RFC 850 format is read", digits(), "", ims("Monday, 02-Jan-06 15:04:05 GMT"), 304),
		// RFC 9110 section 5.6.7.
		row("an If-Modified-Since in the asctime format is read", digits(), "", ims("Mon Jan  2 15:04:05 2006"), 304),
		// RFC 9111 section 4.3.2: the Date stands in for a missing Last-Modified.
		row("without Last-Modified, an If-Modified-Since not before the stored Date is a 304", dated, "", ims(sameSecond), 304),
		// RFC 9111 section 4.3.2.
		row("without Last-Modified, an If-Modified-Since before the stored Date gets the body", dated, "", ims(secondBefore), 200),
		// RFC 9111 section 4.3.2: nothing to compare with.
		row("without Last-Modified or Date, an If-Modified-Since gets the body", undated, "", ims(secondLater), 200),
		// RFC 9110 section 13.1.3: an invalid date is ignored.
		row("an If-Modified-Since that is not a date is ignored", digits(), "", ims("yesterday"), 200),
		// RFC 9110 section 13.1.3: a field with more than one member is ignored.
		row("an If-Modified-Since given twice is ignored", digits(), "", ims(secondLater, secondLater), 200),
		// RFC 9110 section 15.4.5: a 304 stands for a 200 the client holds.
		row("a stored 404 is replayed whole whatever the preconditions", gone, "",
			http.Header{"If-None-Match": {`"v1"`}, "If-Modified-Since": {secondLater}}, 404),
		// RFC 9110 section 13.2.2: preconditions come before Range.
		row("a matching If-None-Match with a Range is a 304, not a 206", digits(), "",
			http.Header{"If-None-Match": {`"v1"`}, "Range": {"bytes=0-1"}}, 304),
		// RFC 9110 section 13.2.2.
		row("a matching If-Modified-Since with a Range is a 304, not a 206", digits(), "",
			http.Header{"If-Modified-Since": {sameSecond}, "Range": {"bytes=0-1"}}, 304),
	})
}

func TestWriteAnswersRange(t *testing.T) {
	// Each row asks a stored 200 of ten bytes, "0123456789", for a range.
	tests := []struct {
		name         string
		givenRange   string
		expectStatus int
		expectBody   string // a 206's part, else ""
		expectRange  string
	}{
		// RFC 9110 sections 14.1.2, 14.4 and 15.3.7.
		{"a first-last range is a 206 of those bytes", "bytes=0-3", 206, "0123", "bytes 0-3/10"},
		// RFC 9110 section 14.1.2.
		{"an open range runs to the end", "bytes=7-", 206, "789", "bytes 7-9/10"},
		// RFC 9110 section 14.1.2.
		{"a suffix range is the last bytes", "bytes=-3", 206, "789", "bytes 7-9/10"},
		// RFC 9110 section 14.1.2.
		{"a one-byte range", "bytes=5-5", 206, "5", "bytes 5-5/10"},
		// RFC 9110 section 14.1.1: a last-pos past the end stops at the end.
		{"a range past the end stops at the end", "bytes=8-100", 206, "89", "bytes 8-9/10"},
		// RFC 9110 section 14.1.1: a suffix longer than the body is all of it.
		{"a suffix longer than the body is the whole body", "bytes=-100", 206, "0123456789", "bytes 0-9/10"},
		// RFC 9110 section 14.1: range units are case-insensitive; section 5.6.1: OWS around elements.
		{"the unit in any case, with spaces around the range", "Bytes= 1-2 ", 206, "12", "bytes 1-2/10"},
		// RFC 9110 section 5.6.1: empty list elements are ignored.
		{"empty elements around one range leave one range", "bytes=,, ,0-1,,,", 206, "01", "bytes 0-1/10"},
		// RFC 9110 section 14.1.1: leading zeros are digits like others.
		{"leading zeros in positions", "bytes=00000000000000000000000003-0004", 206, "34", "bytes 3-4/10"},
		// RFC 9110 section 14.1.1: a huge last-pos is past the end.
		{"a last position past any integer stops at the end", "bytes=1-99999999999999999999999999", 206, "123456789", "bytes 1-9/10"},
		// RFC 9110 section 14.1.1.
		{"a suffix past any integer is the whole body", "bytes=-99999999999999999999999999", 206, "0123456789", "bytes 0-9/10"},
		// RFC 9110 sections 14.1.1 and 15.5.17: a first-pos at or past the end is unsatisfiable.
		{"a range that starts at the end is a 416", "bytes=10-", 416, "", "bytes */10"},
		// RFC 9110 sections 14.1.1 and 15.5.17.
		{"a range that starts past the end is a 416", "bytes=11-20", 416, "", "bytes */10"},
		// RFC 9110 sections 14.1.1 and 15.5.17: a position past any integer is past the end.
		{"a first position past any integer is a 416", "bytes=99999999999999999999999999-", 416, "", "bytes */10"},
		// RFC 9110 sections 14.1.1 and 15.5.17.
		{"the largest integer as both positions is a 416", "bytes=9223372036854775807-9223372036854775807", 416, "", "bytes */10"},
		// RFC 9110 section 14.1.1: a suffix of 0 bytes is unsatisfiable.
		{"a suffix of zero bytes is a 416", "bytes=-0", 416, "", "bytes */10"},
		// RFC 9110 sections 14.1.1 and 14.2: an invalid range is ignored.
		{"a last position before the first is ignored", "bytes=5-2", 200, "", ""},
		// RFC 9110 sections 14.1.1 and 14.2.
		{"a last position before the first, both past any integer, is ignored", "bytes=99999999999999999999-99999999999999999998", 200, "", ""},
		// RFC 9110 section 14.2: the cache leaves multipart/byteranges to the handler (multiRange).
		{"several ranges are ignored", "bytes=0-1,5-6", 200, "", ""},
	}
	var cases []replayCase
	for _, tt := range tests {
		c := replayCase{name: tt.name, givenResponse: digits(), givenHeader: ranged(tt.givenRange),
			expectStatus: tt.expectStatus, expectBody: tt.expectBody, expectRange: tt.expectRange,
			expectLength: strconv.Itoa(len(tt.expectBody))}
		if tt.expectStatus == http.StatusOK {
			c.expectBody, c.expectLength = "0123456789", "10"
		}
		cases = append(cases, c)
	}
	runReplayCases(t, cases)
}

func TestWriteAnswersRangeFromAWholeStored200Alone(t *testing.T) {
	runReplayCases(t, []replayCase{
		{
			// RFC 9110 section 15.3.7: the part's length replaces the whole one; the other fields stay.
			name:          "a 206 keeps the stored fields but its Content-Length",
			givenResponse: digits([]string{"Content-Length", "10"}), givenHeader: ranged("bytes=2-4"),
			expectStatus: http.StatusPartialContent, expectBody: "234", expectRange: "bytes 2-4/10", expectLength: "3",
			expectHeader: http.Header{"Content-Type": {"text/plain"}, "Etag": {`"v1"`}, "Last-Modified": {lastModified}},
		},
		{
			// RFC 9110 section 15.5.17: a 416 describes no representation, and no cache may store it as one.
			name:          "a 416 has no body and none of the stored fields",
			givenResponse: digits([]string{"Content-Length", "10"}, []string{"Cache-Control", "max-age=60"}),
			givenHeader:   ranged("bytes=10-"),
			expectStatus:  http.StatusRequestedRangeNotSatisfiable, expectRange: "bytes */10", expectLength: "0",
			expectAbsent: []string{"Content-Type", "Etag", "Last-Modified", "Cache-Control"},
		},
		{
			// RFC 9110 section 14.2: only GET has range handling.
			name:          "HEAD with a Range gets the whole header",
			givenResponse: digits(), givenMethod: http.MethodHead, givenHeader: ranged("bytes=0-3"),
			expectStatus: http.StatusOK, expectLength: "10",
		},
		{
			// RFC 9110 section 15.3.7: a 206 is a part of a 200.
			name:          "a stored 404 is replayed whole",
			givenResponse: response{Status: http.StatusNotFound, Body: []byte("gone")}, givenHeader: ranged("bytes=0-1"),
			expectStatus: http.StatusNotFound, expectBody: "gone", expectLength: "4",
		},
		{
			// RFC 9110 section 14.2: a server MAY ignore Range; an empty body has no byte to name.
			name:          "an empty body is sent whole",
			givenResponse: response{Status: http.StatusOK}, givenHeader: ranged("bytes=0-"),
			expectStatus: http.StatusOK, expectLength: "0",
		},
		{
			// RFC 9110 section 14.2: a server MAY ignore Range.
			name:          "a body shorter than its stored Content-Length is sent whole",
			givenResponse: digits([]string{"Content-Length", "20"}), givenHeader: ranged("bytes=0-1"),
			expectStatus: http.StatusOK, expectBody: "0123456789", expectLength: "20",
		},
	})
}

func TestWriteIgnoresMalformedRanges(t *testing.T) {
	// RFC 9110 section 14.2: a server MAY ignore a Range it does not
	// understand; the cache sends the whole 200.
	tests := []struct {
		name       string
		givenRange []string
	}{
		{"another unit", []string{"items=0-1"}},
		{"an empty value", []string{""}},
		{"no range-set", []string{"bytes="}},
		{"no equals sign", []string{"bytes 0-1"}},
		{"only commas", []string{"bytes=,,,,"}},
		{"only a dash", []string{"bytes=-"}},
		{"letters", []string{"bytes=a-b"}},
		{"a hexadecimal position", []string{"bytes=0x1-2"}},
		{"a signed position", []string{"bytes=+1-2"}},
		{"a negative last position", []string{"bytes=1--2"}},
		{"a suffix with a last position", []string{"bytes=-1-2"}},
		{"spaces inside the range", []string{"bytes=0 -1"}},
		{"a fraction", []string{"bytes=0.5-1"}},
		{"a valid range next to a malformed one", []string{"bytes=0-1,x"}},
		{"two Range fields", []string{"bytes=0-1", "bytes=2-3"}},
		{"a Content-Range in the request", []string{"bytes 0-1/10"}},
		{"many commas and ranges", []string{"bytes=" + strings.Repeat("0-1,", 10000)}},
	}
	var cases []replayCase
	for _, tt := range tests {
		cases = append(cases, replayCase{
			name: tt.name, givenResponse: digits(), givenHeader: http.Header{"Range": tt.givenRange},
			expectStatus: http.StatusOK, expectBody: "0123456789", expectLength: "10",
		})
	}
	runReplayCases(t, cases)
}

func TestWriteAnswersIfRange(t *testing.T) {
	withRange := func(ifRange ...string) http.Header {
		return http.Header{"Range": {"bytes=0-1"}, "If-Range": ifRange}
	}
	part := replayCase{expectStatus: http.StatusPartialContent, expectBody: "01", expectRange: "bytes 0-1/10", expectLength: "2"}
	whole := replayCase{expectStatus: http.StatusOK, expectBody: "0123456789", expectLength: "10"}
	row := func(name string, resp response, header http.Header, expect replayCase) replayCase {
		expect.name, expect.givenResponse, expect.givenHeader = name, resp, header
		return expect
	}
	weakStored := response{Status: http.StatusOK, Body: []byte("0123456789"), Header: [][]string{{"Etag", `W/"v1"`}}}
	noValidator := response{Status: http.StatusOK, Body: []byte("0123456789")}
	runReplayCases(t, []replayCase{
		// RFC 9110 section 13.1.5: an entity-tag, by the strong comparison.
		row("an If-Range with the stored strong ETag gets the range", digits(), withRange(`"v1"`), part),
		// RFC 9110 section 13.1.5.
		row("an If-Range with another ETag gets the whole response", digits(), withRange(`"v0"`), whole),
		// RFC 9110 sections 8.8.3.2 and 13.1.5: a weak entity-tag never matches strongly.
		row("an If-Range with a weak ETag gets the whole response", digits(), withRange(`W/"v1"`), whole),
		// RFC 9110 section 8.8.3.2.
		row("an If-Range against a weak stored ETag gets the whole response", weakStored, withRange(`"v1"`), whole),
		// RFC 9110 section 13.1.5.
		row("an If-Range with an ETag but none stored gets the whole response", noValidator, withRange(`"v1"`), whole),
		// RFC 9110 sections 13.1.5 and 8.8.2.2: without a stored Date, a cache
		// cannot tell the Last-Modified is strong.
		row("an If-Range with the stored Last-Modified and no stored Date gets the whole response", digits(), withRange(lastModified), whole),
		// RFC 9110 section 8.8.2.2: for a cache, a Last-Modified is strong
		// only at least 60 seconds before the Date.
		row("an If-Range with a Last-Modified a minute before the stored Date gets the range",
			digits([]string{"Date", minuteLater}), withRange(lastModified), part),
		// RFC 9110 section 8.8.2.2: a second before is the rule for clients, not caches.
		row("an If-Range with a Last-Modified a second before the stored Date gets the whole response",
			digits([]string{"Date", secondLater}), withRange(lastModified), whole),
		// RFC 9110 section 8.8.2.2: within the Date's second, the Last-Modified is weak.
		row("an If-Range with a Last-Modified in the second of the stored Date gets the whole response",
			digits([]string{"Date", sameSecond}), withRange(lastModified), whole),
		// RFC 9110 section 13.1.5: only an exact match holds.
		row("an If-Range with a date after Last-Modified gets the whole response", digits(), withRange(secondLater), whole),
		// RFC 9110 section 13.1.5.
		row("an If-Range with a date but no stored Last-Modified gets the whole response", noValidator, withRange(lastModified), whole),
		// RFC 9110 section 13.1.5: neither an entity-tag nor a date.
		row("a malformed If-Range gets the whole response", digits(), withRange("v1"), whole),
		// RFC 9110 section 13.1.5.
		row("an unterminated entity-tag in If-Range gets the whole response", digits(), withRange(`"v1`), whole),
		// RFC 9110 section 13.1.5: one validator only.
		row("two If-Range fields get the whole response", digits(), withRange(`"v1"`, `"v1"`), whole),
		// RFC 9110 section 13.1.5: without Range, If-Range is ignored.
		row("an If-Range without a Range gets the whole response", digits(), http.Header{"If-Range": {`"v0"`}}, whole),
		// RFC 9110 sections 13.2.2 and 15.5.17: a Range that If-Range lets through may be unsatisfiable.
		row("an If-Range that holds with a range past the end is a 416", digits(),
			http.Header{"Range": {"bytes=10-"}, "If-Range": {`"v1"`}},
			replayCase{expectStatus: http.StatusRequestedRangeNotSatisfiable, expectRange: "bytes */10", expectLength: "0"}),
		// RFC 9110 section 13.2.2, step 5: a failed If-Range ignores the Range, satisfiable or not.
		row("an If-Range that fails with a range past the end gets the whole response", digits(),
			http.Header{"Range": {"bytes=10-"}, "If-Range": {`"v0"`}}, whole),
	})
}

func TestMultiRange(t *testing.T) {
	tests := []struct {
		name        string
		givenMethod string
		givenRange  []string
		expectMulti bool
	}{
		{"a GET for two ranges", http.MethodGet, []string{"bytes=0-1,5-6"}, true},
		{"a GET for a range and a suffix", http.MethodGet, []string{"bytes=0-1, -3"}, true},
		{"a GET for one range among empty elements", http.MethodGet, []string{"bytes=,0-1,"}, false},
		{"a GET for one range", http.MethodGet, []string{"bytes=0-1"}, false},
		{"a GET without Range", http.MethodGet, nil, false},
		{"a HEAD for two ranges, which ignores Range", http.MethodHead, []string{"bytes=0-1,5-6"}, false},
		{"a GET for two ranges of another unit", http.MethodGet, []string{"items=0-1,5-6"}, false},
		{"a GET for two ranges, one malformed", http.MethodGet, []string{"bytes=0-1,x-6"}, false},
		{"a GET with two Range fields", http.MethodGet, []string{"bytes=0-1", "bytes=5-6"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.givenMethod, "/", nil)
			r.Header["Range"] = tt.givenRange
			if got := multiRange(r); got != tt.expectMulti {
				t.Fatalf("multiRange = %v, want %v", got, tt.expectMulti)
			}
		})
	}
}

func TestWithoutConditionalsLeavesTheHandlerTheWholeResponse(t *testing.T) {
	h := http.Header{
		"If-None-Match": {`"v1"`}, "If-Modified-Since": {lastModified}, "Range": {"bytes=0-1"},
		"If-Range": {`"v1"`}, "If-Match": {`"v1"`}, "Accept": {"text/html"},
	}
	if !conditionalHeaders(h) {
		t.Fatal("conditionalHeaders missed the fields")
	}
	got := withoutConditionals(h)
	want := http.Header{"If-Match": {`"v1"`}, "Accept": {"text/html"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("withoutConditionals = %v, want %v", got, want)
	}
	if len(h) != 6 {
		t.Errorf("withoutConditionals changed its argument: %v", h)
	}
	for _, name := range []string{"If-None-Match", "If-Modified-Since", "Range", "If-Range"} {
		if !conditionalHeaders(http.Header{name: {"x"}}) {
			t.Errorf("conditionalHeaders missed %s", name)
		}
	}
	if conditionalHeaders(want) {
		t.Error("conditionalHeaders found a field the cache leaves to the handler")
	}
}

// discardWriter is a ResponseWriter that allocates nothing of its own.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

func TestWriteAllocatesNothingMoreForAPlainHit(t *testing.T) {
	resp := digits([]string{"Content-Length", "10"})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Accept", "text/html")
	w := &discardWriter{h: make(http.Header, 16)}
	allocs := testing.AllocsPerRun(100, func() {
		clear(w.h)
		resp.write(w, req, "swrcache; hit; ttl=10", 0)
	})
	// As before Range and If-Modified-Since were answered: the values of
	// the fields the cache sets itself, and the error strconv.ParseInt
	// returns for the missing Age.
	if allocs > 2 {
		t.Fatalf("a plain hit allocates %v times, want at most 2", allocs)
	}
}

// FuzzRange: write never panics on any Range; it answers 200 with the
// whole body, 206 with exactly the bytes its Content-Range names, or 416
// with none; and a request multiRange bypasses would get a 200.
func FuzzRange(f *testing.F) {
	for _, v := range []string{"bytes=0-3", "bytes=7-", "bytes=-3", "bytes=-0", "bytes=5-2", "bytes=10-",
		"bytes=0-1,5-6", "bytes=,,0-1,,", "bytes=99999999999999999999-", "bytes=-99999999999999999999", "items=0-1", ""} {
		f.Add(v, uint16(10))
	}
	f.Add("bytes=0-", uint16(0))
	f.Fuzz(func(t *testing.T, rangeValue string, size uint16) {
		body := make([]byte, size)
		for i := range body {
			body[i] = byte(i % 251)
		}
		resp := response{Status: http.StatusOK, Body: body, Header: [][]string{{"Etag", `"v1"`}}}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header["Range"] = []string{rangeValue}
		rec := httptest.NewRecorder()
		resp.write(rec, req, "swrcache; hit", 0)
		got, cr := rec.Body.Bytes(), rec.Header().Get("Content-Range")
		switch rec.Code {
		case http.StatusOK:
			if !slices.Equal(got, body) || cr != "" {
				t.Fatalf("200 with %d bytes of %d, Content-Range %q", len(got), size, cr)
			}
		case http.StatusPartialContent:
			var first, last, total int
			if n, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &first, &last, &total); err != nil || n != 3 {
				t.Fatalf("206 with Content-Range %q", cr)
			}
			if total != int(size) || first < 0 || first > last || last >= total || !slices.Equal(got, body[first:last+1]) {
				t.Fatalf("206 %q with %d bytes, not that part of %d", cr, len(got), size)
			}
			if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(len(got)) {
				t.Fatalf("206 %q with Content-Length %q", cr, cl)
			}
		case http.StatusRequestedRangeNotSatisfiable:
			if len(got) != 0 || cr != "bytes */"+strconv.Itoa(int(size)) {
				t.Fatalf("416 with %d bytes, Content-Range %q", len(got), cr)
			}
		default:
			t.Fatalf("status %d", rec.Code)
		}
		if multiRange(req) && rec.Code != http.StatusOK {
			t.Fatalf("%q is bypassed as several ranges, yet answered %d", rangeValue, rec.Code)
		}
	})
}

// A request that accepts a compressed response gets the whole response
// for a Range: a compressor before the cache would compress the part.
func TestAcceptsCoding(t *testing.T) {
	tests := []struct {
		givenAcceptEncoding []string
		expect              bool
	}{
		{nil, false},
		{[]string{"identity"}, false},
		{[]string{"identity;q=1, *;q=0"}, false},
		{[]string{"gzip"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.000, br;q=0"}, false},
		{[]string{"gzip;q=0.5"}, true},
		{[]string{"identity", "br"}, true},
		{[]string{"*"}, true},
		{[]string{", ,"}, false},
	}
	for _, tt := range tests {
		h := http.Header{}
		for _, v := range tt.givenAcceptEncoding {
			h.Add("Accept-Encoding", v)
		}
		if got := acceptsCoding(h); got != tt.expect {
			t.Errorf("Accept-Encoding %q: acceptsCoding = %v, want %v", tt.givenAcceptEncoding, got, tt.expect)
		}
	}
}
