package core

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/redis/go-redis/v9"
)

// batchSize caps the commands in one pipeline.
const batchSize = 50

// FetchMany returns the cached values of keys, loading every miss with one
// call of load: the N+1 pattern turned into one pipelined read per 50 keys,
// one loader call with exactly the keys that were missing (or expired, or
// corrupt), and pipelined writes. Stale keys inside the SWR window are
// served and refreshed together in the background. A key whose read failed
// (Redis down, breaker open, one pipeline timing out) is loaded like a miss.
// Keys that load leaves out of its map are left out of the result.
//
// Unlike Fetch, the loader runs on the caller's context and batch fills take
// no lock, so concurrent FetchMany calls for the same missing keys may each
// load them. If load fails, keys inside their stale-if-error window are
// served stale, and FetchMany returns what it has with the error.
func FetchMany[T any](ctx context.Context, e *Engine, keys []string, p Policy,
	load func(ctx context.Context, missing []string) (map[string]T, error)) (map[string]T, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := validName(k); k != "" && err != nil {
			return nil, err
		}
	}
	decode := decoder[T](e.cfg.Codec)
	out := make(map[string]T, len(keys))
	o := e.outcomes(p.Resource)
	var missing, stale []string
	olds := make(map[string]*entry)
	keys = dedupe(keys)
	mem := memBatch{age: e.mem.maxAgeFor(p)}
	if mem.age > 0 {
		mem.gen = e.mem.gen.Load()
		keys = fromMemoryMany(ctx, e, keys, p, mem.age, decode, out, o, &stale)
	}
	for _, chunk := range e.byNode(ctx, keys, e.entryKey) {
		raws, err := e.readChunk(ctx, chunk)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if mem.age > 0 { // the shield: Redis is out of reach
				chunk = shieldMany(ctx, e, chunk, decode, out, o)
			}
			missing = append(missing, chunk...)
			o.bypass(chunk, bypassDetail(err))
			continue
		}
		now := e.now().UnixMilli()
		for i, key := range chunk {
			ent, v := (*entry)(nil), *new(T)
			if raws[i] != nil {
				ent, v, _ = parse(ctx, e, Key{Name: key, resource: p.Resource}, raws[i], decode)
			}
			blocked := ent != nil && (e.pending.blocks(key, ent.Tags) || e.suspect(ctx, key, ent, now))
			if ent != nil && !blocked && mem.age > 0 {
				e.mem.put(Key{Name: key}, ent, e.now(), mem.gen)
			}
			switch {
			case ent == nil || blocked:
				missing = append(missing, key)
			case now < ent.FreshUntil:
				out[key] = v
				o.report(ctx, key, EventHit, nil)
				if e.refreshDue(ent, p, e.now()) {
					stale = append(stale, key)
				}
			case now < ent.StaleUntil:
				out[key] = v
				o.report(ctx, key, EventStale, nil)
				stale = append(stale, key)
			default:
				olds[key] = ent
				missing = append(missing, key)
			}
		}
	}
	if len(stale) > 0 {
		e.refreshMany(ctx, stale, p, encodeMany(e.cfg.Codec, load))
	}
	if len(missing) == 0 {
		return out, nil
	}
	return out, fillMany(ctx, e, missing, p, load, olds, out, o, mem)
}

// fillMany loads the missing keys with one loader call and stores them.
func fillMany[T any](ctx context.Context, e *Engine, missing []string, p Policy,
	load func(ctx context.Context, missing []string) (map[string]T, error), olds map[string]*entry, out map[string]T, o *outcomes, mem memBatch) error {
	wctx, end := e.startWork(ctx, Work{Kind: WorkFill, Resource: p.Resource, Keys: len(missing)})
	start := time.Now()
	vals, err := callMany(func() (map[string]T, error) { return load(wctx, missing) })
	took := time.Since(start)
	end(err)
	if err != nil {
		e.emit(ctx, Event{Kind: EventLoadFailed, Resource: p.Resource, Duration: took, Err: err, Detail: fmt.Sprintf("batch of %d", len(missing))})
		return staleManyIfError(ctx, e, missing, olds, out, err, o)
	}
	items := make(map[string][]byte, len(vals))
	for _, key := range missing {
		v, ok := vals[key]
		if !ok {
			o.report(ctx, key, EventMiss, errNotLoaded)
			continue
		}
		out[key] = v
		o.report(ctx, key, EventMiss, nil)
		b, err := e.cfg.Codec.Marshal(v)
		if err != nil {
			e.emit(ctx, Event{Kind: EventLoadFailed, Resource: p.Resource, Key: key, Err: fmt.Errorf("core: encode value: %w", err)})
			continue
		}
		items[key] = b
	}
	e.storeMany(ctx, p, items, start, took)
	if mem.age > 0 { // stored, or loaded while Redis is out of reach: memory keeps them
		e.putMany(p, items, took, mem.gen)
	}
	e.emit(ctx, Event{Kind: EventFill, Resource: p.Resource, Duration: took, Detail: fmt.Sprintf("batch of %d", len(missing))})
	return nil
}

