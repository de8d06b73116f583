package core

import (
	"bytes"
	"testing"

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
