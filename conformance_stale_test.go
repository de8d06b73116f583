package swrcache_test

import (
	"net/http"
	"time"

	"github.com/swrcache/swrcache/middleware"
)

// Serving stale (RFC 5861; RFC 9111 section 4.2.4) and revalidation
// (RFC 9111 sections 4.3.1 to 4.3.4), in FromResponse mode: a response is
// served stale only when it says so, within the route's windows, and
// never when it forbids it.

// failingOrigin is an origin whose first read is answered with these
// Cache-Control directives (and fields) and every later one with a 503.
func failingOrigin(directives string, fields ...string) []confAnswer {
	return []confAnswer{
		{header: append([]string{"Cache-Control", directives}, fields...)},
		{status: http.StatusServiceUnavailable},
	}
}

// servedStale checks that a read of /r got the first, stale, response.
var servedStale = whenGet("/r").after(oneSecondOn).expect(expectStatus(200), expectBody("/r#1"), expectOurs("fwd=stale"))

// notServedStale checks that a read of /r, past max-age=1, waited for the
// origin's second answer.
var notServedStale = secondFetched.after(oneSecondOn).expect(expectOursLacks("fwd=stale"))

var staleRows = []confRow{
	{
		name: "stale-while-revalidate serves the stale response at once and refreshes it behind",
		rfc:  "RFC 5861 §3",
		// The refreshed response lives long enough to be seen: with max-age=1
		// again, a slow run could see it refreshed once more before it looks.
		givenOrigin: []confAnswer{{header: []string{"Cache-Control", "max-age=1, stale-while-revalidate=30"}},
			{header: []string{"Cache-Control", "max-age=100"}}},
		steps: []confStep{firstStored, servedStale,
			whenGet("/r").after(oneSecondOn).eventually().expect(expectBody("/r#2"), expectOurs("hit"))},
	},
	{
		name:        "stale-while-revalidate is capped by the route's window",
		rfc:         "RFC 5861 §3 (the route's cap)",
		givenConfig: func(c *middleware.Config) { c.StaleWhileRevalidate = 500 * time.Millisecond },
		givenOrigin: answersCC("max-age=1, stale-while-revalidate=60"),
		steps:       []confStep{firstStored, secondFetched.after(twoSecondsOn).expect(expectOursLacks("fwd=stale"))},
	},
	{
		name:        "past its stale-while-revalidate seconds a response is not served stale",
		rfc:         "RFC 5861 §3",
		givenOrigin: answersCC("max-age=1, stale-while-revalidate=1"),
		steps:       []confStep{firstStored, secondFetched.after(twoSecondsOn).expect(expectOursLacks("fwd=stale"))},
	},
	{
		name:        "stale-if-error serves the stale response when the origin answers 5xx",
		rfc:         "RFC 5861 §4",
		givenOrigin: failingOrigin("max-age=1, stale-if-error=60"),
		steps:       []confStep{firstStored, servedStale.expect(expectOriginCalled)},
	},
	{
		name:        "a 501 is no error stale-if-error replaces: it reaches the client",
		rfc:         "RFC 5861 §4",
		givenOrigin: []confAnswer{{header: []string{"Cache-Control", "max-age=1, stale-if-error=60"}}, {status: http.StatusNotImplemented}},
		steps: []confStep{firstStored, whenGet("/r").after(oneSecondOn).expect(expectStatus(http.StatusNotImplemented),
			expectOursLacks("fwd=stale"), expectOriginCalled)},
	},
	{
		name:        "without stale-if-error the origin's 5xx reaches the client, whatever the route's window",
		rfc:         "RFC 9111 §4.2.4",
		givenOrigin: failingOrigin("max-age=1"),
		steps:       []confStep{firstStored, whenGet("/r").after(oneSecondOn).expect(expectStatus(503))},
	},
	{
		name:        "without stale-while-revalidate a stale response is not served, whatever the route's window",
		rfc:         "RFC 9111 §4.2.4",
		givenOrigin: answersCC("max-age=1"),
		steps:       []confStep{firstStored, notServedStale},
	},
	{
		name:        "must-revalidate is never served stale, even with stale-while-revalidate",
		rfc:         "RFC 9111 §4.2.4, §5.2.2.2",
		givenOrigin: answersCC("max-age=1, must-revalidate, stale-while-revalidate=30"),
		steps:       []confStep{firstStored, notServedStale},
	},
	{
		name:        "must-revalidate with stale-if-error passes the origin's 5xx on",
		rfc:         "RFC 9111 §4.2.4, §5.2.2.2",
		givenOrigin: failingOrigin("max-age=1, must-revalidate, stale-if-error=60"),
		steps:       []confStep{firstStored, whenGet("/r").after(oneSecondOn).expect(expectStatus(503))},
	},
	{
		name:        "proxy-revalidate is never served stale by a shared cache",
		rfc:         "RFC 9111 §4.2.4, §5.2.2.8",
		givenOrigin: answersCC("max-age=1, proxy-revalidate, stale-while-revalidate=30"),
		steps:       []confStep{firstStored, notServedStale},
	},
	{
		name:        "s-maxage is never served stale by a shared cache",
		rfc:         "RFC 9111 §4.2.4, §5.2.2.10",
		givenOrigin: answersCC("s-maxage=1, stale-while-revalidate=30"),
		steps:       []confStep{firstStored, notServedStale},
	},
	{
		name:        "no-cache is never served stale, even when the origin fails",
		rfc:         "RFC 9111 §4.2.4, §5.2.2.4",
		givenOrigin: failingOrigin("no-cache, stale-if-error=60", "Etag", `"v1"`),
		steps:       []confStep{firstStored, whenGet("/r").expect(expectStatus(503))},
	},
}

