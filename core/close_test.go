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
	if _, err := e.Lookup(context.Background(), k, p, func(context.Context) (Item, error) {
		close(started)
		<-release
		return Item{Value: []byte("v2")}, nil
	}); err != nil {
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
	waitFor(t, "the refresh to finish", func() bool { return rec.count(EventRefreshOK) == 1 })
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
	_, _ = e.Lookup(context.Background(), Key{Name: "k"}, p, func(context.Context) (Item, error) {
		time.Sleep(100 * time.Millisecond)
		close(refreshed)
		return Item{Value: []byte("v2")}, nil
	})
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
