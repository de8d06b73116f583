package core

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Status says where a Result came from.
type Status uint8

// The statuses of a Result.
const (
	// StatusHit: a fresh entry from Redis.
	StatusHit Status = iota + 1
	// StatusStale: a stale entry inside its stale-while-revalidate window; a
	// background refresh was started.
	StatusStale
	// StatusStaleIfError: a stale entry served because the loader failed.
	StatusStaleIfError
	// StatusMiss: this call's loader ran (Result.Stored says whether its value
	// was stored).
	StatusMiss
	// StatusCollapsed: another caller's load, in this process or another.
	StatusCollapsed
	// StatusBypass: Redis was not used (Result.Detail says why); the loader
	// ran, coalesced within this process.
	StatusBypass
)

var statusNames = [...]string{StatusHit: "hit", StatusStale: "stale", StatusStaleIfError: "stale-if-error",
	StatusMiss: "miss", StatusCollapsed: "collapsed", StatusBypass: "bypass"}

// String returns the status's name, such as "hit".
func (s Status) String() string {
	if int(s) < len(statusNames) && statusNames[s] != "" {
		return statusNames[s]
	}
	return "unknown"
}

// Result is one item as Lookup found or loaded it.
type Result struct {
	Value      []byte // may be shared with other callers of one fill: do not modify
	Status     Status
	Stored     bool      // the value was written to Redis by this lookup's fill
	StoredAt   time.Time // when the entry was stored; zero if never stored
	FreshUntil time.Time // zero if never stored
	Detail     string    // why Redis was bypassed, e.g. "breaker-open"; "memory" or "memory-breaker-open" from the memory tier
	Memory     bool      // served from the memory tier
}

// Lookup returns the item for k: from Redis when it is fresh, or stale within
// p's windows, else from l, once per key across every instance sharing
// Redis. Lookup never fails because of Redis; it fails only when the loader
// fails with no stale value to serve, when ctx ends, or when p is invalid.
//
// When no usable entry exists, the caller takes part in a fill. The first
// caller in the process leads it: l.Load runs on its goroutine and with its
// ctx, and a panic goes on up that goroutine (the callers waiting on it get
// a *PanicError). The others wait for the leader's item, each until its
// own ctx ends. If the leader's caller leaves before its load ends, one of
// the waiters leads instead.
func (e *Engine) Lookup(ctx context.Context, k Key, p Policy, l Loader) (Result, error) {
	_, res, err := lookup(ctx, e, k, p, l, rawBytes, false)
	return res, err
}

func rawBytes(b []byte) ([]byte, error) { return b, nil }

// LookupValue is Lookup for callers that decode the cached bytes: decode
// turns a Result's Value into the caller's type. It must be a pure function;
// an error from it makes a cached entry a miss that is reported and
// overwritten. Every caller gets a value decoded for it alone, never one
// shared with collapsed callers.
func LookupValue[T any](ctx context.Context, e *Engine, k Key, p Policy, l Loader, decode func([]byte) (T, error)) (T, Result, error) {
	return lookup(ctx, e, k, p, l, decode, false)
}

// lookup is the read path of Lookup and Fetch; detach runs the shared work
// of a fill on a goroutine of the engine (Fetch). It reports the lookup's
// outcome, unless l's caller does (OutcomeReporter).
func lookup[T any](ctx context.Context, e *Engine, k Key, p Policy, l Loader, decode func([]byte) (T, error), detach bool) (T, Result, error) {
	var zero T
	if err := p.Validate(); err != nil {
		return zero, Result{}, err
	}
	if err := validName(k.Name); err != nil {
		return zero, Result{}, err
	}
	k.resource = p.Resource
	if _, own := l.(OutcomeReporter); own || !e.observed {
		return find(ctx, e, k, p, l, decode, detach)
	}
	start := time.Now()
	v, res, err := find(ctx, e, k, p, l, decode, detach)
	e.emit(ctx, Event{Kind: res.Status.Event(), Resource: p.Resource, Key: k.Name,
		Duration: time.Since(start), Err: err, Detail: res.Detail})
	return v, res, err
}

