package keyfunc

import (
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// FuzzKey checks Spec.Key on arbitrary requests: it never panics or modifies
// the request, it returns only keyfunc errors, its names have the documented
// shape and bounded length, its ID decodes to the request's Parts, and the
// query it keys on is exactly what url.ParseQuery gives the handler.
func FuzzKey(f *testing.F) {
	f.Add("GET", "Shop.Example", "/a%2Fb?x=1&x=2&y", "Accept-Language: en\nX-A: 1", "acme", "Accept-Encoding, X-A")
	f.Add("HEAD", "", "/?a=%zz", "", "Bad-Tenant", "*")
	f.Fuzz(func(t *testing.T, method, host, target, headers, tenant, vary string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			t.Skip()
		}
		r := &http.Request{Method: method, Host: host, URL: u, Header: http.Header{}}
		for _, line := range strings.Split(headers, "\n") {
			name, value, _ := strings.Cut(line, ":")
			name = textproto.CanonicalMIMEHeaderKey(name)
			r.Header[name] = append(r.Header[name], value)
		}
		url0, header0 := *r.URL, r.Header.Clone()
		specs := []Spec{
			{Resource: "r"},
			{Resource: "items", Query: []string{"x", "y"}, Headers: []string{"Accept-Language"}, IgnoreHost: true, HashLen: 12},
		}
		for _, s := range specs {
			k, err := s.Key(r, tenant, vary)
			if !reflect.DeepEqual(*r.URL, url0) || !reflect.DeepEqual(r.Header, header0) || r.Form != nil {
				t.Fatalf("Key modified the request")
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "keyfunc: ") {
					t.Fatalf("error %q lacks the keyfunc: prefix", err)
				}
				if tenant != "" && !ValidTenant(tenant) && !errors.Is(err, ErrTenant) {
					t.Fatalf("invalid tenant %q gave %v, want ErrTenant", tenant, err)
				}
				continue
			}
			if err := ValidName(k.Name); err != nil {
				t.Fatal(err)
			}
			if len(k.Name) > len("v1:api:::")+len(s.Resource)+MaxHashLen+MaxNameLen {
				t.Fatalf("name %q is too long", k.Name)
			}
			p, err := s.Parts(r, tenant, vary)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := decode([]byte(k.ID)); err != nil || !reflect.DeepEqual(got, p) {
				t.Fatalf("decode(ID) = %#v, %v; want %#v", got, err, p)
			}
			if s.Query == nil {
				m, _ := url.ParseQuery(u.RawQuery)
				if len(m) != len(p.Query) {
					t.Fatalf("Parts has %d parameters, ParseQuery %d", len(p.Query), len(m))
				}
				for _, q := range p.Query {
					if !reflect.DeepEqual(q.Values, m[q.Name]) {
						t.Fatalf("parameter %q has values %q, ParseQuery gives %q", q.Name, q.Values, m[q.Name])
					}
				}
			}
		}
	})
}

// FuzzKeyedQuery checks Spec.KeyedQuery against Spec.Key: whenever a query
// is keyed, the query the handler is given keys the same, and holds exactly
// the allow-listed parameters, with their values in the order sent.
func FuzzKeyedQuery(f *testing.F) {
	f.Add("id=1&lang=fr&id=2")
	f.Add("i%64=1&lang=%3Cscript%3E&cb=123")
	f.Add("lang&id&&id=")
	f.Add("id=a%26lang%3Devil&x=%zz")
	f.Add("cb=1;id=2")
	f.Fuzz(func(t *testing.T, raw string) {
		for _, s := range []Spec{{Resource: "r", Query: []string{"id", "page"}}, {Resource: "r", Query: []string{}}} {
			r := &http.Request{Method: "GET", Host: "h", URL: &url.URL{Path: "/p", RawQuery: raw}}
			want, err := s.Key(r, "")
			if err != nil {
				continue // the request bypasses the cache: its query is not rewritten
			}
			kept := s.KeyedQuery(raw)
			r.URL.RawQuery = kept
			if got, err := s.Key(r, ""); err != nil || got != want {
				t.Fatalf("KeyedQuery(%q) = %q keys differently (%v)", raw, kept, err)
			}
			all, err := url.ParseQuery(raw)
			if err != nil {
				continue
			}
			gotQ, err := url.ParseQuery(kept)
			if err != nil {
				t.Fatalf("KeyedQuery(%q) = %q does not parse: %v", raw, kept, err)
			}
			for name, vals := range all {
				allowed := false
				for _, q := range s.Query {
					allowed = allowed || q == name
				}
				if allowed && !reflect.DeepEqual(gotQ[name], vals) {
					t.Fatalf("KeyedQuery(%q) = %q: %s = %q, want %q", raw, kept, name, gotQ[name], vals)
				}
				if !allowed && gotQ.Has(name) {
					t.Fatalf("KeyedQuery(%q) = %q kept the unkeyed %q", raw, kept, name)
				}
			}
		}
	})
}
