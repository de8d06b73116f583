package core

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// ErrClosed is returned by Close when called twice, and reported when work
// arrives after Close.
var ErrClosed = errors.New("core: engine closed")

// Engine serves items from Redis with stale-while-revalidate, collapses
// concurrent fills of a key within the process and across instances, and
// falls back to the loader whenever Redis is slow, failing or cut off by the
// Breaker. It is safe for concurrent use. Build it once with New; the zero
// value is not usable. Close waits for the work it started in the background.
type Engine struct {
	cfg  Config // written once by New
	rdb  rediser
	wait bool // the client ignores context deadlines; see call

	now  func() time.Time // injectable for tests
	rand func() float64   // in [0, 1)

	flights singleflight.Group // foreground fills, by key identity
	reads   singleflight.Group // concurrent GETs of one entry, by Redis key
	bg      background         // refreshes and abandoned Redis calls
	scripts scripts            // whether Redis takes scripts
	orphans orphans            // locks this process failed to release
}

// New builds an Engine from cfg. It starts no goroutine.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	e := &Engine{
		cfg:  cfg,
		rdb:  cfg.Client,
		wait: !honoursContext(cfg.Client),
		now:  time.Now,
		rand: rand.Float64,
	}
	e.bg.init(cfg.RefreshWorkers)
	if w, ok := cfg.Breaker.(stateWatcher); ok {
		w.OnStateChange(func(from, to string) {
			e.emit(context.Background(), Event{Kind: EventBreaker, From: from, To: to})
		})
	}
	return e, nil
}

// Close stops the engine from starting background work and waits for the
// refreshes already running, or for ctx to end. Lookups still work after
// Close; they only stop refreshing in the background.
func (e *Engine) Close(ctx context.Context) error {
	return e.bg.close(ctx)
}

// rediser lists exactly the Redis commands the engine uses.
type rediser interface {
	redis.Scripter
	Get(ctx context.Context, key string) *redis.StringCmd
	Pipeline() redis.Pipeliner
	Unlink(ctx context.Context, keys ...string) *redis.IntCmd
	SScan(ctx context.Context, key string, cursor uint64, match string, count int64) *redis.ScanCmd
	Publish(ctx context.Context, channel string, message any) *redis.IntCmd
	Subscribe(ctx context.Context, channels ...string) *redis.PubSub
	Watch(ctx context.Context, fn func(*redis.Tx) error, keys ...string) error
	Incr(ctx context.Context, key string) *redis.IntCmd
}

// honoursContext reports whether c bounds socket reads by the context's
// deadline. go-redis does so only with ContextTimeoutEnabled; otherwise a
// call waits for the client's ReadTimeout (and its retries) whatever the
// context says, so the engine has to stop waiting on its own.
func honoursContext(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// errBypass marks a call the engine did not send to Redis.
var errBypass = errors.New("core: redis bypassed")

// call runs one logical Redis operation: through the breaker, bounded by
// OpTimeout. op translates redis.Nil itself. A failure is reported and
// returned; the caller then carries on without Redis.
func (e *Engine) call(ctx context.Context, key string, op func(ctx context.Context) error) error {
	done := func(error) {}
	if e.cfg.Breaker != nil {
		d, err := e.cfg.Breaker.Allow()
		if err != nil {
			return fmt.Errorf("%w: breaker-open: %w", errBypass, err)
		}
		done = d
	}
	start := time.Now()
	octx, cancel := context.WithTimeout(ctx, e.cfg.OpTimeout)
	err := e.run(octx, op)
	cancel()
	switch {
	case err == nil:
		done(nil)
		return nil
	case ctx.Err() != nil: // the caller went away: not Redis's fault
		done(fmt.Errorf("core: caller gone: %w", context.Canceled))
		return ctx.Err()
	case isReply(err):
		// Redis answered, in time, with an error of its own (out of
		// memory, a refused script, still loading): the breaker guards
		// against a Redis that does not answer, and tripping it here would
		// cut off the reads a full Redis still serves.
		done(nil)
	default:
		done(err)
	}
	e.emit(ctx, Event{Kind: EventRedisError, Key: key, Duration: time.Since(start), Err: err})
	return fmt.Errorf("core: redis: %w", err)
}

// isReply reports whether err is an error reply from Redis, rather than a
// failure to get one.
func isReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, redis.Nil) && !errors.Is(err, redis.TxFailedErr)
}

