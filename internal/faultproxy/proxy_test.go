package faultproxy_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/swrcache/swrcache/internal/faultproxy"
	"github.com/swrcache/swrcache/internal/redistest"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{}) // refused dials are the point here, not news
	goleak.VerifyTestMain(m, redistest.LeakOptions()...)
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// start starts a proxy to the test Redis.
func start(t *testing.T) *faultproxy.Proxy {
	t.Helper()
	return faultproxy.Start(t, redistest.Addr(t))
}

// client returns a client that talks to Redis through p. Its socket
// timeouts are generous, so that a loaded machine does not fail the tests;
// the tests that expect timeouts set them with context deadlines.
func client(t *testing.T, p *faultproxy.Proxy, opts ...func(*redis.Options)) *redis.Client {
	t.Helper()
	timeouts := func(o *redis.Options) {
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = 5*time.Second, 5*time.Second, 5*time.Second
	}
	return redistest.NodeClient(t, p.Addr(), append([]func(*redis.Options){timeouts}, opts...)...)
}

func timeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// eventually retries f until it succeeds, failing t after a few seconds.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// works checks that a fresh client gets through p.
func works(t *testing.T, p *faultproxy.Proxy) {
	t.Helper()
	c := client(t, p)
	eventually(t, "fresh client after Heal", func() error { return c.Ping(timeout(t, 2*time.Second)).Err() })
	_ = c.Close()
}

func TestPassThrough(t *testing.T) {
	p := start(t)
	c := client(t, p)
	key := redistest.Prefix(t) + "k"
	if err := c.Ping(timeout(t, 2*time.Second)).Err(); err != nil {
		t.Fatalf("PING through the proxy: %v", err)
	}
	if err := c.Set(timeout(t, 2*time.Second), key, "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := c.Get(timeout(t, 2*time.Second), key).Result(); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v", got, err)
	}
	s := p.Stats()
	if s.Conns < 1 || s.ClientBytes == 0 || s.ForwardedBytes != s.ClientBytes {
		t.Fatalf("stats %+v: want a connection and every client byte forwarded", s)
	}
	p.Close()
	p.Close() // idempotent
	if err := c.Ping(timeout(t, 2*time.Second)).Err(); err == nil {
		t.Fatal("PING succeeded through a closed proxy")
	}
}

func TestLatency(t *testing.T) {
	p := start(t)
	c := client(t, p)
	key := redistest.Prefix(t) + "k"
	if err := c.Set(timeout(t, 2*time.Second), key, "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	const d = 200 * time.Millisecond
	p.SetLatency(d)
	for range 3 {
		begin := time.Now()
		got, err := c.Get(timeout(t, 5*time.Second), key).Result()
		if err != nil || got != "v" {
			t.Fatalf("GET with latency = %q, %v", got, err)
		}
		if took := time.Since(begin); took < d {
			t.Fatalf("GET took %v with a latency of %v", took, d)
		}
	}
	p.Heal()
	if err := c.Get(timeout(t, 2*time.Second), key).Err(); err != nil {
		t.Fatalf("GET after Heal: %v", err)
	}
}

func TestLatencyIsInterruptible(t *testing.T) {
	p := start(t)
	c := client(t, p)
	if err := c.Ping(timeout(t, 2*time.Second)).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	p.SetLatency(time.Hour)
	errc := make(chan error, 1)
	ctx := timeout(t, 10*time.Second)
	go func() { errc <- c.Ping(ctx).Err() }()
	time.Sleep(100 * time.Millisecond)
	p.Heal() // the waiting chunk must go now, not in an hour
	if err := <-errc; err != nil {
		t.Fatalf("PING after lowering the latency: %v", err)
	}

	p.SetLatency(time.Hour)
	go func() { errc <- c.Ping(ctx).Err() }()
	time.Sleep(100 * time.Millisecond)
	p.Close() // must not wait an hour either
	if err := <-errc; err == nil {
		t.Fatal("PING succeeded although the proxy was closed")
	}
}

// TestLatencyKeepsOrder writes commands in separate chunks over a raw
// connection and checks that Redis saw them in order.
func TestLatencyKeepsOrder(t *testing.T) {
	p := start(t)
	key := redistest.Prefix(t) + "list"
	p.SetLatency(30 * time.Millisecond)
	nc, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	const n = 20
	begin := time.Now()
	for i := range n {
		v := strconv.Itoa(i)
		cmd := fmt.Sprintf("*3\r\n$5\r\nRPUSH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(key), key, len(v), v)
		if _, err := nc.Write([]byte(cmd)); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			p.SetLatency(time.Duration(30+i) * time.Millisecond) // changes must not reorder
		}
	}
	r := bufio.NewReader(nc)
	for i := range n {
		line, err := r.ReadString('\n')
		if want := fmt.Sprintf(":%d\r\n", i+1); err != nil || line != want {
			t.Fatalf("reply %d = %q, %v; want %q", i, line, err, want)
		}
	}
	if took := time.Since(begin); took < 30*time.Millisecond {
		t.Fatalf("replies came after %v, before the latency", took)
	}
	p.Heal()
	got, err := client(t, p).LRange(timeout(t, 2*time.Second), key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != strconv.Itoa(i) {
			t.Fatalf("Redis saw the commands in the order %v", got)
		}
	}
}

func TestBlackhole(t *testing.T) {
	p := start(t)
	c := client(t, p)
	key := redistest.Prefix(t) + "k"
	if err := c.Set(timeout(t, 2*time.Second), key, "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	p.Blackhole()
	before := p.Stats()
	err := c.Get(timeout(t, 300*time.Millisecond), key).Err()
	if !isTimeout(err) {
		t.Fatalf("GET through a blackhole = %v; want a timeout", err)
	}
	// A new connection is accepted but its handshake goes nowhere either.
	fresh := client(t, p)
	if err := fresh.Ping(timeout(t, 300*time.Millisecond)).Err(); !isTimeout(err) {
		t.Fatalf("PING on a new connection through a blackhole = %v; want a timeout", err)
	}
	after := p.Stats()
	if after.ClientBytes <= before.ClientBytes {
		t.Fatalf("client bytes did not grow: %+v -> %+v", before, after)
	}
	if after.ForwardedBytes != before.ForwardedBytes {
		t.Fatalf("bytes were forwarded while blackholed: %+v -> %+v", before, after)
	}
	if after.Conns <= before.Conns {
		t.Fatalf("the new connection was not accepted: %+v -> %+v", before, after)
	}

	p.Heal()
	works(t, p)
	eventually(t, "old client after Heal", func() error { return c.Get(timeout(t, time.Second), key).Err() })
}
