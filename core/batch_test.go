package core

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/internal/redistest"
)

// pipelineCounter counts the pipelines a client sends whose commands are all GETs.
type pipelineCounter struct{ gets atomic.Int32 }

func (*pipelineCounter) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (*pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (c *pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return c.Name() != "get" }) {
			c.gets.Add(1)
		}
		return next(ctx, cmds)
	}
}

func keys(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("user:%d", i))
	}
	return out
}

// Must show 7: 500 keys with 200 cached: 10 read pipelines, one loader call
// with exactly the 300 misses.
func TestFetchManyReadsInChunksAndLoadsExactlyTheMisses(t *testing.T) {
	rdb := redistest.Client(t)
	counter := &pipelineCounter{}
	rdb.AddHook(counter)
	e := newEngine(t, rdb, redistest.Prefix(t), nil)
	p := Policy{TTL: time.Minute}
	var mu sync.Mutex
	var calls [][]string
	load := func(_ context.Context, missing []string) (map[string]string, error) {
		mu.Lock()
		calls = append(calls, slices.Clone(missing))
		mu.Unlock()
		out := make(map[string]string, len(missing))
		for _, k := range missing {
			out[k] = "v:" + k
		}
		return out, nil
	}
	if _, err := FetchMany(context.Background(), e, keys(0, 200), p, load); err != nil {
		t.Fatal(err)
	}
	counter.gets.Store(0)
	calls = nil

	got, err := FetchMany(context.Background(), e, keys(0, 500), p, load)
	if err != nil {
		t.Fatal(err)
	}
	// 50 keys a pipeline; on a cluster, a pipeline per master for its keys.
	if n, most := counter.gets.Load(), int32(10+masters(t)-1); n < 10 || n > most {
		t.Errorf("%d read pipelines for 500 keys, want 10 to %d", n, most)
	}
	if len(calls) != 1 {
		t.Fatalf("%d loader calls, want 1", len(calls))
	}
	missing := slices.Sorted(slices.Values(calls[0]))
	if want := slices.Sorted(slices.Values(keys(200, 500))); !slices.Equal(missing, want) {
		t.Fatalf("loader got %d keys, want exactly the 300 misses", len(missing))
	}
	for _, k := range keys(0, 500) {
		if got[k] != "v:"+k {
			t.Fatalf("%s = %q", k, got[k])
		}
	}
	calls = nil
	if _, err := FetchMany(context.Background(), e, keys(0, 500), p, load); err != nil || len(calls) != 0 {
		t.Fatalf("a warm batch called the loader %d times (%v)", len(calls), err)
	}
}

func TestFetchManyFallsBackToTheLoaderForKeysRedisCouldNotRead(t *testing.T) {
	rdb := redistest.Client(t)
	e := newEngine(t, rdb, redistest.Prefix(t), nil)
	p := Policy{TTL: time.Minute}
	load := func(_ context.Context, missing []string) (map[string]int, error) {
		out := map[string]int{}
		for _, k := range missing {
			out[k] = len(k)
		}
		return out, nil
	}
	if _, err := FetchMany(context.Background(), e, keys(0, 10), p, load); err != nil {
		t.Fatal(err)
	}
	// Plant a value of the wrong Redis type under one key: its GET fails with
	// WRONGTYPE, failing the whole pipeline, so its chunk is loaded instead.
	rdb.Del(context.Background(), e.entryKey("user:3"))
	if err := rdb.SAdd(context.Background(), e.entryKey("user:3"), "x").Err(); err != nil {
		t.Fatal(err)
	}
	var loaded []string
	got, err := FetchMany(context.Background(), e, keys(0, 10), p, func(ctx context.Context, missing []string) (map[string]int, error) {
		loaded = missing
		return load(ctx, missing)
	})
	// One pipeline reads the ten keys; on a cluster, one a master.
	if err != nil || len(got) != 10 || !slices.Contains(loaded, "user:3") || (!redistest.IsCluster(t) && len(loaded) != 10) {
		t.Fatalf("got %d values, loaded %v, err %v; want all 10, user:3's pipeline loaded", len(got), loaded, err)
	}
}

// masters is how many Redis masters the tests run on.
func masters(t *testing.T) int {
	if redistest.IsCluster(t) {
		return 3
	}
	return 1
}

