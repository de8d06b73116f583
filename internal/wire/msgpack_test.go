package wire

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// The writers agree with the msgpack library at every width boundary, and
// the readers read back what the writers wrote.
func TestMsgpackWritersAgreeWithTheLibrary(t *testing.T) {
	for _, v := range []int64{0, 1, 0x7f, 0x80, -1, -32, -33, -128, -129, 255, 256, math.MaxInt16, math.MaxInt16 + 1,
		math.MinInt16 - 1, math.MaxUint16 + 1, math.MaxInt32, math.MaxInt32 + 1, math.MinInt32 - 1, math.MaxInt64, math.MinInt64} {
		b := AppendInt(nil, v)
		var got int64
		if err := msgpack.Unmarshal(b, &got); err != nil || got != v {
			t.Errorf("AppendInt(%d): library read %d, %v", v, got, err)
		}
		if r, rest, err := ReadInt(b); err != nil || r != v || len(rest) != 0 {
			t.Errorf("ReadInt(AppendInt(%d)) = %d, %d left, %v", v, r, len(rest), err)
		}
	}
	for _, n := range []int{0, 31, 32, 255, 256, math.MaxUint16, math.MaxUint16 + 1} {
		s := strings.Repeat("s", n)
		var str string
		if err := msgpack.Unmarshal(AppendStr(nil, s), &str); err != nil || str != s {
			t.Errorf("AppendStr of %d bytes: %v", n, err)
		}
		var bin []byte
		if err := msgpack.Unmarshal(AppendBin(nil, []byte(s)), &bin); err != nil || string(bin) != s {
			t.Errorf("AppendBin of %d bytes: %v", n, err)
		}
		for _, enc := range [][]byte{AppendStr(nil, s), AppendBin(nil, []byte(s))} {
			if p, rest, err := ReadBytes(enc); err != nil || string(p) != s || len(rest) != 0 {
				t.Errorf("ReadBytes of %d bytes: %d bytes, %v", n, len(p), err)
			}
		}
	}
	for _, n := range []int{0, 15, 16, math.MaxUint16, math.MaxUint16 + 1} {
		arr := AppendArray(nil, n)
		for range n {
			arr = AppendStr(arr, "x")
		}
		ss, rest, err := ReadStrings(arr)
		if err != nil || len(ss) != n || len(rest) != 0 {
			t.Errorf("array of %d strings read back as %d, %v", n, len(ss), err)
		}
		m := AppendMap(nil, n)
		for range n {
			m = AppendInt(AppendStr(m, "k"), 1)
		}
		if err := Check(m); err != nil {
			t.Errorf("map of %d pairs: %v", n, err)
		}
		if pairs, _, err := ReadMap(m); err != nil || pairs != n {
			t.Errorf("ReadMap of %d pairs = %d, %v", n, pairs, err)
		}
	}
}

func TestCheck(t *testing.T) {
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
		{"a bin32 claiming 2 GiB", []byte{0xc6, 0x7f, 0xff, 0xff, 0xff, 1, 2}, ErrTruncated},
		{"a str16 longer than the data", []byte{0xda, 0x01, 0x00, 'a'}, ErrTruncated},
		{"an array32 claiming 4 billion items", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}, ErrTruncated},
		{"a map missing its last value", []byte{0x81, 0xa1, 'k'}, ErrTruncated},
		{"a length cut short", []byte{0xc5, 0x01}, ErrTruncated},
		{"the never-used code", []byte{0xc1}, ErrBadCode},
		{"nesting deeper than the limit", append(bytes.Repeat([]byte{0x91}, MaxNesting+1), 0x01), ErrTooDeep},
		{"nesting at the limit", append(bytes.Repeat([]byte{0x91}, MaxNesting), 0x01), nil},
		{"nothing at all", nil, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Check(tt.givenData); err != tt.expectErr {
				t.Fatalf("Check = %v, want %v", err, tt.expectErr)
			}
		})
	}
}

// FuzzMsgpackReaders: no input makes a reader panic or return a slice that
// is not part of its input, and whatever Check accepts the library decodes.
func FuzzMsgpackReaders(f *testing.F) {
	f.Add(AppendStrings(nil, []string{"a"}))
	f.Add([]byte{0x92, 0xa1, 'a', 0xc4, 0x01, 'b'})
	f.Add([]byte{0xc6, 0x7f, 0xff, 0xff, 0xff})
	f.Add([]byte{0x81, 0xa1, 'v', 0xd3, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, rest, err := ReadBytes(b); err == nil && len(p)+len(rest) > len(b) {
			t.Fatalf("ReadBytes returned more bytes than it was given")
		}
		_, _, _ = ReadInt(b)
		_, _, _ = ReadMap(b)
		if ss, _, err := ReadStrings(b); err == nil && len(ss) > len(b) {
			t.Fatalf("ReadStrings returned %d strings from %d bytes", len(ss), len(b))
		}
		if n, err := Len(b); err == nil {
			if n > len(b) {
				t.Fatalf("Len = %d for %d bytes", n, len(b))
			}
			var v any
			_ = msgpack.Unmarshal(b[:n], &v)
		}
	})
}

func FuzzReader(f *testing.F) {
	f.Add(AppendStrings(AppendString(nil, "name"), []string{"a", "b"}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b)
		text := string(b)
		var got []string
		for r.Err() == nil && r.Len() > 0 {
			got = append(got, r.StringIn(text))
		}
		if r.Err() == nil {
			// It parsed: writing the strings again gives the input back.
			var again []byte
			for _, s := range got {
				again = AppendString(again, s)
			}
			if !bytes.Equal(again, b) && !nonMinimalUvarint(b) {
				t.Fatalf("read %q from %x, which writes back as %x", got, b, again)
			}
		}
		c := NewReader(b)
		if n := c.Count(); c.Err() == nil && n > len(b) {
			t.Fatalf("Count %d from %d bytes", n, len(b))
		}
	})
}

// nonMinimalUvarint reports whether b may hold a uvarint written with more
// bytes than needed (a trailing 0x80 continuation), which reads fine but
// writes back shorter.
func nonMinimalUvarint(b []byte) bool { return slices.Contains(b, 0x80) }
