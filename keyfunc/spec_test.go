package keyfunc

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// request is a test request: a method, a target URL and header lines of the
// form "Name: value" (repeated names add values in order).
type request struct {
	method  string
	target  string
	headers []string
}

func (rq request) build(t *testing.T) *http.Request {
	t.Helper()
	method := rq.method
	if method == "" {
		method = http.MethodGet
	}
	r := httptest.NewRequest(method, rq.target, nil)
	for _, line := range rq.headers {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("header line %q has no colon", line)
		}
		r.Header.Add(name, strings.TrimPrefix(value, " "))
	}
	return r
}

func mustKey(t *testing.T, s Spec, r *http.Request, tenant string, vary ...string) Key {
	t.Helper()
	k, err := s.Key(r, tenant, vary...)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	if err := ValidName(k.Name); err != nil {
		t.Fatalf("Key returned an invalid name: %v", err)
	}
	return k
}

func TestKeyEquality(t *testing.T) {
	api := Spec{Resource: "items"}
	tests := []struct {
		name         string
		givenSpec    Spec
		givenSpecB   *Spec // nil: givenSpec
		givenA       request
		givenB       request
		whenTenantA  string
		whenTenantB  string
		whenVary     []string
		whenVaryB    []string // nil: whenVary
		expectSameID bool
	}{
		{name: "query parameter order does not change the key", givenSpec: api,
			givenA: request{target: "/x?a=1&b=2"}, givenB: request{target: "/x?b=2&a=1"}, expectSameID: true},
		{name: "the order of a repeated parameter's values changes the key", givenSpec: api,
			givenA: request{target: "/x?a=1&a=2"}, givenB: request{target: "/x?a=2&a=1"}},
		{name: "an extra parameter changes the key when every parameter counts", givenSpec: api,
			givenA: request{target: "/x?a=1&utm=z"}, givenB: request{target: "/x?a=1"}},
		{name: "parameters outside the allow-list are ignored", givenSpec: Spec{Resource: "items", Query: []string{"a"}},
			givenA: request{target: "/x?a=1&utm=z&b=2"}, givenB: request{target: "/x?a=1"}, expectSameID: true},
		{name: "an allowed parameter still changes the key", givenSpec: Spec{Resource: "items", Query: []string{"a"}},
			givenA: request{target: "/x?a=1"}, givenB: request{target: "/x?a=2"}},
		{name: "an empty allow-list ignores every parameter", givenSpec: Spec{Resource: "items", Query: []string{}},
			givenA: request{target: "/x?a=1"}, givenB: request{target: "/x"}, expectSameID: true},
		{name: "an empty value differs from a missing parameter", givenSpec: api,
			givenA: request{target: "/x?a="}, givenB: request{target: "/x"}},
		{name: "a parameter without = is the same as one with an empty value", givenSpec: api,
			givenA: request{target: "/x?a"}, givenB: request{target: "/x?a="}, expectSameID: true},
		{name: "an escaped colon in a name differs from a colon in a value", givenSpec: api,
			givenA: request{target: "/x?a%3Ab=c"}, givenB: request{target: "/x?a=b%3Ac"}},
		{name: "an escaped ampersand differs from a separator", givenSpec: api,
			givenA: request{target: "/x?a=b%26c"}, givenB: request{target: "/x?a=b&c"}},
		{name: "an escaped slash differs from a slash", givenSpec: api,
			givenA: request{target: "/a%2Fb"}, givenB: request{target: "/a/b"}},
		{name: "a trailing slash changes the key", givenSpec: api,
			givenA: request{target: "/a/"}, givenB: request{target: "/a"}},
		{name: "HEAD shares the key of GET", givenSpec: api,
			givenA: request{method: http.MethodHead, target: "/a"}, givenB: request{target: "/a"}, expectSameID: true},
		{name: "POST differs from GET", givenSpec: api,
			givenA: request{method: http.MethodPost, target: "/a"}, givenB: request{target: "/a"}},
		{name: "the host is part of the key by default", givenSpec: api,
			givenA: request{target: "http://a.example/x"}, givenB: request{target: "http://b.example/x"}},
		{name: "host case does not matter", givenSpec: api,
			givenA: request{target: "http://Shop.EXAMPLE/x"}, givenB: request{target: "http://shop.example/x"}, expectSameID: true},
		{name: "IgnoreHost leaves the host out", givenSpec: Spec{Resource: "items", IgnoreHost: true},
			givenA: request{target: "http://a.example/x"}, givenB: request{target: "http://b.example/x"}, expectSameID: true},
		{name: "two tenants never share a key", givenSpec: api,
			givenA: request{target: "/x?a=1"}, givenB: request{target: "/x?a=1"}, whenTenantA: "acme", whenTenantB: "globex"},
		{name: "the unscoped route differs from the tenant named _", givenSpec: api,
			givenA: request{target: "/x"}, givenB: request{target: "/x"}, whenTenantB: "_"},
		{name: "the same tenant and request share a key", givenSpec: api,
			givenA: request{target: "/x"}, givenB: request{target: "/x"}, whenTenantA: "acme", whenTenantB: "acme", expectSameID: true},
		{name: "a listed header that is absent differs from one that is empty", givenSpec: Spec{Resource: "items", Headers: []string{"Accept-Language"}},
			givenA: request{target: "/x"}, givenB: request{target: "/x", headers: []string{"Accept-Language:"}}},
		{name: "a listed header changes the key", givenSpec: Spec{Resource: "items", Headers: []string{"accept-language"}},
			givenA: request{target: "/x", headers: []string{"Accept-Language: en"}}, givenB: request{target: "/x", headers: []string{"Accept-Language: fr"}}},
		{name: "the order of a header's values changes the key", givenSpec: Spec{Resource: "items", Headers: []string{"X-A"}},
			givenA: request{target: "/x", headers: []string{"X-A: 1", "X-A: 2"}}, givenB: request{target: "/x", headers: []string{"X-A: 2", "X-A: 1"}}},
		{name: "an unlisted header does not change the key", givenSpec: Spec{Resource: "items", Headers: []string{"Accept-Language"}},
			givenA: request{target: "/x", headers: []string{"X-Other: 1"}}, givenB: request{target: "/x", headers: []string{"X-Other: 2"}}, expectSameID: true},
		{name: "a joined header value differs from two headers", givenSpec: Spec{Resource: "items", Headers: []string{"X-A", "X-B"}},
			givenA: request{target: "/x", headers: []string{"X-A: 1|X-B:2"}}, givenB: request{target: "/x", headers: []string{"X-A: 1", "X-B: 2"}}},
		{name: "a Vary dimension changes the key", givenSpec: api, whenVary: []string{"Accept-Encoding"},
			givenA: request{target: "/x", headers: []string{"Accept-Encoding: gzip"}}, givenB: request{target: "/x", headers: []string{"Accept-Encoding: br"}}},
		{name: "a header outside the spec and the Vary is ignored", givenSpec: api,
			givenA: request{target: "/x", headers: []string{"Accept-Encoding: gzip"}}, givenB: request{target: "/x", headers: []string{"Accept-Encoding: br"}}, expectSameID: true},
		{name: "Vary names merge with the spec's headers without duplicates",
			givenSpec: Spec{Resource: "items", Headers: []string{"Accept-Language"}}, whenVary: []string{"accept-language, Accept-Encoding", ""},
			givenSpecB: &Spec{Resource: "items", Headers: []string{"Accept-Encoding", "Accept-Language"}}, whenVaryB: []string{},
			givenA: request{target: "/x", headers: []string{"Accept-Language: en", "Accept-Encoding: gzip"}}, givenB: request{target: "/x", headers: []string{"Accept-Language: en", "Accept-Encoding: gzip"}}, expectSameID: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specB, varyB := tt.givenSpec, tt.whenVary
			if tt.givenSpecB != nil {
				specB = *tt.givenSpecB
			}
			if tt.whenVaryB != nil {
				varyB = tt.whenVaryB
			}
			a := mustKey(t, tt.givenSpec, tt.givenA.build(t), tt.whenTenantA, tt.whenVary...)
			b := mustKey(t, specB, tt.givenB.build(t), tt.whenTenantB, varyB...)
			if tt.expectSameID {
				if a != b {
					t.Fatalf("keys differ:\n%s %q\n%s %q", a.Name, a.ID, b.Name, b.ID)
				}
				return
			}
			if a.ID == b.ID || a.Name == b.Name {
				t.Fatalf("keys collide:\n%s %q\n%s %q", a.Name, a.ID, b.Name, b.ID)
			}
		})
	}
}

