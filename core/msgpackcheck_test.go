package core

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func TestCheckMsgpack(t *testing.T) {
	valid := func(v any) []byte {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name      string
		givenData []byte
		expectErr error
	}{
		{"a struct with bytes, strings, numbers and a map", valid(map[string]any{
			"b": bytes.Repeat([]byte("x"), 70000), "s": "str", "i": -1 << 40, "f": 1.5, "a": []any{nil, true, uint64(1) << 63},
			"m": map[string]int{"x": 1}}), nil},
		{"an entry", must(newEntry(Key{Name: "k"}, Policy{TTL: 1}, []byte("v"), []string{"t"}, nowForTest, 0).encode())[3:], nil},
		{"a bin32 claiming 2 GiB", []byte{0xc6, 0x7f, 0xff, 0xff, 0xff, 1, 2}, errTruncated},
		{"a str16 longer than the data", []byte{0xda, 0x01, 0x00, 'a'}, errTruncated},
		{"an array32 claiming 4 billion items", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}, errTruncated},
		{"a map missing its last value", []byte{0x81, 0xa1, 'k'}, errTruncated},
		{"a length cut short", []byte{0xc5, 0x01}, errTruncated},
		{"the never-used code", []byte{0xc1}, errBadCode},
		{"nesting deeper than the limit", append(bytes.Repeat([]byte{0x91}, maxNesting+1), 0x01), errTooDeep},
		{"nesting at the limit", append(bytes.Repeat([]byte{0x91}, maxNesting), 0x01), nil},
		{"nothing at all", nil, errTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkMsgpack(tt.givenData); err != tt.expectErr {
				t.Fatalf("checkMsgpack = %v, want %v", err, tt.expectErr)
			}
		})
	}
}

// FuzzDecodeEntry: no input panics, and whatever checkMsgpack accepts the
// library decodes without error or panic.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(must(newEntry(Key{Name: "k"}, Policy{TTL: 1}, []byte("v"), []string{"t"}, nowForTest, 0).encode()))
	f.Add([]byte{0xc1, 's', 1, 0x81, 0xa1, 'v', 0xc6, 0x7f, 0xff, 0xff, 0xff})
	f.Add([]byte{0xc1, 's', 1, 0x91, 0x91, 0x91})
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = decodeEntry(raw, Key{Name: "k"})
		var v any
		_ = MsgpackCodec{}.Unmarshal(raw, &v)
	})
}

func TestEntryRoundTrip(t *testing.T) {
	k := Key{Name: "n", ID: "canonical"}
	tests := []struct {
		name       string
		givenValue []byte
		givenTags  []string
	}{
		{"a small value with tags", []byte("v"), []string{"user:1", "team:2"}},
		{"an empty value", []byte{}, nil},
		{"a 70 KB value", bytes.Repeat([]byte{0xc1}, 70_000), []string{"x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newEntry(k, Policy{TTL: time.Minute, StaleWhileRevalidate: time.Hour, StaleIfError: 2 * time.Hour},
				tt.givenValue, tt.givenTags, nowForTest, 1500*time.Millisecond)
			raw := must(in.encode())
			out, err := decodeEntry(raw, k)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Value, in.Value) || !slices.Equal(out.Tags, in.Tags) || out.StoredAt != in.StoredAt ||
				out.FreshUntil != in.FreshUntil || out.StaleUntil != in.StaleUntil || out.ErrorUntil != in.ErrorUntil || out.LoadMillis != 1500 {
				t.Fatalf("round trip: got %+v, want %+v", out, in)
			}
			if _, err := decodeEntry(raw, Key{Name: "n", ID: "other"}); err == nil {
				t.Fatal("an entry decoded for a key with another identity")
			}
		})
	}
}

func TestEntryDecoderSkipsUnknownFieldsAndAcceptsAnyIntWidth(t *testing.T) {
	k := Key{Name: "k"}
	fp := k.fingerprint()
	fields := map[string]any{"k": fp[:], "s": int8(5), "f": uint16(6), "w": uint32(7), "e": int64(7),
		"v": "text", "future": map[string]any{"nested": []int{1, 2}}}
	raw := append([]byte{0xc1, 's', formatVersion}, must(msgpack.Marshal(fields))...)
	e, err := decodeEntry(raw, k)
	if err != nil || e.StoredAt != 5 || e.FreshUntil != 6 || e.StaleUntil != 7 || string(e.Value) != "text" {
		t.Fatalf("got %+v, %v", e, err)
	}
}
