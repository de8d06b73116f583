package core

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/swrcache/swrcache/internal/redistest"
)

// Must show 9: Close waits for running refreshes and refuses new ones.
func TestCloseWaitsForRunningRefreshes(t *testing.T) {
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
	started, release := make(chan struct{}), make(chan struct{})
	if _, err := e.Lookup(context.Background(), k, p, LoaderFunc(func(ctx context.Context) (Item, error) {
		close(started)
		select { // bounded, so a failing test cannot hang the suite
		case <-release:
		case <-ctx.Done():
		case <-time.After(15 * time.Second):
		}
		return Item{Value: []byte("v2")}, nil
	})); err != nil {
		t.Fatal(err)
	}
	<-started

	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.Close(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with a refresh running and a short deadline: %v, want DeadlineExceeded", err)
	}
	if _, err := e.Lookup(context.Background(), k, p, item("v3")); err != nil {
		t.Fatal(err)
	}
	if skips := rec.all(EventRefreshSkipped); len(skips) != 1 || skips[0].Detail != "closed" {
		t.Fatalf("refresh after Close: %+v, want one skipped as closed", skips)
	}
	close(release)
	waitFor(t, "the refresh to finish", func() bool { return rec.count(EventRefreshOK)+rec.count(EventRefreshFailed) == 1 })
	if rec.count(EventRefreshOK) != 1 {
		t.Fatalf("the refresh failed: %+v", rec.all(EventRefreshFailed))
	}
}

func TestCloseReturnsOnceEverythingFinished(t *testing.T) {
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), nil)
	clk := newClock()
	SetClock(e, clk.Now)
	p := Policy{TTL: time.Second, StaleWhileRevalidate: time.Minute, RefreshAhead: -1}
	if _, err := e.Lookup(context.Background(), Key{Name: "k"}, p, item("v1")); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Second)
	refreshed := make(chan struct{})
	_, _ = e.Lookup(context.Background(), Key{Name: "k"}, p, LoaderFunc(func(context.Context) (Item, error) {
		time.Sleep(100 * time.Millisecond)
		close(refreshed)
		return Item{Value: []byte("v2")}, nil
	}))
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-refreshed:
	default:
		t.Fatal("Close returned before the refresh finished")
	}
	if err := e.Close(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
}

// A Fetch whose every caller gave up still runs its fill to the end, on a
// goroutine of the engine, and stores; Close waits for it.
func TestCloseWaitsForAFetchFillItsCallersAbandoned(t *testing.T) {
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), nil)
	started, finished := make(chan struct{}), make(chan struct{})
	impatient, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() {
		_, err := Fetch(impatient, e, "k", Policy{TTL: time.Minute}, func(context.Context) (string, error) {
			close(started)
			time.Sleep(200 * time.Millisecond)
			close(finished)
			return "v", nil
		})
		errs <- err
	}()
	<-started
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that gave up: %v, want context.Canceled", err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-finished:
	default:
		t.Fatal("Close returned while the fill was still loading")
	}
	v, err := Fetch(context.Background(), e, "k", Policy{TTL: time.Minute}, func(context.Context) (string, error) { return "unused", nil })
	if err != nil || v != "v" {
		t.Fatalf("after Close: %q %v, want the abandoned fill's value, stored", v, err)
	}
}

// A Lookup's fill runs on its leader's goroutine; Close waits for it too,
// store included, so the client may be closed right after.
func TestCloseWaitsForALookupFillOnItsCallersGoroutine(t *testing.T) {
	rdb := redistest.Client(t)
	e := newEngine(t, rdb, redistest.Prefix(t), nil)
	started := make(chan struct{})
	done := make(chan Result, 1)
	go func() {
		res, _ := e.Lookup(context.Background(), Key{Name: "k"}, Policy{TTL: time.Minute}, LoaderFunc(func(context.Context) (Item, error) {
			close(started)
			time.Sleep(200 * time.Millisecond)
			return Item{Value: []byte("v")}, nil
		}))
		done <- res
	}()
	<-started
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The fill, store included, is over; its caller may still be on its
	// way back from Lookup.
	if n := rdb.Exists(context.Background(), e.entryKey("k")).Val(); n != 1 {
		t.Fatal("Close returned before the fill had stored")
	}
	select {
	case res := <-done:
		if !res.Stored {
			t.Fatalf("the fill Close waited for did not store: %+v", res)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the caller of the fill Close waited for never got its result")
	}
}