func TestParts(t *testing.T) {
	s := Spec{Resource: "items", Query: []string{"z", "a", "missing"}, Headers: []string{"x-b", "Accept-Language"}}
	r := request{method: http.MethodHead, target: "http://Shop.Example:8080/a%2Fb/?z=2&utm=x&a=1&z=1",
		headers: []string{"X-B: 1", "X-B: 2", "Accept-Encoding: gzip"}}.build(t)
	got, err := s.Parts(r, "acme", "Accept-Encoding", "X-Absent")
	if err != nil {
		t.Fatal(err)
	}
	want := Parts{
		Method: "GET",
		Host:   "shop.example:8080",
		Path:   "/a%2Fb/",
		Query:  []Param{{Name: "a", Values: []string{"1"}}, {Name: "z", Values: []string{"2", "1"}}},
		Headers: []Header{
			{Name: "Accept-Encoding", Values: []string{"gzip"}, Present: true},
			{Name: "Accept-Language"},
			{Name: "X-Absent"},
			{Name: "X-B", Values: []string{"1", "2"}, Present: true},
		},
		Tenant: "acme",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parts =\n%#v\nwant\n%#v", got, want)
	}
	r.Header["X-Absent"] = []string{} // a key without values is absent
	if got, err = s.Parts(r, "acme", "Accept-Encoding", "X-Absent"); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Parts with an empty header slice =\n%#v, %v\nwant\n%#v", got, err, want)
	}
	if n := got.normalize(); !reflect.DeepEqual(n, got) {
		t.Fatalf("Parts is not normal: normalize gives %#v", n)
	}
}

