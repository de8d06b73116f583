package middleware

import "net/http"

// Stored is a value the HTTP layer keeps in a core entry (core.EntryInfo's
// Value), as DecodeStored reads it for operators' tools: a response, or,
// under a route's base key, a vary marker.
type Stored struct {
	// Vary, when not nil, makes this a vary marker: the request headers,
	// beyond the route's Key.Headers, that the route's responses vary on.
	// Each response is then stored under a variant key: the route's
	// keyfunc.Spec.Key for the request with these names as its Vary.
	Vary []string

	// Status, Header and Body are the stored response; zero in a marker.
	// Header holds what is replayed, without the fields the cache never
	// stores (Set-Cookie, hop-by-hop fields, the tags header).
	Status int
	Header http.Header
	Body   []byte // aliases the value
}

// DecodeStored decodes value, the cached bytes of an HTTP entry, with the
// checks of the read path: an error means a lookup would treat the entry
// as a miss. It never panics, whatever value holds.
func DecodeStored(value []byte) (Stored, error) {
	s, err := decodeStored(value)
	if err != nil {
		return Stored{}, err
	}
	if s.vary != nil {
		return Stored{Vary: s.vary}, nil
	}
	h := make(http.Header, len(s.resp.Header))
	for _, f := range s.resp.Header {
		h[f[0]] = f[1:]
	}
	return Stored{Status: s.resp.Status, Header: h, Body: s.resp.Body}, nil
}

// VaryTag is the tag the cache records on every entry of a route key whose
// responses vary on request headers outside the key: the vary marker under
// the base key, and each variant. A variant's key hashes the request's
// values of those headers, so no one can derive it from a URL; the tag
// finds every variant instead. core.Engine.InvalidateTags(VaryTag(base))
// removes them all and core.Engine.Tagged lists them. base is the route's
// key name for a request: keyfunc.Spec.Key with no Vary names.
//
// The prefix keeps it apart from an application's tags, unless one names
// its tags so. A key name is at most 201 bytes, so the tag stays within
// core's 256.
func VaryTag(base string) string { return varyTagPrefix + base }

const varyTagPrefix = "swrcache:vary:"
