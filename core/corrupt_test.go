package core

import (
	"context"
	"testing"
	"time"

	"github.com/swrcache/swrcache/internal/redistest"
)

// Must show 5: whatever sits under a key that is not a valid entry for it is
// a miss that is reported and overwritten, never served, never an error.
func TestCorruptEntriesAreMissesThatGetOverwritten(t *testing.T) {
	valid := func(name string, version byte) []byte {
		ent := newEntry(Key{Name: name}, Policy{TTL: time.Hour}, []byte("planted"), nil, time.Now(), 0)
		raw := ent.encode()
		raw[2] = version
		return raw
	}
	tests := []struct {
		name       string
		givenBytes []byte
	}{
		{"garbage bytes", []byte("\x00\xffnot an entry")},
		{"a foreign format (JSON)", []byte(`{"data":"x","expiresAt":1}`)},
		{"the seed design's base64 msgpack", []byte("gqRkYXRhoXikZXhwaXJlc0F0AQ==")},
		{"an older format version", valid("k", 0)},
		{"a newer format version", valid("k", 2)},
		{"another key's entry (fingerprint mismatch)", valid("other", formatVersion)},
		{"a giant length prefix", append([]byte{0xc1, 's', formatVersion, 0x81, 0xa1, 'v', 0xc6}, 0x7f, 0xff, 0xff, 0xff)},
		{"a truncated entry", valid("k", formatVersion)[:20]},
		{"an empty value", []byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb := redistest.Client(t)
			rec := &events{}
			e := newEngine(t, rdb, redistest.Prefix(t), func(c *Config) { c.OnEvent = rec.hook })
			k := Key{Name: "k"}
			if err := rdb.Set(context.Background(), e.entryKey("k"), tt.givenBytes, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			res, err := e.Lookup(context.Background(), k, Policy{TTL: time.Minute}, item("real"))
			if err != nil || string(res.Value) != "real" || res.Status != StatusMiss || !res.Stored {
				t.Fatalf("lookup: %q %v stored=%v err=%v; want the loader's value, stored; events %+v", res.Value, res.Status, res.Stored, err, rec.list)
			}
			if len(tt.givenBytes) > 0 && rec.count(EventCorrupt) != 1 {
				t.Fatalf("%d corrupt events, want 1", rec.count(EventCorrupt))
			}
			raw, err := rdb.Get(context.Background(), e.entryKey("k")).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if ent, err := decodeEntry(raw, k); err != nil || string(ent.Value) != "real" {
				t.Fatalf("after the fill Redis holds %q (%v), want a valid entry for the key", raw, err)
			}
		})
	}
}

func TestUndecodableValueIsAMissForFetch(t *testing.T) {
	rec := &events{}
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), func(c *Config) { c.OnEvent = rec.hook })
	p := Policy{TTL: time.Minute}
	if _, err := Fetch(context.Background(), e, "k", p, func(context.Context) (string, error) { return "text", nil }); err != nil {
		t.Fatal(err)
	}
	// A deploy changed the type stored under the key.
	type user struct{ ID int }
	got, err := Fetch(context.Background(), e, "k", p, func(context.Context) (user, error) { return user{ID: 7}, nil })
	if err != nil || got.ID != 7 || rec.count(EventCorrupt) != 1 {
		t.Fatalf("got %+v %v with %d corrupt events; want the loader's value and one report", got, err, rec.count(EventCorrupt))
	}
	got, err = Fetch(context.Background(), e, "k", p, func(context.Context) (user, error) { return user{ID: 8}, nil })
	if err != nil || got.ID != 7 {
		t.Fatalf("second read %+v %v, want the overwritten entry as a hit", got, err)
	}
}
