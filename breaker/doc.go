// Package breaker provides the circuit breaker that lets a swrcache cache fail
// open: when Redis is slow or down, the breaker opens and the engine sends
// traffic straight to the origin instead of waiting on Redis.
//
// A Breaker wraps the TwoStepCircuitBreaker of github.com/sony/gobreaker/v2
// and implements core.Breaker: the engine calls Allow before each logical
// Redis operation and reports the outcome through the done function Allow
// returns.
//
// # Outcomes
//
// Every admitted operation ends in one of three ways:
//
//   - success: done(nil), provided the operation took no longer than
//     Config.SlowCall from Allow to done. A slower success counts as a
//     failure, because a Redis that answers slowly hurts a cache as much as
//     one that does not answer at all.
//   - excluded: done with an error wrapping context.Canceled. The client went
//     away, which says nothing about Redis, so the operation counts neither
//     way (context.DeadlineExceeded, by contrast, is a failure).
//   - failure: done with any other error.
//
// # Tripping
//
// A closed breaker opens when either rule holds after a failure:
//
//   - Config.ConsecutiveFailures failures in a row, which catches a Redis that
//     is plainly down within a handful of operations;
//   - a failure rate above Config.FailureRate over the rolling Config.Window,
//     once the window holds at least Config.MinRequests completed operations
//     (successes plus failures; excluded and in-flight operations do not
//     count). This catches a Redis that fails intermittently. The rule is
//     checked when a failure completes, so it is the failure that takes the
//     rate over the limit that trips the breaker.
//
// # Open and half-open
//
// An open breaker refuses every operation with an error wrapping ErrOpen, so
// the engine skips Redis at no cost. After Config.OpenTimeout it becomes
// half-open and admits Config.HalfOpenProbes operations, refusing the rest
// with ErrOpen; as many consecutive successes close it, and any failure opens
// it again for another OpenTimeout. The change from open to half-open is
// noticed lazily, by the next Allow or State call.
//
// # State changes
//
// OnStateChange registers callbacks for every change of state. gobreaker
// reports changes while holding its lock, so the Breaker queues them and runs
// the callbacks after the lock is released, in order and one at a time;
// callbacks may therefore call State or Allow.
//
// # Why a local breaker
//
// gobreaker also offers a distributed breaker that shares its state through a
// store such as Redis. This package deliberately does not use it: the breaker
// exists to keep serving when Redis fails, so its state must not live there.
// Each process keeps its own breaker and learns about Redis from its own
// operations.
package breaker
