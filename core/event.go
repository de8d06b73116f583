package core

import (
	"context"
	"log/slog"
	"time"
)

// EventKind says what an Event reports.
type EventKind uint8

// The kinds of Event.
const (
	// EventHit: a fresh entry was served.
	EventHit EventKind = iota + 1
	// EventStale: a stale entry was served inside its stale-while-revalidate window.
	EventStale
	// EventStaleIfError: a stale entry was served because the loader failed.
	EventStaleIfError
	// EventMiss: no usable entry; the caller takes part in a fill.
	EventMiss
	// EventFill: a fill loaded a value (Duration: the loader) and stored it.
	EventFill
	// EventLoadFailed: a foreground loader call failed or panicked (Err).
	EventLoadFailed
	// EventRefreshOK: a background refresh stored a new value (Duration: the loader).
	EventRefreshOK
	// EventRefreshFailed: a background refresh failed or panicked (Err).
	EventRefreshFailed
	// EventRefreshSkipped: a refresh was not started: the pool was full, the
	// engine closing, or another instance held the key's lock.
	EventRefreshSkipped
	// EventLockContended: another instance held the fill lock; this one waited.
	EventLockContended
	// EventCorrupt: an entry failed to decode, had an unknown version or
	// belonged to another key; it was treated as a miss and overwritten (Err).
	EventCorrupt
	// EventBypass: Redis was not used for this call (Detail says why).
	EventBypass
	// EventRedisError: a Redis operation failed or timed out (Err, Duration).
	EventRedisError
	// EventBreaker: the breaker changed state (From, To).
	EventBreaker
	// EventInvalidate: keys or tags were invalidated (Detail counts the
	// entries); or, with Err, an invalidation was queued for replay; or it
	// was replayed, lost at Close, a fill was not stored because one of its
	// tags was invalidated while it loaded, or a subscription was lost
	// (Detail says which).
	EventInvalidate
)

var eventNames = [...]string{
	EventHit: "hit", EventStale: "stale", EventStaleIfError: "stale-if-error",
	EventMiss: "miss", EventFill: "fill", EventLoadFailed: "load-failed",
	EventRefreshOK: "refresh-ok", EventRefreshFailed: "refresh-failed",
	EventRefreshSkipped: "refresh-skipped", EventLockContended: "lock-contended",
	EventCorrupt: "corrupt", EventBypass: "bypass", EventRedisError: "redis-error",
	EventBreaker: "breaker", EventInvalidate: "invalidate",
}

// String returns the kind's name, such as "hit".
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "unknown"
}

// Event is one thing the engine did, for metrics and logs.
type Event struct {
	Kind     EventKind
	Key      string        // the item's Key.Name; "" for engine-wide events
	Duration time.Duration // of the loader or Redis operation reported, if any
	Err      error         // for failures
	Detail   string        // a short reason, such as "breaker-open"
	From, To string        // breaker states, for EventBreaker
}

func (k EventKind) failure() bool {
	switch k {
	case EventLoadFailed, EventRefreshFailed, EventCorrupt, EventRedisError, EventBreaker:
		return true
	}
	return false
}

// emit reports ev to the hook and the logger.
func (e *Engine) emit(ctx context.Context, ev Event) {
	if e.cfg.OnEvent != nil {
		e.cfg.OnEvent(ctx, ev)
	}
	if l := e.cfg.Logger; l != nil {
		level := slog.LevelDebug
		if ev.Kind.failure() {
			level = slog.LevelWarn
		}
		if !l.Enabled(ctx, level) {
			return
		}
		l.LogAttrs(ctx, level, "swrcache "+ev.Kind.String(),
			slog.String("key", ev.Key), slog.Duration("duration", ev.Duration),
			slog.Any("err", ev.Err), slog.String("detail", ev.Detail),
			slog.String("from", ev.From), slog.String("to", ev.To))
	}
}
