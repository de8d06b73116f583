package core

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swrcache/swrcache/internal/redistest"
)

// Must show 1: one loader call for a cold key across four instances.
func TestColdKeyIsLoadedOnceAcrossInstances(t *testing.T) {
	ns := redistest.Prefix(t)
	var engines [4]*Engine
	for i := range engines {
		engines[i] = newEngine(t, redistest.Client(t), ns, nil)
	}
	var calls atomic.Int32
	load := func(context.Context) (string, error) {
		calls.Add(1)
		time.Sleep(100 * time.Millisecond)
		return "value", nil
	}
	const callers = 200
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			v, err := Fetch(context.Background(), engines[i%len(engines)], "cold", Policy{TTL: time.Minute}, load)
			if err == nil && v != "value" {
				err = errors.New("wrong value " + v)
			}
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("caller: %v", err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("loader ran %d times for %d callers on %d instances, want 1", n, callers, len(engines))
	}
}

// Must show 2: a holder that stalls past the lock's TTL is overtaken, stores
// nothing, and does not release the lock of whoever holds it now.
func TestStalledLockHolderIsOvertakenAndReleasesNothingElse(t *testing.T) {
	ns := redistest.Prefix(t)
	rdb := redistest.Client(t)
	if redistest.Embedded() {
		t.Skip("the embedded miniredis expires keys only when its clock is moved, not as time passes")
	}
	short := func(c *Config) { c.LockTTL = 200 * time.Millisecond } // LockWait: as long, enough to take over
	a := newEngine(t, redistest.Client(t), ns, short)
	b := newEngine(t, redistest.Client(t), ns, short)
	p := Policy{TTL: time.Minute}

	started, release := make(chan struct{}), make(chan struct{})
	type outcome struct {
		res Result
		err error
	}
	aDone := make(chan outcome, 1)
	go func() {
		res, err := a.Lookup(context.Background(), Key{Name: "k"}, p, LoaderFunc(func(context.Context) (Item, error) {
			close(started)
			<-release // stall well past the lock's TTL
			return Item{Value: []byte("old")}, nil
		}))
		aDone <- outcome{res, err}
	}()
	<-started

	res, err := b.Lookup(context.Background(), Key{Name: "k"}, p, item("new"))
	if err != nil || string(res.Value) != "new" || res.Status != StatusMiss || !res.Stored {
		t.Fatalf("b after the lock expired: %q %v stored=%v err=%v; want its own value, stored", res.Value, res.Status, res.Stored, err)
	}

	// Someone else holds the lock when a finally finishes.
	lk := lockKey(a.entryKey("k"))
	if err := rdb.Set(context.Background(), lk, "someone-else", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	close(release)
	out := <-aDone
	if out.err != nil || string(out.res.Value) != "old" || out.res.Stored {
		t.Fatalf("a: %q stored=%v err=%v; want its own value, not stored", out.res.Value, out.res.Stored, out.err)
	}
	if got, _ := rdb.Get(context.Background(), lk).Result(); got != "someone-else" {
		t.Fatalf("lock after the stalled holder finished = %q, want someone-else's lock intact", got)
	}
	res, err = b.Lookup(context.Background(), Key{Name: "k"}, p, item("unused"))
	if err != nil || string(res.Value) != "new" || res.Status != StatusHit {
		t.Fatalf("stored value: %q %v %v; the stalled holder must not overwrite the newer value", res.Value, res.Status, err)
	}
}

func TestUnlockNeverDeletesAnotherHoldersLock(t *testing.T) {
	rdb := redistest.Client(t)
	e := newEngine(t, rdb, redistest.Prefix(t), nil)
	k := Key{Name: "k"}
	lk := lockKey(e.entryKey(k.Name))
	if err := rdb.Set(context.Background(), lk, "theirs", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	e.unlock(context.Background(), k, "mine")
	if got, _ := rdb.Get(context.Background(), lk).Result(); got != "theirs" {
		t.Fatalf("lock = %q after unlock with another token, want theirs", got)
	}
	e.unlock(context.Background(), k, "theirs")
	if n, _ := rdb.Exists(context.Background(), lk).Result(); n != 0 {
		t.Fatalf("lock still there after its holder released it")
	}
}

// A Fetch's loader runs on a goroutine of the engine: its panic reaches
// every caller, the one that started the fill included, as an error.
func TestFetchLoaderPanicReachesEveryCallerAsAnError(t *testing.T) {
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), nil)
	var calls atomic.Int32
	load := func(context.Context) (string, error) {
		calls.Add(1)
		time.Sleep(50 * time.Millisecond)
		panic("boom")
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := Fetch(context.Background(), e, "p", Policy{TTL: time.Minute}, load)
			var pe *PanicError
			if !errors.As(err, &pe) || pe.Value != "boom" || !strings.Contains(string(pe.Stack), "TestFetchLoaderPanic") {
				t.Errorf("err = %v, want a *PanicError carrying boom and the loader's stack", err)
			}
		}()
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("loader ran %d times, want 1", calls.Load())
	}
}

