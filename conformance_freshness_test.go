package swrcache_test

import "net/http"

// Freshness and Age: how long a stored response may be reused without
// asking the origin, from the response's own fields (RFC 9111 sections
// 4.2 and 5), in FromResponse mode.

// answersCC is an origin that answers every read with these Cache-Control
// directives and fields (name, value, ...).
func answersCC(directives string, fields ...string) []confAnswer {
	return []confAnswer{{header: append([]string{"Cache-Control", directives}, fields...)}}
}

// answersWith is an origin that answers every read with these fields.
func answersWith(header ...string) []confAnswer { return []confAnswer{{header: header}} }

// A stored first response, and a hit on it.
var (
	firstStored = whenGet("/r").expect(expectStatus(200), expectBody("/r#1"), expectOurs("fwd=uri-miss", "stored"))
	hitOnFirst  = whenGet("/r").expect(expectStatus(200), expectBody("/r#1"), expectOurs("hit"), expectOriginNotCalled)
	// secondFetched checks that the second read of /r went to the origin.
	secondFetched = whenGet("/r").expect(expectStatus(200), expectBody("/r#2"), expectOriginCalled)
)

const lastModified = "Sat, 01 Jan 2022 00:00:00 GMT"

var freshnessRows = []confRow{
	{
		name:        "max-age makes a response fresh for that many seconds",
		rfc:         "RFC 9111 §4.2.1, §5.2.2.1",
		givenOrigin: answersCC("max-age=100"),
		steps:       []confStep{firstStored, hitOnFirst.expect(expectTTL(98, 100))},
	},
	{
		name:        "s-maxage takes precedence over a shorter max-age in a shared cache",
		rfc:         "RFC 9111 §4.2.1, §5.2.2.10",
		givenOrigin: answersCC("max-age=1, s-maxage=100"),
		steps:       []confStep{firstStored, hitOnFirst.after(oneSecondOn).expect(expectTTL(96, 99))},
	},
	{
		name:        "s-maxage takes precedence over a longer max-age in a shared cache",
		rfc:         "RFC 9111 §4.2.1, §5.2.2.10",
		givenOrigin: answersCC("max-age=100, s-maxage=1"),
		steps:       []confStep{firstStored, secondFetched.after(oneSecondOn)},
	},
	{
		name:        "max-age takes precedence over Expires",
		rfc:         "RFC 9111 §5.3, §4.2.1",
		givenOrigin: answersCC("max-age=100", "Date", "{now}", "Expires", "{now-3600}"),
		steps:       []confStep{firstStored, hitOnFirst.expect(expectTTL(98, 100))},
	},
	{
		name:        "without max-age the lifetime is Expires minus Date",
		rfc:         "RFC 9111 §4.2.1, §5.3",
		givenOrigin: answersWith("Date", "{now}", "Expires", "{now+100}"),
		steps:       []confStep{firstStored, hitOnFirst.expect(expectTTL(97, 100))},
	},
	{
		name:        "an invalid Expires such as 0 means already expired",
		rfc:         "RFC 9111 §5.3",
		givenOrigin: answersWith("Expires", "0"),
		steps:       []confStep{whenGet("/r").expect(expectBody("/r#1")), secondFetched},
	},
	{
		name:        "an Expires before Date means already expired, with no heuristic lifetime",
		rfc:         "RFC 9111 §4.2.1, §4.2.2",
		givenOrigin: answersWith("Date", "{now}", "Expires", "{now-60}"),
		steps:       []confStep{whenGet("/r").expect(expectBody("/r#1")), secondFetched},
	},
	{
		name:        "a response that gives no lifetime gets the route's TTL",
		rfc:         "RFC 9111 §4.2.2",
		givenOrigin: answersWith(),
		steps:       []confStep{firstStored, hitOnFirst.expect(expectTTL(598, 600))},
	},
	{
		name:        "the route's TTL caps a longer lifetime",
		rfc:         "RFC 9111 §4.2.1 (the route's cap)",
		givenOrigin: answersCC("max-age=86400"),
		steps:       []confStep{firstStored, hitOnFirst.expect(expectTTL(598, 600))},
	},
	{
		name:        "a no-store response is not stored, whatever else it says",
		rfc:         "RFC 9111 §3, §5.2.2.5",
		givenOrigin: answersCC("max-age=100, no-store"),
		steps:       []confStep{whenGet("/r").expect(expectBody("/r#1")), secondFetched},
	},
	{
		name:        "a request's no-store keeps its response out of the cache",
		rfc:         "RFC 9111 §5.2.1.5",
		givenOrigin: answersCC("max-age=100"),
		steps: []confStep{whenGet("/r", "Cache-Control", "no-store").expect(expectBody("/r#1"), expectOurs("fwd=uri-miss", "detail=no-store")),
			secondFetched.expect(expectOurs("stored")),
			whenGet("/r", "Cache-Control", "no-store").expect(expectBody("/r#2"), expectOurs("hit"), expectOriginNotCalled)},
	},
	{
		name:        "a 302 with max-age is stored",
		rfc:         "RFC 9111 §3, §4.2.1",
		givenOrigin: []confAnswer{{status: http.StatusFound, header: []string{"Cache-Control", "max-age=100", "Location", "/elsewhere"}}},
		steps: []confStep{whenGet("/r").expect(expectStatus(http.StatusFound), expectOurs("stored")),
			whenGet("/r").expect(expectStatus(http.StatusFound), expectOurs("hit"), expectOriginNotCalled)},
	},
	{
		name:        "a 302 that says nothing of its lifetime gets no heuristic one",
		rfc:         "RFC 9111 §4.2.2",
		givenOrigin: []confAnswer{{status: http.StatusFound, header: []string{"Location", "/elsewhere"}}},
		steps: []confStep{whenGet("/r").expect(expectStatus(http.StatusFound), expectOurs("detail=no-lifetime")),
			whenGet("/r").expect(expectStatus(http.StatusFound), expectOriginCalled)},
	},
	{
		name:        "a private response is not stored by a shared cache",
		rfc:         "RFC 9111 §3, §5.2.2.7",
		givenOrigin: answersCC("private, max-age=100"),
		steps:       []confStep{whenGet("/r").expect(expectBody("/r#1")), secondFetched},
	},
	{
		name: "a no-cache response with an ETag is stored and revalidated before every use",
		rfc:  "RFC 9111 §5.2.2.4, §4.3.1, §4.3.4",
		givenOrigin: []confAnswer{{
			header: []string{"Cache-Control", "no-cache", "Etag", `"v1"`}, revalidates: true,
		}},
		steps: []confStep{firstStored, revalidatedStep(`"v1"`), revalidatedStep(`"v1"`)},
	},
	{
		name: "a no-cache response with Last-Modified is revalidated with If-Modified-Since",
		rfc:  "RFC 9111 §5.2.2.4, §4.3.1",
		givenOrigin: []confAnswer{{
			header: []string{"Cache-Control", "no-cache", "Last-Modified", lastModified}, revalidates: true,
		}},
		steps: []confStep{firstStored, whenGet("/r").expect(expectStatus(200), expectBody("/r#1"), expectOriginCalled,
			expectOriginGot("If-Modified-Since", lastModified), expectOursLacks("hit"))},
	},
	{
		name:        "a no-cache response without a validator is never reused",
		rfc:         "RFC 9111 §5.2.2.4",
		givenOrigin: answersCC("no-cache, max-age=100"),
		steps:       []confStep{whenGet("/r").expect(expectBody("/r#1")), secondFetched},
	},
}

