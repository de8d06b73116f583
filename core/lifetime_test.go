package core

import (
	"bytes"
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swrcache/swrcache/internal/redistest"
)

// revalidating is a loader that stores head+body, and, given a previous
// value, returns a new head and the previous value's body, as an HTTP
// revalidation does.
type revalidating struct {
	head     atomic.Int32
	prevs    atomic.Int32 // loads that were given a previous value
	body     []byte
	lifetime *Lifetime
}

func (r *revalidating) value(prev []byte) Item {
	head := []byte{byte(r.head.Add(1))}
	if prev != nil {
		r.prevs.Add(1)
		return Item{Value: append(head, prev[1:]...), Unchanged: len(prev) - 1, Lifetime: r.lifetime}
	}
	return Item{Value: append(head, r.body...), Lifetime: r.lifetime, Tags: []string{"loaded-whole"}}
}

func (r *revalidating) Load(_ context.Context, f Fill) (Item, error) { return r.value(f.Previous), nil }
func (r *revalidating) Reload() func(context.Context) (Item, error) {
	return func(context.Context) (Item, error) { return r.value(nil), nil }
}
func (r *revalidating) ReloadFrom(prev []byte) func(context.Context) (Item, error) {
	return func(context.Context) (Item, error) { return r.value(prev), nil }
}

func TestItemLifetime(t *testing.T) {
	ctx := context.Background()
	p := Policy{TTL: time.Hour, StaleWhileRevalidate: time.Hour, RefreshAhead: -1}
	sent := &redistest.Sent{}
	rdb := redistest.Client(t)
	rdb.AddHook(sent)
	ns := redistest.Prefix(t)

	t.Run("an item's own TTL and windows replace the policy's", func(t *testing.T) {
		e := newEngine(t, rdb, ns, nil)
		clk := newClock()
		SetClock(e, clk.Now)
		l := LoaderFunc(func(context.Context) (Item, error) {
			return Item{Value: []byte("v"), Lifetime: &Lifetime{TTL: 10 * time.Second, StaleWhileRevalidate: 5 * time.Second}}, nil
		})
		k := Key{Name: "own-ttl"}
		res, err := e.Lookup(ctx, k, p, l)
		if err != nil || !res.Stored || res.FreshUntil.Sub(res.StoredAt) != 10*time.Second {
			t.Fatalf("fill: %+v, %v; want stored, fresh for 10s", res, err)
		}
		clk.Add(12 * time.Second)
		if res, _ := e.Lookup(ctx, k, p, l); res.Status != StatusStale {
			t.Fatalf("after 12s: %v, want stale (inside its own 5s window)", res.Status)
		}
		ttl := rdb.PTTL(ctx, e.entryKey(k.Name)).Val()
		if ttl > 20*time.Second || ttl < 15*time.Second {
			t.Fatalf("Redis TTL %v; want its own 15s plus the 5s margin, not the policy's 2h", ttl)
		}
	})

	t.Run("an item with TTL 0 is stored stale, and kept to hand its value to the next load", func(t *testing.T) {
		e := newEngine(t, rdb, ns, nil)
		r := &revalidating{body: bytes.Repeat([]byte("b"), 64<<10), lifetime: &Lifetime{Keep: time.Minute}}
		k := Key{Name: "keep"}
		if res, err := e.Lookup(ctx, k, p, r); err != nil || !res.Stored {
			t.Fatalf("fill: %+v, %v", res, err)
		}
		before := sent.Bytes()
		res, err := e.Lookup(ctx, k, p, r)
		if err != nil || res.Status != StatusMiss || !res.Stored || r.prevs.Load() != 1 {
			t.Fatalf("second lookup: %+v, %v, %d loads given a previous value; want a miss given the kept value", res, err, r.prevs.Load())
		}
		if n := sent.Bytes() - before; n > 8<<10 {
			t.Fatalf("the revalidated store sent %d bytes to Redis; want the head only, not the 64 KiB body again", n)
		}
		raw, _ := rdb.Get(ctx, e.entryKey(k.Name)).Bytes()
		ent, err := decodeEntry(raw, k)
		if err != nil || ent.Value[0] != 2 || !bytes.Equal(ent.Value[1:], r.body) {
			t.Fatalf("stored after the splice: %v; want the new head and the kept body", err)
		}
		if info, err := DecodeEntry(raw); err != nil || info.KeepUntil.Sub(info.FreshUntil) != time.Minute || !info.FreshUntil.Equal(info.StoredAt) {
			t.Fatalf("DecodeEntry: %+v, %v; want it stale at once and kept a minute", info, err)
		}
		if !slices.Contains(ent.Tags, "loaded-whole") {
			t.Fatalf("tags after the revalidation %q; want the replaced value's kept", ent.Tags)
		}
	})

	t.Run("a refresh of a Revalidator is given the stored value, and sends only what changed", func(t *testing.T) {
		e := newEngine(t, rdb, ns, nil)
		clk := newClock()
		SetClock(e, clk.Now)
		r := &revalidating{body: bytes.Repeat([]byte("c"), 64<<10)}
		k := Key{Name: "refresh"}
		if _, err := e.Lookup(ctx, k, p, r); err != nil {
			t.Fatal(err)
		}
		clk.Add(p.TTL + time.Second)
		before := sent.Bytes()
		if res, _ := e.Lookup(ctx, k, p, r); res.Status != StatusStale {
			t.Fatalf("got %v, want stale", res.Status)
		}
		waitFor(t, "the refresh", func() bool {
			raw, _ := rdb.Get(ctx, e.entryKey(k.Name)).Bytes()
			ent, err := decodeEntry(raw, k)
			return err == nil && ent.Value[0] == 2
		})
		if r.prevs.Load() != 1 {
			t.Fatalf("%d refreshes given the stored value, want 1", r.prevs.Load())
		}
		if n := sent.Bytes() - before; n > 8<<10 {
			t.Fatalf("the refresh sent %d bytes; want the head only", n)
		}
	})

	t.Run("a store whose entry changed meanwhile sends the whole value", func(t *testing.T) {
		e := newEngine(t, rdb, ns, nil)
		k := Key{Name: "changed"}
		body := bytes.Repeat([]byte("d"), 1000)
		prev := newEntry(k, p, append([]byte{1}, body...), nil, time.Now(), 0) // never stored
		if err := rdb.Set(ctx, e.entryKey(k.Name), newEntry(k, p, []byte("other"), nil, time.Now(), 0).encode(), time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		token := "t"
		if err := rdb.Set(ctx, lockKey(e.entryKey(k.Name)), token, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		item := Item{Value: append([]byte{2}, body...), Unchanged: len(body)}
		if _, ok := e.store(ctx, k, p, item, 0, token, time.Now(), prev); !ok {
			t.Fatal("not stored")
		}
		raw, _ := rdb.Get(ctx, e.entryKey(k.Name)).Bytes()
		if ent, err := decodeEntry(raw, k); err != nil || !bytes.Equal(ent.Value, item.Value) {
			t.Fatalf("stored %v; want the whole new value", err)
		}
	})
}
