package core

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/internal/faultproxy"
	"github.com/swrcache/swrcache/internal/redistest"
)

// memEngine builds an engine with a memory tier and waits until its
// subscription hears the notices.
func memEngine(t *testing.T, rdb redis.UniversalClient, ns string, mod func(*Config)) *Engine {
	t.Helper()
	e := newEngine(t, rdb, ns, func(c *Config) {
		c.Memory = MemoryConfig{MaxBytes: 64 << 20}
		if mod != nil {
			mod(c)
		}
	})
	waitFor(t, "the memory tier's subscription", func() bool { return MemoryLive(e) })
	return e
}

// versioned is a loader whose value is the current version.
func versioned(v *atomic.Int64, loads *atomic.Int64) Loader {
	return LoaderFunc(func(context.Context) (Item, error) {
		loads.Add(1)
		return Item{Value: fmt.Appendf(nil, "v%d", v.Load()), Tags: []string{"t"}}, nil
	})
}

// An entry read once is served from memory after, by the same windows as
// from Redis, until MaxAge, and then read from Redis again.
func TestMemoryServesByTheEntrysWindowsUntilMaxAge(t *testing.T) {
	e := memEngine(t, redistest.Client(t), redistest.Prefix(t), nil)
	clk := newClock()
	clk.t = time.Now() // the memory tier's ages are on the real clock
	SetClock(e, clk.Now)
	p := Policy{TTL: time.Hour, Memory: 300 * time.Millisecond}
	var version, loads atomic.Int64
	ctx := context.Background()
	steps := []struct {
		name         string
		expectStatus Status
		expectMemory bool
	}{
		{"a miss", StatusMiss, false},
		{"from memory", StatusHit, true},
		{"from memory again", StatusHit, true},
	}
	for _, st := range steps {
		res, err := e.Lookup(ctx, Key{Name: "k"}, p, versioned(&version, &loads))
		if err != nil || res.Status != st.expectStatus || res.Memory != st.expectMemory {
			t.Fatalf("%s: %v memory=%v %v", st.name, res.Status, res.Memory, err)
		}
	}
	time.Sleep(350 * time.Millisecond)
	clk.Add(350 * time.Millisecond)
	if res, _ := e.Lookup(ctx, Key{Name: "k"}, p, versioned(&version, &loads)); res.Memory || res.Status != StatusHit {
		t.Fatalf("past MaxAge: %v memory=%v, want a hit read from Redis", res.Status, res.Memory)
	}
	if res, _ := e.Lookup(ctx, Key{Name: "k"}, p, versioned(&version, &loads)); !res.Memory {
		t.Fatal("the entry read again was not kept in memory")
	}
	if loads.Load() != 1 {
		t.Fatalf("%d loads, want 1", loads.Load())
	}
}

// Must show 3 (engine): a write's invalidation on one instance drops the
// other's memory copy before long; the largest staleness is reported.
func TestAnInvalidationDropsEveryInstancesMemory(t *testing.T) {
	ns := redistest.Prefix(t)
	a := memEngine(t, redistest.Client(t), ns, nil)
	b := memEngine(t, redistest.Client(t), ns, nil)
	p := Policy{TTL: time.Hour, Memory: time.Minute}
	var version, loads atomic.Int64
	ctx := context.Background()
	var worst time.Duration
	for round := range 50 {
		if _, err := b.Lookup(ctx, Key{Name: "k"}, p, versioned(&version, &loads)); err != nil {
			t.Fatal(err)
		}
		if res, _ := b.Lookup(ctx, Key{Name: "k"}, p, versioned(&version, &loads)); !res.Memory {
			t.Fatalf("round %d: not served from memory", round)
		}
		version.Add(1) // the write
		written := time.Now()
		if err := a.InvalidateTags(ctx, "t"); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("v%d", version.Load())
		for {
			res, err := b.Lookup(ctx, Key{Name: "k"}, p, versioned(&version, &loads))
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Value) == want {
				break
			}
			if since := time.Since(written); since > DefaultMemoryMaxAge {
				t.Fatalf("round %d: b still serves %q %v after the write", round, res.Value, since)
			}
		}
		worst = max(worst, time.Since(written))
	}
	t.Logf("largest time from a write's invalidation returning to the other instance serving the new value: %v", worst)
}

