package core

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/internal/faultproxy"
	"github.com/swrcache/swrcache/internal/redistest"
)

// phase is what the load saw during one phase of a fault test.
type phase struct {
	name     string
	mu       sync.Mutex
	lat      []time.Duration // protected by mu
	statuses map[Status]int  // protected by mu
	errs     []error         // protected by mu
}

func (p *phase) add(d time.Duration, s Status, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lat = append(p.lat, d)
	p.statuses[s]++
	if err != nil {
		p.errs = append(p.errs, err)
	}
}

func (p *phase) percentile(q float64) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.lat) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(p.lat))
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func (p *phase) String() string {
	return fmt.Sprintf("%-10s calls=%-6d p50=%-10v p99=%-10v max=%-10v statuses=%v", p.name, len(p.lat), p.percentile(0.5), p.percentile(0.99), p.percentile(1), p.statuses)
}

// load runs workers calling Lookup on random keys until stop is closed.
func load(e *Engine, nkeys, workers int, p Policy, origin func(i int) Loader, ph *phase, stop <-chan struct{}) {
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := rand.IntN(nkeys)
				start := time.Now()
				res, err := e.Lookup(context.Background(), Key{Name: fmt.Sprint("k", i)}, p, origin(i))
				if err == nil && string(res.Value) != fmt.Sprint("v", i) {
					err = fmt.Errorf("key %d: wrong value %q", i, res.Value)
				}
				ph.add(time.Since(start), res.Status, err)
			}
		}()
	}
	wg.Wait()
}

// Must show 6: Redis slowed to 300ms, then blackholed, then healthy again,
// under concurrent load: no call fails, the breaker opens, no Redis command
// is sent while it is open, and hits resume after recovery.
func TestRedisSlowThenBlackholedThenHealthyNeverFailsACaller(t *testing.T) {
	if redistest.Embedded() {
		t.Skip("needs a real Redis behind the proxy")
	}
	proxy := faultproxy.Start(t, redistest.Addr(t))
	rdb := redistest.NodeClient(t, proxy.Addr(), func(o *redis.Options) { o.PoolSize = 32 })
	const openFor = 3 * time.Second
	br, err := breaker.New(breaker.Config{OpenTimeout: openFor})
	if err != nil {
		t.Fatal(err)
	}
	rec := &events{}
	e := newEngine(t, rdb, redistest.Prefix(t), func(c *Config) { c.Breaker = br; c.OnEvent = rec.hook })
	p := Policy{TTL: time.Minute}
	const nkeys, workers = 20, 8
	var loads atomic.Int64
	origin := func(i int) Loader {
		return LoaderFunc(func(context.Context) (Item, error) {
			loads.Add(1)
			time.Sleep(2 * time.Millisecond)
			return Item{Value: fmt.Appendf(nil, "v%d", i)}, nil
		})
	}
	for i := range nkeys {
		if _, err := e.Lookup(context.Background(), Key{Name: fmt.Sprint("k", i)}, p, origin(i)); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, during func()) *phase {
		ph := &phase{name: name, statuses: map[Status]int{}}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { load(e, nkeys, workers, p, origin, ph, stop); close(done) }()
		during()
		close(stop)
		<-done
		t.Log(ph)
		for _, err := range ph.errs[:min(3, len(ph.errs))] {
			t.Errorf("%s: a caller failed: %v", name, err)
		}
		return ph
	}
	opened := func() int { // transitions into open so far
		n := 0
		for _, ev := range rec.all(EventBreaker) {
			if ev.To == "open" {
				n++
			}
		}
		return n
	}

	healthy := run("healthy", func() { time.Sleep(time.Second) })
	slow := run("slow", func() {
		proxy.SetLatency(300 * time.Millisecond)
		waitFor(t, "the breaker to open", func() bool { return opened() > 0 })
		time.Sleep(time.Second)
	})
	black := run("blackhole", func() {
		proxy.Blackhole()
		// Wait for the breaker to open afresh (after a half-open probe
		// failed), let calls sent before that time out, then watch the wire
		// for as long as it stays open.
		n := opened()
		waitFor(t, "the breaker to reopen", func() bool { return opened() > n })
		time.Sleep(e.cfg.OpTimeout + 100*time.Millisecond)
		before, changes := proxy.Stats().ClientBytes, len(rec.all(EventBreaker))
		time.Sleep(openFor / 3)
		after := proxy.Stats().ClientBytes
		if len(rec.all(EventBreaker)) != changes || br.State() != breaker.Open {
			t.Fatalf("the breaker left the open state during the check")
		}
		if after != before {
			t.Errorf("%d bytes reached Redis while the breaker was open, want 0", after-before)
		}
	})
	run("recovering", func() { // half-open probes need traffic
		proxy.Heal()
		waitFor(t, "the breaker to close", func() bool { return br.State() == breaker.Closed })
		// Entries stored before Redis came back are filled again once, in
		// case a write's invalidation is still to be replayed.
		time.Sleep(recoveryGrace)
	})
	recovered := run("recovered", func() { time.Sleep(time.Second) })

	for _, ph := range []*phase{healthy, recovered} {
		if ph.statuses[StatusHit] != len(ph.lat) {
			t.Errorf("%s: %v, want only hits", ph.name, ph.statuses)
		}
	}
	for _, ph := range []*phase{slow, black} {
		if ph.statuses[StatusBypass] == 0 {
			t.Errorf("%s: no bypassed calls: %v", ph.name, ph.statuses)
		}
	}
	t.Logf("origin calls: %d", loads.Load())
}

