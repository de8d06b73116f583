package keyfunc

import (
	"encoding/binary"
	"net/textproto"
	"slices"
	"strings"

	"github.com/swrcache/swrcache/internal/wire"
)

// encodingVersion is the first byte of every encoding. It names the layout
// below; a different layout must use a different byte so that encodings of two
// layouts can never be equal.
const encodingVersion byte = 0x01

// Section tags. Each section of the encoding starts with its tag, in this
// fixed order, so that a decoder can check it is reading the section it
// expects.
const (
	tagMethod  byte = 'M'
	tagHost    byte = 'H'
	tagPath    byte = 'P'
	tagQuery   byte = 'Q'
	tagHeaders byte = 'V'
	tagTenant  byte = 'T'
)

// Flag bytes for headers (absent or present) and the tenant (not scoped or
// scoped).
const (
	flagAbsent  byte = 0
	flagPresent byte = 1
)

// Parts holds the parts of a request that identify a cached response. Spec.Parts
// builds it from a request; Encode turns it into the canonical encoding that
// keys are derived from.
type Parts struct {
	// Method is the request method. HEAD is encoded as GET, because HEAD
	// requests are served from GET entries, and an empty method is GET, as in
	// net/http.
	Method string
	// Host is the request host, lowercased (ASCII only). It is empty when the
	// Spec ignores the host.
	Host string
	// Path is the escaped path, r.URL.EscapedPath(), so that /a%2Fb and /a/b
	// stay distinct.
	Path string
	// Query holds the chosen query parameters, sorted by name; each name's
	// values are in request order.
	Query []Param
	// Headers holds the chosen request headers and the Vary dimensions, by
	// canonical name, sorted and without duplicates.
	Headers []Header
	// Tenant is the tenant the response belongs to; empty means the route is
	// not tenant-scoped, which is encoded distinctly from every tenant.
	Tenant string
}

// Param is one query parameter: its decoded name and all its decoded values
// in request order.
type Param struct {
	Name   string
	Values []string
}

// Header is one request header: its canonical name, whether the request has
// it, and all its values in order. An absent header (Present false) is encoded
// differently from a present header with an empty value.
type Header struct {
	Name    string
	Values  []string
	Present bool
}

// Encode returns the canonical encoding of p. The encoding is injective on
// normalised parts: two Parts have equal encodings exactly when they are equal
// after normalisation (HEAD and "" as GET, the host lowercased, query
// parameters stably sorted by name with repeated names merged in order, header
// names canonical, sorted and deduplicated keeping the first, values of absent
// headers dropped, empty value lists treated as nil).
//
// The layout is a version byte, then one section per field in a fixed order,
// each starting with a tag byte. Strings are a uvarint length followed by the
// bytes; lists are a uvarint count followed by the elements; a header has a
// presence byte before its values; the tenant has a scoped byte before its
// name. No separator characters are involved, so names and values may contain
// any bytes.
func (p Parts) Encode() []byte {
	return p.normalize().encode()
}

// encode encodes p, which must already be in normal form.
func (p Parts) encode() []byte {
	buf := make([]byte, 0, p.encodedLen())
	buf = append(buf, encodingVersion)
	buf = append(buf, tagMethod)
	buf = wire.AppendString(buf, p.Method)
	buf = append(buf, tagHost)
	buf = wire.AppendString(buf, p.Host)
	buf = append(buf, tagPath)
	buf = wire.AppendString(buf, p.Path)
	buf = append(buf, tagQuery)
	buf = binary.AppendUvarint(buf, uint64(len(p.Query)))
	for _, q := range p.Query {
		buf = wire.AppendString(buf, q.Name)
		buf = wire.AppendStrings(buf, q.Values)
	}
	buf = append(buf, tagHeaders)
	buf = binary.AppendUvarint(buf, uint64(len(p.Headers)))
	for _, h := range p.Headers {
		buf = wire.AppendString(buf, h.Name)
		if !h.Present {
			buf = append(buf, flagAbsent)
			continue
		}
		buf = append(buf, flagPresent)
		buf = wire.AppendStrings(buf, h.Values)
	}
	buf = append(buf, tagTenant)
	if p.Tenant == "" {
		return append(buf, flagAbsent)
	}
	buf = append(buf, flagPresent)
	return wire.AppendString(buf, p.Tenant)
}

// normalize returns the normal form of p described on Encode. It does not
// modify p or the slices p refers to, and it runs in O(n log n) for n query
// parameters and headers.
func (p Parts) normalize() Parts {
	out := Parts{
		Method: normalMethod(p.Method),
		Host:   asciiLower(p.Host),
		Path:   p.Path,
		Tenant: p.Tenant,
	}
	if len(p.Query) > 0 {
		qs := slices.Clone(p.Query)
		slices.SortStableFunc(qs, func(a, b Param) int { return strings.Compare(a.Name, b.Name) })
		out.Query = make([]Param, 0, len(qs))
		for i := 0; i < len(qs); {
			j := i + 1
			for j < len(qs) && qs[j].Name == qs[i].Name {
				j++
			}
			var vals []string
			for _, q := range qs[i:j] {
				vals = append(vals, q.Values...)
			}
			out.Query = append(out.Query, Param{Name: qs[i].Name, Values: vals})
			i = j
		}
	}
	if len(p.Headers) > 0 {
		hs := make([]Header, len(p.Headers))
		for i, h := range p.Headers {
			hs[i] = Header{Name: textproto.CanonicalMIMEHeaderKey(h.Name), Present: h.Present}
			if h.Present && len(h.Values) > 0 {
				hs[i].Values = h.Values
			}
		}
		slices.SortStableFunc(hs, func(a, b Header) int { return strings.Compare(a.Name, b.Name) })
		out.Headers = slices.CompactFunc(hs, func(a, b Header) bool { return a.Name == b.Name })
	}
	return out
}

// encodedLen returns the exact length of the encoding of the normalised p.
func (p Parts) encodedLen() int {
	n := 1 + 6 + wire.StringLen(p.Method) + wire.StringLen(p.Host) + wire.StringLen(p.Path)
	n += wire.UvarintLen(uint64(len(p.Query)))
	for _, q := range p.Query {
		n += wire.StringLen(q.Name) + wire.StringsLen(q.Values)
	}
	n += wire.UvarintLen(uint64(len(p.Headers)))
	for _, h := range p.Headers {
		n += wire.StringLen(h.Name) + 1
		if h.Present {
			n += wire.StringsLen(h.Values)
		}
	}
	n++
	if p.Tenant != "" {
		n += wire.StringLen(p.Tenant)
	}
	return n
}

// normalMethod maps HEAD and the empty method to GET.
func normalMethod(m string) string {
	if m == "" || m == "HEAD" {
		return "GET"
	}
	return m
}

// asciiLower lowercases the ASCII letters of s and leaves every other byte
// alone. Unicode case folding is deliberately not used: it would merge hosts
// such as "\u212a.example" (Kelvin sign) and "k.example" that an application
// may treat as different.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