func TestKeyErrors(t *testing.T) {
	tests := []struct {
		name        string
		givenSpec   Spec
		givenTarget string
		whenTenant  string
		whenVary    []string
		expectIs    error  // nil: no sentinel expected
		expectText  string // a substring of the error
	}{
		{name: "an uppercase tenant is rejected", givenSpec: Spec{Resource: "r"}, givenTarget: "/x", whenTenant: "Acme", expectIs: ErrTenant},
		{name: "a tenant with a colon is rejected", givenSpec: Spec{Resource: "r"}, givenTarget: "/x", whenTenant: "a:b", expectIs: ErrTenant},
		{name: "a tenant longer than 64 bytes is rejected", givenSpec: Spec{Resource: "r"}, givenTarget: "/x", whenTenant: strings.Repeat("a", 65), expectIs: ErrTenant},
		{name: "a bad percent escape is a malformed query", givenSpec: Spec{Resource: "r"}, givenTarget: "/x?a=%zz", expectIs: ErrQuery},
		{name: "a semicolon separator is a malformed query", givenSpec: Spec{Resource: "r"}, givenTarget: "/x?a=1;b=2", expectIs: ErrQuery},
		{name: "a malformed query is rejected under an allow-list too", givenSpec: Spec{Resource: "r", Query: []string{"a"}}, givenTarget: "/x?a=1&b=%zz", expectIs: ErrQuery},
		{name: "Vary star cannot be cached", givenSpec: Spec{Resource: "r"}, givenTarget: "/x", whenVary: []string{"Accept, *"}, expectText: "Vary: *"},
		{name: "an invalid Vary name is rejected", givenSpec: Spec{Resource: "r"}, givenTarget: "/x", whenVary: []string{"Bad Name"}, expectText: "not a valid token"},
		{name: "an invalid spec is rejected", givenSpec: Spec{}, givenTarget: "/x", expectText: "resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request{target: tt.givenTarget}.build(t)
			_, err := tt.givenSpec.Key(r, tt.whenTenant, tt.whenVary...)
			if err == nil {
				t.Fatal("Key succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), "keyfunc: ") {
				t.Errorf("error %q lacks the keyfunc: prefix", err)
			}
			if tt.expectIs != nil && !errors.Is(err, tt.expectIs) {
				t.Errorf("error %q is not %q", err, tt.expectIs)
			}
			if !strings.Contains(err.Error(), tt.expectText) {
				t.Errorf("error %q does not mention %q", err, tt.expectText)
			}
		})
	}
}

func TestEmptyAllowListSkipsMalformedQuery(t *testing.T) {
	r := request{target: "/x?a=%zz"}.build(t)
	mustKey(t, Spec{Resource: "r", Query: []string{}}, r, "")
}

