package middleware

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/keyfunc"
)

// TestLifetimeFromResponse checks FromResponse's reading of a response,
// case by case from RFC 9111, RFC 5861 and RFC 9213, with a route whose
// TTL is an hour and whose windows are ten minutes.
func TestLifetimeFromResponse(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	date := now.Format(http.TimeFormat)
	at := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name         string
		rfc          string
		givenHeader  []string // name, value pairs; ":status" sets the status, 200 by default
		givenTargets []string // nil: CDN-Cache-Control
		expect       core.Lifetime
		expectReason string
	}{
		{"max-age sets the lifetime", "RFC 9111 §5.2.2.1", []string{"Cache-Control", "max-age=60"}, nil,
			core.Lifetime{TTL: time.Minute}, ""},
		{"s-maxage wins over max-age", "RFC 9111 §5.2.2.10", []string{"Cache-Control", "max-age=60, s-maxage=120"}, nil,
			core.Lifetime{TTL: 2 * time.Minute}, ""},
		{"max-age wins over Expires", "RFC 9111 §4.2.1", []string{"Cache-Control", "max-age=60", "Expires", at(time.Hour), "Date", date}, nil,
			core.Lifetime{TTL: time.Minute}, ""},
		{"Expires less Date", "RFC 9111 §4.2.1", []string{"Expires", at(90 * time.Second), "Date", date}, nil,
			core.Lifetime{TTL: 90 * time.Second}, ""},
		{"an invalid Expires is in the past", "RFC 9111 §5.3", []string{"Expires", "0"}, nil,
			core.Lifetime{}, "stale"},
		{"the route's TTL is the heuristic lifetime", "RFC 9111 §4.2.2", nil, nil,
			core.Lifetime{TTL: time.Hour}, ""},
		{"the route's TTL caps the lifetime", "RFC 9111 §4.2.1", []string{"Cache-Control", "max-age=86400"}, nil,
			core.Lifetime{TTL: time.Hour}, ""},
		{"Age is taken off", "RFC 9111 §4.2.3", []string{"Cache-Control", "max-age=100", "Age", "30"}, nil,
			core.Lifetime{TTL: 70 * time.Second}, ""},
		{"an old Date is an apparent age", "RFC 9111 §4.2.3", []string{"Cache-Control", "max-age=100", "Date", at(-40 * time.Second)}, nil,
			core.Lifetime{TTL: 60 * time.Second}, ""},
		{"older than its lifetime, without a validator, it is not stored", "RFC 9111 §4.2", []string{"Cache-Control", "max-age=10", "Age", "30"}, nil,
			core.Lifetime{}, "stale"},
		{"older than its lifetime, with a validator, it is kept to be revalidated", "RFC 9111 §4.3.1", []string{"Cache-Control", "max-age=10", "Age", "30", "ETag", `"a"`}, nil,
			core.Lifetime{Keep: time.Hour}, ""},
		{"a huge max-age counts as 2^31 s, capped", "RFC 9111 §1.2.2", []string{"Cache-Control", "max-age=99999999999999999999"}, nil,
			core.Lifetime{TTL: time.Hour}, ""},
		{"a malformed max-age counts as stale", "RFC 9111 §4.2.1", []string{"Cache-Control", "max-age=abc"}, nil,
			core.Lifetime{}, "stale"},
		{"the first of two max-ages counts", "RFC 9111 §4.2.1", []string{"Cache-Control", "max-age=30, max-age=60"}, nil,
			core.Lifetime{TTL: 30 * time.Second}, ""},
		{"a quoted max-age is read", "RFC 9111 §5.2", []string{"Cache-Control", `max-age="30"`}, nil,
			core.Lifetime{TTL: 30 * time.Second}, ""},
		{"stale-while-revalidate and stale-if-error set the windows", "RFC 5861 §3, §4", []string{"Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=90"}, nil,
			core.Lifetime{TTL: time.Minute, StaleWhileRevalidate: 30 * time.Second, StaleIfError: 90 * time.Second}, ""},
		{"the route's windows cap them", "RFC 5861 §3, §4", []string{"Cache-Control", "max-age=60, stale-while-revalidate=3600, stale-if-error=86400"}, nil,
			core.Lifetime{TTL: time.Minute, StaleWhileRevalidate: 10 * time.Minute, StaleIfError: 10 * time.Minute}, ""},
		{"no directive, no stale serving", "RFC 9111 §4.2.4", []string{"Cache-Control", "max-age=60"}, nil,
			core.Lifetime{TTL: time.Minute}, ""},
		{"must-revalidate takes the windows away", "RFC 9111 §5.2.2.2", []string{"Cache-Control", "max-age=60, must-revalidate, stale-if-error=60"}, nil,
			core.Lifetime{TTL: time.Minute}, ""},
		{"no-cache with a validator is stored stale and kept", "RFC 9111 §5.2.2.4", []string{"Cache-Control", "no-cache, max-age=60", "ETag", `"a"`}, nil,
			core.Lifetime{Keep: time.Hour}, ""},
		{"no-cache without a validator is not stored", "RFC 9111 §5.2.2.4", []string{"Cache-Control", "no-cache"}, nil,
			core.Lifetime{}, "no-cache"},
		{"CDN-Cache-Control wins over Cache-Control", "RFC 9213 §2.1", []string{"CDN-Cache-Control", "max-age=120", "Cache-Control", "max-age=10"}, nil,
			core.Lifetime{TTL: 2 * time.Minute}, ""},
		{"CDN-Cache-Control makes Expires ignored", "RFC 9213 §2.1", []string{"CDN-Cache-Control", "stale-if-error=10", "Expires", "0"}, nil,
			core.Lifetime{TTL: time.Hour, StaleIfError: 10 * time.Second}, ""},
		{"an invalid CDN-Cache-Control is ignored as a whole", "RFC 9213 §2.1", []string{"CDN-Cache-Control", "Max-Age=120", "Cache-Control", "max-age=10"}, nil,
			core.Lifetime{TTL: 10 * time.Second}, ""},
		{"the first targeted field present counts", "RFC 9213 §2.1", []string{"Acme-Cache-Control", "max-age=5", "CDN-Cache-Control", "max-age=120"}, []string{"Acme-Cache-Control", "CDN-Cache-Control"},
			core.Lifetime{TTL: 5 * time.Second}, ""},
		{"a trailing comma makes CDN-Cache-Control invalid", "RFC 9213 §2.1; RFC 8941 §4.2.2", []string{"CDN-Cache-Control", "max-age=120,", "Cache-Control", "max-age=10"}, nil,
			core.Lifetime{TTL: 10 * time.Second}, ""},
		{"a status not heuristically cacheable needs an explicit lifetime", "RFC 9111 §4.2.2", []string{":status", "302", "Location", "/x"}, nil,
			core.Lifetime{}, "no-lifetime"},
		{"no-cache does not make it storable", "RFC 9111 §3, §4.2.2", []string{":status", "302", "Cache-Control", "no-cache", "ETag", `"a"`}, nil,
			core.Lifetime{}, "no-lifetime"},
		{"or public", "RFC 9111 §4.2.2, §5.2.2.9", []string{":status", "302", "Cache-Control", "public"}, nil,
			core.Lifetime{TTL: time.Hour}, ""},
		{"with no targeted fields, CDN-Cache-Control is an ordinary header", "RFC 9213 §2.1", []string{"CDN-Cache-Control", "max-age=120", "Cache-Control", "max-age=10"}, []string{},
			core.Lifetime{TTL: 10 * time.Second}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{
				Policy:         core.Policy{TTL: time.Hour, StaleWhileRevalidate: 10 * time.Minute, StaleIfError: 10 * time.Minute},
				Key:            keyfunc.Spec{Resource: "r"},
				Freshness:      FromResponse,
				TargetedFields: tt.givenTargets,
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			c := &Cache{cfg: cfg.withDefaults()}
			h, status := make(http.Header), http.StatusOK
			for i := 0; i+1 < len(tt.givenHeader); i += 2 {
				if tt.givenHeader[i] == ":status" {
					status, _ = strconv.Atoi(tt.givenHeader[i+1])
					continue
				}
				h.Add(tt.givenHeader[i], tt.givenHeader[i+1])
			}
			l, reason := c.lifetime(directivesOf(h, c.cfg.TargetedFields), status, h, now)
			if reason != tt.expectReason || (reason == "" && *l != tt.expect) {
				t.Fatalf("%s: got %+v, %q; want %+v, %q", tt.rfc, l, reason, tt.expect, tt.expectReason)
			}
		})
	}
}

