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