func TestKeyDoesNotMutateRequest(t *testing.T) {
	tests := []struct {
		name      string
		givenForm bool // whether the request was parsed with ParseForm first
	}{
		{name: "an unparsed request stays unparsed"},
		{name: "a parsed request keeps its form", givenForm: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request{method: http.MethodHead, target: "http://Shop.Example/a%2Fb?b=2&a=1&a=0",
				headers: []string{"Accept-Language: en", "X-A: 1", "X-A: 2"}}.build(t)
			if tt.givenForm {
				if err := r.ParseForm(); err != nil {
					t.Fatal(err)
				}
			}
			url0, raw0, host0, method0 := *r.URL, r.URL.RawQuery, r.Host, r.Method
			header0, form0, post0 := r.Header.Clone(), cloneValues(r.Form), cloneValues(r.PostForm)

			s := Spec{Resource: "items", Headers: []string{"X-A"}}
			p, err := s.Parts(r, "acme", "Accept-Language")
			if err != nil {
				t.Fatal(err)
			}
			mustKey(t, s, r, "acme", "Accept-Language")
			for i := range p.Headers {
				for j := range p.Headers[i].Values {
					p.Headers[i].Values[j] = "changed"
				}
			}

			if !reflect.DeepEqual(*r.URL, url0) || r.URL.RawQuery != raw0 || r.Host != host0 || r.Method != method0 {
				t.Errorf("URL, host or method changed: %#v", r.URL)
			}
			if !reflect.DeepEqual(r.Header, header0) {
				t.Errorf("Header changed: %v, was %v", r.Header, header0)
			}
			if !reflect.DeepEqual(r.Form, form0) || !reflect.DeepEqual(r.PostForm, post0) {
				t.Errorf("Form changed: %v %v, was %v %v", r.Form, r.PostForm, form0, post0)
			}
		})
	}
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

func TestKeyNameShape(t *testing.T) {
	tests := []struct {
		name           string
		givenHashLen   int
		whenTenant     string
		expectHashLen  int
		expectTenantIn string
	}{
		{name: "the default hash has 32 hex characters", givenHashLen: 0, whenTenant: "acme", expectHashLen: 32, expectTenantIn: "acme"},
		{name: "the shortest hash has 12 hex characters", givenHashLen: 12, whenTenant: "acme", expectHashLen: 12, expectTenantIn: "acme"},
		{name: "an odd hash length is kept exactly", givenHashLen: 13, expectHashLen: 13, expectTenantIn: "_"},
		{name: "the longest hash is all of SHA-256", givenHashLen: 64, expectHashLen: 64, expectTenantIn: "_"},
		{name: "an unscoped route uses the _ placeholder", givenHashLen: 20, expectHashLen: 20, expectTenantIn: "_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Spec{Resource: "items_v2", HashLen: tt.givenHashLen}
			k := mustKey(t, s, request{target: "/x?q=" + strings.Repeat("a", 10000)}.build(t), tt.whenTenant)
			sum := sha256.Sum256([]byte(k.ID))
			want := "v1:api:items_v2:" + hex.EncodeToString(sum[:])[:tt.expectHashLen] + ":" + tt.expectTenantIn
			if k.Name != want {
				t.Fatalf("Name = %q, want %q", k.Name, want)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	hash := strings.Repeat("0a", 6)
	tests := []struct {
		name        string
		givenName   string
		expectValid bool
	}{
		{name: "a well-formed name is valid", givenName: "v1:api:items:" + hash + ":acme", expectValid: true},
		{name: "a 64-character hash is valid", givenName: "v1:api:items:" + strings.Repeat("f", 64) + ":_", expectValid: true},
		{name: "a wrong version is invalid", givenName: "v2:api:items:" + hash + ":acme"},
		{name: "a short hash is invalid", givenName: "v1:api:items:" + hash[:11] + ":acme"},
		{name: "a long hash is invalid", givenName: "v1:api:items:" + strings.Repeat("f", 65) + ":acme"},
		{name: "an uppercase hash is invalid", givenName: "v1:api:items:" + strings.ToUpper(hash) + "A:acme"},
		{name: "a missing tenant is invalid", givenName: "v1:api:items:" + hash + ":"},
		{name: "an extra segment is invalid", givenName: "v1:api:items:" + hash + ":acme:x"},
		{name: "a bad resource is invalid", givenName: "v1:api:It-ems:" + hash + ":acme"},
		{name: "a bad tenant is invalid", givenName: "v1:api:items:" + hash + ":Acme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidName(tt.givenName); (err == nil) != tt.expectValid {
				t.Fatalf("ValidName(%q) = %v, want valid %v", tt.givenName, err, tt.expectValid)
			}
		})
	}
}

func TestValidTenant(t *testing.T) {
	tests := []struct {
		name        string
		givenTenant string
		expectValid bool
	}{
		{name: "lowercase letters, digits and underscores are valid", givenTenant: "acme_01", expectValid: true},
		{name: "the placeholder _ is a valid tenant", givenTenant: "_", expectValid: true},
		{name: "64 bytes are valid", givenTenant: strings.Repeat("a", 64), expectValid: true},
		{name: "65 bytes are invalid", givenTenant: strings.Repeat("a", 65)},
		{name: "the empty string is invalid", givenTenant: ""},
		{name: "uppercase is invalid", givenTenant: "Acme"},
		{name: "a hyphen is invalid", givenTenant: "a-b"},
		{name: "a colon is invalid", givenTenant: "a:b"},
		{name: "non-ASCII is invalid", givenTenant: "é"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidTenant(tt.givenTenant); got != tt.expectValid {
				t.Fatalf("ValidTenant(%q) = %v, want %v", tt.givenTenant, got, tt.expectValid)
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name       string
		givenSpec  Spec
		expectText string // empty: valid
	}{
		{name: "a minimal spec is valid", givenSpec: Spec{Resource: "items"}},
		{name: "a full spec is valid", givenSpec: Spec{Resource: "items", Query: []string{"a", "b"}, Headers: []string{"Accept-Language", "x-tenant-region"}, IgnoreHost: true, HashLen: 12}},
		{name: "an empty allow-list is valid", givenSpec: Spec{Resource: "items", Query: []string{}}},
		{name: "an empty resource is rejected", givenSpec: Spec{}, expectText: "resource"},
		{name: "a resource with a colon is rejected", givenSpec: Spec{Resource: "a:b"}, expectText: "resource"},
		{name: "an uppercase resource is rejected", givenSpec: Spec{Resource: "Items"}, expectText: "resource"},
		{name: "a resource over 64 bytes is rejected", givenSpec: Spec{Resource: strings.Repeat("r", 65)}, expectText: "resource"},
		{name: "a hash length below 12 is rejected", givenSpec: Spec{Resource: "r", HashLen: 11}, expectText: "hash length"},
		{name: "a hash length above 64 is rejected", givenSpec: Spec{Resource: "r", HashLen: 65}, expectText: "hash length"},
		{name: "a negative hash length is rejected", givenSpec: Spec{Resource: "r", HashLen: -1}, expectText: "hash length"},
		{name: "an empty query name is rejected", givenSpec: Spec{Resource: "r", Query: []string{"a", ""}}, expectText: "empty query"},
		{name: "a duplicate query name is rejected", givenSpec: Spec{Resource: "r", Query: []string{"a", "b", "a"}}, expectText: "duplicate query"},
		{name: "a header name with a space is rejected", givenSpec: Spec{Resource: "r", Headers: []string{"Accept Language"}}, expectText: "valid token"},
		{name: "an empty header name is rejected", givenSpec: Spec{Resource: "r", Headers: []string{""}}, expectText: "valid token"},
		{name: "a header name with a colon is rejected", givenSpec: Spec{Resource: "r", Headers: []string{"X-A:"}}, expectText: "valid token"},
		{name: "a duplicate header in another case is rejected", givenSpec: Spec{Resource: "r", Headers: []string{"x-a", "X-A"}}, expectText: "duplicate header"},
		{name: "Host as a header is rejected", givenSpec: Spec{Resource: "r", Headers: []string{"host"}}, expectText: "Host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.givenSpec.Validate()
			if tt.expectText == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), "keyfunc: ") || !strings.Contains(err.Error(), tt.expectText) {
				t.Fatalf("error %q should start with keyfunc: and mention %q", err, tt.expectText)
			}
		})
	}
}

