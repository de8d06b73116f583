package redistest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

const (
	// defaultAddr is where a local Redis is looked for when REDIS_URL is unset.
	defaultAddr = "127.0.0.1:6379"
	envURL      = "REDIS_URL"
	envCluster  = "SWRCACHE_REDIS_CLUSTER"
	envRequire  = "SWRCACHE_REQUIRE_REDIS"
	probeWait   = 500 * time.Millisecond
)

// server describes the Redis the tests of this process use.
type server struct {
	addr     string
	cluster  []string // the seed nodes, when the tests run against a Redis Cluster
	embedded bool
	username string
	password string
	db       int
	tls      *tls.Config
	err      error // set when no usable server was found
}

// options returns the recommended client options for s, with the
// credentials, database and TLS settings taken from REDIS_URL.
func (s server) options() *redis.Options {
	o := Options(s.addr)
	o.Username = s.username
	o.Password = s.password
	o.DB = s.db
	if s.tls != nil {
		o.TLSConfig = s.tls.Clone()
	}
	return o
}

// resolver finds the server once and remembers the answer.
type resolver struct {
	probeAddr string
	getenv    func(string) string
	notice    io.Writer

	once     sync.Once
	srv      server
	embedded atomic.Bool
	mini     *miniredis.Miniredis
}

// std is the resolver behind the package-level functions.
var std = &resolver{probeAddr: defaultAddr, getenv: os.Getenv, notice: os.Stderr}

// Addr returns the host:port of the Redis the tests use: the server named
// by REDIS_URL when it is set; else 127.0.0.1:6379 if something answers
// PING there; else an embedded miniredis started once per test process
// (unless SWRCACHE_REQUIRE_REDIS=1, in which case the test fails). The
// decision is made on the first call and kept for the whole process. When
// the tests run against a Redis Cluster (SWRCACHE_REDIS_CLUSTER), there is
// no one address, and Addr skips the test: it is for tests that need a
// single node (a fault proxy in front of it, say).
func Addr(t testing.TB) string {
	t.Helper()
	s := std.server(t)
	if s.cluster != nil {
		t.Skipf("needs a single Redis node; %s runs the tests against a cluster", envCluster)
	}
	return s.addr
}

// IsCluster reports whether the tests run against a Redis Cluster.
func IsCluster(t testing.TB) bool {
	t.Helper()
	return std.server(t).cluster != nil
}

// Embedded reports whether the tests run against the embedded miniredis
// rather than a real Redis. It is meaningful only after Addr (or Client,
// or Prefix) was called; before that it reports false.
func Embedded() bool {
	return std.embedded.Load()
}

// Options returns the client options the project recommends for a cache,
// pointing at addr: commands honour context deadlines, nothing is retried,
// and dial, read and write time out after one second, so that a sick Redis
// costs a request at most about a second instead of stalling it.
func Options(addr string) *redis.Options {
	return &redis.Options{
		Addr:                  addr,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1, // -1 means no retries; 0 would mean 3.
		DialTimeout:           time.Second,
		DialerRetries:         1, // One dial attempt; 0 would mean 5.
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		PoolSize:              16,
		PoolTimeout:           2 * time.Second,
	}
}

