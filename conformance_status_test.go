package swrcache_test

import (
	"net/http"

	"github.com/swrcache/swrcache/middleware"
)

// Cache-Status (RFC 9211), and the targeted fields CDN-Cache-Control and
// their kin (RFC 9213), in FromResponse mode.

var cacheStatusRows = []confRow{
	{
		name:        "a stored miss says fwd=uri-miss and stored",
		rfc:         "RFC 9211 §2.2, §2.5",
		givenOrigin: answersCC("max-age=100"),
		steps:       []confStep{firstStored.expect(expectOursLacks("hit"))},
	},
	{
		name:        "a hit says hit and the seconds of freshness left",
		rfc:         "RFC 9211 §2.1, §2.4",
		givenOrigin: answersCC("max-age=100"),
		steps:       []confStep{firstStored, hitOnFirst.expect(expectTTL(98, 100), expectOursLacks("fwd"))},
	},
	{
		name:        "a response that is not stored does not say stored",
		rfc:         "RFC 9211 §2.5",
		givenOrigin: answersCC("no-store"),
		steps:       []confStep{whenGet("/r").expect(expectOurs("fwd=uri-miss"), expectOursLacks("stored", "hit"))},
	},
	{
		name:        "an upstream Cache-Status is kept and ours appended after it",
		rfc:         "RFC 9211 §2",
		givenOrigin: answersCC("max-age=100", "Cache-Status", "Upstream; hit"),
		steps: []confStep{
			whenGet("/r").expect(expectHeader("Cache-Status", "Upstream; hit, swrcache; fwd=uri-miss; stored")),
			hitOnFirst,
		},
	},
	{
		name:        "a hit keeps the stored upstream Cache-Status before ours",
		rfc:         "RFC 9211 §2",
		givenOrigin: answersCC("max-age=100", "Cache-Status", "Upstream; hit"),
		steps:       []confStep{firstStored, hitOnFirst.expect(expectHeaderContains("Cache-Status", "Upstream; hit, swrcache; hit"))},
	},
	{
		name:        "a stale response served while it is refreshed says fwd=stale and a negative ttl",
		rfc:         "RFC 9211 §2.2, §2.4",
		givenOrigin: answersCC("max-age=1, stale-while-revalidate=30"),
		steps:       []confStep{firstStored, servedStale.expect(expectTTL(-2, 0))},
	},
	{
		name:        "a stale response served for an origin's 5xx says fwd=stale and the origin's status",
		rfc:         "RFC 9211 §2.2, §2.3",
		givenOrigin: failingOrigin("max-age=1, stale-if-error=60"),
		steps:       []confStep{firstStored, servedStale.expect(expectOurs("fwd-status=503"))},
	},
	{
		name:        "a revalidation the origin answered 304 says fwd=stale and fwd-status=304",
		rfc:         "RFC 9211 §2.2, §2.3",
		givenOrigin: revalidatingOrigin("max-age=1"),
		steps: []confStep{firstStored, revalidatedStep(`"v1"`).after(oneSecondOn).expect(
			expectStatus(200), expectOurs("fwd=stale", "fwd-status=304"))},
	},
	{
		name: "a revalidation the origin answered with a new 200 says fwd=stale",
		rfc:  "RFC 9211 §2.2",
		givenOrigin: []confAnswer{
			{header: []string{"Cache-Control", "max-age=1", "Etag", `"v1"`}},
			{header: []string{"Cache-Control", "max-age=100", "Etag", `"v2"`}},
		},
		steps: []confStep{firstStored, secondFetched.after(oneSecondOn).expect(expectOurs("fwd=stale", "stored"))},
	},
}

// Targeted fields: the route's target list is TargetedFields, by default
// CDN-Cache-Control alone.
var (
	acmeFirst = func(c *middleware.Config) {
		c.TargetedFields = []string{"Acme-CDN-Cache-Control", "CDN-Cache-Control"}
	}
	acmeOnly = func(c *middleware.Config) { c.TargetedFields = []string{"Acme-CDN-Cache-Control"} }
)

