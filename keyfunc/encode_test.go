package keyfunc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/textproto"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// decode is the inverse of Parts.Encode. It is strict: it rejects a wrong
// version, a wrong tag, a truncated field and trailing bytes, so that
// decode(encode(p)) == normalize(p) proves that Encode loses nothing.
func decode(b []byte) (Parts, error) {
	d := decoder{b: b}
	var p Parts
	d.expect(encodingVersion)
	d.expect(tagMethod)
	p.Method = d.str()
	d.expect(tagHost)
	p.Host = d.str()
	d.expect(tagPath)
	p.Path = d.str()
	d.expect(tagQuery)
	if n := d.count(); n > 0 {
		p.Query = make([]Param, n)
		for i := range p.Query {
			p.Query[i] = Param{Name: d.str(), Values: d.strs()}
		}
	}
	d.expect(tagHeaders)
	if n := d.count(); n > 0 {
		p.Headers = make([]Header, n)
		for i := range p.Headers {
			p.Headers[i].Name = d.str()
			if d.flag() {
				p.Headers[i].Present = true
				p.Headers[i].Values = d.strs()
			}
		}
	}
	d.expect(tagTenant)
	if d.flag() {
		p.Tenant = d.str()
		if p.Tenant == "" && d.err == nil {
			d.err = errors.New("scoped tenant is empty")
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return p, d.err
}

// decoder reads an encoding; the first error sticks and later reads return
// zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errors.New("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) expect(want byte) {
	if got := d.byte(); d.err == nil && got != want {
		d.err = fmt.Errorf("got byte %q, want %q", got, want)
	}
}

func (d *decoder) flag() bool {
	switch f := d.byte(); {
	case d.err != nil:
		return false
	case f == flagAbsent:
		return false
	case f == flagPresent:
		return true
	default:
		d.err = fmt.Errorf("bad flag %d", f)
		return false
	}
}

func (d *decoder) count() int {
	if d.err != nil {
		return 0
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(len(d.b)) {
		d.err = errors.New("bad length")
		return 0
	}
	d.b = d.b[k:]
	return int(n)
}

func (d *decoder) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	if n > len(d.b) {
		d.err = errors.New("truncated string")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.str()
	}
	return ss
}

// checkNormal fails the test unless p has the normal form, checked
// independently of normalize.
func checkNormal(t *testing.T, p Parts) {
	t.Helper()
	if p.Method == "" || p.Method == "HEAD" {
		t.Errorf("method %q is not normal", p.Method)
	}
	if strings.ContainsAny(p.Host, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		t.Errorf("host %q is not lowercase", p.Host)
	}
	for i, q := range p.Query {
		if i > 0 && p.Query[i-1].Name >= q.Name {
			t.Errorf("query names %q, %q are not strictly sorted", p.Query[i-1].Name, q.Name)
		}
		if q.Values != nil && len(q.Values) == 0 {
			t.Errorf("query %q has an empty non-nil value list", q.Name)
		}
	}
	for i, h := range p.Headers {
		if i > 0 && p.Headers[i-1].Name >= h.Name {
			t.Errorf("header names %q, %q are not strictly sorted", p.Headers[i-1].Name, h.Name)
		}
		if c := textproto.CanonicalMIMEHeaderKey(h.Name); c != h.Name {
			t.Errorf("header name %q is not canonical (%q)", h.Name, c)
		}
		if h.Values != nil && (len(h.Values) == 0 || !h.Present) {
			t.Errorf("header %q has values %q, present %v", h.Name, h.Values, h.Present)
		}
	}
}

// fuzzReader turns fuzz bytes into strings and small counts; every byte
// string yields some Parts, so the fuzzer can reach any names and values.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzReader) str() string {
	n := min(int(r.byte()%16), len(r.b))
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *fuzzReader) strs() []string {
	n := int(r.byte() % 4)
	if n == 3 {
		return []string{} // non-nil and empty, which normalises to nil
	}
	var ss []string
	for range n {
		ss = append(ss, r.str())
	}
	return ss
}

// lists reads up to 4 query parameters and 4 headers from r.
func (r *fuzzReader) lists() ([]Param, []Header) {
	var qs []Param
	for range r.byte() % 5 {
		qs = append(qs, Param{Name: r.str(), Values: r.strs()})
	}
	var hs []Header
	for range r.byte() % 5 {
		hs = append(hs, Header{Name: r.str(), Values: r.strs(), Present: r.byte()&1 == 1})
	}
	return qs, hs
}

// partsFromBytes builds every field of Parts from b.
func partsFromBytes(b []byte) Parts {
	r := &fuzzReader{b: b}
	p := Parts{Method: r.str(), Host: r.str(), Path: r.str()}
	p.Query, p.Headers = r.lists()
	p.Tenant = r.str()
	return p
}

