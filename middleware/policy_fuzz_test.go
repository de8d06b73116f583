package middleware

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/swrcache/swrcache/keyfunc"
)

// FuzzCacheControl: hasToken never panics, finds a directive wherever it
// stands in a comma-separated list, with any case, spaces and value, and
// never finds one that is only a prefix or a suffix of another.
func FuzzCacheControl(f *testing.F) {
	f.Add("public, max-age=60", "no-store")
	f.Add("private=\"set-cookie\", NO-STORE", "no-store")
	f.Add("no-storex, xno-store", "no-store")
	f.Fuzz(func(t *testing.T, value, token string) {
		got := hasToken([]string{value}, token)
		want := false
		for _, f := range strings.Split(value, ",") {
			f = strings.TrimSpace(f)
			if i := strings.IndexByte(f, '='); i >= 0 {
				f = strings.TrimSpace(f[:i])
			}
			want = want || strings.EqualFold(f, token)
		}
		if got != want {
			t.Fatalf("hasToken(%q, %q) = %v, want %v", value, token, got, want)
		}
		if keyfunc.ValidHeaderName(token) && !hasToken([]string{value + ", " + token}, token) {
			t.Fatalf("a directive appended to %q was not found", value)
		}
	})
}

// FuzzVary: the names parsed from Vary are trimmed, non-empty and free of
// commas, and the names outside the key that extraVary returns are sorted,
// canonical, distinct and really absent from the key's headers.
func FuzzVary(f *testing.F) {
	f.Add("Accept-Language, accept-encoding,,  X-Device ", "Accept-Encoding")
	f.Add("*", "")
	f.Add(" , ,", "Vary")
	f.Fuzz(func(t *testing.T, vary, keyHeader string) {
		h := http.Header{"Vary": {vary}}
		for _, n := range varyNames(h) {
			if n == "" || n != strings.TrimSpace(n) || strings.Contains(n, ",") {
				t.Fatalf("varyNames(%q) gave %q", vary, n)
			}
		}
		extra := extraVary(h, []string{keyHeader}, nil)
		if !slices.IsSorted(extra) || len(slices.Compact(slices.Clone(extra))) != len(extra) {
			t.Fatalf("extraVary(%q) = %q, want sorted and distinct", vary, extra)
		}
		for _, n := range extra {
			if n == "*" || strings.EqualFold(n, keyHeader) || n != http.CanonicalHeaderKey(n) {
				t.Fatalf("extraVary(%q, key %q) gave %q", vary, keyHeader, n)
			}
		}
	})
}

// FuzzIfNoneMatch: etagMatches never panics, "*" matches any stored
// response, a list holding a well-formed stored ETag (strong or weak, its
// opaque tag may hold commas) matches, and a value that shares no
// entity-tag with it never does.
// wellFormedETag is an entity-tag (RFC 9110 section 8.8.3), with any
// character but a quote inside.
var wellFormedETag = regexp.MustCompile(`^(W/)?"[^"]*"$`)

func FuzzIfNoneMatch(f *testing.F) {
	f.Add(`"a", W/"b"`, `"b"`)
	f.Add(`*`, `W/"x"`)
	f.Add(`"a"`, ``)
	f.Add(`"a,b"`, `"a,b"`)
	f.Fuzz(func(t *testing.T, ifNoneMatch, etag string) {
		got := etagMatches([]string{ifNoneMatch}, etag)
		if strings.TrimSpace(etag) == "" && got && !strings.Contains(ifNoneMatch, "*") {
			t.Fatalf("matched without a stored ETag")
		}
		if !etagMatches([]string{"*"}, etag) {
			t.Fatalf("* did not match %q", etag)
		}
		if wellFormedETag.MatchString(etag) && !strings.Contains(ifNoneMatch, `"`) {
			if !etagMatches([]string{ifNoneMatch + ", " + etag}, etag) {
				t.Fatalf("%q did not match itself in a list", etag)
			}
		}
		opaque := strings.TrimPrefix(etag, "W/")
		if got && ifNoneMatch != "*" && !strings.Contains(ifNoneMatch, "*") && !strings.Contains(ifNoneMatch, strings.TrimSpace(opaque)) {
			t.Fatalf("%q matched %q without containing it", ifNoneMatch, etag)
		}
	})
}
