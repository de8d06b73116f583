package middleware

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/keyfunc"
)

func TestDecodeStored(t *testing.T) {
	resp := response{Status: 404, Header: [][]string{{"Content-Type", "text/plain"}, {"X-Multi", "a", "b"}}, Body: []byte("gone")}
	tests := []struct {
		name        string
		givenValue  []byte
		expectValue Stored
	}{
		{"a response", resp.mustEncode(), Stored{Status: 404,
			Header: http.Header{"Content-Type": {"text/plain"}, "X-Multi": {"a", "b"}}, Body: []byte("gone")}},
		{"a vary marker", encodeMarker([]string{"Accept-Encoding", "Accept-Language"}),
			Stored{Vary: []string{"Accept-Encoding", "Accept-Language"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeStored(tt.givenValue)
			if err != nil || !reflect.DeepEqual(got, tt.expectValue) {
				t.Fatalf("DecodeStored = %+v, %v; want %+v", got, err, tt.expectValue)
			}
		})
	}
}

func TestDecodeStoredRejectsWhatTheCacheDidNotWrite(t *testing.T) {
	for _, value := range [][]byte{nil, []byte("plain text"), {markerFormat}, {markerFormat, 1, 3, 'A', ' ', 'B'}, {9, 1, 2}} {
		if got, err := DecodeStored(value); err == nil {
			t.Errorf("DecodeStored(%q) = %+v, want an error", value, got)
		}
	}
}

func TestVaryTagIsAValidTagForTheLongestKey(t *testing.T) {
	long := keyfunc.Spec{Resource: strings.Repeat("r", keyfunc.MaxNameLen), HashLen: keyfunc.MaxHashLen}
	k, err := long.Key(httptest.NewRequest(http.MethodGet, "/", nil), strings.Repeat("t", keyfunc.MaxNameLen))
	if err != nil {
		t.Fatal(err)
	}
	p := core.Policy{TTL: time.Second, Tags: []string{VaryTag(k.Name)}}
	if err := p.Validate(); err != nil {
		t.Fatalf("VaryTag of a %d-byte key: %v", len(k.Name), err)
	}
}

// Every entry a Vary route stores carries the tag of its base key, so that
// invalidating the URL can reach variants no one can name.
func TestItemTagsEveryVariantWithItsBaseKey(t *testing.T) {
	const base = "v1:api:r:0123456789ab:_"
	tests := []struct {
		name         string
		givenVary    string   // the response's Vary
		givenKnown   []string // the marker's names the lookup used
		expectMarker bool
		expectTag    bool
	}{
		{"a response without Vary is not tagged", "", nil, false, false},
		{"the first fill stores a marker and a variant, tagged", "Accept-Language", nil, true, true},
		{"a later variant's fill is tagged", "Accept-Language", []string{"Accept-Language"}, false, true},
		{"a Vary on a key header is no variant", "X-Key", nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Cache{cfg: Config{Policy: core.Policy{TTL: time.Minute}, TagsHeader: "X-Tags",
				Key: keyfunc.Spec{Resource: "r", Headers: []string{"X-Key"}}}.withDefaults()}
			fw := newFillWriter(nil, &load{c: c})
			fw.Header().Set("X-Tags", "app")
			if tt.givenVary != "" {
				fw.Header().Set("Vary", tt.givenVary)
			}
			_, _ = fw.Write([]byte("hello"))
			fw.finish(nil)
			item, reason, err := c.item(fw, get("Accept-Language", "fr"), nil, "", base, tt.givenKnown)
			if err != nil || reason != "" {
				t.Fatalf("item: %q, %v", reason, err)
			}
			if marker := len(item.Extra) == 1; marker != tt.expectMarker {
				t.Fatalf("a marker: %v, want %v", marker, tt.expectMarker)
			}
			want := []string{"app"}
			if tt.expectTag {
				want = append(want, VaryTag(base))
			}
			if !slices.Equal(item.Tags, want) {
				t.Fatalf("tags %q, want %q", item.Tags, want)
			}
		})
	}
}
