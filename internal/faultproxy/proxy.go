package faultproxy

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mode is what the proxy does with traffic.
type mode int

const (
	modePass      mode = iota // forward, after the configured latency
	modeBlackhole             // swallow everything
	modeReset                 // reset every connection
	modeRefuse                // no listener; reset every connection
)

const (
	relistenFor   = 2 * time.Second
	relistenPause = 20 * time.Millisecond
	acceptPause   = 10 * time.Millisecond
)

// Stats counts what a Proxy has seen since it started.
type Stats struct {
	// Conns is the number of client connections accepted, in any mode.
	Conns int64
	// ClientBytes is the number of bytes read from clients, in any mode.
	ClientBytes int64
	// ForwardedBytes is the number of bytes actually written to the target.
	ForwardedBytes int64
}

// Proxy is a TCP proxy whose behaviour can be switched while it runs.
// Its methods are safe for concurrent use.
type Proxy struct {
	t      testing.TB
	target string
	addr   string

	mu      sync.Mutex
	mode    mode
	latency time.Duration
	changed chan struct{} // closed and replaced on every mode change
	ln      net.Listener  // nil while refusing and after Close
	conns   map[*conn]struct{}
	closed  bool
	done    chan struct{} // closed by Close

	wg sync.WaitGroup // every goroutine of the proxy

	nConns         atomic.Int64
	clientBytes    atomic.Int64
	forwardedBytes atomic.Int64
}

// Start starts a proxy that listens on 127.0.0.1 (on a free port) and
// forwards every accepted connection to target, initially without faults.
// The proxy is closed when the test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faultproxy: listen: %v", err)
	}
	p := &Proxy{
		t:       t,
		target:  target,
		addr:    ln.Addr().String(),
		changed: make(chan struct{}),
		ln:      ln,
		conns:   make(map[*conn]struct{}),
		done:    make(chan struct{}),
	}
	p.wg.Add(1)
	go p.accept(ln)
	t.Cleanup(p.Close)
	return p
}

// Addr returns the host:port the proxy listens on. It stays the same for
// the life of the proxy, across Refuse and the modes that follow it.
func (p *Proxy) Addr() string {
	return p.addr
}

// Heal makes the proxy a plain pass-through again, without latency.
// After Refuse it listens again on the same address.
func (p *Proxy) Heal() {
	p.t.Helper()
	p.set(modePass, 0)
}

// SetLatency makes every chunk read from a client reach the target only d
// after it was read, so that every command is slowed by about d. The order
// of the bytes of each connection is preserved. Chunks already waiting
// take the new delay into account at once; a d of zero or less means none.
func (p *Proxy) SetLatency(d time.Duration) {
	p.t.Helper()
	p.set(modePass, max(d, 0))
}

// Blackhole makes the proxy swallow all traffic: connections are accepted
// and client bytes read and discarded, but nothing is forwarded to the
// target and no reply is delivered, on existing connections too. A
// connection that was blackholed in mid-command may stay broken after Heal;
// new connections work normally.
func (p *Proxy) Blackhole() {
	p.t.Helper()
	p.set(modeBlackhole, 0)
}

// Reset aborts every existing connection with a TCP RST, and makes the
// proxy accept and reset at once every new connection.
func (p *Proxy) Reset() {
	p.t.Helper()
	p.set(modeReset, 0)
}

// Refuse closes the listener, so that dials fail with "connection refused",
// and aborts every existing connection with a TCP RST. Any other mode
// listens again on the same address.
func (p *Proxy) Refuse() {
	p.t.Helper()
	p.set(modeRefuse, 0)
}

// Stats returns the counters of the proxy.
func (p *Proxy) Stats() Stats {
	return Stats{
		Conns:          p.nConns.Load(),
		ClientBytes:    p.clientBytes.Load(),
		ForwardedBytes: p.forwardedBytes.Load(),
	}
}

// Close stops the proxy: it closes the listener and every connection, and
// waits until all of its goroutines have returned. It may be called more
// than once, and concurrently.
func (p *Proxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
		if p.ln != nil {
			_ = p.ln.Close()
			p.ln = nil
		}
		for c := range p.conns {
			c.shutdown(false)
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// set switches the proxy to mode m with latency d.
func (p *Proxy) set(m mode, d time.Duration) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.mode, p.latency = m, d
	close(p.changed)
	p.changed = make(chan struct{})
	if m == modeReset || m == modeRefuse {
		for c := range p.conns {
			c.shutdown(true)
		}
	}
	switch {
	case m == modeRefuse && p.ln != nil:
		_ = p.ln.Close()
		p.ln = nil
	case m != modeRefuse && p.ln == nil:
		ln, err := relisten(p.addr)
		if err != nil {
			p.t.Errorf("faultproxy: cannot listen on %s again: %v", p.addr, err)
			return
		}
		p.ln = ln
		p.wg.Add(1)
		go p.accept(ln)
	}
}

// state returns the current mode and latency, and a channel that is closed
// when they change.
func (p *Proxy) state() (mode, time.Duration, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode, p.latency, p.changed
}

// blackholed reports whether the proxy currently swallows traffic.
func (p *Proxy) blackholed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode == modeBlackhole
}

// relisten listens on addr again, retrying briefly while the port is busy.
func relisten(addr string) (net.Listener, error) {
	var lc net.ListenConfig
	deadline := time.Now().Add(relistenFor)
	for {
		ln, err := lc.Listen(context.Background(), "tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return ln, err
		}
		pause := time.NewTimer(relistenPause)
		<-pause.C
	}
}

// accept serves ln until it is closed.
func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient failure such as EMFILE: pause, unless closing.
			pause := time.NewTimer(acceptPause)
			select {
			case <-pause.C:
				continue
			case <-p.done:
				pause.Stop()
				return
			}
		}
		p.nConns.Add(1)
		p.mu.Lock()
		switch {
		case p.closed:
			_ = nc.Close()
		case p.mode == modeReset || p.mode == modeRefuse:
			resetConn(nc)
		default:
			p.startConn(nc)
		}
		p.mu.Unlock()
	}
}

// forget drops c from the set of live connections.
func (p *Proxy) forget(c *conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// resetConn closes nc with a TCP RST rather than a FIN.
func resetConn(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = nc.Close()
}
