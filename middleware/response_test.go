package middleware

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/swrcache/swrcache/core"
)

func TestResponseWriteReplays(t *testing.T) {
	stored := func(status int, body string, fields ...[]string) response {
		return response{Status: status, Header: fields, Body: []byte(body)}
	}
	tests := []struct {
		name           string
		givenResponse  response
		givenOuter     http.Header // set by middleware before the cache
		givenMethod    string
		givenINM       []string // If-None-Match values
		givenAge       time.Duration
		expectStatus   int
		expectBody     string
		expectHeader   http.Header // fields that must be there, exactly
		expectAbsent   []string    // fields that must not be there
		expectCacheSts string
	}{
		{
			name:          "every value of a field goes out in order",
			givenResponse: stored(200, "body", []string{"Content-Type", "text/plain"}, []string{"X-Multi", "a", "b, c", ""}, []string{"Set-Vals", "2", "1"}),
			expectStatus:  200, expectBody: "body",
			expectHeader: http.Header{"Content-Type": {"text/plain"}, "X-Multi": {"a", "b, c", ""}, "Set-Vals": {"2", "1"}, "Content-Length": {"4"}},
			expectAbsent: []string{"Age"},
		},
		{
			name:          "a stored Vary is added to an outer Vary",
			givenResponse: stored(200, "x", []string{"Vary", "Accept-Encoding", "Accept-Language"}),
			givenOuter:    http.Header{"Vary": {"Origin"}, "X-Request-Id": {"42"}},
			expectStatus:  200, expectBody: "x",
			expectHeader: http.Header{"Vary": {"Origin", "Accept-Encoding", "Accept-Language"}, "X-Request-Id": {"42"}},
		},
		{
			name:          "a stored field replaces an outer one",
			givenResponse: stored(200, "x", []string{"X-Frame-Options", "DENY"}),
			givenOuter:    http.Header{"X-Frame-Options": {"SAMEORIGIN"}},
			expectStatus:  200, expectBody: "x",
			expectHeader: http.Header{"X-Frame-Options": {"DENY"}},
		},
		{
			name:          "Age counts whole seconds",
			givenResponse: stored(200, "x"), givenAge: 90*time.Second + 900*time.Millisecond,
			expectStatus: 200, expectBody: "x", expectHeader: http.Header{"Age": {"90"}},
		},
		{
			name:          "Age under a second is 0",
			givenResponse: stored(200, "x"), givenAge: 500 * time.Millisecond,
			expectStatus: 200, expectBody: "x", expectHeader: http.Header{"Age": {"0"}},
		},
		{
			name:          "no Age when the age is not positive",
			givenResponse: stored(200, "x"), givenAge: -time.Second,
			expectStatus: 200, expectBody: "x", expectAbsent: []string{"Age"},
		},
		{
			name:          "a stored Content-Length is kept",
			givenResponse: stored(200, "abc", []string{"Content-Length", "3"}),
			expectStatus:  200, expectBody: "abc", expectHeader: http.Header{"Content-Length": {"3"}},
		},
		{
			name:          "an empty 200 gets Content-Length 0",
			givenResponse: stored(200, ""),
			expectStatus:  200, expectHeader: http.Header{"Content-Length": {"0"}},
		},
		{
			name:          "a 204 gets no Content-Length",
			givenResponse: stored(204, ""),
			expectStatus:  204, expectAbsent: []string{"Content-Length"},
		},
		{
			name:          "HEAD gets the header and no body",
			givenResponse: stored(200, "body"), givenMethod: http.MethodHead,
			expectStatus: 200, expectHeader: http.Header{"Content-Length": {"4"}},
		},
		{
			name:          "a strong If-None-Match that matches is a 304 without body",
			givenResponse: stored(200, "body", []string{"Content-Length", "4"}, []string{"Etag", `"v1"`}),
			givenINM:      []string{`"v1"`},
			expectStatus:  304, expectHeader: http.Header{"Etag": {`"v1"`}}, expectAbsent: []string{"Content-Length"},
		},
		{
			name:          "a weak If-None-Match matches a strong ETag",
			givenResponse: stored(200, "body", []string{"Etag", `"v1"`}),
			givenINM:      []string{`W/"v1"`},
			expectStatus:  304, expectAbsent: []string{"Content-Length"},
		},
		{
			name:          "a strong If-None-Match matches a weak ETag",
			givenResponse: stored(200, "body", []string{"Etag", `W/"v1"`}),
			givenINM:      []string{`"v1"`},
			expectStatus:  304,
		},
		{
			name:          "an ETag in a list matches",
			givenResponse: stored(200, "body", []string{"Etag", `"v2"`}),
			givenINM:      []string{`"v0", "v1"`, `W/"v2"`},
			expectStatus:  304,
		},
		{
			name:          "* matches any ETag",
			givenResponse: stored(200, "body", []string{"Etag", `"v1"`}),
			givenINM:      []string{`*`},
			expectStatus:  304,
		},
		{
			name:          "HEAD with a matching If-None-Match is a 304",
			givenResponse: stored(200, "body", []string{"Etag", `"v1"`}), givenMethod: http.MethodHead,
			givenINM:     []string{`"v1"`},
			expectStatus: 304, expectAbsent: []string{"Content-Length"},
		},
		{
			name:          "an If-None-Match that does not match gets the body",
			givenResponse: stored(200, "body", []string{"Etag", `"v1"`}),
			givenINM:      []string{`"v0", W/"v10"`},
			expectStatus:  200, expectBody: "body",
		},
		{
			name:          "If-None-Match: * matches any stored 200, ETag or not (RFC 9110 section 13.1.2)",
			givenResponse: stored(200, "body"), givenINM: []string{`*`},
			expectStatus: 304, expectBody: "",
		},
		{
			name:          "a 404 is replayed whole even when its ETag matches",
			givenResponse: stored(404, "gone", []string{"Etag", `"v1"`}), givenINM: []string{`"v1"`},
			expectStatus: 404, expectBody: "gone",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.givenMethod
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, "/", nil)
			req.Header["If-None-Match"] = tt.givenINM
			rec := httptest.NewRecorder()
			for name, v := range tt.givenOuter {
				rec.Header()[name] = slices.Clone(v)
			}
			tt.givenResponse.write(rec, req, "swrcache; hit; ttl=10", tt.givenAge)
			checkReplayed(t, rec, tt.expectStatus, tt.expectBody, tt.expectHeader, tt.expectAbsent)
		})
	}
}

