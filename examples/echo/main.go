// Command echo is a small multi-tenant product API on echo v4 with
// swrcache in front of its read routes:
//
//	go run ./examples/echo
//
// GET /products/:id (a 150ms lookup; fresh for 30s, then served stale for
// up to 5 minutes while it refreshes) and GET /products (fresh for 10s)
// are cached per tenant, the trusted X-Tenant header as a gateway in front
// of the app would set it. Both carry the tag "products", which
// PUT /products/:id invalidates. On start it prints curl commands to try;
// watch the Cache-Status header.
//
// It listens on ADDR (default 127.0.0.1:8080) and uses REDIS_URL, else a
// Redis on 127.0.0.1:6379, else an embedded in-memory Redis (miniredis),
// and says which.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
)

func main() {
	rdb, stop := connect()
	defer stop()
	br, err := breaker.New(breaker.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	// A namespace of its own per run, so an earlier run's entries in a
	// shared Redis never show up; they expire on their own.
	engine, err := core.New(core.Config{Client: rdb, Namespace: fmt.Sprintf("swr-example:echo:%d:", time.Now().UnixNano()), Breaker: br})
	if err != nil {
		log.Fatal(err)
	}
	app, err := newApp(engine, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", cmp.Or(os.Getenv("ADDR"), "127.0.0.1:8080"))
	if err != nil {
		log.Fatal(err)
	}
	base := "http://" + dialable(ln.Addr())
	fmt.Printf("listening on %s; try:\n\n", base)
	fmt.Printf("  curl -i -H 'X-Tenant: acme' %s/products/1    # Cache-Status: swrcache; fwd=uri-miss; stored (150ms)\n", base)
	fmt.Printf("  curl -i -H 'X-Tenant: acme' %s/products/1    # Cache-Status: swrcache; hit; ttl=29\n", base)
	fmt.Printf("  curl -i -X PUT -H 'X-Tenant: acme' -H 'Content-Type: application/json' -d '{\"name\":\"new\"}' %s/products/1\n", base)
	fmt.Printf("  curl -i -H 'X-Tenant: acme' %s/products/1    # a miss again, with the new name\n", base)
	fmt.Printf("  curl -i -H 'X-Tenant: globex' %s/products/1  # another tenant, another entry\n", base)
	fmt.Printf("  curl -i -H 'X-Tenant: acme' %s/products\n\n", base)

	srv := &http.Server{Handler: app, ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	go func() {
		<-ctx.Done()
		shut, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Print(err)
	}
	closeCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = engine.Close(closeCtx) // wait for background refreshes
	fmt.Println("bye")
}

// dialable turns a listener's address into one curl can reach: an
// unspecified host (":8080", "0.0.0.0") becomes 127.0.0.1.
func dialable(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// connect returns a client for REDIS_URL, else 127.0.0.1:6379, else an
// embedded miniredis.
func connect() (redis.UniversalClient, func()) {
	opts := &redis.Options{Addr: "127.0.0.1:6379"}
	if u := os.Getenv("REDIS_URL"); u != "" {
		o, err := redis.ParseURL(u)
		if err != nil {
			log.Fatalf("REDIS_URL: %v", err)
		}
		opts = o
	}
	// A cache client: context deadlines honoured, no retries (the breaker
	// handles a sick Redis).
	opts.ContextTimeoutEnabled, opts.MaxRetries, opts.DialerRetries = true, -1, 1
	conn, err := net.DialTimeout("tcp", opts.Addr, 500*time.Millisecond)
	if err == nil {
		_ = conn.Close()
		fmt.Printf("using Redis at %s\n", opts.Addr)
		rdb := redis.NewClient(opts)
		return rdb, func() { _ = rdb.Close() }
	}
	if os.Getenv("REDIS_URL") != "" {
		log.Fatalf("REDIS_URL: %v", err)
	}
	mr, err := miniredis.Run()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("no Redis at %s: using an embedded in-memory Redis (set REDIS_URL to use yours)\n", opts.Addr)
	opts.Addr = mr.Addr()
	rdb := redis.NewClient(opts)
	return rdb, func() { _ = rdb.Close(); mr.Close() }
}
