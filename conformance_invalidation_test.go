package swrcache_test

import (
	"net/http"

	"github.com/swrcache/swrcache/middleware"
)

// Invalidation on unsafe methods (RFC 9111 section 4.4): a write that
// succeeds drops what is stored for its URI, all variants, and its
// Location and Content-Location on the same origin; a failed one drops
// nothing. In RouteTTL mode this is InvalidateOnWrite's to say.

// invalidatedBy is the row for a write with method, answered 204.
func invalidatedBy(method string) confRow {
	return confRow{
		name:        "a successful " + method + " invalidates the stored response of its URI",
		rfc:         "RFC 9111 §4.4",
		givenOrigin: answersCC("max-age=100"),
		steps: []confStep{firstStored, hitOnFirst,
			whenDo(method, "/r").expect(expectStatus(http.StatusNoContent), expectOriginCalled),
			secondFetched,
		},
	}
}

// keptAfter is the row for a POST the origin answers with status, which
// must not invalidate.
func keptAfter(status int) confRow {
	return confRow{
		name:        "a " + http.StatusText(status) + " answer to a POST invalidates nothing",
		rfc:         "RFC 9111 §4.4",
		givenOrigin: answersCC("max-age=100"),
		givenWrite:  confAnswer{status: status},
		steps:       []confStep{firstStored, whenDo(http.MethodPost, "/r").expect(expectStatus(status)), hitOnFirst},
	}
}

// writeStep is a POST to /r the origin answers 201.
var writeStep = whenDo(http.MethodPost, "/r").expect(expectStatus(http.StatusCreated))

var invalidationRows = []confRow{
	invalidatedBy(http.MethodPost),
	invalidatedBy(http.MethodPut),
	invalidatedBy(http.MethodDelete),
	invalidatedBy(http.MethodPatch),
	invalidatedBy(extraMethod), // "including methods whose safety is unknown"
	{
		name:        "a 303 answer to a POST invalidates",
		rfc:         "RFC 9111 §4.4",
		givenOrigin: answersCC("max-age=100"),
		givenWrite:  confAnswer{status: http.StatusSeeOther, header: []string{"Location", "/done"}},
		steps:       []confStep{firstStored, whenDo(http.MethodPost, "/r").expect(expectStatus(http.StatusSeeOther)), secondFetched},
	},
	keptAfter(http.StatusBadRequest),
	keptAfter(http.StatusInternalServerError),
	{
		name:        "a write invalidates every stored variant",
		rfc:         "RFC 9111 §4.4, §4.1",
		givenOrigin: answersCC("max-age=100", "Vary", "Accept-Language"),
		givenWrite:  confAnswer{status: http.StatusCreated},
		steps: []confStep{
			whenGet("/r", "Accept-Language", "en").expect(expectBody("/r#1 Accept-Language=en")),
			whenGet("/r", "Accept-Language", "fr").expect(expectBody("/r#2 Accept-Language=fr")),
			whenGet("/r", "Accept-Language", "en").expect(expectBody("/r#1 Accept-Language=en"), expectOurs("hit")),
			whenGet("/r", "Accept-Language", "fr").expect(expectBody("/r#2 Accept-Language=fr"), expectOurs("hit")),
			writeStep,
			whenGet("/r", "Accept-Language", "en").expect(expectBody("/r#3 Accept-Language=en"), expectOriginCalled),
			whenGet("/r", "Accept-Language", "fr").expect(expectBody("/r#4 Accept-Language=fr"), expectOriginCalled),
		},
	},
	{
		name:        "a write leaves other URIs alone",
		rfc:         "RFC 9111 §4.4",
		givenOrigin: answersCC("max-age=100"),
		givenWrite:  confAnswer{status: http.StatusCreated},
		steps: []confStep{firstStored, whenGet("/s").expect(expectBody("/s#1")), writeStep,
			whenGet("/s").expect(expectBody("/s#1"), expectOurs("hit"), expectOriginNotCalled)},
	},
	{
		name:        "a write invalidates its Location on the same host",
		rfc:         "RFC 9111 §4.4",
		givenOrigin: answersCC("max-age=100"),
		givenWrite:  confAnswer{status: http.StatusCreated, header: []string{"Location", "/other"}},
		steps:       alsoInvalidated,
	},
	{
		name:        "a write invalidates its Content-Location on the same host",
		rfc:         "RFC 9111 §4.4",
		givenOrigin: answersCC("max-age=100"),
		givenWrite:  confAnswer{status: http.StatusCreated, header: []string{"Content-Location", "/other"}},
		steps:       alsoInvalidated,
	},
	{
		name:        "a write never invalidates another host's URI",
		rfc:         "RFC 9111 §4.4",
		givenOrigin: answersCC("max-age=100"),
		givenWrite: confAnswer{status: http.StatusCreated,
			header: []string{"Location", "http://other.example/y", "Content-Location", "http://other.example/y"}},
		steps: []confStep{
			whenGet("/y", "Host", "other.example").expect(expectBody("/y#1")),
			writeStep,
			whenGet("/y", "Host", "other.example").expect(expectBody("/y#1"), expectOurs("hit"), expectOriginNotCalled),
		},
	},
	{
		name:        "in RouteTTL mode a write invalidates nothing by default",
		rfc:         "RFC 9111 §4.4 (InvalidateOnWrite Default in RouteTTL mode)",
		givenConfig: func(c *middleware.Config) { c.Freshness = middleware.RouteTTL },
		givenOrigin: answersCC("max-age=100"),
		givenWrite:  confAnswer{status: http.StatusCreated},
		steps:       []confStep{firstStored, writeStep, hitOnFirst},
	},
	{
		name: "in RouteTTL mode InvalidateOnWrite On invalidates",
		rfc:  "RFC 9111 §4.4",
		givenConfig: func(c *middleware.Config) {
			c.Freshness, c.InvalidateOnWrite = middleware.RouteTTL, middleware.On
		},
		givenOrigin: answersCC("max-age=100"),
		givenWrite:  confAnswer{status: http.StatusCreated},
		steps:       []confStep{firstStored, writeStep, secondFetched},
	},
	{
		name:        "InvalidateOnWrite Off invalidates nothing in FromResponse mode",
		rfc:         "RFC 9111 §4.4 (InvalidateOnWrite Off)",
		givenConfig: func(c *middleware.Config) { c.InvalidateOnWrite = middleware.Off },
		givenOrigin: answersCC("max-age=100"),
		givenWrite:  confAnswer{status: http.StatusCreated},
		steps:       []confStep{firstStored, writeStep, hitOnFirst},
	},
}

// alsoInvalidated stores /r and /other, POSTs to /r, and checks that
// /other was invalidated with it.
var alsoInvalidated = []confStep{
	firstStored,
	whenGet("/other").expect(expectBody("/other#1")),
	whenGet("/other").expect(expectBody("/other#1"), expectOurs("hit")),
	writeStep,
	whenGet("/other").expect(expectBody("/other#2"), expectOriginCalled),
}