func TestFetchManyServesStaleAndRefreshesInTheBackground(t *testing.T) {
	rec := &events{}
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), func(c *Config) { c.OnEvent = rec.hook })
	clk := newClock()
	SetClock(e, clk.Now)
	p := Policy{TTL: time.Second, StaleWhileRevalidate: time.Minute, RefreshAhead: -1}
	var gen atomic.Int32
	load := func(_ context.Context, missing []string) (map[string]int32, error) {
		g := gen.Add(1)
		out := map[string]int32{}
		for _, k := range missing {
			out[k] = g
		}
		return out, nil
	}
	if _, err := FetchMany(context.Background(), e, keys(0, 3), p, load); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Second)
	got, err := FetchMany(context.Background(), e, keys(0, 3), p, load)
	if err != nil || got["user:0"] != 1 {
		t.Fatalf("stale batch: %v %v, want generation 1 served at once", got, err)
	}
	waitFor(t, "the batch refresh", func() bool { return rec.count(EventRefreshOK) == 1 })
	got, _ = FetchMany(context.Background(), e, keys(0, 3), p, load)
	if got["user:0"] != 2 || gen.Load() != 2 {
		t.Fatalf("after refresh: %v (loads %d), want generation 2", got, gen.Load())
	}
}

// Must show 8: invalidating a tag removes exactly the entries that carry it.
func TestInvalidateTagsRemovesExactlyTheTaggedEntries(t *testing.T) {
	rdb := redistest.Client(t)
	e := newEngine(t, rdb, redistest.Prefix(t), nil)
	ctx := context.Background()
	put := func(name string, tags ...string) {
		t.Helper()
		if _, err := e.Lookup(ctx, Key{Name: name}, Policy{TTL: time.Minute, Tags: tags}, item(name)); err != nil {
			t.Fatal(err)
		}
	}
	put("a", "user:42")
	put("b", "user:42", "team:7")
	put("c", "team:7")
	put("d")
	if _, err := FetchMany(ctx, e, []string{"e", "f"}, Policy{TTL: time.Minute, Tags: []string{"user:42"}},
		func(_ context.Context, ks []string) (map[string]string, error) {
			return map[string]string{"e": "e", "f": "f"}, nil
		}); err != nil {
		t.Fatal(err)
	}
	if err := e.InvalidateTags(ctx, "user:42"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int64{"a": 0, "b": 0, "e": 0, "f": 0, "c": 1, "d": 1} {
		if n, _ := rdb.Exists(ctx, e.entryKey(name)).Result(); n != want {
			t.Errorf("entry %s exists=%d after invalidating user:42, want %d", name, n, want)
		}
	}
	if n, _ := rdb.Exists(ctx, e.tagKey("user:42")).Result(); n != 0 {
		t.Errorf("the tag set outlived its invalidation")
	}
	if ttl, _ := rdb.TTL(ctx, e.tagKey("team:7")).Result(); ttl <= 0 || ttl > 2*time.Minute {
		t.Errorf("tag set TTL = %v, want bounded by its entries' lifetime", ttl)
	}
	if err := e.Invalidate(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, e.entryKey("c")).Val() + rdb.Exists(ctx, e.entryKey("d")).Val(); n != 1 { // one key per command: a cluster
		t.Errorf("Invalidate(c) left %d of c and d, want only d", n)
	}
}

func TestInvalidationStopsAFillInFlightFromStoringOldData(t *testing.T) {
	rdb := redistest.Client(t)
	e := newEngine(t, rdb, redistest.Prefix(t), nil)
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan Result, 1)
	go func() {
		res, _ := e.Lookup(context.Background(), Key{Name: "k"}, Policy{TTL: time.Minute}, LoaderFunc(func(context.Context) (Item, error) {
			close(started)
			<-release
			return Item{Value: []byte("loaded before the write")}, nil
		}))
		done <- res
	}()
	<-started
	if err := e.Invalidate(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	close(release)
	if res := <-done; res.Stored {
		t.Fatalf("a fill that began before the invalidation stored its value")
	}
}

func TestSubscribeReceivesInvalidationsFromOtherInstances(t *testing.T) {
	ns := redistest.Prefix(t)
	a := newEngine(t, redistest.Client(t), ns, nil)
	b := newEngine(t, redistest.Client(t), ns, nil)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan Invalidation, 16)
	stopped := make(chan error, 1)
	go func() { stopped <- b.Subscribe(ctx, func(inv Invalidation) { got <- inv }) }()
	deadline := time.After(10 * time.Second)
	for received := false; !received; {
		if err := a.InvalidateTags(context.Background(), "user:1"); err != nil { // lost until b is subscribed
			t.Fatal(err)
		}
		select {
		case inv := <-got:
			if !slices.Equal(inv.Tags, []string{"user:1"}) {
				t.Fatalf("got %+v", inv)
			}
			received = true
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("no invalidation received")
		}
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatalf("Subscribe returned %v after its context ended, want nil", err)
	}
}

