package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swrcache/swrcache/internal/redistest"
)

// Must show 3: steady traffic across TTL boundaries never waits for the
// loader once the key is warm; refresh-ahead and SWR do the work.
func TestSteadyCallersNeverWaitForTheLoaderAcrossTTLBoundaries(t *testing.T) {
	rec := &events{}
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), func(c *Config) { c.OnEvent = rec.hook })
	const ttl = 300 * time.Millisecond
	p := Policy{TTL: ttl, StaleWhileRevalidate: 2 * time.Second}
	var loads atomic.Int32
	load := LoaderFunc(func(context.Context) (Item, error) {
		n := loads.Add(1)
		time.Sleep(50 * time.Millisecond)
		return Item{Value: fmt.Appendf(nil, "v%d", n)}, nil
	})
	if _, err := e.Lookup(context.Background(), Key{Name: "hot"}, p, load); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(3*ttl + ttl/2) // three boundaries and a half
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[Status]int{}
	values := map[string]bool{}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				res, err := e.Lookup(context.Background(), Key{Name: "hot"}, p, load)
				if err != nil {
					t.Errorf("lookup: %v", err)
					return
				}
				mu.Lock()
				statuses[res.Status]++
				values[string(res.Value)] = true
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	for s, n := range statuses {
		if s != StatusHit && s != StatusStale {
			t.Errorf("%d callers got %v: they waited for the loader", n, s)
		}
	}
	if len(values) < 3 || rec.count(EventRefreshOK) < 3 {
		t.Fatalf("saw %d values and %d refreshes over three TTLs, want at least 3 of each", len(values), rec.count(EventRefreshOK))
	}
	t.Logf("statuses %v, %d loads, %d refreshes", statuses, loads.Load(), rec.count(EventRefreshOK))
}

// Must show 4: stale-if-error serves the old value while the loader fails,
// and stops at the window's end.
func TestStaleIfErrorServesOldValueUntilTheWindowEnds(t *testing.T) {
	rec := &events{}
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), func(c *Config) { c.OnEvent = rec.hook })
	clk := newClock()
	SetClock(e, clk.Now)
	p := Policy{TTL: time.Second, StaleIfError: 10 * time.Second, RefreshAhead: -1}
	k := Key{Name: "k"}
	if _, err := e.Lookup(context.Background(), k, p, item("old")); err != nil {
		t.Fatal(err)
	}
	errOrigin := errors.New("origin down")
	failing := LoaderFunc(func(context.Context) (Item, error) { return Item{}, errOrigin })

	tests := []struct {
		name        string
		givenAfter  time.Duration // since the value was stored
		expectValue string
		expectState Status
		expectErr   error
	}{
		{"fresh value is a hit", 500 * time.Millisecond, "old", StatusHit, nil},
		{"expired value is served while the loader fails", 2 * time.Second, "old", StatusStaleIfError, nil},
		{"still served near the window's end", 10*time.Second + 999*time.Millisecond, "old", StatusStaleIfError, nil},
		{"not served past the window's end: a miss that failed", 11 * time.Second, "", StatusMiss, errOrigin},
	}
	start := clk.Now()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.Add(start.Add(tt.givenAfter).Sub(clk.Now()))
			res, err := e.Lookup(context.Background(), k, p, failing)
			if !errors.Is(err, tt.expectErr) || string(res.Value) != tt.expectValue || res.Status != tt.expectState {
				t.Fatalf("got %q %v %v, want %q %v %v", res.Value, res.Status, err, tt.expectValue, tt.expectState, tt.expectErr)
			}
		})
	}
	if rec.count(EventStaleIfError) != 2 || rec.count(EventLoadFailed) != 3 {
		t.Fatalf("events: %d stale-if-error, %d load failures; want 2 and 3", rec.count(EventStaleIfError), rec.count(EventLoadFailed))
	}
}

