package core

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
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
// value is not usable. Close waits for the work in flight.
type Engine struct {
	cfg      Config // written once by New
	rdb      rediser
	cluster  *redis.ClusterClient // the client, when it is a Cluster's
	nodes    nodeBreaker          // the breaker, when it keeps a state per node and the client is a Cluster's
	reloaded atomic.Int64         // when the cluster's layout was last reloaded (Unix ns)
	wait     bool                 // the client ignores context deadlines; see run
	observed bool                 // something receives events: outcomes are timed
	id       string               // this engine, in the notices it publishes

	now  func() time.Time // injectable for tests
	rand func() float64   // in [0, 1)

	flights flights            // fills in flight in this process, by key identity
	reads   singleflight.Group // concurrent GETs of one entry, by Redis key
	gets    getQueue           // GETs of entries sent together
	bg      background         // the engine's goroutines, and fills Close waits for
	scripts scripts            // whether Redis takes scripts
	orphans orphans            // locks this process failed to release
	pending pending            // invalidations that could not reach Redis yet
	health  healths            // whether Redis failed lately, by node
	mem     *memory            // the memory tier, or nil
}

// New builds an Engine from cfg. It starts no goroutine, unless the memory
// tier is on: then one subscription to the invalidation notices, which
// Close ends.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	e := &Engine{
		cfg:      cfg,
		rdb:      cfg.Client,
		wait:     !honoursContext(cfg.Client),
		observed: cfg.OnEvent != nil || cfg.Logger != nil,
		id:       newToken(),
		now:      time.Now,
		rand:     rand.Float64,
	}
	e.bg.init(cfg.RefreshWorkers)
	e.pending.init()
	if cfg.Memory.MaxBytes > 0 {
		m, err := newMemory(cfg.Memory)
		if err != nil {
			return nil, err
		}
		e.mem = m
		ctx, cancel := context.WithCancel(context.Background())
		m.stop, m.done = cancel, make(chan struct{})
		go e.subscribeMemory(ctx) // owned: Close ends it
	}
	if cc, ok := cfg.Client.(*redis.ClusterClient); ok {
		e.cluster = cc
		e.nodes, _ = cfg.Breaker.(nodeBreaker)
	}
	switch w := cfg.Breaker.(type) {
	case nodeStateWatcher:
		w.OnNodeStateChange(func(node, from, to string) {
			e.emit(context.Background(), Event{Kind: EventBreaker, From: from, To: to, Detail: node})
		})
	case stateWatcher:
		w.OnStateChange(func(from, to string) {
			e.emit(context.Background(), Event{Kind: EventBreaker, From: from, To: to})
		})
	}
	return e, nil
}

// Close stops the engine from starting background work and waits for what
// is in flight: fills, background refreshes and abandoned Redis calls, or
// for ctx to end. Lookups still work after Close; they only stop
// refreshing in the background, and a Fetch's fill then runs on its
// caller's goroutine; they no longer use the memory tier. A second Close
// returns ErrClosed.
func (e *Engine) Close(ctx context.Context) error {
	err := e.bg.close(ctx)
	if merr := e.closeMemory(ctx); err == nil {
		err = merr
	}
	return err
}

// rediser lists exactly the Redis commands the engine uses.
type rediser interface {
	redis.Scripter
	Get(ctx context.Context, key string) *redis.StringCmd
	SetArgs(ctx context.Context, key string, value any, a redis.SetArgs) *redis.StatusCmd
	Pipeline() redis.Pipeliner
	Unlink(ctx context.Context, keys ...string) *redis.IntCmd
	SScan(ctx context.Context, key string, cursor uint64, match string, count int64) *redis.ScanCmd
	Publish(ctx context.Context, channel string, message any) *redis.IntCmd
	Subscribe(ctx context.Context, channels ...string) *redis.PubSub
	Watch(ctx context.Context, fn func(*redis.Tx) error, keys ...string) error
	Time(ctx context.Context) *redis.TimeCmd
}

// noder is the commands the engine sends to one node of a Cluster alone.
type noder interface {
	Pipeline() redis.Pipeliner
	Time(ctx context.Context) *redis.TimeCmd
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

// Redis key layout. The name sits in a hash tag, so an entry and its lock
// share a Cluster slot and one script may touch both. Entries end in "}",
// locks in ":lock", tag sets start with "t:{" (and their invalidation marks
// end in ":inv"). None can collide.
func (e *Engine) entryKey(name string) string { return e.cfg.Namespace + "{" + name + "}" }
func lockKey(entryKey string) string          { return entryKey + ":lock" }
func (e *Engine) tagKey(tag string) string    { return e.cfg.Namespace + "t:{" + tag + "}" }
func (e *Engine) markKey(tag string) string   { return e.tagKey(tag) + ":inv" }
func (e *Engine) channel() string             { return e.cfg.Namespace + "invalidate" }
