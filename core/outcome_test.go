package core

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swrcache/swrcache/internal/redistest"
	"github.com/swrcache/swrcache/internal/syncbuf"
)

// outcomes returns the outcome events r saw, in order.
func (r *events) outcomes() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.list {
		if e.Kind.Outcome() {
			out = append(out, e)
		}
	}
	return out
}

// Every lookup ends with exactly one outcome event, named after its
// policy's resource and timed; the steps inside it are events of their own.
func TestEveryLookupReportsExactlyOneOutcome(t *testing.T) {
	rec := &events{}
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), func(c *Config) { c.OnEvent = rec.hook })
	clk := newClock()
	SetClock(e, clk.Now)
	p := Policy{TTL: time.Second, StaleWhileRevalidate: 5 * time.Second, StaleIfError: time.Minute, RefreshAhead: -1, Resource: "products"}
	ctx := context.Background()
	failing := LoaderFunc(func(context.Context) (Item, error) { return Item{}, errors.New("origin down") })

	steps := []struct {
		name         string
		givenAfter   time.Duration // clock moved before the lookup
		givenLoader  Loader
		expectKind   EventKind
		expectDetail string
	}{
		{"an empty key is a miss", 0, item("v1"), EventMiss, ""},
		{"a fresh entry is a hit", 100 * time.Millisecond, item("v2"), EventHit, ""},
		{"a stale entry inside SWR is stale", 2 * time.Second, item("v3"), EventStale, ""},
		{"an expired entry whose load fails is stale-if-error", 10 * time.Second, failing, EventStaleIfError, ""},
		{"an expired entry that loads is a miss that says why", 0, item("v4"), EventMiss, "expired"},
	}
	for _, st := range steps {
		rec.mu.Lock()
		rec.list = nil
		rec.mu.Unlock()
		clk.Add(st.givenAfter)
		if _, err := e.Lookup(ctx, Key{Name: "k"}, p, st.givenLoader); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		e.Close(ctx) // the stale step's refresh ends before the next step
		got := rec.outcomes()
		if len(got) != 1 || got[0].Kind != st.expectKind || got[0].Detail != st.expectDetail ||
			got[0].Resource != "products" || got[0].Key != "k" || got[0].Duration <= 0 {
			t.Fatalf("%s: outcomes %+v, want one %v (detail %q) for products with a duration", st.name, got, st.expectKind, st.expectDetail)
		}
	}
}

// Callers that wait on another's load are collapsed, each once; the
// fill itself is a step, reported once.
func TestWaitersAreCollapsedOutcomes(t *testing.T) {
	rec := &events{}
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), func(c *Config) { c.OnEvent = rec.hook })
	p := Policy{TTL: time.Minute, Resource: "slow"}
	var loads atomic.Int32
	const callers = 8
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			<-start
			if _, err := Fetch(context.Background(), e, "k", p, func(context.Context) (string, error) {
				loads.Add(1)
				time.Sleep(100 * time.Millisecond) // the others join meanwhile
				return "v", nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	served := rec.count(EventCollapsed) + rec.count(EventHit) // a late starter may find the value stored
	if loads.Load() != 1 || rec.count(EventMiss) != 1 || served != callers-1 || rec.count(EventCollapsed) == 0 || rec.count(EventFill) != 1 {
		t.Fatalf("%d loads, %d miss, %d collapsed, %d hit, %d fill; want 1 load, 1 miss, %d collapsed or hit, 1 fill",
			loads.Load(), rec.count(EventMiss), rec.count(EventCollapsed), rec.count(EventHit), rec.count(EventFill), callers-1)
	}
}

// A batch reports an outcome per key: hits for those in Redis, misses
// for those it loaded, bypasses when Redis was not used.
func TestFetchManyReportsAnOutcomePerKey(t *testing.T) {
	rec := &events{}
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), func(c *Config) { c.OnEvent = rec.hook })
	p := Policy{TTL: time.Minute, Resource: "users"}
	load := func(_ context.Context, keys []string) (map[string]string, error) {
		out := map[string]string{}
		for _, k := range keys {
			if k != "gone" {
				out[k] = "v" + k
			}
		}
		return out, nil
	}
	ctx := context.Background()
	if _, err := FetchMany(ctx, e, []string{"a", "b"}, p, load); err != nil {
		t.Fatal(err)
	}
	if _, err := FetchMany(ctx, e, []string{"a", "b", "c", "gone"}, p, load); err != nil {
		t.Fatal(err)
	}
	byKind := map[EventKind]int{}
	for _, ev := range rec.outcomes() {
		if ev.Resource != "users" {
			t.Fatalf("outcome %+v without the resource", ev)
		}
		byKind[ev.Kind]++
	}
	if byKind[EventMiss] != 4 || byKind[EventHit] != 2 || len(byKind) != 2 {
		t.Fatalf("outcomes %v, want 4 misses (a, b, c, gone) and 2 hits", byKind)
	}
	if fills := rec.all(EventFill); len(fills) != 2 || fills[0].Resource != "users" || fills[0].Duration <= 0 {
		t.Fatalf("fill steps %+v, want one per batch load", fills)
	}
}

// A hook that panics, on every event and at every load's start, is the
// hook's bug: lookups, fills and background refreshes go on, the panic is
// logged, and no loader is blamed for it.
func TestPanickingHooksNeverReachTheCaller(t *testing.T) {
	var logs syncbuf.Buffer
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), func(c *Config) {
		c.OnEvent = func(context.Context, Event) { panic("hook bug") }
		c.OnWork = func(context.Context, Work) (context.Context, func(error)) { panic("work hook bug") }
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelError}))
	})
	clk := newClock()
	SetClock(e, clk.Now)
	p := Policy{TTL: time.Second, StaleWhileRevalidate: time.Minute, RefreshAhead: -1}
	var loads atomic.Int32
	load := func(context.Context) (int32, error) { return loads.Add(1), nil }
	ctx := context.Background()
	for _, step := range []struct {
		name   string
		after  time.Duration
		expect int32
	}{{"a miss", 0, 1}, {"a hit", 0, 1}, {"a stale hit, refreshed", 2 * time.Second, 1}} {
		clk.Add(step.after)
		v, err := Fetch(ctx, e, "k", p, load)
		if err != nil || v != step.expect {
			t.Fatalf("%s: %v, %v; want %d", step.name, v, err, step.expect)
		}
	}
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if loads.Load() != 2 {
		t.Fatalf("%d loads, want the miss and the refresh", loads.Load())
	}
	if out := logs.String(); !strings.Contains(out, "Config.OnEvent panicked") || !strings.Contains(out, "Config.OnWork panicked") {
		t.Fatalf("the panics were not logged: %s", out)
	}
}