func TestStaleWhileRevalidateServesAtOnceAndRefreshesInTheBackground(t *testing.T) {
	rec := &events{}
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), func(c *Config) { c.OnEvent = rec.hook })
	clk := newClock()
	SetClock(e, clk.Now)
	p := Policy{TTL: time.Second, StaleWhileRevalidate: time.Minute, RefreshAhead: -1}
	k := Key{Name: "k"}
	if _, err := e.Lookup(context.Background(), k, p, item("v1")); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Second)
	l := &twoWayLoader{reload: "v2"}
	res, err := e.Lookup(context.Background(), k, p, l)
	if err != nil || res.Status != StatusStale || string(res.Value) != "v1" {
		t.Fatalf("stale lookup: %q %v %v, want v1 served stale", res.Value, res.Status, err)
	}
	if l.prepared.Load() != 1 {
		t.Fatalf("Reload was called %d times before the lookup returned, want once", l.prepared.Load())
	}
	waitFor(t, "the background refresh", func() bool { return rec.count(EventRefreshOK) == 1 })
	if l.loads.Load() != 0 || l.reloads.Load() != 1 {
		t.Fatalf("the refresh called Load %d times and Reload's function %d times, want 0 and 1", l.loads.Load(), l.reloads.Load())
	}
	res, err = e.Lookup(context.Background(), k, p, item("v3"))
	if err != nil || res.Status != StatusHit || string(res.Value) != "v2" {
		t.Fatalf("after refresh: %q %v %v, want v2 as a hit", res.Value, res.Status, err)
	}
}

// twoWayLoader counts how it is called: Load for fills, Reload (on the
// caller's goroutine) and its function (in the background) for refreshes.
type twoWayLoader struct {
	reload                   string
	loads, prepared, reloads atomic.Int32
}

func (l *twoWayLoader) Load(context.Context, Fill) (Item, error) {
	l.loads.Add(1)
	return Item{Value: []byte("from Load")}, nil
}

func (l *twoWayLoader) Reload() func(context.Context) (Item, error) {
	l.prepared.Add(1)
	v := l.reload // copied now, as the HTTP layer copies the request
	return func(context.Context) (Item, error) {
		l.reloads.Add(1)
		return Item{Value: []byte(v)}, nil
	}
}

func TestRefreshDue(t *testing.T) {
	e := &Engine{rand: func() float64 { return 0.5 }} // -ln(0.5) = 0.693
	now := time.UnixMilli(1_000_000)
	at := func(d time.Duration) *entry {
		return &entry{StoredAt: now.Add(d - 24*time.Hour).UnixMilli(), FreshUntil: now.Add(d).UnixMilli(), LoadMillis: 1000}
	}
	ownLifetime := func(life, d time.Duration) *entry { // an item stored for a lifetime of its own (Item.Lifetime)
		return &entry{StoredAt: now.Add(d - life).UnixMilli(), FreshUntil: now.Add(d).UnixMilli(), LoadMillis: 1000}
	}
	tests := []struct {
		name       string
		givenEntry *entry
		givenP     Policy
		expectDue  bool
	}{
		{"inside the refresh-ahead window", at(20 * time.Second), Policy{TTL: time.Hour, Beta: -1}, true},
		{"before the window, without XFetch", at(40 * time.Second), Policy{TTL: time.Hour, Beta: -1}, false},
		{"XFetch fires when the gap is under load*beta*0.693", at(30*time.Second + 600*time.Millisecond), Policy{TTL: time.Hour}, true},
		{"XFetch holds off when the gap is larger", at(30*time.Second + 800*time.Millisecond), Policy{TTL: time.Hour}, false},
		{"a larger beta starts earlier", at(30*time.Second + 1300*time.Millisecond), Policy{TTL: time.Hour, Beta: 2}, true},
		{"the default window is a tenth of a short TTL", at(900 * time.Millisecond), Policy{TTL: 10 * time.Second, Beta: -1}, true},
		{"an item's shorter lifetime shrinks the window in proportion", ownLifetime(time.Minute, 400*time.Millisecond), Policy{TTL: time.Hour, Beta: -1}, true},
		{"and it is not due before that shrunk window", ownLifetime(time.Minute, 600*time.Millisecond), Policy{TTL: time.Hour, Beta: -1}, false},
		{"refresh-ahead can be turned off", at(time.Millisecond), Policy{TTL: time.Hour, RefreshAhead: -1, Beta: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.refreshDue(tt.givenEntry, tt.givenP, now); got != tt.expectDue {
				t.Fatalf("refreshDue = %v, want %v", got, tt.expectDue)
			}
		})
	}
}