// revalidatingOrigin is an origin whose reads carry these directives,
// ETag "v1" and X-Version 1, and which answers a matching If-None-Match
// with a 304 carrying them updated by header304.
func revalidatingOrigin(directives string, header304 ...string) []confAnswer {
	return []confAnswer{{
		header:      []string{"Cache-Control", directives, "Etag", `"v1"`, "X-Version", "1"},
		revalidates: true, header304: header304,
	}}
}

var revalidationRows = []confRow{
	{
		name:        "a stale response with an ETag is revalidated with If-None-Match",
		rfc:         "RFC 9111 §4.3.1",
		givenOrigin: revalidatingOrigin("max-age=1"),
		steps:       []confStep{firstStored, revalidatedStep(`"v1"`).after(oneSecondOn)},
	},
	{
		name: "a stale response with Last-Modified is revalidated with If-Modified-Since too",
		rfc:  "RFC 9111 §4.3.1",
		givenOrigin: []confAnswer{{
			header:      []string{"Cache-Control", "max-age=1", "Etag", `"v1"`, "Last-Modified", lastModified},
			revalidates: true,
		}},
		steps: []confStep{firstStored, revalidatedStep(`"v1"`).after(oneSecondOn).expect(expectOriginGot("If-Modified-Since", lastModified))},
	},
	{
		name:        "a 304 updates the stored header, which the client gets with the stored body",
		rfc:         "RFC 9111 §4.3.4, §3.2",
		givenOrigin: revalidatingOrigin("max-age=1", "Cache-Control", "max-age=100", "X-Version", "2"),
		steps: []confStep{
			firstStored.expect(expectHeader("X-Version", "1")),
			revalidatedStep(`"v1"`).after(oneSecondOn).expect(expectHeader("X-Version", "2"), expectHeader("Cache-Control", "max-age=100")),
			hitOnFirst.after(oneSecondOn).expect(expectHeader("X-Version", "2"), expectTTL(97, 100)),
		},
	},
	{
		name: "a 200 answer to a revalidation replaces the stored response",
		rfc:  "RFC 9111 §4.3.3",
		givenOrigin: []confAnswer{
			{header: []string{"Cache-Control", "max-age=1", "Etag", `"v1"`}},
			{header: []string{"Cache-Control", "max-age=100", "Etag", `"v2"`}},
		},
		steps: []confStep{
			firstStored,
			secondFetched.after(oneSecondOn).expect(expectHeader("Etag", `"v2"`)),
			whenGet("/r").after(oneSecondOn).expect(expectBody("/r#2"), expectOurs("hit"), expectOriginNotCalled),
		},
	},
	{
		name:        "a background revalidation sends the validators and keeps the body on a 304",
		rfc:         "RFC 9111 §4.3.1, §4.3.4; RFC 5861 §3",
		givenOrigin: revalidatingOrigin("max-age=1, stale-while-revalidate=30", "Cache-Control", "max-age=100", "X-Version", "2"),
		steps: []confStep{
			firstStored,
			servedStale,
			hitOnFirst.after(oneSecondOn).eventually().expect(expectHeader("X-Version", "2"), expectTTL(90, 100),
				expectOriginGot("If-None-Match", `"v1"`)),
		},
	},
}
