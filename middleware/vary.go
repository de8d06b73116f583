package middleware

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/swrcache/swrcache/internal/wire"
	"github.com/swrcache/swrcache/keyfunc"
)

// A response's Vary makes the request headers it names part of the key.
// Headers the route lists in Key.Headers are in the key from the start. For
// others, the first fill learns them: it stores the response under a
// variant key (the route's key plus those headers' values) and, under the
// route's base key, a vary marker naming them. A request that finds the
// marker looks up its own variant; so does every request that was waiting
// on that first fill, so none gets a variant meant for other header values
// (RFC 9111 section 4.1). Each instance remembers markers for a minute, so
// a hit costs one GET. Variants are bounded: at most maxVaryNames names,
// and a request whose value for one of them is longer than maxVaryValue
// bytes bypasses the cache.
const (
	maxVaryNames = 8
	maxVaryValue = 256
	markerFormat = 2 // the first byte of a vary marker; responses have 1
	varyMemoFor  = time.Minute
	varyMemoCap  = 4096
)

// stored is what a key holds: a response or, under a route's base key, the
// header names its responses vary on.
type stored struct {
	resp response
	vary []string // not nil: a vary marker
}

func decodeStored(b []byte) (stored, error) {
	if len(b) > 0 && b[0] == markerFormat {
		names, err := decodeMarker(b)
		return stored{vary: names}, err
	}
	resp, err := decodeResponse(b)
	return stored{resp: resp}, err
}

func encodeMarker(names []string) []byte {
	return wire.AppendStrings([]byte{markerFormat}, names)
}

var errMarker = errors.New("middleware: malformed vary marker")

func decodeMarker(b []byte) ([]string, error) {
	d := wire.NewReader(b[1:])
	n := d.Uvarint()
	if d.Err() != nil || n == 0 || n > maxVaryNames {
		return nil, errMarker
	}
	names := make([]string, 0, n)
	for range n {
		name := d.String()
		if d.Err() != nil || !keyfunc.ValidHeaderName(name) {
			return nil, errMarker
		}
		names = append(names, name)
	}
	if d.Len() != 0 {
		return nil, errMarker
	}
	return names, nil
}

// extraVary returns the canonical names in h's Vary that are neither in
// the key's headers nor in known, sorted; "*" is reported by noStoreReason.
func extraVary(h http.Header, keyHeaders, known []string) []string {
	var out []string
	for _, name := range varyNames(h) {
		name = http.CanonicalHeaderKey(name)
		in := func(k string) bool { return strings.EqualFold(k, name) }
		if name == "*" || slices.ContainsFunc(keyHeaders, in) || slices.ContainsFunc(known, in) || slices.Contains(out, name) {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// varyBounded reports whether r's values for names are short enough to be
// part of a key.
func varyBounded(r *http.Request, names []string) bool {
	for _, n := range names {
		for _, v := range r.Header.Values(n) {
			if len(v) > maxVaryValue {
				return false
			}
		}
	}
	return true
}

// varyMemo remembers, per base key, the names of a vary marker.
type varyMemo struct {
	m sync.Map     // base key name → varyEntry
	n atomic.Int64 // entries stored, to bound the map
}

type varyEntry struct {
	names []string
	until time.Time
}

func (v *varyMemo) get(key string) []string {
	e, ok := v.m.Load(key)
	if !ok {
		return nil
	}
	if ent := e.(varyEntry); time.Now().Before(ent.until) {
		return ent.names
	}
	v.m.Delete(key)
	return nil
}

func (v *varyMemo) put(key string, names []string) {
	if v.n.Add(1) > varyMemoCap {
		v.m.Clear() // bounded: forgetting costs one more GET per key
		v.n.Store(1)
	}
	v.m.Store(key, varyEntry{names: names, until: time.Now().Add(varyMemoFor)})
}

func (v *varyMemo) forget(key string) { v.m.Delete(key) }
