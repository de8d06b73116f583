package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// errBypass marks a call the engine did not send to Redis.
var errBypass = errors.New("core: redis bypassed")

// call runs one logical Redis operation through the breaker, bounded by
// OpTimeout, and returns op's result by value. at is a Redis key op works
// on: in a Cluster, the breaker of the master serving it decides, so that
// a dead master cuts off its own keys alone ("" for an operation on no key,
// or on keys of several nodes). name is the item's name, for events. op
// translates redis.Nil itself, and it must write nothing that its caller
// reads: when the client ignores deadlines, op may still be running after
// call has given up on it, and only what it returns crosses back. A
// failure is reported and returned; the caller then carries on without
// Redis.
func call[T any](ctx context.Context, e *Engine, name, at string, op func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	node := e.nodeOf(ctx, at)
	h := e.health.of(node)
	done := func(error) {}
	if e.cfg.Breaker != nil && !unguarded(ctx) {
		d, err := e.allow(node)
		if err != nil {
			h.failed()
			e.reloadSoon(ctx) // the master may have failed over meanwhile
			return zero, fmt.Errorf("%w: breaker-open: %w", errBypass, err)
		}
		done = d
	}
	start := time.Now()
	octx, cancel := context.WithTimeout(ctx, e.cfg.OpTimeout)
	v, err := run(octx, e, op)
	cancel()
	switch {
	case err == nil:
		done(nil)
		h.answered(e, node)
		return v, nil
	case ctx.Err() != nil: // the caller went away: not Redis's fault
		done(fmt.Errorf("core: caller gone: %w", context.Canceled))
		return zero, ctx.Err()
	case isReply(err) && !unavailable(err):
		// Redis answered, in time, with an error of its own (out of
		// memory, a refused script): the breaker guards against a Redis
		// that does not serve, and tripping it here would cut off the
		// reads a full Redis still serves.
		done(nil)
		h.answered(e, node)
	default:
		done(err)
		h.failed()
		e.reloadSoon(ctx)
	}
	e.emit(ctx, Event{Kind: EventRedisError, Key: name, Duration: time.Since(start), Err: err})
	return zero, fmt.Errorf("core: redis: %w", err)
}

// nodeBreaker is the optional interface of a Breaker that keeps a state
// per Redis node (breaker.Breaker does); see Breaker.
type nodeBreaker interface {
	AllowNode(node string) (done func(err error), err error)
}

// allow asks the breaker whether an operation on node may go.
func (e *Engine) allow(node string) (func(error), error) {
	if e.nodes != nil {
		return e.nodes.AllowNode(node)
	}
	return e.cfg.Breaker.Allow()
}

// nodeOf returns the address of the Cluster master serving Redis key at,
// or "" for a client that is not a cluster's, or no key.
func (e *Engine) nodeOf(ctx context.Context, at string) string {
	if e.cluster == nil || at == "" {
		return ""
	}
	node, err := e.cluster.MasterForKey(ctx, at)
	if err != nil {
		return ""
	}
	return node.Options().Addr
}

// nodeClient returns a client of the node serving Redis key at alone: the
// Cluster master's, or the engine's own client otherwise. Commands without
// a key sent on it (TIME) reach that node.
func (e *Engine) nodeClient(ctx context.Context, at string) (noder, error) {
	if e.cluster == nil {
		return e.rdb, nil
	}
	return e.cluster.MasterForKey(ctx, at)
}

// reloadEvery is how often, at most, a failure makes a Cluster client
// reload the cluster's layout: after a failover, the keys of the failed
// master go to its promoted replica once the layout is reloaded, rather
// than when go-redis reloads it by itself (every ten seconds at most).
const reloadEvery = 500 * time.Millisecond

// reloadSoon has a Cluster client reload the cluster's layout, in the
// background, unless it did less than reloadEvery ago.
func (e *Engine) reloadSoon(ctx context.Context) {
	if e.cluster == nil {
		return
	}
	now := time.Now().UnixNano()
	last := e.reloaded.Load()
	if now-last < reloadEvery.Nanoseconds() || !e.reloaded.CompareAndSwap(last, now) {
		return
	}
	e.cluster.ReloadState(ctx)
}

// byNode splits names into groups of at most batchSize, each served by one
// Cluster master (one group of all for another client), with the Redis key
// of each name.
func (e *Engine) byNode(ctx context.Context, names []string, redisKey func(string) string) [][]string {
	if e.cluster == nil {
		return chunks(names, batchSize)
	}
	groups := map[string][]string{}
	var order []string
	for _, n := range names {
		node := e.nodeOf(ctx, redisKey(n))
		if _, ok := groups[node]; !ok {
			order = append(order, node)
		}
		groups[node] = append(groups[node], n)
	}
	var out [][]string
	for _, node := range order {
		out = append(out, chunks(groups[node], batchSize)...)
	}
	return out
}

// unguardedKey marks the context of the replay of queued invalidations:
// its calls skip the breaker, so that it runs as soon as Redis answers,
// whatever the breaker has not yet noticed. It is one caller, at a
// bounded rate.
type unguardedKey struct{}

func unguarded(ctx context.Context) bool { return ctx.Value(unguardedKey{}) != nil }

// isReply reports whether err is an error reply from Redis, rather than a
// failure to get one.
func isReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, redis.Nil) && !errors.Is(err, redis.TxFailedErr)
}

// unavailable reports whether err is an error reply that says the node
// cannot serve at all: the cluster is down or moving, the node is still
// loading its data, its master is gone, or it is a replica that was a
// master. Those count as failures for the breaker.
func unavailable(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	for _, p := range []string{"CLUSTERDOWN", "TRYAGAIN", "LOADING", "MASTERDOWN", "READONLY"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// pipelineErr is the error a pipeline's Exec returned, unless it is only the
// error reply of some command in it: those are checked command by command,
// while anything else means Redis did not answer.
func pipelineErr(err error) error {
	if err == nil || (isReply(err) && !unavailable(err)) || errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

// run calls op. When the client ignores deadlines, op runs on a goroutine the
// engine owns and run stops waiting when ctx ends; the goroutine finishes
// when the client gives up, and Close waits for it. The result comes back
// over a channel, by value, so nothing is shared with a call abandoned.
func run[T any](ctx context.Context, e *Engine, op func(ctx context.Context) (T, error)) (T, error) {
	if !e.wait {
		return op(ctx)
	}
	type result struct {
		v   T
		err error
	}
	res := make(chan result, 1)
	switch err := e.bg.goAbandonable(func() {
		v, err := op(ctx)
		res <- result{v, err}
	}); {
	case errors.Is(err, ErrClosed):
		return op(ctx) // shutting down: no goroutine to leave behind
	case err != nil:
		var zero T
		return zero, err // Redis hangs: fail fast, so the breaker trips sooner
	}
	select {
	case r := <-res:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
