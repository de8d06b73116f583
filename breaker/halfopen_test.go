package breaker_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/swrcache/swrcache/breaker"
)

// tripped returns a breaker that has just opened on one failure.
func tripped(t *testing.T, openTimeout time.Duration) *breaker.Breaker {
	t.Helper()
	b := newBreaker(t, breaker.Config{ConsecutiveFailures: 1, HalfOpenProbes: 3, OpenTimeout: openTimeout})
	complete(t, b, errRedis)
	return b
}

func TestHalfOpenAdmitsProbesAndClosesOnTheirSuccess(t *testing.T) {
	b := tripped(t, 50*time.Millisecond)
	probes := []func(error){awaitHalfOpen(t, b)}
	for range 2 {
		done, err := b.Allow()
		if err != nil {
			t.Fatalf("probe %d refused: %v", len(probes)+1, err)
		}
		probes = append(probes, done)
	}
	for range 10 {
		done, err := b.Allow()
		if done != nil || !errors.Is(err, breaker.ErrOpen) || !errors.Is(err, gobreaker.ErrTooManyRequests) {
			t.Fatalf("Allow() beyond the probes = %p, %v; want nil and ErrOpen", done, err)
		}
	}
	for i, done := range probes {
		if got := b.State(); got != breaker.HalfOpen {
			t.Fatalf("after %d successful probes State() = %v, want half-open", i, got)
		}
		done(nil)
	}
	if got := b.State(); got != breaker.Closed {
		t.Fatalf("after all probes succeeded State() = %v, want closed", got)
	}
	complete(t, b, nil)
}

func TestHalfOpenFailureReopens(t *testing.T) {
	b := tripped(t, 50*time.Millisecond)
	var events []string
	b.OnStateChange(func(from, to string) { events = append(events, from+"->"+to) })
	probe := awaitHalfOpen(t, b)
	complete(t, b, nil) // a second probe succeeds
	probe(errRedis)
	want := []string{"open->half-open", "half-open->open"}
	if !slices.Equal(events, want) {
		t.Fatalf("events = %q, want %q", events, want)
	}
	// It opens for another OpenTimeout and then probes again.
	awaitHalfOpen(t, b)(nil)
}

func TestOnStateChangeReportsChangesInOrder(t *testing.T) {
	watchdog := time.AfterFunc(10*time.Second, func() {
		panic("deadlock: a callback calling State did not return within 10s")
	})
	defer watchdog.Stop()
	type event struct{ from, to, state string }
	b := newBreaker(t, breaker.Config{ConsecutiveFailures: 1, HalfOpenProbes: 2, OpenTimeout: 50 * time.Millisecond})
	var got, second []event
	b.OnStateChange(func(from, to string) {
		// State takes gobreaker's lock; this would deadlock if the callback
		// ran under it.
		got = append(got, event{from, to, b.State().String()})
	})
	b.OnStateChange(func(from, to string) { second = append(second, event{from, to, ""}) })
	complete(t, b, errRedis)
	if len(got) != 1 {
		t.Fatalf("after the tripping done returned, %d events were reported, want 1", len(got))
	}
	probe := awaitHalfOpen(t, b)
	complete(t, b, nil)
	probe(nil)
	if len(second) != len(got) {
		t.Errorf("second callback saw %d events, first saw %d", len(second), len(got))
	}
	want := [][2]string{{"closed", "open"}, {"open", "half-open"}, {"half-open", "closed"}}
	if len(got) != len(want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	for i, e := range got {
		if e.from != want[i][0] || e.to != want[i][1] {
			t.Fatalf("event %d = %s->%s, want %s->%s", i, e.from, e.to, want[i][0], want[i][1])
		}
	}
	// Within a callback, State is at or past the new state: an open breaker
	// may already have become half-open, nothing else can have moved.
	if s := got[0].state; s != "open" && s != "half-open" {
		t.Errorf("State() in closed->open callback = %s", s)
	}
	if got[1].state != "half-open" || got[2].state != "closed" {
		t.Errorf("State() in callbacks = %s, %s; want half-open, closed", got[1].state, got[2].state)
	}
}

func TestOnStateChangeUnderConcurrency(t *testing.T) {
	b := newBreaker(t, breaker.Config{
		SlowCall: -1, FailureRate: 0.3, MinRequests: 20, ConsecutiveFailures: 3,
		OpenTimeout: time.Millisecond, HalfOpenProbes: 2,
	})
	// events is deliberately unguarded: the race detector checks that
	// callbacks never run concurrently.
	var events [][2]string
	var active, overlaps atomic.Int32
	b.OnStateChange(func(from, to string) {
		if active.Add(1) > 1 {
			overlaps.Add(1)
		}
		_ = b.State()
		events = append(events, [2]string{from, to})
		active.Add(-1)
	})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3000 {
				done, err := b.Allow()
				if err != nil {
					continue
				}
				var outcome error
				switch n := rand.IntN(10); {
				case n < 3:
					outcome = errRedis
				case n < 4:
					outcome = errCanceled
				}
				done(outcome)
			}
		}()
	}
	wg.Wait()
	final := b.State().String()
	if n := overlaps.Load(); n > 0 {
		t.Fatalf("callbacks overlapped %d times", n)
	}
	if len(events) == 0 {
		t.Fatal("no state changes were reported")
	}
	prev := "closed"
	for i, e := range events {
		if e[0] != prev {
			t.Fatalf("event %d is %s->%s, but the previous one ended in %s", i, e[0], e[1], prev)
		}
		prev = e[1]
	}
	if prev != final {
		t.Fatalf("last reported state is %s, State() is %s", prev, final)
	}
	t.Logf("%d state changes reported", len(events))
}
