package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/internal/faultproxy"
	"github.com/swrcache/swrcache/internal/redistest"
)

func TestPendingBlocksWhatItNamesUntilDone(t *testing.T) {
	var p pending
	p.init()
	if p.blocks("k", []string{"t"}) {
		t.Fatal("an empty queue blocks")
	}
	if start, over := p.add([]string{"k1"}, []string{"t1"}); !start || over {
		t.Fatalf("add: start %v, overflowed %v; want the replayer started", start, over)
	}
	if start, _ := p.add(nil, []string{"t1", "t2"}); start {
		t.Fatal("a second replayer was started")
	}
	for _, tt := range []struct {
		key  string
		tags []string
		want bool
	}{{"k1", nil, true}, {"k2", []string{"t2"}, true}, {"k2", []string{"t3"}, false}, {"k2", nil, false}} {
		if got := p.blocks(tt.key, tt.tags); got != tt.want {
			t.Errorf("blocks(%q, %v) = %v, want %v", tt.key, tt.tags, got, tt.want)
		}
	}
	keys, tags := p.snapshot()
	p.add([]string{"k3"}, nil) // arrives while a replay runs
	if !p.done(keys, tags) || !p.blocks("k3", nil) || p.blocks("k1", nil) {
		t.Fatal("done forgot what the replay did not send, or kept what it did")
	}
	if p.done([]string{"k3"}, nil) || p.n.Load() != 0 {
		t.Fatal("the queue is not empty after the last replay")
	}
}

func TestPendingPastItsBoundBlocksEverything(t *testing.T) {
	var p pending
	p.init()
	names := make([]string, maxPending+1)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	if _, over := p.add(names, nil); !over {
		t.Fatal("no overflow reported past the bound")
	}
	if !p.blocks("anything", nil) {
		t.Fatal("an overflowed queue lets a lookup through")
	}
	keys, tags := p.snapshot()
	if len(keys)+len(tags) > maxPending {
		t.Fatalf("%d remembered, over the bound", len(keys)+len(tags))
	}
	if p.done(keys, tags) || p.blocks("anything", nil) {
		t.Fatal("a replay of all it held did not end the overflow")
	}
}

// An invalidation that cannot reach Redis is queued and replayed once Redis
// answers; until then the engine never serves what it names from the
// cache, though Redis still holds it.
func TestAnInvalidationThatCannotReachRedisIsReplayedAndBlocksUntilThen(t *testing.T) {
	if redistest.Embedded() {
		t.Skip("needs a real Redis behind the fault proxy")
	}
	proxy := faultproxy.Start(t, redistest.Addr(t))
	rdb := redis.NewClient(redistest.Options(proxy.Addr()))
	t.Cleanup(func() { _ = rdb.Close() })
	br := &switchable{}
	rec := &events{}
	e := newEngine(t, rdb, redistest.Prefix(t), func(c *Config) {
		c.Breaker, c.OnEvent, c.OpTimeout = br, rec.hook, 100*time.Millisecond
	})
	ctx := context.Background()
	p := Policy{TTL: time.Hour, Tags: []string{"user:1"}}
	put := func(v string) Loader { return item(v) }
	for _, k := range []string{"tagged", "named"} {
		if _, err := e.Lookup(ctx, Key{Name: k}, p, put("old")); err != nil {
			t.Fatal(err)
		}
	}

	for _, fault := range []struct {
		name     string
		on, heal func()
	}{
		{"blackholed", proxy.Blackhole, proxy.Heal},
		{"breaker open", func() { br.open.Store(true) }, func() { br.open.Store(false) }},
	} {
		t.Run(fault.name, func(t *testing.T) {
			fault.on()
			errTags := e.InvalidateTags(ctx, "user:1")
			errKeys := e.Invalidate(ctx, "named")
			if !errors.Is(errTags, ErrQueued) || !errors.Is(errKeys, ErrQueued) {
				t.Fatalf("invalidations with Redis %s: %v, %v; want ErrQueued", fault.name, errTags, errKeys)
			}
			fault.heal()
			for range 20 { // before and after the replay: never the old value
				for _, k := range []string{"tagged", "named"} {
					res, err := e.Lookup(ctx, Key{Name: k}, p, put("new"))
					if err != nil || string(res.Value) != "new" {
						t.Fatalf("%s after the fault: %q %v %v; want the new value", k, res.Value, res.Status, err)
					}
				}
			}
			waitFor(t, "the replay", func() bool { return e.pending.n.Load() == 0 })
			replayed := false
			for _, ev := range rec.all(EventInvalidate) {
				replayed = replayed || strings.HasPrefix(ev.Detail, "replayed")
			}
			if !replayed {
				t.Fatal("no replay reported")
			}
			// Replayed: the cache works again for those keys.
			if _, err := e.Lookup(ctx, Key{Name: "named"}, p, put("new")); err != nil {
				t.Fatal(err)
			}
			if res, _ := e.Lookup(ctx, Key{Name: "named"}, p, put("unused")); res.Status != StatusHit {
				t.Fatalf("after the replay: %v, want a hit", res.Status)
			}
			// Put the old values back for the next fault.
			if err := e.Invalidate(ctx, "tagged", "named"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond) // a fill right after an invalidation may not store
			for _, k := range []string{"tagged", "named"} {
				if res, _ := e.Lookup(ctx, Key{Name: k}, p, put("old")); !res.Stored {
					t.Fatalf("%s: the old value was not stored again", k)
				}
			}
		})
	}
}

// A subscriber that loses touch with Redis says so (Missed), within about
// a second, and hears the notices again once Redis answers.
func TestASubscriberThatLosesTouchSaysNoticesMayHaveBeenMissed(t *testing.T) {
	if redistest.Embedded() {
		t.Skip("needs a real Redis behind the fault proxy")
	}
	proxy := faultproxy.Start(t, redistest.Addr(t))
	ns := redistest.Prefix(t)
	sub := newEngine(t, redistest.NodeClient(t, proxy.Addr()), ns, nil)
	pub := newEngine(t, redistest.Client(t), ns, nil)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan Invalidation, 64)
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = sub.Subscribe(ctx, func(inv Invalidation) { got <- inv }) }()
	defer func() { cancel(); <-stopped }()

	heard := func(tag string) bool { // publishes until the subscriber hears tag, or 10 s
		deadline := time.After(10 * time.Second)
		for {
			if err := pub.InvalidateTags(context.Background(), tag); err != nil {
				t.Fatal(err)
			}
			select {
			case inv := <-got:
				if len(inv.Tags) == 1 && inv.Tags[0] == tag {
					return true
				}
			case <-time.After(50 * time.Millisecond):
			case <-deadline:
				return false
			}
		}
	}
	if !heard("before") {
		t.Fatal("the subscriber never heard a notice")
	}
	proxy.Blackhole()
	lost := time.Now()
	select {
	case inv := <-got:
		if !inv.Missed {
			t.Fatalf("got %+v, want a Missed notice", inv)
		}
		t.Logf("Missed reported %v after the subscriber's connection went dark", time.Since(lost).Round(10*time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("no Missed notice 5 s after the subscriber's connection went dark")
	}
	proxy.Heal()
	if !heard("after") {
		t.Fatal("the subscriber did not hear notices again once Redis answered")
	}
}