// A fill that began before its tag was invalidated must not store what it
// loaded, even though it was in no tag set when the invalidation ran: its
// tags are recorded only when it stores, and an HTTP response names its
// own tags only once the handler has run.
func TestInvalidateTagsStopsAFillInFlightFromStoringOldData(t *testing.T) {
	tests := []struct {
		name      string
		givenTags Policy
		itemTags  []string
		withExtra bool
	}{
		{name: "a tag of the policy", givenTags: Policy{TTL: time.Minute, Tags: []string{"user:1"}}},
		{name: "a tag the loader names", givenTags: Policy{TTL: time.Minute}, itemTags: []string{"user:1"}},
		{name: "an extra item stored with the fill's", givenTags: Policy{TTL: time.Minute, Tags: []string{"user:1"}}, withExtra: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			rdb := redistest.Client(t)
			e := newEngine(t, rdb, redistest.Prefix(t), nil)
			started, release := make(chan struct{}), make(chan struct{})
			done := make(chan Result, 1)
			go func() {
				res, _ := e.Lookup(ctx, Key{Name: "k"}, tt.givenTags, LoaderFunc(func(ctx context.Context) (Item, error) {
					close(started)
					<-release
					old := Item{Value: []byte("loaded before the write"), Tags: tt.itemTags}
					if tt.withExtra { // as the HTTP layer stores a Vary variant
						old.Extra = []Extra{{Key: Key{Name: "variant"}, Value: old.Value}}
					}
					return old, nil
				}))
				done <- res
			}()
			<-started
			if err := e.InvalidateTags(ctx, "user:1"); err != nil {
				t.Fatal(err)
			}
			close(release)
			if res := <-done; res.Stored {
				t.Fatal("a fill that began before the invalidation stored its value")
			}
			if n := rdb.Exists(ctx, e.entryKey("variant")).Val(); n != 0 {
				t.Fatal("an extra item loaded before the invalidation was stored")
			}
			fresh := Item{Value: []byte("loaded after the write"), Tags: tt.itemTags}
			if tt.withExtra {
				fresh.Extra = []Extra{{Key: Key{Name: "variant"}, Value: fresh.Value}}
			}
			res, err := e.Lookup(ctx, Key{Name: "k"}, tt.givenTags, LoaderFunc(func(context.Context) (Item, error) { return fresh, nil }))
			if err != nil || res.Status != StatusMiss || !res.Stored || string(res.Value) != string(fresh.Value) {
				t.Fatalf("the next fill: %q %v stored=%v err=%v; want the new value, stored", res.Value, res.Status, res.Stored, err)
			}
			if tt.withExtra {
				v, err := e.Lookup(ctx, Key{Name: "variant"}, tt.givenTags, item("unused"))
				if err != nil || v.Status != StatusHit || string(v.Value) != string(fresh.Value) {
					t.Fatalf("the extra item after the next fill: %q %v %v; want it stored with the fill", v.Value, v.Status, err)
				}
			}
		})
	}
}

// A batch fill is stored without locks, but not past an invalidation of its
// tags that came while it loaded.
func TestInvalidateTagsStopsABatchInFlightFromStoringOldData(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	e := newEngine(t, rdb, redistest.Prefix(t), nil)
	p := Policy{TTL: time.Minute, Tags: []string{"users"}}
	stored := func() (n int) {
		for _, k := range []string{"a", "b"} { // one by one: a Cluster may hold them apart
			n += int(rdb.Exists(ctx, e.entryKey(k)).Val())
		}
		return n
	}
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := FetchMany(ctx, e, []string{"a", "b"}, p, func(ctx context.Context, missing []string) (map[string]string, error) {
			close(started)
			<-release
			return map[string]string{"a": "before the write", "b": "before the write"}, nil
		})
		done <- err
	}()
	<-started
	if err := e.InvalidateTags(ctx, "users"); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := stored(); n != 0 {
		t.Fatalf("%d items of a batch loaded before the invalidation were stored", n)
	}
	if _, err := FetchMany(ctx, e, []string{"a", "b"}, p, func(ctx context.Context, missing []string) (map[string]string, error) {
		return map[string]string{"a": "after", "b": "after"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := stored(); n != 2 {
		t.Fatalf("%d of 2 items of the next batch stored, want both", n)
	}
}
