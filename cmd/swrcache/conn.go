package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/core"
)

// conn holds the connection flags every subcommand takes.
type conn struct {
	redisURL  string
	cluster   string
	namespace string
	timeout   time.Duration
}

func (c *conn) register(fs *flag.FlagSet) {
	fs.StringVar(&c.redisURL, "redis", "", // the default is resolved late, so -h never prints a password
		"Redis `URL` (redis:// or rediss://, with user, password and database); default $REDIS_URL, else redis://127.0.0.1:6379")
	fs.StringVar(&c.cluster, "cluster", "",
		"comma-separated `addresses` of Redis Cluster nodes; the user, password and TLS settings of --redis apply")
	fs.StringVar(&c.namespace, "namespace", core.DefaultConfig().Namespace,
		"the engine's Config.Namespace: the `prefix` of every key and channel")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Second, "bound on each Redis command (dial, read, write)")
}

// client returns a client of the Redis the flags name: a cluster client
// with --cluster. It sends no command.
func (c *conn) client() (redis.UniversalClient, error) {
	c.redisURL = cmp.Or(c.redisURL, os.Getenv("REDIS_URL"), "redis://127.0.0.1:6379")
	if c.timeout <= 0 {
		return nil, fmt.Errorf("--timeout must be positive, got %v", c.timeout)
	}
	o, err := redis.ParseURL(c.redisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis %q: %w", redact(c.redisURL), err)
	}
	// Commands honour the context; no retry hides a sick Redis.
	o.ContextTimeoutEnabled, o.MaxRetries, o.DialerRetries = true, -1, 1
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = c.timeout, c.timeout, c.timeout
	o.PoolSize = 4
	if c.cluster == "" {
		return redis.NewClient(o), nil
	}
	var addrs []string
	for a := range strings.SplitSeq(c.cluster, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("--cluster %q names no address", c.cluster)
	}
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: addrs, Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig,
		ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1,
		DialTimeout: c.timeout, ReadTimeout: c.timeout, WriteTimeout: c.timeout, PoolSize: 4,
	}), nil
}

// where names the Redis of the flags, for messages, without a password.
func (c *conn) where() string {
	if c.cluster != "" {
		return "cluster " + c.cluster
	}
	return redact(c.redisURL)
}

// connect returns a client that answered PING, or the exit code and a
// message on stderr. A usage error is 64; no answer is 3.
func (c *conn) connect(ctx context.Context, name string, stderr io.Writer) (redis.UniversalClient, int) {
	rdb, err := c.client()
	if err != nil {
		fmt.Fprintf(stderr, "swrcache %s: %v\n", name, err)
		return nil, exitUsage
	}
	pctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		fmt.Fprintf(stderr, "swrcache %s: Redis at %s does not answer: %v\n", name, c.where(), err)
		return nil, exitUnreachable
	}
	return rdb, exitOK
}

// open connects and returns an engine in the flags' namespace, with no
// breaker (every operation goes to Redis, bounded by --timeout), and a
// function that closes both; or the exit code, with a message on stderr.
func (c *conn) open(ctx context.Context, name string, stderr io.Writer) (*core.Engine, func(), int) {
	rdb, code := c.connect(ctx, name, stderr)
	if rdb == nil {
		return nil, nil, code
	}
	e, err := core.New(core.Config{Client: rdb, Namespace: c.namespace, OpTimeout: c.timeout})
	if err != nil {
		_ = rdb.Close()
		fmt.Fprintf(stderr, "swrcache %s: --namespace: %v\n", name, err)
		return nil, nil, exitUsage
	}
	return e, func() {
		cctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		_ = e.Close(cctx) // waits for what the engine has in flight
		_ = rdb.Close()
	}, exitOK
}

// redact hides the password of a URL, for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
