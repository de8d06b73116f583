package core

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// Config configures an Engine. Every field but Client has a zero value that
// means something sensible; DefaultConfig spells the defaults out.
type Config struct {
	// Client is the Redis client: a single node, Sentinel or Cluster. Required.
	// The engine never closes it: whoever creates the client closes it.
	Client redis.UniversalClient

	// Namespace prefixes every Redis key and channel the engine uses. It may
	// not contain '{' or '}', which would change the hash tags that keep an
	// entry and its lock in one Redis Cluster slot. "" means "swr:".
	Namespace string

	// Breaker guards Redis; see Breaker. nil means no breaker: every operation
	// goes to Redis and only OpTimeout bounds it. Use breaker.New in production.
	Breaker Breaker

	// OpTimeout bounds every Redis operation, whatever the client's own
	// timeouts. 0 means 200ms.
	OpTimeout time.Duration

	// LoadTimeout bounds a loader call that runs on the engine's behalf: a
	// Fetch's shared fill (on a context detached from the callers) or a
	// background refresh. Callers still stop waiting when their own context
	// ends. A Lookup's fill runs on its leader's context instead. 0 means 10s.
	LoadTimeout time.Duration

	// LockTTL is the life of the Redis lock a fill or refresh holds so that
	// one instance loads a key at a time. A loader slower than this lets
	// another instance take over (one extra load, never a wrong value).
	// 0 means 5s.
	LockTTL time.Duration

	// LockWait is how long a caller that lost the lock to another instance
	// waits for that instance's value before loading it itself. It may not
	// exceed LockTTL: a lock whose holder stalls expires, and a waiter then
	// takes it over. 0 means LockTTL.
	LockWait time.Duration

	// RefreshWorkers bounds the background refreshes running at once. When
	// all are busy a refresh is skipped, never queued, and the stale value
	// keeps being served. 0 means 64.
	RefreshWorkers int

	// Memory turns on the memory tier: entries kept in the process in
	// front of Redis (see MemoryConfig). The zero value means none.
	Memory MemoryConfig

	// Codec encodes the values of Fetch and FetchMany. nil means msgpack.
	Codec Codec

	// OnEvent receives every event (see Event); Hooks combines several. It
	// runs on the goroutine of the work it reports and must not block. A
	// panic in it is stopped there (and logged with Logger): it never
	// reaches the caller nor counts as the loader's. nil means no hook.
	OnEvent func(ctx context.Context, e Event)

	// OnWork, when set, is called as the engine starts a load: a fill's
	// loader call or a background refresh (see Work). It returns the
	// context the load runs on, one that carries a tracing span say, and
	// the function the engine calls with the load's error when it ends.
	// otelcache's Tracer.Work is one: the loader's own spans then nest
	// under the fill's, and a refresh gets a trace of its own. nil means
	// none.
	OnWork func(ctx context.Context, w Work) (context.Context, func(err error))

	// Logger, when set, logs failures at Warn and everything else at Debug.
	// nil means the engine never logs.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every default filled in but Client.
func DefaultConfig() Config {
	return Config{
		Namespace:      "swr:",
		OpTimeout:      200 * time.Millisecond,
		LoadTimeout:    10 * time.Second,
		LockTTL:        5 * time.Second,
		LockWait:       5 * time.Second,
		RefreshWorkers: 64,
		Codec:          MsgpackCodec{},
	}
}

// Validate reports the first problem with c, or nil.
func (c Config) Validate() error {
	switch {
	case c.Client == nil:
		return errors.New("core: Config.Client is required")
	case strings.ContainsAny(c.Namespace, "{}"):
		return fmt.Errorf("core: Config.Namespace %q must not contain '{' or '}': Redis Cluster would hash an entry and its lock to different slots", c.Namespace)
	case c.OpTimeout < 0:
		return fmt.Errorf("core: Config.OpTimeout must not be negative, got %v; 0 means 200ms", c.OpTimeout)
	case c.LoadTimeout < 0:
		return fmt.Errorf("core: Config.LoadTimeout must not be negative, got %v; 0 means 10s", c.LoadTimeout)
	case c.LockTTL < 0:
		return fmt.Errorf("core: Config.LockTTL must not be negative, got %v; 0 means 5s", c.LockTTL)
	case c.LockWait < 0:
		return fmt.Errorf("core: Config.LockWait must not be negative, got %v; 0 means LockTTL", c.LockWait)
	case c.LockTTL > 0 && c.LockTTL < time.Millisecond:
		return errors.New("core: Config.LockTTL must be at least 1ms")
	case c.RefreshWorkers < 0:
		return errors.New("core: Config.RefreshWorkers must not be negative")
	}
	if err := c.Memory.validate(); err != nil {
		return err
	}
	if ttl := cmp.Or(c.LockTTL, DefaultConfig().LockTTL); c.LockWait > ttl {
		return fmt.Errorf("core: Config.LockWait (%v) must not exceed LockTTL (%v): a waiter takes the lock over once it expires; raise LockTTL to wait longer", c.LockWait, ttl)
	}
	return nil
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Namespace == "" {
		c.Namespace = d.Namespace
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = d.OpTimeout
	}
	if c.LoadTimeout == 0 {
		c.LoadTimeout = d.LoadTimeout
	}
	if c.LockTTL == 0 {
		c.LockTTL = d.LockTTL
	}
	if c.LockWait == 0 {
		c.LockWait = c.LockTTL
	}
	if c.RefreshWorkers == 0 {
		c.RefreshWorkers = d.RefreshWorkers
	}
	if c.Codec == nil {
		c.Codec = d.Codec
	}
	return c
}

// Policy says how long one item stays fresh and how it may be served after.
// The zero value is invalid: TTL is required.
type Policy struct {
	// TTL is how long an item is fresh. Required, at least 1ms.
	TTL time.Duration

	// StaleWhileRevalidate is how long after TTL a stale item is still served
	// at once while a background refresh replaces it. 0 means never.
	StaleWhileRevalidate time.Duration

	// StaleIfError is how long after TTL a stale item is served when the
	// loader fails. 0 means never.
	StaleIfError time.Duration

	// RefreshAhead starts a background refresh this long before the item
	// stops being fresh, so hot items never expire. It must be shorter than
	// TTL. 0 means min(30s, TTL/10); negative means never, XFetch's earlier
	// start included.
	RefreshAhead time.Duration

	// Beta scales the probabilistic early refresh (XFetch) that may start a
	// refresh before the RefreshAhead window, more likely the slower the
	// loader. 0 means 1; negative turns it off.
	Beta float64

	// Tags are recorded with every item stored under this policy, so
	// InvalidateTags can remove them together.
	Tags []string

	// Memory is how long an entry may be served from the engine's memory
	// tier after it was read from Redis: the most a copy may lag behind
	// Redis when an invalidation's notice is late. 0 means the engine's
	// MemoryConfig.MaxAge; negative keeps this policy's entries out of
	// memory. Without a memory tier it is ignored.
	Memory time.Duration

	// Resource names what this policy caches, such as a data set
	// ("user-profile") or a route ("GET /products/{id}"), in its events,
	// and so in metrics, spans and logs. It must come from code, never from
	// a request: metrics keep a series per resource. "" means unnamed; the
	// HTTP layer uses the route's Key.Resource.
	Resource string

	keep time.Duration // Lifetime.Keep of the item stored under it (policyFor)
}

// Validate reports the first problem with p, or nil.
func (p Policy) Validate() error {
	switch {
	case p.TTL < time.Millisecond:
		return fmt.Errorf("core: Policy.TTL must be at least 1ms, got %v", p.TTL)
	case p.StaleWhileRevalidate < 0 || p.StaleIfError < 0:
		return errors.New("core: Policy.StaleWhileRevalidate and StaleIfError must not be negative")
	case p.RefreshAhead >= p.TTL:
		return fmt.Errorf("core: Policy.RefreshAhead (%v) must be shorter than TTL (%v): every hit would start a refresh; 0 means min(30s, TTL/10), negative turns it off", p.RefreshAhead, p.TTL)
	case math.IsNaN(p.Beta) || math.IsInf(p.Beta, 0):
		return errors.New("core: Policy.Beta must be a finite number")
	case len(p.Resource) > 256 || !utf8.ValidString(p.Resource):
		return fmt.Errorf("core: Policy.Resource %.32q... must be valid UTF-8 of at most 256 bytes", p.Resource)
	}
	for _, t := range p.Tags {
		if err := validTag(t); err != nil {
			return fmt.Errorf("core: Policy.Tags: %w", err)
		}
	}
	return nil
}

func (p Policy) refreshAhead() time.Duration {
	switch {
	case p.RefreshAhead < 0:
		return 0
	case p.RefreshAhead > 0:
		return p.RefreshAhead
	}
	return min(30*time.Second, p.TTL/10)
}

func (p Policy) beta() float64 {
	if p.Beta == 0 {
		return 1
	}
	return max(p.Beta, 0)
}

// validTag reports why t cannot be a tag; the error is for the caller to
// prefix.
func validTag(t string) error {
	switch {
	case t == "":
		return errors.New("a tag must not be empty")
	case len(t) > 256:
		return fmt.Errorf("tag %.32q... is %d bytes, more than 256", t, len(t))
	}
	return nil
}