// run calls op. When the client ignores deadlines, op runs on a goroutine the
// engine owns and run stops waiting when ctx ends; the goroutine finishes when
// the client gives up, and Close waits for it. op must not touch anything its
// caller reads after run returns an error.
func (e *Engine) run(ctx context.Context, op func(ctx context.Context) error) error {
	if !e.wait {
		return op(ctx)
	}
	res := make(chan error, 1)
	switch err := e.bg.goAbandonable(func() { res <- op(ctx) }); {
	case errors.Is(err, ErrClosed):
		return op(ctx) // shutting down: no goroutine to leave behind
	case err != nil:
		return err // Redis hangs: fail fast, so the breaker trips sooner
	}
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Redis key layout. The name sits in a hash tag, so an entry and its lock
// share a Cluster slot and one script may touch both. Entries end in "}",
// locks in ":lock", tag sets start with "t:{" (and their invalidation marks
// end in ":inv"); the invalidation epoch is "t:epoch". None can collide.
func (e *Engine) entryKey(name string) string { return e.cfg.Namespace + "{" + name + "}" }
func lockKey(entryKey string) string          { return entryKey + ":lock" }
func (e *Engine) tagKey(tag string) string    { return e.cfg.Namespace + "t:{" + tag + "}" }
func (e *Engine) markKey(tag string) string   { return e.tagKey(tag) + ":inv" }
func (e *Engine) epochKey() string            { return e.cfg.Namespace + "t:epoch" }
func (e *Engine) channel() string             { return e.cfg.Namespace + "invalidate" }

// background owns every goroutine the engine starts.
type background struct {
	mu        sync.Mutex
	closed    bool                // protected by mu
	refreshes map[string]struct{} // keys being refreshed; protected by mu
	workers   chan struct{}       // refresh slots
	calls     chan struct{}       // slots for abandonable Redis calls
	wg        sync.WaitGroup
}

func (b *background) init(workers int) {
	b.refreshes = make(map[string]struct{})
	b.workers = make(chan struct{}, workers)
	b.calls = make(chan struct{}, 4*workers+256)
}

// goRefresh runs fn for key unless the engine is closed, key is already being
// refreshed, or every worker is busy; it returns "" or which of those it was.
// It never waits.
func (b *background) goRefresh(key string, fn func()) (skipped string) {
	return b.goRefreshMany([]string{key}, func([]string) { fn() })
}

// goRefreshMany claims the keys not being refreshed and runs fn with them on
// one worker, like goRefresh.
func (b *background) goRefreshMany(keys []string, fn func(claimed []string)) (skipped string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return "closed"
	}
	var claimed []string
	for _, k := range keys {
		if _, busy := b.refreshes[k]; !busy {
			claimed = append(claimed, k)
		}
	}
	if len(claimed) == 0 {
		return "running"
	}
	select {
	case b.workers <- struct{}{}:
	default:
		return "pool-full"
	}
	for _, k := range claimed {
		b.refreshes[k] = struct{}{}
	}
	b.wg.Add(1)
	go func() {
		defer func() {
			b.mu.Lock()
			for _, k := range claimed {
				delete(b.refreshes, k)
			}
			b.mu.Unlock()
			<-b.workers
			b.wg.Done()
		}()
		fn(claimed)
	}()
	return ""
}

// goAbandonable runs fn on a goroutine Close waits for. It runs nothing and
// returns errCallsFull when too many such calls are outstanding, or ErrClosed
// after Close.
func (b *background) goAbandonable(fn func()) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	select {
	case b.calls <- struct{}{}:
	default:
		return errCallsFull
	}
	b.wg.Add(1)
	go func() {
		defer func() {
			<-b.calls
			b.wg.Done()
		}()
		fn()
	}()
	return nil
}

var errCallsFull = errors.New("core: too many redis calls outstanding")

func (b *background) close(ctx context.Context) error {
	b.mu.Lock()
	already := b.closed
	b.closed = true
	b.mu.Unlock()
	if already {
		return ErrClosed
	}
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("core: close: %w", ctx.Err())
	}
}
