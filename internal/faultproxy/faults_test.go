package faultproxy_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/internal/redistest"
)

func TestReset(t *testing.T) {
	p := start(t)
	c := client(t, p)
	conn := c.Conn()
	defer conn.Close()
	if err := conn.Ping(timeout(t, 2*time.Second)).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	p.Reset()
	err := conn.Ping(timeout(t, 2*time.Second)).Err()
	if err == nil || isTimeout(err) {
		t.Fatalf("PING over a reset connection = %v; want an immediate error", err)
	}
	t.Logf("existing connection: %v", err)

	before := p.Stats().Conns
	err = client(t, p).Ping(timeout(t, 2*time.Second)).Err()
	if err == nil || isTimeout(err) {
		t.Fatalf("PING on a new connection in Reset mode = %v; want an immediate error", err)
	}
	t.Logf("new connection: %v", err)
	if p.Stats().Conns <= before {
		t.Fatal("the new connection was not accepted before being reset")
	}

	p.Heal()
	works(t, p)
	eventually(t, "old client after Heal", func() error { return c.Ping(timeout(t, time.Second)).Err() })
}

func TestRefuse(t *testing.T) {
	p := start(t)
	addr := p.Addr()
	c := client(t, p)
	conn := c.Conn()
	defer conn.Close()
	if err := conn.Ping(timeout(t, 2*time.Second)).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	p.Refuse()
	p.Refuse() // again: no-op

	if nc, err := net.DialTimeout("tcp", addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		if nc != nil {
			_ = nc.Close()
		}
		t.Fatalf("dial while refusing = %v; want connection refused", err)
	}
	err := client(t, p).Ping(timeout(t, 2*time.Second)).Err()
	if !errors.Is(err, syscall.ECONNREFUSED) && (err == nil || !strings.Contains(err.Error(), "connection refused")) {
		t.Fatalf("go-redis PING while refusing = %v; want connection refused", err)
	}
	if err := conn.Ping(timeout(t, 2*time.Second)).Err(); err == nil || isTimeout(err) {
		t.Fatalf("PING over an existing connection while refusing = %v; want an immediate error", err)
	}

	p.Heal()
	if p.Addr() != addr {
		t.Fatalf("address changed from %s to %s", addr, p.Addr())
	}
	works(t, p)
}

// TestEveryModeHeals goes through every mode and pair of modes and checks
// that Heal brings service back each time.
func TestEveryModeHeals(t *testing.T) {
	p := start(t)
	modes := map[string]func(){
		"latency":   func() { p.SetLatency(50 * time.Millisecond) },
		"blackhole": p.Blackhole,
		"reset":     p.Reset,
		"refuse":    p.Refuse,
	}
	for first, setFirst := range modes {
		for second, setSecond := range modes {
			t.Run(first+"_then_"+second, func(t *testing.T) {
				c := client(t, p)
				_ = c.Ping(timeout(t, 2*time.Second)).Err()
				setFirst()
				_ = c.Ping(timeout(t, 100*time.Millisecond)).Err()
				setSecond()
				_ = c.Ping(timeout(t, 100*time.Millisecond)).Err()
				p.Heal()
				works(t, p)
			})
		}
	}
}

// TestSwitchUnderLoad switches modes while clients hammer the proxy, to
// let the race detector and goleak look for trouble.
func TestSwitchUnderLoad(t *testing.T) {
	p := start(t)
	prefix := redistest.Prefix(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	for w := range 8 {
		// A pool per worker, large enough that go-redis does not switch to
		// failing fast after PoolSize refused dials: the load should reach
		// the proxy.
		cl := client(t, p, func(o *redis.Options) { o.PoolSize = 64 })
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.Close()
			key := prefix + strconv.Itoa(w)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
				var err error
				if i%3 == 0 {
					_, err = cl.Pipelined(ctx, func(pipe redis.Pipeliner) error {
						pipe.Incr(ctx, key+":n")
						pipe.Expire(ctx, key+":n", time.Minute)
						return nil
					})
				} else if err = cl.Set(ctx, key, i, time.Minute).Err(); err == nil {
					err = cl.Get(ctx, key).Err()
				}
				cancel()
				if err == nil {
					ok.Add(1)
				} else {
					failed.Add(1)
					time.Sleep(2 * time.Millisecond)
				}
				_ = p.Stats()
			}
		}()
	}

	steps := []func(){
		func() { p.SetLatency(5 * time.Millisecond) },
		p.Blackhole, p.Heal, p.Reset, func() { p.SetLatency(2 * time.Millisecond) }, p.Refuse, p.Blackhole, p.Reset, p.Refuse, p.Heal,
	}
	for range 3 {
		for _, step := range steps {
			step()
			time.Sleep(30 * time.Millisecond)
		}
	}
	p.Heal()
	works(t, p)
	before := ok.Load()
	eventually(t, "load after Heal", func() error {
		if ok.Load() == before {
			return errors.New("no request succeeded yet")
		}
		return nil
	})

	// Close concurrently, twice, while the load still runs.
	var closers sync.WaitGroup
	for range 2 {
		closers.Add(1)
		go func() { defer closers.Done(); p.Close() }()
	}
	closers.Wait()
	close(stop)
	wg.Wait()
	t.Logf("%d requests succeeded, %d failed; %+v", ok.Load(), failed.Load(), p.Stats())
	waitGoroutinesGone(t, "pool.(*ConnPool).tryDial")
}

// waitGoroutinesGone waits until no goroutine has fn on its stack. go-redis
// starts a tryDial goroutine after PoolSize failed dials; it notices that
// its client was closed only after sleeping for up to a second, which is
// longer than goleak waits.
func waitGoroutinesGone(t *testing.T, fn string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if !strings.Contains(string(buf[:n]), fn) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a goroutine in %s is still running", fn)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
