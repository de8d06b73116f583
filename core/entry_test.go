package core

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// FuzzDecodeEntry: no input panics the entry decoder or the codec.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(newEntry(Key{Name: "k"}, Policy{TTL: 1}, []byte("v"), []string{"t"}, nowForTest, 0).encode())
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
			raw := in.encode()
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

// The envelope is plain msgpack after its three-byte prefix, so other tools
// (and the previous, reflection-based encoder's readers) read it as before.
func TestEntryIsPlainMsgpackForOtherReaders(t *testing.T) {
	in := newEntry(Key{Name: "k"}, Policy{TTL: time.Minute, StaleIfError: time.Hour}, []byte("value"), []string{"a", "b"}, nowForTest, 42*time.Millisecond)
	var got struct {
		Fingerprint []byte   `msgpack:"k"`
		StoredAt    int64    `msgpack:"s"`
		FreshUntil  int64    `msgpack:"f"`
		StaleUntil  int64    `msgpack:"w"`
		ErrorUntil  int64    `msgpack:"e"`
		LoadMillis  int64    `msgpack:"d"`
		Tags        []string `msgpack:"t"`
		Value       []byte   `msgpack:"v"`
	}
	if err := msgpack.Unmarshal(in.encode()[3:], &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Fingerprint, in.Fingerprint) || got.StoredAt != in.StoredAt || got.FreshUntil != in.FreshUntil ||
		got.StaleUntil != in.StaleUntil || got.ErrorUntil != in.ErrorUntil || got.LoadMillis != 42 ||
		!slices.Equal(got.Tags, in.Tags) || string(got.Value) != "value" {
		t.Fatalf("the msgpack library read %+v from %+v", got, in)
	}
}