func TestCaptureDropsWhatMustNotBeReplayed(t *testing.T) {
	fw := newTestFill(t, Config{}, get(), nil)
	h := fw.Header()
	for _, name := range []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Set-Cookie"} {
		h.Set(name, "dropped")
	}
	h.Set("Age", "30")                     // an upstream cache's: kept, and added to on replay
	h.Set("Cache-Status", "Upstream; hit") // kept too, and appended to on replay
	h.Set("Connection", "X-Hop, keep-alive")
	h.Set("X-Hop", "dropped")
	h.Set("X-Cache-Tags", "user:1")
	h.Set("Content-Type", "text/plain")
	h["X-Multi"] = []string{"b", "a"}
	h["X-Empty"] = []string{}
	fw.WriteHeader(http.StatusAccepted)
	h.Set("X-Late", "after the status")
	mustWrite(t, fw, []byte("body"))

	got := capture(fw, "X-Cache-Tags")
	want := [][]string{{"Age", "30"}, {"Cache-Status", "Upstream; hit"}, {"Content-Type", "text/plain"}, {"X-Multi", "b", "a"}}
	if got.Status != http.StatusAccepted || string(got.Body) != "body" {
		t.Errorf("captured %d %q", got.Status, got.Body)
	}
	if !slices.EqualFunc(got.Header, want, slices.Equal) {
		t.Errorf("captured header %q, want %q", got.Header, want)
	}
}

func TestCaptureOfAResponseThatWroteNoStatus(t *testing.T) {
	fw := newTestFill(t, Config{}, get(), nil)
	fw.Header().Set("X-Only", "1")
	got := capture(fw, "")
	if got.Status != http.StatusOK || len(got.Header) != 1 || got.Header[0][0] != "X-Only" {
		t.Fatalf("captured %+v", got)
	}
}

func TestCacheStatus(t *testing.T) {
	tests := []struct {
		name         string
		givenResult  func(now time.Time) core.Result
		expectStatus string
	}{
		{"a hit counts whole seconds left", func(now time.Time) core.Result {
			return core.Result{Status: core.StatusHit, FreshUntil: now.Add(10*time.Second + 500*time.Millisecond)}
		}, "edge; hit; ttl=10"},
		{"a hit with under a second left has ttl 0", func(now time.Time) core.Result {
			return core.Result{Status: core.StatusHit, FreshUntil: now.Add(500 * time.Millisecond)}
		}, "edge; hit; ttl=0"},
		{"a stale one 100ms past has ttl -1", func(now time.Time) core.Result {
			return core.Result{Status: core.StatusStale, FreshUntil: now.Add(-100 * time.Millisecond)}
		}, "edge; fwd=stale; ttl=-1"},
		{"a stale one 1.5s past has ttl -2", func(now time.Time) core.Result {
			return core.Result{Status: core.StatusStale, FreshUntil: now.Add(-1500 * time.Millisecond)}
		}, "edge; fwd=stale; ttl=-2"},
		{"stale-if-error says so", func(now time.Time) core.Result {
			return core.Result{Status: core.StatusStaleIfError, FreshUntil: now.Add(-30*time.Second - 500*time.Millisecond)}
		}, "edge; fwd=stale; ttl=-31; detail=stale-if-error"},
		{"a bypass names its detail", func(time.Time) core.Result {
			return core.Result{Status: core.StatusBypass, Detail: "breaker-open"}
		}, "edge; fwd=bypass; detail=breaker-open"},
		{"a collapsed request is a collapsed miss", func(now time.Time) core.Result {
			return core.Result{Status: core.StatusCollapsed, FreshUntil: now.Add(time.Minute)}
		}, "edge; fwd=uri-miss; collapsed"},
		{"a miss served from another's fill is a collapsed miss", func(time.Time) core.Result {
			return core.Result{Status: core.StatusMiss}
		}, "edge; fwd=uri-miss; collapsed"},
	}
	c := &Cache{cfg: Config{Name: "edge"}.withDefaults()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.cacheStatus(tt.givenResult(time.Now())); got != tt.expectStatus {
				t.Fatalf("cacheStatus = %q, want %q", got, tt.expectStatus)
			}
		})
	}
}