// When the subscription is cut, memory is not served while Redis answers;
// once subscribed again, it is emptied: notices may have been missed.
func TestACutSubscriptionEmptiesMemoryOnReconnect(t *testing.T) {
	if redistest.Embedded() || redistest.IsCluster(t) {
		t.Skip("needs a single real Redis behind the proxy")
	}
	ns := redistest.Prefix(t)
	proxy := faultproxy.Start(t, redistest.Addr(t))
	b := memEngine(t, redistest.NodeClient(t, proxy.Addr()), ns, nil)
	a := newEngine(t, redistest.Client(t), ns, nil)
	p := Policy{TTL: time.Hour, Memory: time.Minute}
	var version, loads atomic.Int64
	ctx := context.Background()
	for range 2 {
		if _, err := b.Lookup(ctx, Key{Name: "k"}, p, versioned(&version, &loads)); err != nil {
			t.Fatal(err)
		}
	}
	proxy.Refuse() // b's subscription breaks; a's write goes unheard by b
	waitFor(t, "b to lose its subscription", func() bool { return !MemoryLive(b) })
	version.Add(1)
	if err := a.InvalidateTags(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Lookup(ctx, Key{Name: "k"}, p, versioned(&version, &loads)); err != nil { // a stores v1
		t.Fatal(err)
	}
	proxy.Heal()
	if res, _ := b.Lookup(ctx, Key{Name: "k"}, p, versioned(&version, &loads)); string(res.Value) != "v1" {
		t.Fatalf("with its subscription down and Redis back, b served %q from memory=%v, want v1 from Redis", res.Value, res.Memory)
	}
	waitFor(t, "b to subscribe again", func() bool { return MemoryLive(b) })
	if MemoryWeight(b) != 0 {
		// what b read while resubscribing went in before the Missed notice
		waitFor(t, "b to empty its memory", func() bool { return MemoryWeight(b) == 0 })
	}
}

// Must show 4 (engine): with Redis blackholed, memory serves inside each
// entry's stale-if-error window, loads go into memory, and the origin sees
// about one load per key per memory lifetime.
func TestMemoryShieldsTheOriginWhileRedisIsDown(t *testing.T) {
	if redistest.Embedded() || redistest.IsCluster(t) {
		t.Skip("needs a single real Redis behind the proxy")
	}
	proxy := faultproxy.Start(t, redistest.Addr(t))
	br, err := breaker.New(breaker.Config{OpenTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	e := memEngine(t, redistest.NodeClient(t, proxy.Addr()), redistest.Prefix(t), func(c *Config) { c.Breaker = br })
	const memFor = 500 * time.Millisecond
	p := Policy{TTL: time.Hour, StaleIfError: time.Hour, Memory: memFor}
	var loads atomic.Int64
	origin := func(i int) Loader {
		return LoaderFunc(func(context.Context) (Item, error) {
			loads.Add(1)
			time.Sleep(5 * time.Millisecond)
			return Item{Value: fmt.Appendf(nil, "v%d", i)}, nil
		})
	}
	const warm, cold = 20, 5
	for i := range warm {
		if _, err := e.Lookup(context.Background(), Key{Name: fmt.Sprint("k", i)}, p, origin(i)); err != nil {
			t.Fatal(err)
		}
	}
	proxy.Blackhole()
	loads.Store(0)
	ph := &phase{name: "blackhole", statuses: map[Status]int{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { load(e, warm+cold, 8, p, origin, ph, stop) })
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	t.Log(ph, "origin calls:", loads.Load())
	for _, err := range ph.errs[:min(3, len(ph.errs))] {
		t.Errorf("a caller failed: %v", err)
	}
	// The warm keys never load: memory serves them inside stale-if-error.
	// Each cold key loads once per memory lifetime, at most, plus the
	// loads in flight when a lifetime ends (coalesced within the process).
	if limit := int64(cold * (int(2*time.Second/memFor) + 1) * 2); loads.Load() > limit {
		t.Fatalf("%d origin calls in 2 s for %d cold keys, want at most %d", loads.Load(), cold, limit)
	}
	if ph.statuses[StatusStaleIfError] == 0 {
		t.Fatalf("nothing served stale-if-error from memory: %v", ph.statuses)
	}
}

// Must show 5 (engine): memory never holds more than its bound, and is
// given back by Close.
func TestMemoryStaysWithinItsBound(t *testing.T) {
	const bound = 64 << 20
	e := memEngine(t, redistest.Client(t), redistest.Prefix(t), func(c *Config) { c.Memory.MaxBytes = bound })
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	body := bytes.Repeat([]byte("x"), 50<<10)
	p := Policy{TTL: time.Minute}
	var peak uint64
	for i := range 10_000 {
		k := Key{Name: fmt.Sprint("k", i)}
		if _, err := e.Lookup(context.Background(), k, p, LoaderFunc(func(context.Context) (Item, error) {
			return Item{Value: bytes.Clone(body)}, nil // a response of its own
		})); err != nil {
			t.Fatal(err)
		}
		if w := MemoryWeight(e); w > bound {
			t.Fatalf("after %d entries memory holds %d bytes, over its %d bound", i+1, w, bound)
		} else {
			peak = max(peak, w)
		}
	}
	var full runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&full)
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("bound %d MiB, peak %.1f MiB; heap before %.1f MiB, full %.1f MiB, after Close %.1f MiB",
		bound>>20, float64(peak)/(1<<20), mib(before.HeapAlloc), mib(full.HeapAlloc), mib(after.HeapAlloc))
	if redistest.Embedded() {
		return // the embedded miniredis keeps the 500 MB stored through it in this very heap
	}
	if after.HeapAlloc > before.HeapAlloc+8<<20 {
		t.Fatalf("heap %.1f MiB after Close, %.1f before: memory not given back", mib(after.HeapAlloc), mib(before.HeapAlloc))
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// FetchMany uses the memory tier as Lookup does: what it loads or reads
// is served from memory after, and while Redis is down memory copies are
// served inside their stale-if-error window.
func TestFetchManyUsesMemory(t *testing.T) {
	if redistest.Embedded() || redistest.IsCluster(t) {
		t.Skip("needs a single real Redis behind the proxy")
	}
	proxy := faultproxy.Start(t, redistest.Addr(t))
	rec := &events{}
	e := memEngine(t, redistest.NodeClient(t, proxy.Addr()), redistest.Prefix(t), func(c *Config) { c.OnEvent = rec.hook })
	p := Policy{TTL: time.Hour, StaleIfError: time.Hour, Memory: 200 * time.Millisecond}
	var loads atomic.Int64
	load := func(_ context.Context, keys []string) (map[string]string, error) {
		loads.Add(int64(len(keys)))
		out := map[string]string{}
		for _, k := range keys {
			out[k] = "v" + k
		}
		return out, nil
	}
	keys := []string{"a", "b", "c"}
	fetch := func(what string) {
		t.Helper()
		got, err := FetchMany(context.Background(), e, keys, p, load)
		if err != nil || len(got) != 3 || got["b"] != "vb" {
			t.Fatalf("%s: %v %v", what, got, err)
		}
	}
	memoryOutcomes := func() (n int) {
		for _, ev := range rec.outcomes() {
			if ev.Detail == "memory" {
				n++
			}
		}
		return n
	}
	fetch("the first batch, loaded")
	fetch("the second, from memory")
	if loads.Load() != 3 || memoryOutcomes() != 3 {
		t.Fatalf("%d loads, %d outcomes from memory; want 3 and 3", loads.Load(), memoryOutcomes())
	}
	time.Sleep(250 * time.Millisecond) // past the policy's memory bound
	proxy.Blackhole()
	fetch("Redis blackholed: from memory, inside stale-if-error")
	if loads.Load() != 3 || memoryOutcomes() != 6 {
		t.Fatalf("with Redis down: %d loads, %d outcomes from memory; want 3 and 6", loads.Load(), memoryOutcomes())
	}
}
