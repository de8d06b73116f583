package core

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/swrcache/swrcache/internal/redistest"
)

func TestDecodeEntryReadsWhatTheEngineWrote(t *testing.T) {
	k := Key{Name: "n", ID: "canonical"}
	p := Policy{TTL: time.Minute, StaleWhileRevalidate: time.Hour, StaleIfError: 2 * time.Hour}
	raw := newEntry(k, p, []byte("value"), []string{"a", "b"}, nowForTest, 1500*time.Millisecond).encode()
	info, err := DecodeEntry(raw)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case !info.StoredAt.Equal(nowForTest), !info.FreshUntil.Equal(nowForTest.Add(time.Minute)),
		!info.StaleUntil.Equal(nowForTest.Add(time.Minute + time.Hour)), !info.ErrorUntil.Equal(nowForTest.Add(time.Minute + 2*time.Hour)):
		t.Fatalf("windows: %+v", info)
	case info.LoadTime != 1500*time.Millisecond, string(info.Value) != "value", !slices.Equal(info.Tags, []string{"a", "b"}):
		t.Fatalf("fields: %+v", info)
	case !info.BelongsTo(k), info.BelongsTo(Key{Name: "n"}), info.BelongsTo(Key{Name: "n", ID: "other"}):
		t.Fatal("BelongsTo does not check the identity")
	}
}

func TestEntryState(t *testing.T) {
	k := Key{Name: "k"}
	tests := []struct {
		name        string
		givenPolicy Policy
		givenAfter  time.Duration // since the entry was stored
		expectState EntryState
	}{
		{"just stored is fresh", Policy{TTL: time.Minute}, 0, StateFresh},
		{"the last millisecond of TTL is fresh", Policy{TTL: time.Minute}, time.Minute - time.Millisecond, StateFresh},
		{"past TTL inside the SWR window is stale", Policy{TTL: time.Minute, StaleWhileRevalidate: time.Minute}, time.Minute, StateStale},
		{"past TTL without windows is expired", Policy{TTL: time.Minute}, time.Minute, StateExpired},
		{"past SWR inside stale-if-error", Policy{TTL: time.Minute, StaleWhileRevalidate: time.Minute, StaleIfError: time.Hour}, 3 * time.Minute, StateStaleIfError},
		{"past every window is expired", Policy{TTL: time.Minute, StaleWhileRevalidate: time.Minute, StaleIfError: time.Hour}, 2 * time.Hour, StateExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := must(DecodeEntry(newEntry(k, tt.givenPolicy, nil, nil, nowForTest, 0).encode()))
			if got := info.State(nowForTest.Add(tt.givenAfter)); got != tt.expectState {
				t.Fatalf("State = %v, want %v", got, tt.expectState)
			}
		})
	}
	if s := EntryState(0).String(); s != "unknown" {
		t.Fatalf("the zero state is %q", s)
	}
}

func TestDecodeEntryRejectsWhatIsNotAnEntry(t *testing.T) {
	good := newEntry(Key{Name: "k"}, Policy{TTL: time.Minute}, []byte("v"), nil, nowForTest, 0).encode()
	newer := append([]byte{}, good...)
	newer[2] = formatVersion + 1
	tests := []struct {
		name       string
		givenBytes []byte
	}{
		{"empty", nil},
		{"another program's JSON", []byte(`{"data":"x"}`)},
		{"a newer format version", newer},
		{"a truncated entry", good[:len(good)-1]},
		{"a giant length prefix", []byte{0xc1, 's', formatVersion, 0x81, 0xa1, 'v', 0xc6, 0x7f, 0xff, 0xff, 0xff}},
		{"times out of order", newEntry(Key{Name: "k"}, Policy{TTL: -time.Minute}, nil, nil, nowForTest, 0).encode()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeEntry(tt.givenBytes); !errors.Is(err, errCorrupt) {
				t.Fatalf("DecodeEntry = %v, want a corrupt entry", err)
			}
		})
	}
}

func TestInspectReadsAnEntryAndItsTTL(t *testing.T) {
	rdb := redistest.Client(t)
	e := newEngine(t, rdb, redistest.Prefix(t), nil)
	ctx := context.Background()
	p := Policy{TTL: time.Minute, StaleIfError: time.Hour, Tags: []string{"team:1"}}
	if _, err := Fetch(ctx, e, "user:1", p, func(context.Context) (string, error) { return "ada", nil }); err != nil {
		t.Fatal(err)
	}
	in, err := e.Inspect(ctx, "user:1")
	if err != nil || !in.Found || in.DecodeErr != nil {
		t.Fatalf("Inspect = %+v, %v", in, err)
	}
	if in.RedisKey != e.entryKey("user:1") || !in.Entry.BelongsTo(Key{Name: "user:1"}) || in.Entry.State(time.Now()) != StateFresh {
		t.Fatalf("Inspect = %+v", in)
	}
	if want := time.Minute + time.Hour + expiryMargin; in.TTL <= want-10*time.Second || in.TTL > want {
		t.Fatalf("TTL %v, want about %v", in.TTL, want)
	}
	var v string
	if err := (MsgpackCodec{}).Unmarshal(in.Entry.Value, &v); err != nil || v != "ada" {
		t.Fatalf("value %q, %v", v, err)
	}

	if in, err := e.Inspect(ctx, "user:2"); err != nil || in.Found {
		t.Fatalf("a missing name: %+v, %v", in, err)
	}
	if err := rdb.Set(ctx, e.entryKey("planted"), "junk", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if in, err := e.Inspect(ctx, "planted"); err != nil || !in.Found || in.DecodeErr == nil || string(in.Raw) != "junk" {
		t.Fatalf("a planted value: %+v, %v", in, err)
	}
	if err := rdb.SAdd(ctx, e.entryKey("set"), "member").Err(); err != nil {
		t.Fatal(err)
	}
	if in, err := e.Inspect(ctx, "set"); err != nil || !in.Found || in.DecodeErr == nil {
		t.Fatalf("a key of another type: %+v, %v", in, err)
	}
	if _, err := e.Inspect(ctx, "a{b}"); err == nil {
		t.Fatal("Inspect took a name with braces")
	}
}

func TestTaggedListsTheNamesOfATag(t *testing.T) {
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), nil)
	ctx := context.Background()
	p := Policy{TTL: time.Minute, Tags: []string{"group"}}
	want := []string{"a", "b", "c"}
	for _, name := range want {
		if _, err := Fetch(ctx, e, name, p, func(context.Context) (int, error) { return 1, nil }); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.Tagged(ctx, "group", 0)
	slices.Sort(got)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Tagged = %q, %v; want %q", got, err, want)
	}
	if got, err := e.Tagged(ctx, "group", 2); err != nil || len(got) != 2 {
		t.Fatalf("Tagged with a limit of 2 = %q, %v", got, err)
	}
	if got, err := e.Tagged(ctx, "none", 0); err != nil || len(got) != 0 {
		t.Fatalf("an unknown tag: %q, %v", got, err)
	}
	if err := e.InvalidateTags(ctx, "group"); err != nil {
		t.Fatal(err)
	}
	if got, err := e.Tagged(ctx, "group", 0); err != nil || len(got) != 0 {
		t.Fatalf("after InvalidateTags: %q, %v", got, err)
	}
}
