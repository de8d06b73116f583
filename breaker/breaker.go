package breaker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ErrOpen is wrapped by the error Allow returns when the breaker refuses an
// operation: it is open, or it is half-open and all its probes are taken.
var ErrOpen = errors.New("breaker: open")

// errSlow is the outcome reported to gobreaker for a success slower than
// Config.SlowCall.
var errSlow = errors.New("breaker: slow call")

// State is the state of a Breaker.
type State int

// The states of a Breaker.
const (
	// Closed lets every operation through and counts outcomes.
	Closed State = iota
	// HalfOpen lets Config.HalfOpenProbes operations through to test recovery.
	HalfOpen
	// Open refuses every operation until Config.OpenTimeout has passed.
	Open
)

// String returns "closed", "half-open" or "open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	default:
		return fmt.Sprintf("State(%d)", int(s))
	}
}

// fromGobreaker maps a gobreaker state to a State.
func fromGobreaker(s gobreaker.State) State {
	switch s {
	case gobreaker.StateHalfOpen:
		return HalfOpen
	case gobreaker.StateOpen:
		return Open
	default:
		return Closed
	}
}

// transition is one state change waiting to be reported.
type transition struct{ from, to State }

// Breaker is a local, in-process circuit breaker for Redis operations, built
// on gobreaker's TwoStepCircuitBreaker. It satisfies core.Breaker and the
// optional OnStateChange interface. A Breaker is safe for concurrent use and
// must not be copied.
type Breaker struct {
	cb      *gobreaker.TwoStepCircuitBreaker[struct{}]
	slow    time.Duration // <= 0 disables the slow-call rule
	epoch   time.Time     // origin of call start times, read monotonically
	errOpen error         // returned while open
	errFull error         // returned while half-open with every probe taken

	fnMu sync.Mutex                              // serialises OnStateChange
	fns  atomic.Pointer[[]func(from, to string)] // copy on write

	qMu        sync.Mutex
	queue      []transition // transitions not yet reported, oldest first
	queued     atomic.Bool  // len(queue) > 0, readable without qMu
	delivering atomic.Bool  // a goroutine is running the callbacks

	cfg     Config                        // for the breakers of nodes
	nodesMu sync.Mutex                    // serialises the creation of nodes' breakers
	nodes   atomic.Pointer[nodeMap]       // copy on write
	nodeFns []func(node, from, to string) // protected by nodesMu
}

// nodeMap is the breakers of the Redis nodes seen so far, by address.
type nodeMap map[string]*Breaker

// maxNodes bounds the nodes that get a breaker of their own; past it (after
// many failovers to new addresses), a node shares the first one's.
const maxNodes = 1024

// New returns a closed Breaker configured by c, or the error from
// c.Validate.
func New(c Config) (*Breaker, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	b := &Breaker{
		cfg:     c,
		slow:    c.SlowCall,
		epoch:   time.Now(),
		errOpen: fmt.Errorf("%w (%s): %w", ErrOpen, c.Name, gobreaker.ErrOpenState),
		errFull: fmt.Errorf("%w (%s): half-open: %w", ErrOpen, c.Name, gobreaker.ErrTooManyRequests),
	}
	limit, minReq, rate := c.ConsecutiveFailures, c.MinRequests, c.FailureRate
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         c.Name,
		MaxRequests:  c.HalfOpenProbes,
		Interval:     c.Window,
		BucketPeriod: c.Window / time.Duration(c.Buckets),
		Timeout:      c.OpenTimeout,
		ReadyToTrip: func(n gobreaker.Counts) bool {
			if n.ConsecutiveFailures >= limit {
				return true
			}
			// Counts.Requests includes operations still in flight and
			// excluded ones; the rate is over completed operations only.
			completed := uint64(n.TotalSuccesses) + uint64(n.TotalFailures)
			return completed >= uint64(minReq) &&
				float64(n.TotalFailures)/float64(completed) > rate
		},
		// OnStateChange runs under gobreaker's mutex, so it only queues the
		// change; deliver reports it once the gobreaker call has returned.
		OnStateChange: func(_ string, from, to gobreaker.State) {
			b.qMu.Lock()
			b.queue = append(b.queue, transition{fromGobreaker(from), fromGobreaker(to)})
			b.queued.Store(true)
			b.qMu.Unlock()
		},
		IsSuccessful: func(err error) bool { return err == nil },
		IsExcluded:   func(err error) bool { return errors.Is(err, context.Canceled) },
	})
	return b, nil
}