// find reads k, serves its entry if it may, and fills it if not. With the
// memory tier, an entry there that may be served without Redis is; one
// that may not is still served, inside its stale-if-error window, when
// Redis cannot be reached.
func find[T any](ctx context.Context, e *Engine, k Key, p Policy, l Loader, decode func([]byte) (T, error), detach bool) (T, Result, error) {
	var zero T
	var me *memEntry
	mem, gen := false, uint64(0) // the policy uses the memory tier; its invalidations so far
	if age := e.mem.maxAgeFor(p); age > 0 {
		mem, gen = true, e.mem.gen.Load()
		now := e.now()
		if me = e.mem.get(k); me != nil && e.mem.servable(me, now, age) && !e.blocked(k, me.ent) {
			if v, res, ok := fromMemory(ctx, e, k, p, l, me, decode, now); ok {
				return v, res, nil
			}
		}
	}
	ent, v, err := read(ctx, e, k, decode)
	if err != nil {
		if ctx.Err() != nil {
			return zero, Result{Status: StatusBypass, Detail: "cancelled"}, ctx.Err()
		}
		if me != nil && e.now().UnixMilli() < me.ent.ErrorUntil && !e.blocked(k, me.ent) {
			if v, derr := decode(me.ent.Value); derr == nil { // the shield: Redis is out of reach
				res := cached(me.ent, StatusStaleIfError)
				res.Memory, res.Detail = true, "memory-"+bypassDetail(err)
				return v, res, nil
			}
		}
		return filled(ctx, e, &fill{k: k, p: p, l: l, check: checker(decode), detach: detach, mem: mem, gen: gen, bypass: bypassDetail(err)}, decode, "")
	}
	if e.pending.n.Load() > 0 {
		e.pending.nudge() // Redis answers: replay now
		if e.pending.blocks(k.Name, tagsOf(ent)) {
			return filled(ctx, e, &fill{k: k, p: p, l: l, check: checker(decode), detach: detach, bypass: "invalidation-pending"}, decode, "")
		}
	}
	now := e.now()
	if ent != nil && e.suspect(ctx, k.Name, ent, now.UnixMilli()) {
		// Stored before Redis came back: another instance may still be
		// replaying a write's invalidation that could not reach Redis.
		return filled(ctx, e, &fill{k: k, p: p, l: l, check: checker(decode), detach: detach, mem: mem, gen: gen}, decode, "recovering")
	}
	if ent != nil && mem {
		e.mem.put(k, ent, now, gen)
	}
	switch {
	case ent == nil:
		return filled(ctx, e, &fill{k: k, p: p, l: l, check: checker(decode), detach: detach, mem: mem, gen: gen}, decode, "")
	case now.UnixMilli() < ent.FreshUntil:
		if e.refreshDue(ent, p, now) {
			e.refresh(ctx, k, p, l, ent)
		}
		return v, cached(ent, StatusHit), nil
	case now.UnixMilli() < ent.StaleUntil:
		e.refresh(ctx, k, p, l, ent)
		return v, cached(ent, StatusStale), nil
	}
	return filled(ctx, e, &fill{k: k, p: p, l: l, check: checker(decode), detach: detach, mem: mem, gen: gen, old: ent}, decode, "expired")
}

// fromMemory serves k from its entry in memory, by the entry's own
// windows, as find serves one from Redis; it reports false when the entry
// is past them, or does not decode, and Redis must be asked.
func fromMemory[T any](ctx context.Context, e *Engine, k Key, p Policy, l Loader, me *memEntry, decode func([]byte) (T, error), now time.Time) (T, Result, bool) {
	var zero T
	ent := me.ent
	s := StatusHit
	switch {
	case now.UnixMilli() < ent.FreshUntil:
	case now.UnixMilli() < ent.StaleUntil:
		s = StatusStale
	default:
		return zero, Result{}, false
	}
	v, err := decode(ent.Value)
	if err != nil {
		e.mem.cache.Invalidate(k.Name)
		return zero, Result{}, false
	}
	if s == StatusStale || e.refreshDue(ent, p, now) {
		e.refresh(ctx, k, p, l, ent)
	}
	res := cached(ent, s)
	res.Memory, res.Detail = true, "memory"
	return v, res, true
}

// blocked reports whether ent may not be served: an invalidation of its
// key or of one of its tags is waiting to reach Redis.
func (e *Engine) blocked(k Key, ent *entry) bool {
	return e.pending.n.Load() > 0 && e.pending.blocks(k.Name, ent.Tags)
}

// filled runs f and decodes its result for the caller; why says why the
// entry could not be served, for a miss. On an error, the Result holds
// only the Status: whether this caller loaded or waited.
func filled[T any](ctx context.Context, e *Engine, f *fill, decode func([]byte) (T, error), why string) (T, Result, error) {
	var zero T
	res, err := e.fill(ctx, f)
	if res.Status == StatusMiss && res.Detail == "" {
		res.Detail = why
	}
	if err != nil {
		return zero, Result{Status: res.Status, Detail: res.Detail}, err
	}
	v, err := decode(res.Value)
	if err != nil {
		return zero, Result{Status: res.Status, Detail: res.Detail}, fmt.Errorf("core: decode loaded value: %w", err)
	}
	return v, res, nil
}

