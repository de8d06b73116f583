package core

import "sync"

// flights are the fills in flight in this process, by the identity of their
// key. The first caller that finds no usable entry for a key leads its fill;
// those that come while it runs wait for it. Unlike singleflight, the
// leader's work runs where the engine chooses: on the leader's own
// goroutine for Lookup, or on a goroutine of the engine for Fetch.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight // protected by mu
}

// flight is one fill in flight. Its result fields are written once, by
// the first finish, before done is closed; readers read them only after
// done.
type flight struct {
	done     chan struct{}
	finished bool // protected by flights.mu
	res      Result
	shared   bool // res may be handed to the callers waiting on it
	err      error
}

// join returns the flight for key, and whether the caller leads it (it
// started it: it must finish it).
func (g *flights) join(key string) (f *flight, lead bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		return f, false
	}
	if g.m == nil {
		g.m = make(map[string]*flight)
	}
	f = &flight{done: make(chan struct{})}
	g.m[key] = f
	return f, true
}

// finish records f's outcome, lets its waiters go and forgets it, so that
// the next caller for key starts afresh. Only the first call for f acts: a
// fill may let its waiters go before it ends (Fill.Release).
func (g *flights) finish(key string, f *flight, res Result, shared bool, err error) {
	g.mu.Lock()
	if f.finished {
		g.mu.Unlock()
		return
	}
	f.finished = true
	if g.m[key] == f {
		delete(g.m, key)
	}
	g.mu.Unlock()
	f.res, f.shared, f.err = res, shared, err
	close(f.done)
}
