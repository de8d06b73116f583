package core

import (
	"context"
	"log/slog"
	"time"
)

// EventKind says what an Event reports.
//
// Six kinds are outcomes: every lookup ends with exactly one of them (one
// per key of a FetchMany, one per request of the HTTP layer, whatever Vary
// variants it read), carrying Duration, the time the lookup took, and
// Resource. Count them for hit ratios and latency. The other kinds are
// steps inside lookups, refreshes and writes: count them for load times,
// lock contention, refresh failures and Redis trouble.
type EventKind uint8

// The kinds of Event.
const (
	// EventHit (outcome): a fresh entry was served. Duration is the Redis
	// read and the decode: the time a hit costs.
	EventHit EventKind = iota + 1
	// EventStale (outcome): a stale entry was served inside its
	// stale-while-revalidate window; a refresh was started.
	EventStale
	// EventStaleIfError (outcome): a stale entry was served because the
	// load failed (Err).
	EventStaleIfError
	// EventMiss (outcome): no usable entry; this caller loaded the item
	// (Detail may say why: "expired", "recovering", "invalidation-pending";
	// Err, when the load failed with nothing stale to serve).
	EventMiss
	// EventFill (step): a fill loaded an item (Duration: the loader) and
	// stored it; Detail "revalidated" when the loader confirmed the value
	// it replaced (Item.Unchanged), as an HTTP 304 does.
	EventFill
	// EventLoadFailed (step): a foreground loader call failed or panicked (Err).
	EventLoadFailed
	// EventRefreshOK (step): a background refresh stored a new value
	// (Duration: the loader); Detail "revalidated" as for EventFill.
	EventRefreshOK
	// EventRefreshFailed (step): a background refresh failed or panicked (Err).
	EventRefreshFailed
	// EventRefreshSkipped (step): a refresh was not started: the pool was
	// full, the engine closing, or another instance held the key's lock.
	EventRefreshSkipped
	// EventLockContended (step): another instance held the fill lock and
	// this one waited for it; reported when the wait ends (Duration: the
	// wait; Detail: "stored" when the holder's value arrived, "taken" when
	// the lock was won, "timeout" after LockWait).
	EventLockContended
	// EventCorrupt (step): an entry failed to decode, had an unknown
	// version or belonged to another key; it was treated as a miss and
	// overwritten (Err).
	EventCorrupt
	// EventBypass (outcome): Redis was not used for this lookup, and the
	// loader or handler ran (Detail says why, such as "breaker-open").
	EventBypass
	// EventRedisError (step): a Redis operation failed or timed out (Err,
	// Duration).
	EventRedisError
	// EventBreaker (step): a breaker changed state (From, To; in a Cluster
	// the master's address in Detail).
	EventBreaker
	// EventInvalidate (step): keys or tags were invalidated (Detail counts
	// the entries); or, with Err, an invalidation was queued for replay; or
	// it was replayed, lost at Close, a fill was not stored because one of
	// its tags was invalidated while it loaded, or a subscription was lost
	// (Detail says which).
	EventInvalidate
	// EventCollapsed (outcome): the caller waited for another caller's
	// load, in this process or another, and was served its item (Err when
	// that load failed with nothing stale to serve).
	EventCollapsed
)

var eventNames = [...]string{
	EventHit: "hit", EventStale: "stale", EventStaleIfError: "stale-if-error",
	EventMiss: "miss", EventFill: "fill", EventLoadFailed: "load-failed",
	EventRefreshOK: "refresh-ok", EventRefreshFailed: "refresh-failed",
	EventRefreshSkipped: "refresh-skipped", EventLockContended: "lock-contended",
	EventCorrupt: "corrupt", EventBypass: "bypass", EventRedisError: "redis-error",
	EventBreaker: "breaker", EventInvalidate: "invalidate", EventCollapsed: "collapsed",
}

// String returns the kind's name, such as "hit".
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "unknown"
}

// Outcome reports whether k ends a lookup: hit, stale, stale-if-error,
// miss, collapsed or bypass.
func (k EventKind) Outcome() bool {
	switch k {
	case EventHit, EventStale, EventStaleIfError, EventMiss, EventCollapsed, EventBypass:
		return true
	}
	return false
}