func deepCopy(p Parts) Parts {
	c := p
	c.Query = slices.Clone(p.Query)
	for i := range c.Query {
		c.Query[i].Values = slices.Clone(c.Query[i].Values)
	}
	c.Headers = slices.Clone(p.Headers)
	for i := range c.Headers {
		c.Headers[i].Values = slices.Clone(c.Headers[i].Values)
	}
	return c
}

func FuzzEncodeInjective(f *testing.F) {
	f.Add("GET", "Example.COM", "/a%2Fb", "acme", []byte("\x02\x03a:b\x01\x01c\x01a\x02\x03b:c\x00\x01\x0fAccept-Language\x01\x02en\x01"))
	f.Add("HEAD", "", "/", "", []byte("\x01\x01|\x02\x00\x01=\x00"))
	f.Fuzz(func(t *testing.T, method, host, path, tenant string, lists []byte) {
		p := Parts{Method: method, Host: host, Path: path, Tenant: tenant}
		p.Query, p.Headers = (&fuzzReader{b: lists}).lists()
		before := deepCopy(p)
		enc := p.Encode()
		if !reflect.DeepEqual(p, before) {
			t.Fatalf("Encode modified its receiver: %#v, was %#v", p, before)
		}
		got, err := decode(enc)
		if err != nil {
			t.Fatalf("decode(%q): %v", enc, err)
		}
		want := p.normalize()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decode(Encode(p)) = %#v, want %#v", got, want)
		}
		checkNormal(t, got)
		if again := want.Encode(); !bytes.Equal(again, enc) {
			t.Fatalf("normalize changed the encoding: %q, was %q", again, enc)
		}
		if n := want.encodedLen(); n != len(enc) {
			t.Fatalf("encodedLen = %d, encoding has %d bytes", n, len(enc))
		}
	})
}

// resplit returns Parts shaped like p whose strings, concatenated in order,
// are those of p, but with the boundaries moved where cuts says; it also flips
// the presence of the headers cuts picks. An encoding that joined fields with
// separators, or dropped a length, would collide on such pairs.
func resplit(p Parts, cuts []byte) Parts {
	q := deepCopy(p)
	fields := []*string{&q.Method, &q.Host, &q.Path}
	for i := range q.Query {
		fields = append(fields, &q.Query[i].Name)
		for j := range q.Query[i].Values {
			fields = append(fields, &q.Query[i].Values[j])
		}
	}
	for i := range q.Headers {
		fields = append(fields, &q.Headers[i].Name)
		for j := range q.Headers[i].Values {
			fields = append(fields, &q.Headers[i].Values[j])
		}
	}
	fields = append(fields, &q.Tenant)
	var all strings.Builder
	for _, f := range fields {
		all.WriteString(*f)
	}
	rest, r := all.String(), &fuzzReader{b: cuts}
	for _, f := range fields[:len(fields)-1] {
		n := int(r.byte()) % (len(rest) + 1)
		*f, rest = rest[:n], rest[n:]
	}
	q.Tenant = rest
	for i := range q.Headers {
		if r.byte()&1 == 1 {
			q.Headers[i].Present = !q.Headers[i].Present
		}
	}
	return q
}

// checkSameIffEqual fails the test unless a and b have equal encodings exactly
// when they are equal after normalisation.
func checkSameIffEqual(t *testing.T, a, b Parts) {
	t.Helper()
	ea, eb := a.Encode(), b.Encode()
	na, nb := a.normalize(), b.normalize()
	if bytes.Equal(ea, eb) != reflect.DeepEqual(na, nb) {
		t.Fatalf("encodings equal: %v, normalised parts equal: %v\na: %#v\nb: %#v\nencodings %q and %q",
			bytes.Equal(ea, eb), reflect.DeepEqual(na, nb), na, nb, ea, eb)
	}
}

func FuzzEncodeCollision(f *testing.F) {
	f.Add([]byte("\x03GET\x00\x01/\x01\x03a:b\x01\x01c\x00\x00"), []byte("\x03GET\x00\x01/\x01\x01a\x01\x03b:c\x00\x00"), []byte("\x03\x00\x01\x01\x03"))
	f.Add([]byte("\x03GET\x00\x01/\x00\x00\x00"), []byte("\x03GET\x00\x01/\x00\x00\x01_"), []byte{})
	f.Fuzz(func(t *testing.T, a, b, cuts []byte) {
		pa := partsFromBytes(a)
		checkSameIffEqual(t, pa, partsFromBytes(b))
		checkSameIffEqual(t, pa, resplit(pa, cuts))
	})
}

