package swrcache_test

import (
	"net/http"
	"strings"
)

// Conditional requests (RFC 9110 section 13; RFC 9111 section 4.3.2) and
// range requests (RFC 9110 section 14) from clients, answered from a
// stored 200 without asking the origin where the RFCs allow it.

// validatedOrigin is an origin whose reads carry a strong ETag "x" and
// Last-Modified, through http.ServeContent.
var validatedOrigin = []confAnswer{{
	header:       []string{"Cache-Control", "max-age=100", "Etag", `"x"`, "Last-Modified", lastModified},
	serveContent: true,
}}

// notModifiedFromCache checks a 304 from the cache, with the fields a 200 would
// have had (RFC 9110 section 15.4.5).
func notModifiedFromCache(header ...string) confStep {
	return whenGet("/r", header...).expect(expectStatus(http.StatusNotModified), expectBody(""),
		expectHeader("Etag", `"x"`), expectHeader("Cache-Control", "max-age=100"), expectOriginNotCalled)
}

// wholeStored checks the stored 200, from the cache.
func wholeStored(header ...string) confStep {
	return whenGet("/r", header...).expect(expectStatus(200), expectBody("/r#1"), expectOriginNotCalled)
}

var conditionalRows = []confRow{
	{
		name:        "If-Modified-Since on a miss is answered 304, and the whole response stored",
		rfc:         "RFC 9110 §13.1.3, §13.2.2",
		givenOrigin: validatedOrigin,
		steps: []confStep{
			whenGet("/r", "If-Modified-Since", lastModified).expect(expectStatus(http.StatusNotModified), expectBody(""),
				expectOurs("fwd=uri-miss", "stored"), expectOriginCalled),
			hitOnFirst,
		},
	},
	{
		name:        "If-None-Match with the stored ETag is answered 304 by the cache",
		rfc:         "RFC 9110 §13.1.2, §15.4.5; RFC 9111 §4.3.2",
		givenOrigin: validatedOrigin,
		steps:       []confStep{firstStored, notModifiedFromCache("If-None-Match", `"x"`)},
	},
	{
		name:        `If-None-Match compares weakly: W/"x" matches "x"`,
		rfc:         "RFC 9110 §13.1.2, §8.8.3.2",
		givenOrigin: validatedOrigin,
		steps:       []confStep{firstStored, notModifiedFromCache("If-None-Match", `W/"x"`)},
	},
	{
		name:        "If-None-Match: * matches the stored response",
		rfc:         "RFC 9110 §13.1.2",
		givenOrigin: validatedOrigin,
		steps:       []confStep{firstStored, notModifiedFromCache("If-None-Match", "*")},
	},
	{
		name:        "If-None-Match that matches no tag gets the stored 200",
		rfc:         "RFC 9110 §13.1.2",
		givenOrigin: validatedOrigin,
		steps:       []confStep{firstStored, wholeStored("If-None-Match", `"y", W/"z"`)},
	},
	{
		name:        "If-Modified-Since equal to Last-Modified is answered 304",
		rfc:         "RFC 9110 §13.1.3",
		givenOrigin: validatedOrigin,
		steps:       []confStep{firstStored, notModifiedFromCache("If-Modified-Since", lastModified)},
	},
	{
		name:        "If-Modified-Since later than Last-Modified is answered 304",
		rfc:         "RFC 9110 §13.1.3",
		givenOrigin: validatedOrigin,
		steps:       []confStep{firstStored, notModifiedFromCache("If-Modified-Since", "Sun, 02 Jan 2022 00:00:00 GMT")},
	},
	{
		name:        "If-Modified-Since earlier than Last-Modified gets the stored 200",
		rfc:         "RFC 9110 §13.1.3",
		givenOrigin: validatedOrigin,
		steps:       []confStep{firstStored, wholeStored("If-Modified-Since", "Fri, 31 Dec 2021 00:00:00 GMT")},
	},
	{
		name:        "If-Modified-Since is ignored when If-None-Match is present",
		rfc:         "RFC 9110 §13.1.3, §13.2.2",
		givenOrigin: validatedOrigin,
		steps:       []confStep{firstStored, wholeStored("If-None-Match", `"y"`, "If-Modified-Since", "Sun, 02 Jan 2022 00:00:00 GMT")},
	},
	{
		name:        "an invalid If-Modified-Since is ignored",
		rfc:         "RFC 9110 §13.1.3",
		givenOrigin: validatedOrigin,
		steps:       []confStep{firstStored, wholeStored("If-Modified-Since", "yesterday")},
	},
	{
		name:        "preconditions on a stored 404 are ignored",
		rfc:         "RFC 9110 §13.2.1",
		givenOrigin: []confAnswer{{status: http.StatusNotFound, header: []string{"Cache-Control", "max-age=100", "Etag", `"x"`}}},
		steps: []confStep{
			whenGet("/r").expect(expectStatus(404), expectBody("/r#1")),
			whenGet("/r", "If-None-Match", `"x"`).expect(expectStatus(404), expectBody("/r#1"), expectOriginNotCalled),
		},
	},
}