// Allow reports whether one Redis operation may proceed. If it may, Allow
// returns a done function that the caller must call once with the
// operation's outcome: nil for success, an error wrapping context.Canceled
// when the caller went away (not counted), or any other error for a failure.
// A success slower than Config.SlowCall counts as a failure. If the operation
// may not proceed, Allow returns an error wrapping ErrOpen.
// Calls of done after the first are ignored.
func (b *Breaker) Allow() (done func(err error), err error) {
	inner, err := b.cb.Allow()
	if b.queued.Load() {
		b.deliver()
	}
	if err != nil {
		switch err {
		case gobreaker.ErrOpenState:
			return nil, b.errOpen
		case gobreaker.ErrTooManyRequests:
			return nil, b.errFull
		default:
			return nil, fmt.Errorf("%w: %w", ErrOpen, err)
		}
	}
	var start time.Duration
	if b.slow > 0 {
		// time.Since reads only the monotonic clock, which costs about
		// half as much as time.Now.
		start = time.Since(b.epoch)
	}
	var once atomic.Bool
	return func(err error) {
		if !once.CompareAndSwap(false, true) {
			return
		}
		if err == nil && b.slow > 0 && time.Since(b.epoch)-start > b.slow {
			err = errSlow
		}
		inner(err)
		if b.queued.Load() {
			b.deliver()
		}
	}, nil
}

// State returns the current state of the breaker. An open breaker whose
// OpenTimeout has passed becomes half-open here.
func (b *Breaker) State() State {
	s := fromGobreaker(b.cb.State())
	if b.queued.Load() {
		b.deliver()
	}
	return s
}

// OnStateChange registers fn to be called with the names of the old and new
// states ("closed", "half-open", "open") on every change of state. It may be
// called several times, for instance when several engines share a breaker;
// every registered function is called, in order of registration. Changes are
// reported in the order they happen and never concurrently, after the
// breaker's internal lock is released, so fn may call State. A change is
// reported by the Allow, done or State call that caused it, or by the one
// already reporting changes at that moment. A nil fn is ignored.
func (b *Breaker) OnStateChange(fn func(from, to string)) {
	if fn == nil {
		return
	}
	b.fnMu.Lock()
	defer b.fnMu.Unlock()
	var fns []func(from, to string)
	if old := b.fns.Load(); old != nil {
		fns = append(fns, *old...)
	}
	fns = append(fns, fn)
	b.fns.Store(&fns)
}

// deliver reports queued transitions unless another goroutine (or a callback
// further up this goroutine's stack) is already doing so, in which case that
// one picks them up: it checks the queue again after it stops delivering.
func (b *Breaker) deliver() {
	for b.queued.Load() && b.delivering.CompareAndSwap(false, true) {
		b.deliverQueued()
	}
}

// deliverQueued takes the queue and runs the callbacks on it; the caller
// holds the delivering flag, which deliverQueued releases even if a callback
// panics.
func (b *Breaker) deliverQueued() {
	defer b.delivering.Store(false)
	b.qMu.Lock()
	q := b.queue
	b.queue = nil
	b.queued.Store(false)
	b.qMu.Unlock()
	fns := b.fns.Load()
	if fns == nil {
		return
	}
	for _, t := range q {
		from, to := t.from.String(), t.to.String()
		for _, fn := range *fns {
			fn(from, to)
		}
	}
}

// AllowNode is Allow for an operation on one Redis node, addressed by its
// host:port: each node has a state of its own, so that one dead master of a
// Redis Cluster cuts off only the keys it serves. "" is the Breaker itself,
// as for Allow. core calls it for cluster clients.
func (b *Breaker) AllowNode(node string) (done func(err error), err error) {
	return b.node(node).Allow()
}

// NodeState returns the state of node's breaker; see AllowNode.
func (b *Breaker) NodeState(node string) State { return b.node(node).State() }

// OnNodeStateChange registers fn to be called with the node's address on
// every change of state of a node's breaker (see AllowNode), as
// OnStateChange does for the Breaker itself, whose changes it reports with
// the node "".
func (b *Breaker) OnNodeStateChange(fn func(node, from, to string)) {
	if fn == nil {
		return
	}
	b.OnStateChange(func(from, to string) { fn("", from, to) })
	b.nodesMu.Lock()
	defer b.nodesMu.Unlock()
	b.nodeFns = append(b.nodeFns, fn)
	if m := b.nodes.Load(); m != nil {
		for addr, nb := range *m {
			nb.OnStateChange(func(from, to string) { fn(addr, from, to) })
		}
	}
}

// node returns node's breaker, creating it on first use.
func (b *Breaker) node(addr string) *Breaker {
	if addr == "" {
		return b
	}
	if m := b.nodes.Load(); m != nil {
		if nb, ok := (*m)[addr]; ok {
			return nb
		}
	}
	b.nodesMu.Lock()
	defer b.nodesMu.Unlock()
	old := b.nodes.Load()
	if old != nil {
		if nb, ok := (*old)[addr]; ok {
			return nb
		}
		if len(*old) >= maxNodes {
			return b
		}
	}
	cfg := b.cfg
	cfg.Name = cfg.Name + "@" + addr
	nb, err := New(cfg)
	if err != nil { // cfg passed Validate already
		return b
	}
	for _, fn := range b.nodeFns {
		nb.OnStateChange(func(from, to string) { fn(addr, from, to) })
	}
	m := make(nodeMap, 1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[addr] = nb
	b.nodes.Store(&m)
	return nb
}