func TestEncodeIsUnambiguous(t *testing.T) {
	tests := []struct {
		name           string
		givenA, givenB Parts
	}{
		{
			name:   "moving a separator from a query name into its value changes the encoding",
			givenA: Parts{Query: []Param{{Name: "a:b", Values: []string{"c"}}}},
			givenB: Parts{Query: []Param{{Name: "a", Values: []string{"b:c"}}}},
		},
		{
			name:   "one header holding a joined pair differs from two headers",
			givenA: Parts{Headers: []Header{{Name: "X-A", Values: []string{"1|X-B:2"}, Present: true}}},
			givenB: Parts{Headers: []Header{{Name: "X-A", Values: []string{"1"}, Present: true}, {Name: "X-B", Values: []string{"2"}, Present: true}}},
		},
		{
			name:   "one value holding a comma differs from two values",
			givenA: Parts{Query: []Param{{Name: "a", Values: []string{"1,2"}}}},
			givenB: Parts{Query: []Param{{Name: "a", Values: []string{"1", "2"}}}},
		},
		{
			name:   "an absent header differs from an empty one",
			givenA: Parts{Headers: []Header{{Name: "X-A"}}},
			givenB: Parts{Headers: []Header{{Name: "X-A", Values: []string{""}, Present: true}}},
		},
		{
			name:   "a parameter with no values differs from one with an empty value",
			givenA: Parts{Query: []Param{{Name: "a"}}},
			givenB: Parts{Query: []Param{{Name: "a", Values: []string{""}}}},
		},
		{
			name:   "the unscoped tenant differs from the tenant named _",
			givenA: Parts{},
			givenB: Parts{Tenant: "_"},
		},
		{
			name:   "a path differs from the same bytes moved into the host",
			givenA: Parts{Host: "a", Path: "b"},
			givenB: Parts{Host: "ab"},
		},
		{
			name:   "a NUL inside a value differs from two values",
			givenA: Parts{Query: []Param{{Name: "a", Values: []string{"x\x00y"}}}},
			givenB: Parts{Query: []Param{{Name: "a", Values: []string{"x", "y"}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a, b := tt.givenA.Encode(), tt.givenB.Encode(); bytes.Equal(a, b) {
				t.Fatalf("both encode to %q", a)
			}
		})
	}
}

func TestEncodeNormalises(t *testing.T) {
	tests := []struct {
		name           string
		givenA, givenB Parts
	}{
		{
			name:   "HEAD encodes as GET",
			givenA: Parts{Method: "HEAD"},
			givenB: Parts{Method: "GET"},
		},
		{
			name:   "the host is lowercased",
			givenA: Parts{Host: "Example.COM"},
			givenB: Parts{Host: "example.com"},
		},
		{
			name:   "query parameters are sorted and repeated names merged in order",
			givenA: Parts{Query: []Param{{Name: "b", Values: []string{"2"}}, {Name: "a", Values: []string{"1"}}, {Name: "b", Values: []string{"3"}}}},
			givenB: Parts{Query: []Param{{Name: "a", Values: []string{"1"}}, {Name: "b", Values: []string{"2", "3"}}}},
		},
		{
			name:   "header names are canonical, sorted and deduplicated",
			givenA: Parts{Headers: []Header{{Name: "x-b", Present: true, Values: []string{"2"}}, {Name: "accept", Present: true, Values: []string{"1"}}, {Name: "X-B", Present: true, Values: []string{"2"}}}},
			givenB: Parts{Headers: []Header{{Name: "Accept", Present: true, Values: []string{"1"}}, {Name: "X-B", Present: true, Values: []string{"2"}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a, b := tt.givenA.Encode(), tt.givenB.Encode(); !bytes.Equal(a, b) {
				t.Fatalf("encodings differ: %q and %q", a, b)
			}
		})
	}
}

// TestEncodeIsStable pins the layout: changing it changes every key in Redis,
// so a new layout needs a new encodingVersion (and key prefix).
func TestEncodeIsStable(t *testing.T) {
	p := Parts{
		Method:  "GET",
		Host:    "shop.example",
		Path:    "/a",
		Query:   []Param{{Name: "q", Values: []string{"x", ""}}},
		Headers: []Header{{Name: "Accept", Values: []string{"*/*"}, Present: true}, {Name: "X-A"}},
		Tenant:  "acme",
	}
	want := "\x01" + "M\x03GET" + "H\x0cshop.example" + "P\x02/a" +
		"Q\x01" + "\x01q\x02\x01x\x00" +
		"V\x02" + "\x06Accept\x01\x01\x03*/*" + "\x03X-A\x00" +
		"T\x01\x04acme"
	if got := string(p.Encode()); got != want {
		t.Fatalf("Encode = %q, want %q", got, want)
	}
}
