// Package exampleapp is the plumbing the runnable examples share, so that
// each example shows only how it uses swrcache: finding a Redis (or
// starting an embedded one), building an engine, and serving until Ctrl-C.
package exampleapp

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
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/promcache"
)

// Redis returns a client for REDIS_URL, else for 127.0.0.1:6379, else for
// an embedded in-memory Redis (miniredis), saying which, and a function that
// closes it. The client is set up as a cache client should be: context
// deadlines honoured, no retries (the breaker handles a sick Redis).
func Redis() (redis.UniversalClient, func()) {
	opts := &redis.Options{Addr: "127.0.0.1:6379"}
	if u := os.Getenv("REDIS_URL"); u != "" {
		o, err := redis.ParseURL(u)
		if err != nil {
			log.Fatalf("REDIS_URL: %v", err)
		}
		opts = o
	}
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

// Engine builds an engine with the default breaker on Redis(), under a
// namespace of its own per run (so an earlier run's entries in a shared
// Redis never show up; they expire on their own), with its metrics; the
// handler serves them for Prometheus to scrape at /metrics. The function
// waits for background refreshes and closes everything.
func Engine(name string) (*core.Engine, http.Handler, func()) {
	rdb, closeRedis := Redis()
	br, err := breaker.New(breaker.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	reg, metrics, err := metricsOn(rdb)
	if err != nil {
		log.Fatal(err)
	}
	ns := fmt.Sprintf("swr-example:%s:%d:", name, time.Now().UnixNano())
	e, err := core.New(core.Config{Client: rdb, Breaker: br, OnEvent: metrics.Hook, Namespace: ns,
		Memory: core.MemoryConfig{MaxBytes: 64 << 20}}) // hits from memory say detail=memory
	if err != nil {
		log.Fatal(err)
	}
	if err := metrics.WatchMemory(e); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("namespace %s (for swrcache inspect --namespace)\n", ns)
	return e, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.Close(ctx)
		closeRedis()
	}
}

// Metrics returns a registry holding the Go runtime and process metrics
// and swrcache's (with the Redis server gauges of rdb), and the engine
// hook that feeds them.
func Metrics(rdb redis.UniversalClient) (*prometheus.Registry, func(context.Context, core.Event), error) {
	reg, m, err := metricsOn(rdb)
	if err != nil {
		return nil, nil, err
	}
	return reg, m.Hook, nil
}

func metricsOn(rdb redis.UniversalClient) (*prometheus.Registry, *promcache.Metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := promcache.New(promcache.Config{Registerer: reg, Redis: rdb})
	return reg, m, err
}

// Serve listens on ADDR (default 127.0.0.1:8080), prints the lines that
// try returns for the server's base URL, and serves h until SIGINT or
// SIGTERM.
func Serve(h http.Handler, try func(base string) []string) {
	ln, err := net.Listen("tcp", cmp.Or(os.Getenv("ADDR"), "127.0.0.1:8080"))
	if err != nil {
		log.Fatal(err)
	}
	base := "http://" + dialable(ln.Addr())
	fmt.Printf("listening on %s; try:\n\n", base)
	for _, line := range try(base) {
		fmt.Println("  " + line)
	}
	fmt.Println()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
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