// revalidatedStep checks that a read of /r asked the origin with
// If-None-Match etag and got the stored body as a 200.
func revalidatedStep(etag string) confStep {
	return whenGet("/r").expect(expectStatus(200), expectBody("/r#1"), expectOriginCalled,
		expectOriginGot("If-None-Match", etag), expectOursLacks("hit"))
}

var ageRows = []confRow{
	{
		name:        "a hit carries Age, the seconds it has been stored",
		rfc:         "RFC 9111 §4, §5.1",
		givenOrigin: answersCC("max-age=100"),
		steps:       []confStep{firstStored, hitOnFirst.after(oneSecondOn).expect(expectAge(1, 3))},
	},
	{
		name:        "an upstream Age is passed on by a miss and added to by a hit",
		rfc:         "RFC 9111 §4.2.3, §5.1",
		givenOrigin: answersCC("max-age=100", "Age", "30"),
		steps:       []confStep{firstStored.expect(expectAge(30, 31)), hitOnFirst.after(oneSecondOn).expect(expectAge(31, 33))},
	},
	{
		name:        "a response with max-age=100 and Age=30 is fresh for 70 seconds only",
		rfc:         "RFC 9111 §4.2.3, §4.2",
		givenOrigin: answersCC("max-age=100", "Age", "30"),
		steps:       []confStep{firstStored, hitOnFirst.expect(expectTTL(68, 70))},
	},
	{
		name:        "a response whose Age exceeds its max-age is stale on arrival",
		rfc:         "RFC 9111 §4.2.3, §4.2",
		givenOrigin: answersCC("max-age=10", "Age", "20"),
		steps:       []confStep{whenGet("/r").expect(expectBody("/r#1")), secondFetched},
	},
	{
		name:        "a response with max-age=2 and Age=1 is stale a second later",
		rfc:         "RFC 9111 §4.2.3, §4.2",
		givenOrigin: answersCC("max-age=2", "Age", "1"),
		steps:       []confStep{firstStored, secondFetched.after(oneSecondOn)},
	},
}