// rangeBody is what the range rows' origin serves: 20 bytes.
const rangeBody = "0123456789abcdefghij"

// rangeOrigin is an origin serving rangeBody with a strong ETag, through
// http.ServeContent (which answers a Range it receives).
var rangeOrigin = []confAnswer{{header: []string{"Cache-Control", "max-age=100", "Etag", `"r1"`}, body: rangeBody, serveContent: true}}

var storesRanged = whenGet("/r").expect(expectStatus(200), expectBody(rangeBody))

// partialFromCache checks a 206 of one range from the cache.
func partialFromCache(body, contentRange string, header ...string) confStep {
	return whenGet("/r", header...).expect(expectStatus(http.StatusPartialContent), expectBody(body),
		expectHeader("Content-Range", contentRange), expectOriginNotCalled)
}

// wholeRanged checks the whole stored 200, from the cache.
func wholeRanged(header ...string) confStep {
	return whenGet("/r", header...).expect(expectStatus(200), expectBody(rangeBody), expectNoHeader("Content-Range"), expectOriginNotCalled)
}

var rangeRows = []confRow{
	{
		name:        "a single range on a miss of a large response is answered 206, and the whole response stored",
		rfc:         "RFC 9110 §14.2, §14.4",
		givenOrigin: []confAnswer{{header: []string{"Cache-Control", "max-age=100", "Etag", `"big"`}, body: strings.Repeat("0123456789", 10<<10), serveContent: true}},
		steps: []confStep{
			whenGet("/r", "Range", "bytes=100000-100009").expect(expectStatus(http.StatusPartialContent), expectBody("0123456789"),
				expectHeader("Content-Range", "bytes 100000-100009/102400"), expectOurs("fwd=uri-miss", "stored"), expectOriginCalled),
			whenGet("/r", "Range", "bytes=-3").expect(expectStatus(http.StatusPartialContent), expectBody("789"), expectOriginNotCalled),
		},
	},
	{
		name:        "a single range on a miss is answered 206, and the whole response stored",
		rfc:         "RFC 9110 §14.2, §14.4",
		givenOrigin: rangeOrigin,
		steps: []confStep{
			whenGet("/r", "Range", "bytes=5-9").expect(expectStatus(http.StatusPartialContent), expectBody("56789"),
				expectHeader("Content-Range", "bytes 5-9/20"), expectOurs("fwd=uri-miss", "stored"), expectOriginCalled),
			wholeRanged(),
		},
	},
	{
		name:        "a single range is answered 206 from the stored response",
		rfc:         "RFC 9110 §14.2, §14.4, §15.3.7",
		givenOrigin: rangeOrigin,
		steps:       []confStep{storesRanged, partialFromCache("01234", "bytes 0-4/20", "Range", "bytes=0-4").expect(expectHeader("Content-Length", "5"))},
	},
	{
		name:        "a suffix range takes the last bytes",
		rfc:         "RFC 9110 §14.1.2, §14.4",
		givenOrigin: rangeOrigin,
		steps:       []confStep{storesRanged, partialFromCache("fghij", "bytes 15-19/20", "Range", "bytes=-5")},
	},
	{
		name:        "an open range runs to the end",
		rfc:         "RFC 9110 §14.1.2, §14.4",
		givenOrigin: rangeOrigin,
		steps:       []confStep{storesRanged, partialFromCache("fghij", "bytes 15-19/20", "Range", "bytes=15-")},
	},
	{
		name:        "a range past the end is answered 416 with the length",
		rfc:         "RFC 9110 §14.1.2, §14.4, §15.5.17",
		givenOrigin: rangeOrigin,
		steps: []confStep{storesRanged, whenGet("/r", "Range", "bytes=50-60").expect(
			expectStatus(http.StatusRequestedRangeNotSatisfiable), expectHeader("Content-Range", "bytes */20"), expectOriginNotCalled)},
	},
	{
		name:        "If-Range with the stored strong ETag gets the range",
		rfc:         "RFC 9110 §13.1.5",
		givenOrigin: rangeOrigin,
		steps:       []confStep{storesRanged, partialFromCache("01234", "bytes 0-4/20", "Range", "bytes=0-4", "If-Range", `"r1"`)},
	},
	{
		name:        "If-Range with another ETag gets the whole response",
		rfc:         "RFC 9110 §13.1.5",
		givenOrigin: rangeOrigin,
		steps:       []confStep{storesRanged, wholeRanged("Range", "bytes=0-4", "If-Range", `"r0"`)},
	},
	{
		name:        "If-Range with a weak ETag gets the whole response",
		rfc:         "RFC 9110 §13.1.5",
		givenOrigin: rangeOrigin,
		steps:       []confStep{storesRanged, wholeRanged("Range", "bytes=0-4", "If-Range", `W/"r1"`)},
	},
	{
		name:        "several ranges go to the origin",
		rfc:         "RFC 9110 §14.2",
		givenOrigin: rangeOrigin,
		steps: []confStep{storesRanged, whenGet("/r", "Range", "bytes=0-1,5-6").expect(
			expectStatus(http.StatusPartialContent), expectHeaderContains("Content-Type", "multipart/byteranges"), expectOriginCalled)},
	},
	{
		name:        "a range with a matching If-None-Match is answered 304",
		rfc:         "RFC 9110 §14.2, §13.2.2",
		givenOrigin: rangeOrigin,
		steps: []confStep{storesRanged, whenGet("/r", "Range", "bytes=0-4", "If-None-Match", `"r1"`).expect(
			expectStatus(http.StatusNotModified), expectBody(""), expectOriginNotCalled)},
	},
	{
		name:        "a range on a stored 404 is ignored",
		rfc:         "RFC 9110 §14.2",
		givenOrigin: []confAnswer{{status: http.StatusNotFound, header: []string{"Cache-Control", "max-age=100"}, body: "not here"}},
		steps: []confStep{
			whenGet("/r").expect(expectStatus(404), expectBody("not here")),
			whenGet("/r", "Range", "bytes=0-1").expect(expectStatus(404), expectBody("not here"), expectOriginNotCalled),
		},
	},
	{
		name:        "a range on HEAD is ignored",
		rfc:         "RFC 9110 §14.2",
		givenOrigin: rangeOrigin,
		steps: []confStep{storesRanged, whenDo(http.MethodHead, "/r", "Range", "bytes=0-4").expect(
			expectStatus(200), expectNoHeader("Content-Range"), expectOriginNotCalled)},
	},
	{
		name:        "a range in a unit other than bytes is ignored",
		rfc:         "RFC 9110 §14.2",
		givenOrigin: rangeOrigin,
		steps: []confStep{storesRanged, whenGet("/r", "Range", "items=0-1").expect( // a proxy may forward it (or drop it)
			expectStatus(200), expectBody(rangeBody), expectNoHeader("Content-Range"))},
	},
}