// Served reports whether an outcome of kind k was served from the cache
// without waiting for a load: hit, stale, or stale-if-error. The hit ratio
// is the share of outcomes that were served so.
func (k EventKind) Served() bool {
	return k == EventHit || k == EventStale || k == EventStaleIfError
}

// Event is one thing the engine did, for metrics and logs.
type Event struct {
	Kind     EventKind
	Resource string        // the Policy.Resource of the lookup, refresh or fill; "" if unnamed or engine-wide
	Key      string        // the item's Key.Name; "" for engine-wide events
	Duration time.Duration // of the lookup, loader, wait or Redis operation reported, if any
	Err      error         // for failures
	Detail   string        // a short reason, such as "breaker-open"
	From, To string        // breaker states, for EventBreaker
}

// Event returns the kind of the outcome event of a lookup that ended with
// status s. A lookup that failed before it had a status is a miss.
func (s Status) Event() EventKind {
	switch s {
	case StatusHit:
		return EventHit
	case StatusStale:
		return EventStale
	case StatusStaleIfError:
		return EventStaleIfError
	case StatusCollapsed:
		return EventCollapsed
	case StatusBypass:
		return EventBypass
	}
	return EventMiss
}

// OutcomeReporter is a Loader whose caller reports the outcome of each of
// its lookups itself, with Engine.Report, because one of its requests may
// take more than one lookup (the HTTP layer's Vary variants) or none. The
// engine emits no outcome event for a lookup with such a loader; it still
// emits the steps.
type OutcomeReporter interface {
	Loader
	ReportsOutcome()
}

// Report sends ev to the hook and the logger as if the engine had emitted
// it: for a layer on top of the engine that reports the outcomes of its
// own requests (see OutcomeReporter).
func (e *Engine) Report(ctx context.Context, ev Event) { e.emit(ctx, ev) }

// Observed reports whether anything receives events (Config.OnEvent or
// Config.Logger), so a caller can skip measuring what no one reads.
func (e *Engine) Observed() bool { return e.observed }

func (k EventKind) failure() bool {
	switch k {
	case EventLoadFailed, EventRefreshFailed, EventCorrupt, EventRedisError, EventBreaker:
		return true
	}
	return false
}

// emit reports ev to the hook and the logger. A hook that panics is the
// hook's bug, never the caller's: the panic stops here, and is logged at
// Error when there is a logger.
func (e *Engine) emit(ctx context.Context, ev Event) {
	if e.cfg.OnEvent != nil {
		e.hook(ctx, ev)
	}
	if l := e.cfg.Logger; l != nil {
		level := slog.LevelDebug
		if ev.Kind.failure() {
			level = slog.LevelWarn
		}
		if !l.Enabled(ctx, level) {
			return
		}
		attrs := []slog.Attr{slog.String("resource", ev.Resource), slog.String("key", ev.Key)}
		if ev.Duration != 0 {
			attrs = append(attrs, slog.Duration("duration", ev.Duration))
		}
		if ev.Err != nil {
			attrs = append(attrs, slog.Any("err", ev.Err))
		}
		if ev.Detail != "" {
			attrs = append(attrs, slog.String("detail", ev.Detail))
		}
		if ev.From != "" || ev.To != "" {
			attrs = append(attrs, slog.String("from", ev.From), slog.String("to", ev.To))
		}
		l.LogAttrs(ctx, level, "swrcache "+ev.Kind.String(), attrs...)
	}
}

// hook calls Config.OnEvent, stopping its panic.
func (e *Engine) hook(ctx context.Context, ev Event) {
	defer e.recoverHook(ctx, "OnEvent")
	e.cfg.OnEvent(ctx, ev)
}

// Hooks returns one OnEvent hook that calls each of fns in turn, skipping
// nil ones: metrics, traces and logs side by side.
func Hooks(fns ...func(ctx context.Context, e Event)) func(ctx context.Context, e Event) {
	var hs []func(ctx context.Context, e Event)
	for _, fn := range fns {
		if fn != nil {
			hs = append(hs, fn)
		}
	}
	if len(hs) == 1 {
		return hs[0]
	}
	return func(ctx context.Context, e Event) {
		for _, h := range hs {
			h(ctx, e)
		}
	}
}