// A client that ignores context deadlines (go-redis's default) still cannot
// hold a lookup past OpTimeout: the engine stops waiting, and Close waits
// for the abandoned call.
func TestOpTimeoutHoldsWhateverTheClientsSettings(t *testing.T) {
	if redistest.Embedded() {
		t.Skip("needs a real Redis behind the proxy")
	}
	proxy := faultproxy.Start(t, redistest.Addr(t))
	rdb := redistest.NodeClient(t, proxy.Addr(), func(o *redis.Options) {
		o.ContextTimeoutEnabled = false
		o.ReadTimeout = 2 * time.Second
	})
	e := newEngine(t, rdb, redistest.Prefix(t), nil)
	if !e.wait {
		t.Fatal("the engine trusts a client that ignores context deadlines")
	}
	if _, err := e.Lookup(context.Background(), Key{Name: "k"}, Policy{TTL: time.Minute}, item("v")); err != nil {
		t.Fatal(err)
	}
	proxy.Blackhole()
	res, err := e.Lookup(context.Background(), Key{Name: "k"}, Policy{TTL: time.Minute}, item("v"))
	if err != nil || res.Status != StatusBypass || res.Detail != "redis-error" {
		t.Fatalf("lookup with Redis blackholed: %v %q %v, want a bypass", res.Status, res.Detail, err)
	}
	if n := len(e.bg.calls); n == 0 {
		t.Fatalf("no Redis call outstanding: the lookup waited for the client's own timeout")
	}
	short, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := e.Close(short); err == nil {
		t.Fatalf("Close returned before the abandoned call finished")
	}
}

// countingBreaker allows everything and counts the outcomes reported to it.
type countingBreaker struct{ ok, failed atomic.Int32 }

func (b *countingBreaker) Allow() (func(error), error) {
	return func(err error) {
		if err != nil {
			b.failed.Add(1)
		} else {
			b.ok.Add(1)
		}
	}, nil
}

// A batch refresh whose lock pipeline Redis never answers reports a
// failure to the breaker, not a success.
func TestAFailedBatchRefreshPipelineIsAFailureForTheBreaker(t *testing.T) {
	if redistest.Embedded() {
		t.Skip("needs a real Redis behind the fault proxy")
	}
	proxy := faultproxy.Start(t, redistest.Addr(t))
	rdb := redis.NewClient(redistest.Options(proxy.Addr()))
	t.Cleanup(func() { _ = rdb.Close() })
	br := &countingBreaker{}
	e := newEngine(t, rdb, redistest.Prefix(t), func(c *Config) { c.Breaker = br; c.OpTimeout = 50 * time.Millisecond })
	proxy.Blackhole()
	if won := e.lockMany(context.Background(), []string{"a", "b"}, newToken()); len(won) != 0 {
		t.Fatalf("took %v with Redis blackholed", won)
	}
	if br.failed.Load() != 1 || br.ok.Load() != 0 {
		t.Fatalf("breaker told %d failures and %d successes, want the one failure", br.failed.Load(), br.ok.Load())
	}
	proxy.Heal()
}
