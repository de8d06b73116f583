package core

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/swrcache/swrcache/internal/redistest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, redistest.LeakOptions()...)
}

// newEngine builds an engine on rdb under namespace ns, closed when t ends.
func newEngine(t testing.TB, rdb redis.UniversalClient, ns string, mod func(*Config)) *Engine {
	t.Helper()
	cfg := Config{Client: rdb, Namespace: ns}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil && err != ErrClosed {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// clock is a settable now for engines under test.
type clock struct {
	mu sync.Mutex
	t  time.Time // protected by mu
}

func newClock() *clock { return &clock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// events records the events an engine reports.
type events struct {
	mu   sync.Mutex
	list []Event // protected by mu
}

func (r *events) hook(_ context.Context, e Event) {
	r.mu.Lock()
	r.list = append(r.list, e)
	r.mu.Unlock()
}

func (r *events) count(k EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.list {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func (r *events) all(k EventKind) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.list {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// item is a loader that returns v.
func item(v string) Loader {
	return LoaderFunc(func(context.Context) (Item, error) { return Item{Value: []byte(v)}, nil })
}

// waitFor polls cond until it holds, failing t after a generous deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