// A Lookup's loader runs on its leader's goroutine: its panic goes on up
// that goroutine, with the loader's frames on the stack, for the caller's
// own recovery; the callers waiting on it get a *PanicError; the lock is
// released and nothing is stored.
func TestLookupLoaderPanicGoesUpTheLeadersGoroutine(t *testing.T) {
	rdb := redistest.Client(t)
	e := newEngine(t, rdb, redistest.Prefix(t), nil)
	var calls atomic.Int32
	started := make(chan struct{})
	load := LoaderFunc(func(context.Context) (Item, error) {
		calls.Add(1)
		close(started)
		time.Sleep(100 * time.Millisecond)
		panic(errBoom)
	})
	leader := make(chan string, 1)
	go func() {
		defer func() {
			v := recover()
			if v != errBoom {
				leader <- fmt.Sprintf("recovered %v, want errBoom", v)
				return
			}
			leader <- string(debug.Stack())
		}()
		_, _ = e.Lookup(context.Background(), Key{Name: "p"}, Policy{TTL: time.Minute}, load)
		leader <- "the leader returned instead of panicking"
	}()
	<-started
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.Lookup(context.Background(), Key{Name: "p"}, Policy{TTL: time.Minute}, item("unused"))
			var pe *PanicError
			if !errors.As(err, &pe) || !errors.Is(err, errBoom) {
				t.Errorf("waiter: %v, want a *PanicError wrapping errBoom", err)
			}
		}()
	}
	if stack := <-leader; !strings.Contains(stack, "TestLookupLoaderPanicGoesUpTheLeadersGoroutine.func1") {
		t.Fatalf("the leader's recovery: %s", stack)
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("loader ran %d times, want 1", calls.Load())
	}
	if n := rdb.Exists(context.Background(), e.entryKey("p"), lockKey(e.entryKey("p"))).Val(); n != 0 {
		t.Fatalf("%d of the entry and its lock left after the panic, want none", n)
	}
}

var errBoom = errors.New("boom")

// A Fetch's fill outlives a caller that gives up: the others get its value
// and it is stored.
func TestFetchCallerThatGivesUpDoesNotFailTheOthers(t *testing.T) {
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), nil)
	var calls atomic.Int32
	load := func(ctx context.Context) (string, error) {
		calls.Add(1)
		select {
		case <-time.After(150 * time.Millisecond):
			return "v", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	p := Policy{TTL: time.Minute}
	impatient, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := Fetch(impatient, e, "k", p, load)
		first <- err
	}()
	waitFor(t, "the first caller's load to start", func() bool { return calls.Load() == 1 })
	second := make(chan string, 1)
	go func() {
		v, _ := Fetch(context.Background(), e, "k", p, load)
		second <- v
	}()
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("impatient caller: %v, want context.Canceled", err)
	}
	if v := <-second; v != "v" {
		t.Fatalf("patient caller got %q, want v", v)
	}
	if v, err := Fetch(context.Background(), e, "k", p, load); err != nil || v != "v" || calls.Load() != 1 {
		t.Fatalf("after: %q %v, %d loads; the abandoned fill must still be stored", v, err, calls.Load())
	}
}

// A Lookup's fill runs on its leader's context: when the leader's caller
// leaves and its load fails for it, a waiter leads instead and loads.
func TestLookupWaitersLeadWhenTheLeaderLeaves(t *testing.T) {
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), nil)
	var calls atomic.Int32
	load := LoaderFunc(func(ctx context.Context) (Item, error) {
		calls.Add(1)
		select {
		case <-time.After(150 * time.Millisecond):
			return Item{Value: []byte("v")}, nil
		case <-ctx.Done():
			return Item{}, ctx.Err()
		}
	})
	p := Policy{TTL: time.Minute}
	impatient, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := e.Lookup(impatient, Key{Name: "k"}, p, load)
		first <- err
	}()
	waitFor(t, "the first caller's load to start", func() bool { return calls.Load() == 1 })
	second := make(chan Result, 1)
	go func() {
		res, _ := e.Lookup(context.Background(), Key{Name: "k"}, p, load)
		second <- res
	}()
	time.Sleep(20 * time.Millisecond) // let the second caller join the flight
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("impatient caller: %v, want context.Canceled", err)
	}
	if res := <-second; string(res.Value) != "v" || res.Status != StatusMiss || !res.Stored {
		t.Fatalf("patient caller: %q %v stored=%v, want its own load, stored", res.Value, res.Status, res.Stored)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d loads, want the leader's (abandoned) and the waiter's", calls.Load())
	}
}