func TestKeyedQuery(t *testing.T) {
	tests := []struct {
		name   string
		given  Spec
		raw    string
		expect string
	}{
		{"no allow-list keeps everything", Spec{Resource: "r"}, "b=2&a=1&cb=x", "b=2&a=1&cb=x"},
		{"an allow-list keeps its parameters in order, as sent", Spec{Resource: "r", Query: []string{"a", "b"}}, "b=%32&cb=x&a=1&b=3", "b=%32&a=1&b=3"},
		{"names are matched decoded", Spec{Resource: "r", Query: []string{"a b"}}, "a+b=1&a%20b=2&ab=3", "a+b=1&a%20b=2"},
		{"an empty allow-list keeps nothing", Spec{Resource: "r", Query: []string{}}, "a=1", ""},
		{"a value cannot smuggle a parameter in", Spec{Resource: "r", Query: []string{"a"}}, "a=1%26lang%3Devil&lang=evil", "a=1%26lang%3Devil"},
		{"empty segments and bare names", Spec{Resource: "r", Query: []string{"a"}}, "&a&&x&a=", "a&a="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.given.KeyedQuery(tt.raw); got != tt.expect {
				t.Errorf("KeyedQuery(%q) = %q, want %q", tt.raw, got, tt.expect)
			}
		})
	}
}
