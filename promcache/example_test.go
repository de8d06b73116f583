package promcache_test

import (
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/adapters/httpcache"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/otelcache"
	"github.com/swrcache/swrcache/promcache"
	"github.com/swrcache/swrcache/slogcache"
)

// Metrics, traces and logs for an app: one engine hook each, combined.
// The gin example's metrics test and otelcache's trace test are its twins.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := promcache.New(promcache.Config{Registerer: reg, Redis: rdb}) // Redis: INFO gauges at scrape time
	if err != nil {
		log.Fatal(err)
	}
	traces := otelcache.New(otelcache.Config{}) // spans go to the global TracerProvider
	logger := slog.New(slogcache.NewHandler(slog.NewJSONHandler(os.Stdout, nil)))
	engine, err := core.New(core.Config{
		Client:  rdb,
		OnEvent: core.Hooks(metrics.Hook, traces.Hook, slogcache.Hook),
		OnWork:  traces.Work, // fill and refresh spans, the loader's own spans under them
	})
	if err != nil {
		log.Fatal(err)
	}
	cache, err := httpcache.New(engine, httpcache.Config{
		Policy: core.Policy{TTL: time.Minute},
		Key:    httpcache.KeySpec{Resource: "product"}, // also the resource in metrics, spans and logs
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /products/{id}", cache(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"id":"` + r.PathValue("id") + `"}`))
	})))
	access := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		logger.InfoContext(r.Context(), "request", "path", r.URL.Path) // carries trace_id, cache_hit, cache_status
	})
	// Wrap in otelhttp.NewHandler for the server spans the outcomes are set on.
	log.Fatal(http.ListenAndServe(":8080", slogcache.Middleware(access)))
}
