package middleware

import (
	"bytes"
	"reflect"
	"testing"
)

func TestResponseRoundTrip(t *testing.T) {
	in := response{Status: 404, Header: [][]string{{"Content-Type", "text/plain"}, {"X-Multi", "a", "b, c", ""}}, Body: []byte("not found")}
	b, err := in.encode()
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeResponse(b)
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip: %+v, %v; want %+v", out, err, in)
	}
}

func TestDecodeResponseRejectsWhatItDidNotWrite(t *testing.T) {
	good, _ := response{Status: 200, Header: [][]string{{"A", "b"}}, Body: []byte("x")}.encode()
	tests := []struct {
		name      string
		givenData []byte
	}{
		{"empty", nil},
		{"another version", append([]byte{2}, good[1:]...)},
		{"truncated", good[:len(good)-1]},
		{"a trailing byte", append(bytes.Clone(good), 0)},
		{"a status out of range", []byte{1, 99, 0, 0, 0}},
		{"a field count larger than the data", []byte{1, 200, 1, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"a header name that is not a token", mustEncode(t, response{Status: 200, Header: [][]string{{"Bad Name", "v"}}})},
		{"a field without values", []byte{1, 200, 1, 1, 1, 'A', 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeResponse(tt.givenData); err == nil {
				t.Fatal("decoded")
			}
		})
	}
}

func mustEncode(t *testing.T, r response) []byte {
	t.Helper()
	b, err := r.encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDecodeResponse: no input panics or allocates beyond its size, and
// whatever decodes survives a round trip unchanged.
func FuzzDecodeResponse(f *testing.F) {
	good, _ := response{Status: 200, Header: [][]string{{"A", "b", "c"}}, Body: []byte("x")}.encode()
	f.Add(good)
	f.Add([]byte{1, 200, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeResponse(b)
		if err != nil {
			return
		}
		again, err := decodeResponse(mustEncode(t, r))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip of %x: %+v, %v; want %+v", b, again, err, r)
		}
	})
}

func TestVaryMarkerRoundTripAndRejects(t *testing.T) {
	names := []string{"Accept-Language", "X-Device"}
	got, err := decodeStored(encodeMarker(names))
	if err != nil || !reflect.DeepEqual(got.vary, names) {
		t.Fatalf("round trip: %v, %v", got.vary, err)
	}
	for name, b := range map[string][]byte{
		"no names":         {markerFormat, 0},
		"too many names":   append([]byte{markerFormat, maxVaryNames + 1}, bytes.Repeat([]byte{1, 'A'}, maxVaryNames+1)...),
		"a name not token": {markerFormat, 1, 2, 'a', ' '},
		"trailing bytes":   append(encodeMarker(names), 0),
		"truncated":        encodeMarker(names)[:5],
	} {
		if _, err := decodeStored(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// FuzzDecodeStored: whatever a key may hold, decoding never panics.
func FuzzDecodeStored(f *testing.F) {
	f.Add(encodeMarker([]string{"Accept-Language"}))
	f.Add([]byte{markerFormat, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = decodeStored(b) })
}
