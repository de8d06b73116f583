package faultproxy

import (
	"bytes"
	"context"
	"net"
	"sync"
	"time"
)

const (
	bufSize     = 32 << 10
	queueLen    = 64
	dialTimeout = 5 * time.Second
)

// chunk is a piece of client data and the time it was read.
type chunk struct {
	data []byte
	at   time.Time
}

// conn is one proxied client connection. Three goroutines serve it:
// readClient reads client bytes into queue, forward writes them to the
// target when their time has come (dialing it on first use), and
// readUpstream relays the replies.
type conn struct {
	p      *Proxy
	client net.Conn
	queue  chan chunk    // closed by readClient when the client is done
	done   chan struct{} // closed by shutdown

	dialCtx    context.Context
	cancelDial context.CancelFunc

	mu       sync.Mutex
	upstream net.Conn // nil until dialed
	closed   bool
}

// startConn starts serving nc. p.mu must be held and p not closed.
func (p *Proxy) startConn(nc net.Conn) {
	c := &conn{
		p:      p,
		client: nc,
		queue:  make(chan chunk, queueLen),
		done:   make(chan struct{}),
	}
	c.dialCtx, c.cancelDial = context.WithCancel(context.Background())
	p.conns[c] = struct{}{}
	p.wg.Add(2)
	go c.readClient()
	go c.forward()
}

// shutdown closes both sides of c, the client side with a RST if reset is
// set. It is idempotent.
func (c *conn) shutdown(reset bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	close(c.done)
	c.cancelDial()
	if reset {
		resetConn(c.client)
	} else {
		_ = c.client.Close()
	}
	if c.upstream != nil {
		_ = c.upstream.Close()
	}
}

// readClient reads the client's bytes into the queue until the client is
// done or c is shut down.
func (c *conn) readClient() {
	defer c.p.wg.Done()
	defer close(c.queue)
	buf := make([]byte, bufSize)
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			c.p.clientBytes.Add(int64(n))
			select {
			case c.queue <- chunk{data: bytes.Clone(buf[:n]), at: time.Now()}:
			case <-c.done:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// forward delivers the queued chunks in order, then shuts c down.
func (c *conn) forward() {
	defer c.p.wg.Done()
	defer c.p.forget(c)
	defer c.shutdown(false)
	for {
		select {
		case ch, ok := <-c.queue:
			if !ok || !c.deliver(ch) {
				return
			}
		case <-c.done:
			return
		}
	}
}

// deliver writes ch to the target once its delay has passed, or drops it
// while blackholed. It reports whether c is still usable.
func (c *conn) deliver(ch chunk) bool {
	for {
		m, latency, changed := c.p.state()
		switch m {
		case modeBlackhole:
			return true
		case modeReset, modeRefuse:
			return false
		}
		wait := time.Until(ch.at.Add(latency))
		if wait <= 0 {
			return c.write(ch.data)
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-changed:
			timer.Stop()
		case <-c.done:
			timer.Stop()
			return false
		}
	}
}

// write sends data to the target, dialing it first if need be.
func (c *conn) write(data []byte) bool {
	up, err := c.dialUpstream()
	if err != nil {
		return false
	}
	// Count first: the reply may reach the client, and the client look at
	// Stats, before Write returns.
	c.p.forwardedBytes.Add(int64(len(data)))
	n, err := up.Write(data)
	if n < len(data) {
		c.p.forwardedBytes.Add(int64(n - len(data)))
	}
	return err == nil
}

// dialUpstream returns the connection to the target, dialing it and
// starting readUpstream on first use. Only forward calls it.
func (c *conn) dialUpstream() (net.Conn, error) {
	c.mu.Lock()
	up := c.upstream
	c.mu.Unlock()
	if up != nil {
		return up, nil
	}
	d := net.Dialer{Timeout: dialTimeout}
	up, err := d.DialContext(c.dialCtx, "tcp", c.p.target)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = up.Close()
		return nil, net.ErrClosed
	}
	c.upstream = up
	c.p.wg.Add(1) // safe: the calling goroutine is counted too
	go c.readUpstream(up)
	return up, nil
}

// readUpstream relays the target's replies to the client, dropping them
// while blackholed, until either side fails; then it shuts c down.
func (c *conn) readUpstream(up net.Conn) {
	defer c.p.wg.Done()
	defer c.shutdown(false)
	buf := make([]byte, bufSize)
	for {
		n, err := up.Read(buf)
		if n > 0 && !c.p.blackholed() {
			if _, werr := c.client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
