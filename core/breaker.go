package core

// Breaker guards the engine's Redis operations; breaker.New provides one built on
// sony/gobreaker. Allow reports whether one logical cache operation (a lookup, a
// lock, a store, one pipeline of a batch) may go to Redis now. When it returns an
// error the engine makes no Redis call and serves from the loader instead. When it
// returns nil, the engine calls done exactly once with the operation's outcome:
//
//   - nil: success. A missing key is a success (the engine translates redis.Nil),
//     and so is an error reply from Redis (OOM, a refused script): Redis answered
//     in time, and a full Redis still serves the reads it can. The replies of a
//     node that cannot serve (CLUSTERDOWN, TRYAGAIN, LOADING, MASTERDOWN,
//     READONLY) are failures;
//   - an error wrapping context.Canceled: the caller went away, which is neither
//     success nor failure;
//   - any other error: a failure.
//
// A Breaker decides on its own whether a slow success is a failure, by measuring
// the time from Allow to done. Implementations must be safe for concurrent use.
//
// If a Breaker also has a method
//
//	OnStateChange(func(from, to string))
//
// New registers with it once and reports every change as an EventBreaker event.
//
// With a Redis Cluster client, a Breaker that also has
//
//	AllowNode(node string) (done func(err error), err error)
//	OnNodeStateChange(func(node, from, to string))
//
// (breaker.Breaker has) keeps a state per master: the engine asks it about
// the master that serves each operation's keys, so that a dead master cuts
// off only its own keys, and reports the node of each change in the
// event's Detail.
type Breaker interface {
	Allow() (done func(err error), err error)
}

// stateWatcher is the optional interface described on Breaker.
type stateWatcher interface {
	OnStateChange(fn func(from, to string))
}

// nodeStateWatcher is stateWatcher for a breaker with a state per node.
type nodeStateWatcher interface {
	OnNodeStateChange(fn func(node, from, to string))
}