func TestNoStoreValueIsNotSharedWithCollapsedCallers(t *testing.T) {
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), nil)
	var calls atomic.Int32
	gate := make(chan struct{})
	load := func(n int32) Loader {
		return LoaderFunc(func(context.Context) (Item, error) {
			if calls.Add(1) == 1 {
				<-gate
			}
			return Item{Value: []byte{byte('0' + n)}, NoStore: true}, nil
		})
	}
	results := make(chan string, 2)
	go func() {
		res, _ := e.Lookup(context.Background(), Key{Name: "private"}, Policy{TTL: time.Minute}, load(1))
		results <- string(res.Value)
	}()
	waitFor(t, "the leader's load", func() bool { return calls.Load() == 1 })
	go func() {
		res, _ := e.Lookup(context.Background(), Key{Name: "private"}, Policy{TTL: time.Minute}, load(2))
		results <- string(res.Value)
	}()
	time.Sleep(20 * time.Millisecond) // let the second caller join the flight
	close(gate)
	got := map[string]bool{<-results: true, <-results: true}
	if !got["1"] || !got["2"] {
		t.Fatalf("callers got %v, want each its own value (1 and 2)", got)
	}
}

// releasing is a Loader that lets its waiters go mid-load, as the HTTP
// layer does once a response streams.
type releasing struct {
	proceed, released, finish chan struct{}
	calls                     *atomic.Int32
}

func (l releasing) Load(_ context.Context, f Fill) (Item, error) {
	if l.calls.Add(1) > 1 {
		return Item{Value: []byte("own")}, nil
	}
	<-l.proceed
	f.Release()
	close(l.released)
	<-l.finish
	return Item{Value: []byte("streamed")}, nil
}

func (l releasing) Reload() func(context.Context) (Item, error) { return nil }

// A load that releases its waiters lets them load on their own at once,
// before it ends, in this process and (its lock released) in others; what
// it then returns is its caller's alone, never stored.
func TestAReleasedFillLetsItsWaitersGoAtOnce(t *testing.T) {
	ns := redistest.Prefix(t)
	rdb := redistest.Client(t)
	a := newEngine(t, rdb, ns, nil)
	b := newEngine(t, redistest.Client(t), ns, nil)
	var calls atomic.Int32
	l := releasing{proceed: make(chan struct{}), released: make(chan struct{}), finish: make(chan struct{}), calls: &calls}
	var finishOnce sync.Once
	finish := func() { finishOnce.Do(func() { close(l.finish) }) }
	t.Cleanup(finish) // so that a failure does not leave the leader loading
	p := Policy{TTL: time.Minute}
	leader := make(chan Result, 1)
	go func() {
		res, _ := a.Lookup(context.Background(), Key{Name: "k"}, p, l)
		leader <- res
	}()
	waitFor(t, "the leader to start loading", func() bool { return calls.Load() == 1 })
	waiter := make(chan Result, 1)
	go func() {
		res, _ := a.Lookup(context.Background(), Key{Name: "k"}, p, l)
		waiter <- res
	}()
	time.Sleep(50 * time.Millisecond) // let the waiter join the flight
	close(l.proceed)
	<-l.released
	if n := rdb.Exists(context.Background(), lockKey(a.entryKey("k"))).Val(); n != 0 {
		t.Fatal("the released fill still holds its Redis lock")
	}
	other, err := b.Lookup(context.Background(), Key{Name: "k"}, p, l) // another instance, without waiting
	if err != nil || string(other.Value) != "own" {
		t.Fatalf("another instance: %q %v, want its own load at once", other.Value, err)
	}
	if res := <-waiter; string(res.Value) != "own" || res.Status != StatusMiss {
		t.Fatalf("a waiter: %q %v, want its own load, before the leader's ended", res.Value, res.Status)
	}
	finish()
	if res := <-leader; string(res.Value) != "streamed" || res.Stored {
		t.Fatalf("the leader: %q stored=%v, want its own value, not stored", res.Value, res.Stored)
	}
	if n := rdb.Exists(context.Background(), a.entryKey("k")).Val(); n != 1 {
		t.Fatalf("entry exists=%d: want the own loads stored (they are ordinary fills), not the streamed one", n)
	}
	if res, _ := a.Lookup(context.Background(), Key{Name: "k"}, p, item("unused")); string(res.Value) != "own" {
		t.Fatalf("stored value %q, want an own load's", res.Value)
	}
}