func checker[T any](decode func([]byte) (T, error)) func([]byte) error {
	return func(b []byte) error {
		_, err := decode(b)
		return err
	}
}

// tagsOf returns the tags of ent, which may be nil.
func tagsOf(ent *entry) []string {
	if ent == nil {
		return nil
	}
	return ent.Tags
}

func cached(ent *entry, s Status) Result {
	return Result{
		Value:      ent.Value,
		Status:     s,
		StoredAt:   time.UnixMilli(ent.StoredAt),
		FreshUntil: time.UnixMilli(ent.FreshUntil),
	}
}

// read gets k's entry. A missing, corrupt or undecodable entry is a nil
// entry; an error means Redis could not be asked.
func read[T any](ctx context.Context, e *Engine, k Key, decode func([]byte) (T, error)) (*entry, T, error) {
	var zero T
	raw, err := e.get(ctx, k)
	if err != nil || raw == nil {
		return nil, zero, err
	}
	return parse(ctx, e, k, raw, decode)
}

// get reads k's raw entry, nil if missing. Concurrent reads of one key share
// a single GET: a burst of requests for a hot key costs Redis one command
// and one pooled connection, not one each (each would otherwise wait for a
// connection and, past OpTimeout, fail open to the loader). The shared GET
// runs without the first reader's cancellation, bounded by OpTimeout, so
// the others wait at most that long. The bytes are shared, read-only.
func (e *Engine) get(ctx context.Context, k Key) ([]byte, error) {
	ek := e.entryKey(k.Name)
	v, err, _ := e.reads.Do(ek, func() (any, error) {
		return e.readEntry(context.WithoutCancel(ctx), k.Name, ek)
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// parse decodes raw for k, or reports it as corrupt and returns a nil entry.
func parse[T any](ctx context.Context, e *Engine, k Key, raw []byte, decode func([]byte) (T, error)) (*entry, T, error) {
	var v T
	ent := e.parseEntry(ctx, k, raw, nil, false)
	if ent == nil {
		return nil, v, nil
	}
	v, err := decode(ent.Value)
	if err != nil {
		e.emit(ctx, Event{Kind: EventCorrupt, Resource: k.resource, Key: k.Name, Err: fmt.Errorf("%w: value: %v", errCorrupt, err)})
		var zero T
		return nil, zero, nil
	}
	return ent, v, nil
}

// parseEntry decodes raw for k and, when check is not nil, checks its value.
// It returns nil for a corrupt entry, reported unless quiet.
func (e *Engine) parseEntry(ctx context.Context, k Key, raw []byte, check func([]byte) error, quiet bool) *entry {
	ent, err := decodeEntry(raw, k)
	if err == nil && check != nil {
		if cerr := check(ent.Value); cerr != nil {
			err = fmt.Errorf("%w: value: %v", errCorrupt, cerr)
		}
	}
	if err != nil {
		if !quiet {
			e.emit(ctx, Event{Kind: EventCorrupt, Resource: k.resource, Key: k.Name, Err: err})
		}
		return nil
	}
	return ent
}

// refreshDue reports whether a fresh entry should be refreshed in the
// background now: inside the RefreshAhead window before it goes stale, or
// earlier by XFetch's draw, which fires with probability
// exp(-gap/(load*beta)) so that slow loaders start sooner.
func (e *Engine) refreshDue(ent *entry, p Policy, now time.Time) bool {
	if p.RefreshAhead < 0 {
		return false // refresh-ahead is off, XFetch's early start with it
	}
	ahead := p.refreshAhead()
	if life := time.Duration(ent.FreshUntil-ent.StoredAt) * time.Millisecond; life < p.TTL {
		// An item with a lifetime of its own (Item.Lifetime), shorter than
		// the policy's: its window shrinks in proportion.
		ahead = time.Duration(float64(ahead) * float64(life) / float64(p.TTL))
	}
	start := ent.FreshUntil - ahead.Milliseconds()
	gap := start - now.UnixMilli()
	if gap <= 0 {
		return true
	}
	beta := p.beta()
	if beta == 0 || ent.LoadMillis <= 0 {
		return false
	}
	return float64(ent.LoadMillis)*beta*-math.Log(1-e.rand()) >= float64(gap)
}

// bypassDetail names why err kept a lookup away from Redis.
func bypassDetail(err error) string {
	if errors.Is(err, errBypass) {
		return "breaker-open"
	}
	return "redis-error"
}