var targetedRows = []confRow{
	{
		name:        "CDN-Cache-Control: max-age stores a response Cache-Control: no-store keeps from other caches",
		rfc:         "RFC 9213 §2.2, §3.1",
		givenOrigin: answersCC("no-store", "CDN-Cache-Control", "max-age=60"),
		steps:       []confStep{firstStored, hitOnFirst.expect(expectTTL(58, 60))},
	},
	{
		name:        "Cache-Control: private keeps a response out whatever CDN-Cache-Control says",
		rfc:         "RFC 9111 §5.2.2.7 (not storing is always allowed)",
		givenOrigin: answersCC("private", "CDN-Cache-Control", "max-age=60"),
		steps:       []confStep{whenGet("/r").expect(expectBody("/r#1"), expectOurs("detail=cache-control")), secondFetched},
	},
	{
		name:        "CDN-Cache-Control: no-store keeps out a response Cache-Control allows",
		rfc:         "RFC 9213 §2.2",
		givenOrigin: answersCC("max-age=60", "CDN-Cache-Control", "no-store"),
		steps:       []confStep{whenGet("/r").expect(expectBody("/r#1")), secondFetched},
	},
	{
		name:        "CDN-Cache-Control's lifetime takes precedence over s-maxage and max-age",
		rfc:         "RFC 9213 §2.2",
		givenOrigin: answersCC("max-age=1, s-maxage=1", "CDN-Cache-Control", "max-age=60"),
		steps:       []confStep{firstStored, hitOnFirst.after(oneSecondOn).expect(expectTTL(56, 59))},
	},
	{
		name:        "CDN-Cache-Control's lifetime is shortened by Age",
		rfc:         "RFC 9213 §2.2, §2.3; RFC 9111 §4.2.3",
		givenOrigin: answersCC("no-store", "CDN-Cache-Control", "max-age=100", "Age", "30"),
		steps:       []confStep{firstStored, hitOnFirst.expect(expectTTL(68, 70))},
	},
	{
		name:        "the first field of the target list that is present takes precedence",
		rfc:         "RFC 9213 §2.2",
		givenConfig: acmeFirst,
		givenOrigin: answersCC("no-store", "CDN-Cache-Control", "max-age=60", "Acme-CDN-Cache-Control", "max-age=30"),
		steps:       []confStep{firstStored, hitOnFirst.expect(expectTTL(28, 30))},
	},
	{
		name:        "a later field of the target list applies when the first is absent",
		rfc:         "RFC 9213 §2.2",
		givenConfig: acmeFirst,
		givenOrigin: answersCC("no-store", "CDN-Cache-Control", "max-age=60"),
		steps:       []confStep{firstStored, hitOnFirst.expect(expectTTL(58, 60))},
	},
	{
		name:        "a targeted field not on the target list changes nothing and is passed on",
		rfc:         "RFC 9213 §2.2",
		givenConfig: acmeOnly,
		givenOrigin: answersCC("no-store", "CDN-Cache-Control", "max-age=60"),
		steps: []confStep{
			whenGet("/r").expect(expectBody("/r#1"), expectHeader("CDN-Cache-Control", "max-age=60")),
			secondFetched.expect(expectHeader("CDN-Cache-Control", "max-age=60")),
		},
	},
	{
		name:        "CDN-Cache-Control reaches the client, on a miss and on a hit",
		rfc:         "RFC 9213 §3",
		givenOrigin: answersCC("max-age=10", "CDN-Cache-Control", "max-age=60"),
		steps: []confStep{
			firstStored.expect(expectHeader("CDN-Cache-Control", "max-age=60")),
			hitOnFirst.expect(expectHeader("CDN-Cache-Control", "max-age=60")),
		},
	},
	{
		name:        "a CDN-Cache-Control that is not a valid dictionary is ignored",
		rfc:         "RFC 9213 §2.1; RFC 8941 §4.2.2",
		givenOrigin: answersCC("no-store", "CDN-Cache-Control", "max-age=60,"),
		steps:       []confStep{whenGet("/r").expect(expectBody("/r#1")), secondFetched},
	},
	{
		name:        "an empty CDN-Cache-Control is ignored",
		rfc:         "RFC 9213 §2.1",
		givenOrigin: []confAnswer{{status: http.StatusOK, header: []string{"Cache-Control", "max-age=60", "CDN-Cache-Control", ""}}},
		steps:       []confStep{firstStored, hitOnFirst.expect(expectTTL(58, 60))},
	},
}
