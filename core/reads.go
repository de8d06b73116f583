package core

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// getQueue gathers the reads of entries that lookups send at the same
// time into pipelines (flat combining). While fewer than maxSenders
// batches are in flight, a read goes at once, with whatever reads wait:
// one round trip, one deadline and one breaker decision for all of them.
// Past that, reads wait, and when a batch is back its sender hands the
// next one to the first waiting caller. Alone, or at low concurrency, a
// read is one plain GET; under load, reads of a thousand keys cost Redis
// and the process fewer round trips, system calls and timers than one GET
// each: the hit path's own costs are shared.
type getQueue struct {
	mu      sync.Mutex
	waiting []*pendingGet // reads not yet sent; protected by mu
	senders int           // batches in flight; protected by mu
	largest atomic.Int32  // the largest batch sent, for tests
}

// pendingGet is one caller's read.
type pendingGet struct {
	name, key string // the item's name (for events), its Redis key
	raw       []byte
	err       error
	read      bool          // raw and err are set
	lead      bool          // set before done closes: the caller sends the next batch
	done      chan struct{} // closed once read (but for the sender's own read), or lead
}

// maxBatch bounds the GETs in one pipeline, and maxSenders the pipelines
// in flight at once.
const (
	maxBatch   = 64
	maxSenders = 2
)

// readEntry reads the entry under ek, the Redis key of the item named
// name, with whatever reads are waiting. In a Cluster every read is its
// own GET, sent to the master of its key.
func (e *Engine) readEntry(ctx context.Context, name, ek string) ([]byte, error) {
	if e.cluster != nil {
		return e.getOne(ctx, name, ek)
	}
	q := &e.gets
	p := &pendingGet{name: name, key: ek, done: make(chan struct{})}
	q.mu.Lock()
	var batch []*pendingGet
	if q.senders < maxSenders {
		q.senders++
		q.waiting = append(q.waiting, p)
	} else {
		q.waiting = append(q.waiting, p)
		q.mu.Unlock()
		<-p.done // bounded: each batch is bounded by OpTimeout
		if !p.lead {
			return p.raw, p.err
		}
		// Promoted, out of the queue, in the slot handed over: send p
		// with the reads waiting now.
		q.mu.Lock()
		batch = append(make([]*pendingGet, 0, min(len(q.waiting)+1, maxBatch)), p)
	}
	for {
		n := min(len(q.waiting), maxBatch-len(batch))
		if batch == nil {
			batch = q.waiting[:n:n] // later appends to the queue go past n
		} else {
			batch = append(batch, q.waiting[:n]...)
		}
		q.waiting = q.waiting[n:]
		q.mu.Unlock()
		e.sendGets(ctx, batch, p)
		batch = nil
		q.mu.Lock()
		if !p.read { // p was past the first maxBatch: go again
			continue
		}
		if len(q.waiting) > 0 {
			next := q.waiting[0] // hand the slot over: p's caller goes back to its request
			q.waiting = q.waiting[1:]
			next.lead = true
			close(next.done)
		} else {
			q.senders--
			q.waiting = nil
		}
		q.mu.Unlock()
		return p.raw, p.err
	}
}

// sendGets reads batch in one round trip and hands each caller its entry;
// self is the sender's own read, whose caller is not waiting on done.
func (e *Engine) sendGets(ctx context.Context, batch []*pendingGet, self *pendingGet) {
	deliver := func(p *pendingGet, raw []byte, err error) {
		p.raw, p.err, p.read = raw, err, true
		if p != self {
			close(p.done)
		}
	}
	if n := int32(len(batch)); n > e.gets.largest.Load() {
		e.gets.largest.Store(n)
	}
	if len(batch) == 1 {
		raw, err := e.getOne(ctx, batch[0].name, batch[0].key)
		deliver(batch[0], raw, err)
		return
	}
	type reply struct {
		raws [][]byte
		errs []error // per key: an error reply for that key alone
	}
	r, err := call(ctx, e, "", batch[0].key, func(ctx context.Context) (reply, error) {
		pipe := e.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(batch))
		for i, p := range batch {
			cmds[i] = pipe.Get(ctx, p.key)
		}
		if _, err := pipe.Exec(ctx); pipelineErr(err) != nil {
			return reply{}, err
		}
		r := reply{raws: make([][]byte, len(batch)), errs: make([]error, len(batch))}
		for i, cmd := range cmds {
			b, err := cmd.Bytes()
			switch {
			case errors.Is(err, redis.Nil):
			case err != nil:
				r.errs[i] = err
			default:
				r.raws[i] = b
			}
		}
		return r, nil
	})
	for i, p := range batch {
		switch {
		case err != nil:
			deliver(p, nil, err)
		case r.errs[i] != nil:
			e.emit(ctx, Event{Kind: EventRedisError, Key: p.name, Err: r.errs[i]})
			deliver(p, nil, r.errs[i])
		default:
			deliver(p, r.raws[i], nil)
		}
	}
}

// getOne reads the entry under ek with a GET of its own.
func (e *Engine) getOne(ctx context.Context, name, ek string) ([]byte, error) {
	return call(ctx, e, name, ek, func(ctx context.Context) ([]byte, error) {
		b, err := e.rdb.Get(ctx, ek).Bytes()
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		return b, err
	})
}
