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
// metrics and trace hooks off, each alone, and both on: the cost of
// watching the cache. Compare cpu-ns/op in one run:
//
//	go test -run '^$' -bench HitTelemetry -count 8 ./promcache/
func BenchmarkHitTelemetry(b *testing.B) {
	for _, mode := range []struct {
		name        string
		prom, trace bool
	}{{"off", false, false}, {"prometheus", true, false}, {"otel", false, true}, {"on", true, true}} {
		b.Run(mode.name, func(b *testing.B) { benchHit(b, mode.prom, mode.trace) })
	}
}

func benchHit(b *testing.B, prom, traced bool) {
	rec := tracetest.NewSpanRecorder() // keeps ended spans: reset below so memory stays flat
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	br, _ := breaker.New(breaker.Config{})
	cfg := core.Config{Client: redistest.Client(b), Namespace: redistest.Prefix(b), Breaker: br}
	var hooks []func(context.Context, core.Event)
	if prom {
		m, err := promcache.New(promcache.Config{Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		hooks = append(hooks, m.Hook)
	}
	if traced {
		tr := otelcache.New(otelcache.Config{TracerProvider: tp})
		hooks = append(hooks, tr.Hook)
		cfg.OnWork = tr.Work
	}
	if len(hooks) > 0 {
		cfg.OnEvent = core.Hooks(hooks...)
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

// BenchmarkHookCost is what each hook adds to one lookup, measured alone:
// on this machine the whole hit's cpu-ns/op swings by more than the hooks
// cost, so BenchmarkHitTelemetry's difference is bounded by these figures.
// The otel pair starts and ends a recorded server span per operation,
// without and with the outcome's attributes.
func BenchmarkHookCost(b *testing.B) {
	ev := core.Event{Kind: core.EventHit, Resource: "pages", Duration: 300 * time.Microsecond}
	b.Run("prometheus", func(b *testing.B) {
		m, err := promcache.New(promcache.Config{Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Hook(ctx, ev)
			}
		})
	})
	tp := sdktrace.NewTracerProvider()
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tracer, traces := tp.Tracer("server"), otelcache.New(otelcache.Config{TracerProvider: tp})
	for _, hooked := range []bool{false, true} {
		name := "span"
		if hooked {
			name = "span+otel"
		}
		b.Run(name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ctx, span := tracer.Start(context.Background(), "GET /pages/{id}")
					if hooked {
						traces.Hook(ctx, ev)
					}
					span.End()
				}
			})
		})
	}
}
