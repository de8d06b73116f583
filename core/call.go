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
// OpTimeout, and returns op's result by value. op translates redis.Nil
// itself, and it must write nothing that its caller reads: when the client
// ignores deadlines, op may still be running after call has given up on
// it, and only what it returns crosses back. A failure is reported and
// returned; the caller then carries on without Redis.
func call[T any](ctx context.Context, e *Engine, key string, op func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	done := func(error) {}
	if e.cfg.Breaker != nil && !unguarded(ctx) {
		d, err := e.cfg.Breaker.Allow()
		if err != nil {
			e.health.failed()
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
		e.health.answered(e)
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
		e.health.answered(e)
	default:
		done(err)
		e.health.failed()
	}
	e.emit(ctx, Event{Kind: EventRedisError, Key: key, Duration: time.Since(start), Err: err})
	return zero, fmt.Errorf("core: redis: %w", err)
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