// FuzzDirectives checks that no Cache-Control or targeted field, however
// hostile, makes the reading panic or give a negative lifetime.
func FuzzDirectives(f *testing.F) {
	for _, s := range []string{"max-age=60", `max-age="`, "s-maxage=-1", ",,,=,", "no-cache=\"Set-Cookie\"", "max-age=1e9", "stale-if-error=99999999999999999999999"} {
		f.Add(s, s)
	}
	c := &Cache{cfg: Config{Policy: core.Policy{TTL: time.Hour, StaleIfError: time.Hour, StaleWhileRevalidate: time.Hour}, Freshness: FromResponse}.withDefaults()}
	f.Fuzz(func(t *testing.T, cc, cdn string) {
		h := http.Header{"Cache-Control": {cc}, "Cdn-Cache-Control": {cdn}, "Age": {cdn}, "Expires": {cc}}
		l, reason := c.lifetime(directivesOf(h, c.cfg.TargetedFields), 200, h, time.Now())
		if reason == "" && (l.TTL < 0 || l.TTL > time.Hour || l.StaleIfError < 0 || l.StaleWhileRevalidate < 0) {
			t.Fatalf("%q / %q: %+v", cc, cdn, l)
		}
	})
}

// A response dated the second before it arrived is not a second old: a
// Date says whole seconds (RFC 9110 section 5.6.7), and max-age=1 would
// be stale on arrival.
func TestADateOneSecondBackIsNoAge(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 1, 1e6, time.UTC) // 1 ms into the second
	h := http.Header{"Date": {now.Add(-time.Second).Format(http.TimeFormat)}}
	if age := currentAge(h, now); age != 0 {
		t.Fatalf("age %v, want 0", age)
	}
	h.Set("Date", now.Add(-3*time.Second).Format(http.TimeFormat))
	if age := currentAge(h, now); age != 3*time.Second {
		t.Fatalf("age %v, want 3s", age)
	}
}