var errNotLoaded = errors.New("core: the batch loader left the key out")

// outcomes reports the outcome of each key of a FetchMany, timed from its
// start; a key whose read failed is a bypass.
type outcomes struct {
	e        *Engine
	resource string
	start    time.Time
	bypassed map[string]string // key → why its read failed
}

// outcomes returns the recorder of one FetchMany, or nil when no one
// receives events.
func (e *Engine) outcomes(resource string) *outcomes {
	if !e.observed {
		return nil
	}
	return &outcomes{e: e, resource: resource, start: time.Now()}
}

func (o *outcomes) bypass(keys []string, why string) {
	if o == nil {
		return
	}
	if o.bypassed == nil {
		o.bypassed = make(map[string]string)
	}
	for _, k := range keys {
		o.bypassed[k] = why
	}
}

func (o *outcomes) report(ctx context.Context, key string, kind EventKind, err error) {
	if o == nil {
		return
	}
	why, bypassed := o.bypassed[key]
	if bypassed && kind == EventMiss {
		kind = EventBypass
	}
	o.e.emit(ctx, Event{Kind: kind, Resource: o.resource, Key: key, Duration: time.Since(o.start), Err: err, Detail: why})
}

// callMany calls fn, turning a panic into a *PanicError.
func callMany[T any](fn func() (map[string]T, error)) (vals map[string]T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn()
}

// staleManyIfError serves the expired entries still inside their
// stale-if-error window after the batch loader failed.
func staleManyIfError[T any](ctx context.Context, e *Engine, missing []string, olds map[string]*entry, out map[string]T, err error, o *outcomes) error {
	decode := decoder[T](e.cfg.Codec)
	now := e.now().UnixMilli()
	served := 0
	for _, key := range missing {
		ent := olds[key]
		if ent == nil || now >= ent.ErrorUntil {
			o.report(ctx, key, EventMiss, err)
			continue
		}
		if v, derr := decode(ent.Value); derr == nil {
			out[key] = v
			served++
			o.report(ctx, key, EventStaleIfError, err)
		} else {
			o.report(ctx, key, EventMiss, err)
		}
	}
	if served == len(missing) {
		return nil
	}
	return err
}

// readChunk GETs keys in one pipeline; a nil slot is a missing key.
func (e *Engine) readChunk(ctx context.Context, keys []string) ([][]byte, error) {
	return call(ctx, e, "", e.entryKey(keys[0]), func(ctx context.Context) ([][]byte, error) {
		pipe := e.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(keys))
		for i, key := range keys {
			cmds[i] = pipe.Get(ctx, e.entryKey(key))
		}
		_, _ = pipe.Exec(ctx) // each command's own error is checked below
		raws := make([][]byte, len(keys))
		for i, cmd := range cmds {
			b, err := cmd.Bytes()
			switch {
			case errors.Is(err, redis.Nil):
			case err != nil:
				return nil, err
			default:
				raws[i] = b
			}
		}
		return raws, nil
	})
}

// storeMany writes items, 50 to a pipeline, without locks. Their tags are
// recorded first, as for a fill (see Engine.store): items whose tags could
// not all be recorded, or one of whose tags was invalidated since the load
// began (start), are not stored.
func (e *Engine) storeMany(ctx context.Context, p Policy, items map[string][]byte, start time.Time, took time.Duration) {
	keys := make([]string, 0, len(items))
	for k := range items {
		keys = append(keys, k)
	}
	now := e.now()
	for _, chunk := range e.byNode(ctx, keys, e.entryKey) {
		eks, raws := make([]string, len(chunk)), make([][]byte, len(chunk))
		var ttl time.Duration // the same for every item: same policy, same time
		for i, key := range chunk {
			ent := newEntry(Key{Name: key}, p, items[key], p.Tags, now, took)
			eks[i], raws[i], ttl = e.entryKey(key), ent.encode(), ent.redisTTL(now)
		}
		if stale, err := e.tagEntries(ctx, "", eks, p.Tags, ttl, start); err != nil || stale {
			if stale {
				e.emit(ctx, Event{Kind: EventInvalidate, Resource: p.Resource, Detail: fmt.Sprintf("batch of %d not stored: a tag was invalidated while it loaded", len(chunk))})
			}
			continue
		}
		_, _ = call(ctx, e, "", eks[0], func(ctx context.Context) (struct{}, error) {
			pipe := e.rdb.Pipeline()
			for i, ek := range eks {
				pipe.Set(ctx, ek, raws[i], ttl)
			}
			_, err := pipe.Exec(ctx)
			return struct{}{}, err
		})
	}
}

func chunks(keys []string, n int) [][]string {
	var out [][]string
	for len(keys) > n {
		out = append(out, keys[:n:n])
		keys = keys[n:]
	}
	if len(keys) > 0 {
		out = append(out, keys)
	}
	return out
}

func dedupe(keys []string) []string {
	seen := make(map[string]struct{}, len(keys))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if _, dup := seen[k]; dup || k == "" {
			continue
		}
		seen[k] = struct{}{}
		out = append(out, k)
	}
	return out
}