// Client returns a client for the Redis the tests use, built from Options
// (plus the credentials and database of REDIS_URL) with each opt applied in
// turn: a *redis.Client for a single node, a *redis.ClusterClient (with the
// same settings) for a cluster. The client is closed when the test ends;
// closing it earlier is fine.
func Client(t testing.TB, opts ...func(*redis.Options)) redis.UniversalClient {
	t.Helper()
	s := std.server(t)
	o := s.options()
	for _, opt := range opts {
		opt(o)
	}
	c := newClient(s, o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newClient returns a client of s with options o.
func newClient(s server, o *redis.Options) redis.UniversalClient {
	if s.cluster != nil {
		return redis.NewClusterClient(clusterOptions(s.cluster, o))
	}
	return redis.NewClient(o)
}

// NodeClient returns a client for addr, which stands for the test server
// (a fault proxy in front of it), with the credentials and database of
// REDIS_URL and each opt applied in turn. The client is closed when the
// test ends.
func NodeClient(t testing.TB, addr string, opts ...func(*redis.Options)) *redis.Client {
	t.Helper()
	o := std.server(t).options()
	o.Addr = addr
	for _, opt := range opts {
		opt(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// clusterOptions carries the settings of o over to a cluster client of
// addrs.
func clusterOptions(addrs []string, o *redis.Options) *redis.ClusterOptions {
	return &redis.ClusterOptions{
		Addrs:                 addrs,
		Username:              o.Username,
		Password:              o.Password,
		TLSConfig:             o.TLSConfig,
		ContextTimeoutEnabled: o.ContextTimeoutEnabled,
		MaxRetries:            o.MaxRetries,
		DialTimeout:           o.DialTimeout,
		ReadTimeout:           o.ReadTimeout,
		WriteTimeout:          o.WriteTimeout,
		PoolSize:              o.PoolSize,
		PoolTimeout:           o.PoolTimeout,
	}
}

// LeakOptions returns the goleak options that a package whose tests use
// this package should pass to goleak.VerifyTestMain: they ignore the
// embedded miniredis, which runs until the process exits, and go-redis's
// probe of a node it could not dial.
func LeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/alicebob/miniredis/v2/server.(*Server).serve"),
		// go-redis probes a node it cannot dial once a second, on a
		// goroutine of its pool that ends at the first probe after the
		// client is closed: a test that killed a node leaves one behind
		// for up to a second.
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"),
	}
}

// server returns the resolved server, failing t if there is none.
func (r *resolver) server(t testing.TB) server {
	t.Helper()
	r.once.Do(func() {
		r.srv = r.resolve()
		r.embedded.Store(r.srv.embedded)
	})
	if r.srv.err != nil {
		t.Fatal(r.srv.err)
	}
	return r.srv
}

// resolve looks for a server as Addr documents.
func (r *resolver) resolve() server {
	if raw := strings.TrimSpace(r.getenv(envCluster)); raw != "" {
		addrs := strings.Split(raw, ",")
		for _, a := range addrs {
			if err := ping(server{addr: a}); err != nil {
				return server{err: fmt.Errorf("redistest: cluster node %s of %s does not answer PING: %w", a, envCluster, err)}
			}
		}
		return server{addr: addrs[0], cluster: addrs}
	}
	if raw := strings.TrimSpace(r.getenv(envURL)); raw != "" {
		s, err := parseURL(raw)
		if err != nil {
			return server{err: fmt.Errorf("redistest: cannot parse %s=%q: %w", envURL, redact(raw), err)}
		}
		if err := ping(s); err != nil {
			return server{err: fmt.Errorf("redistest: no Redis answers PING at %s=%q: %w", envURL, redact(raw), err)}
		}
		return s
	}
	s := server{addr: r.probeAddr}
	probeErr := ping(s)
	if probeErr == nil {
		return s
	}
	if r.getenv(envRequire) == "1" {
		return server{err: fmt.Errorf("redistest: %s=1 but no Redis answers PING at %s (%v); "+
			"start one there or set %s", envRequire, r.probeAddr, probeErr, envURL)}
	}
	mini, err := miniredis.Run()
	if err != nil {
		return server{err: fmt.Errorf("redistest: no Redis at %s (%v), and the embedded miniredis did not start: %w",
			r.probeAddr, probeErr, err)}
	}
	r.mini = mini
	fmt.Fprintf(r.notice, "redistest: no Redis at %s; using an embedded miniredis "+
		"(set %s to use another server, or %s=1 to fail instead)\n", r.probeAddr, envURL, envRequire)
	return server{addr: mini.Addr(), embedded: true}
}

// parseURL reads REDIS_URL: a redis:// or rediss:// URL, or a bare host:port.
func parseURL(raw string) (server, error) {
	if !strings.Contains(raw, "://") {
		if _, _, err := net.SplitHostPort(raw); err != nil {
			return server{}, err
		}
		return server{addr: raw}, nil
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return server{}, err
	}
	return server{
		addr:     o.Addr,
		username: o.Username,
		password: o.Password,
		db:       o.DB,
		tls:      o.TLSConfig,
	}, nil
}

// redact hides the password of a URL, for error messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// ping reports whether s answers PING. A plain TCP dial comes first so that
// an absent server is detected without go-redis logging dial failures.
func ping(s server) error {
	conn, err := net.DialTimeout("tcp", s.addr, probeWait)
	if err != nil {
		return err
	}
	_ = conn.Close()

	o := s.options()
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = probeWait, probeWait, probeWait
	o.PoolSize = 1
	c := redis.NewClient(o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*probeWait)
	defer cancel()
	pong, err := c.Ping(ctx).Result()
	if err != nil {
		return err
	}
	if pong != "PONG" {
		return errors.New("unexpected reply to PING: " + pong)
	}
	return nil
}
