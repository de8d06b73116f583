package promcache_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/swrcache/swrcache/adapters/httpcache"
	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/benchcpu"
	"github.com/swrcache/swrcache/internal/redistest"
	"github.com/swrcache/swrcache/otelcache"
	"github.com/swrcache/swrcache/promcache"
)

var page = bytes.Repeat([]byte("<p>lorem ipsum</p>"), 60)

// BenchmarkHitTelemetry is a cached hit through the net/http adapter,
// inside a recorded server span as otelhttp would start one, with the
// metrics and trace hooks off and then on: the cost of watching the cache.
// Compare cpu-ns/op of the two in one run:
//
//	go test -run '^$' -bench HitTelemetry -count 8 ./promcache/
func BenchmarkHitTelemetry(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) { benchHit(b, on) })
	}
}

func benchHit(b *testing.B, on bool) {
	rec := tracetest.NewSpanRecorder() // keeps ended spans: reset below so memory stays flat
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	br, _ := breaker.New(breaker.Config{})
	cfg := core.Config{Client: redistest.Client(b), Namespace: redistest.Prefix(b), Breaker: br}
	if on {
		m, err := promcache.New(promcache.Config{Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		cfg.OnEvent = core.Hooks(m.Hook, otelcache.New(otelcache.Config{TracerProvider: tp}).Hook)
	}
	e, err := core.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close(context.Background()) })
	mw, err := httpcache.New(e, httpcache.Config{Policy: core.Policy{TTL: time.Hour, Resource: "GET /pages/{id}"}, Key: httpcache.KeySpec{Resource: "pages"}})
	if err != nil {
		b.Fatal(err)
	}
	cached := mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(page) }))
	tracer := tp.Tracer("server")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tracer.Start(r.Context(), "GET /pages/{id}", trace.WithSpanKind(trace.SpanKindServer))
		cached.ServeHTTP(w, r.WithContext(ctx))
		span.End()
	})
	req := httptest.NewRequest(http.MethodGet, "/pages/1", nil)
	h.ServeHTTP(httptest.NewRecorder(), req)
	rec.Reset()
	b.ResetTimer()
	defer benchcpu.Start(b)()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK || w.Body.Len() != len(page) {
				b.Errorf("got %d, %d bytes", w.Code, w.Body.Len())
				return
			}
			if i%1024 == 0 {
				rec.Reset()
			}
		}
	})
}
