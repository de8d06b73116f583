package otelcache

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/swrcache/swrcache/core"
)

// ScopeName is the instrumentation scope of the spans this package makes.
const ScopeName = "github.com/swrcache/swrcache/otelcache"

// The attributes set on spans. OpenTelemetry has no semantic convention
// for caches yet, so they live in a namespace of their own.
const (
	AttrResource = attribute.Key("swrcache.resource") // core.Policy.Resource or the route
	AttrOutcome  = attribute.Key("swrcache.outcome")  // hit, stale, stale-if-error, miss, collapsed, bypass
	AttrStale    = attribute.Key("swrcache.stale")    // a stale entry was served
	AttrHit      = attribute.Key("swrcache.hit")      // served from the cache without waiting for a load
	AttrDetail   = attribute.Key("swrcache.detail")   // why: a bypass reason, "expired", how a lock wait ended
	AttrKeys     = attribute.Key("swrcache.keys")     // the keys of a batch load
)

// Config says where spans go.
type Config struct {
	// TracerProvider makes the spans. nil means the global provider.
	TracerProvider trace.TracerProvider
}

// Tracer turns engine events into span attributes and spans. Hook is its
// core.Config.OnEvent, Work its core.Config.OnWork. It is safe for
// concurrent use.
type Tracer struct {
	tracer   trace.Tracer
	outcomes sync.Map     // outcomeKey → []attribute.KeyValue, read-only once stored
	n        atomic.Int32 // entries in outcomes, to bound it
}

type outcomeKey struct {
	resource, detail string
	kind             core.EventKind
}

// maxOutcomes bounds the attribute sets kept for reuse.
const maxOutcomes = 4096

// outcome returns the span attributes of an outcome event, made once per
// resource, outcome and detail.
func (t *Tracer) outcome(ev core.Event) []attribute.KeyValue {
	k := outcomeKey{ev.Resource, ev.Detail, ev.Kind}
	if a, ok := t.outcomes.Load(k); ok {
		return a.([]attribute.KeyValue)
	}
	attrs := []attribute.KeyValue{
		AttrResource.String(ev.Resource), AttrOutcome.String(ev.Kind.String()),
		AttrHit.Bool(ev.Kind.Served()), AttrStale.Bool(ev.Kind == core.EventStale || ev.Kind == core.EventStaleIfError),
	}
	if ev.Detail != "" {
		attrs = append(attrs, AttrDetail.String(ev.Detail))
	}
	if t.n.Add(1) <= maxOutcomes {
		t.outcomes.Store(k, attrs)
	}
	return attrs
}

// New returns a Tracer for cfg.
func New(cfg Config) *Tracer {
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &Tracer{tracer: tp.Tracer(ScopeName)}
}

// Hook records ev on the span of ctx; set it as core.Config.OnEvent (with
// core.Hooks to combine it with others).
//
//   - An outcome sets attributes on the current span (the server span of
//     the request, from otelhttp, otelgin or otelecho): resource, outcome,
//     hit, stale and the detail. Never the key: it may name a user.
//   - A lock wait becomes a child span of the current span,
//     "swrcache.lock_wait", timed by the event's duration.
//   - A Redis error, a corrupt entry and a skipped refresh become events
//     on the current span.
//
// Fills and refreshes get their spans from Work.
func (t *Tracer) Hook(ctx context.Context, ev core.Event) {
	switch {
	case ev.Kind.Outcome():
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.SetAttributes(t.outcome(ev)...)
		}
	case ev.Kind == core.EventLockContended:
		t.span(ctx, "swrcache.lock_wait", ev)
	case ev.Kind == core.EventRedisError || ev.Kind == core.EventCorrupt || ev.Kind == core.EventRefreshSkipped:
		span := trace.SpanFromContext(ctx)
		if !span.IsRecording() {
			return
		}
		attrs := []attribute.KeyValue{AttrResource.String(ev.Resource)}
		if ev.Detail != "" {
			attrs = append(attrs, AttrDetail.String(ev.Detail))
		}
		if ev.Err != nil {
			attrs = append(attrs, attribute.String("error.message", ev.Err.Error()))
		}
		span.AddEvent("swrcache."+ev.Kind.String(), trace.WithAttributes(attrs...))
	}
}

// Work starts the span of a load the engine starts; set it as
// core.Config.OnWork. A fill is "swrcache.fill", a child of the span of
// the request that leads it, and the loader's own spans (the handler's,
// for the HTTP layer) nest under it. A background refresh is
// "swrcache.refresh", the root of a trace of its own, linked to the
// request that found the entry stale; what the refresh does, the route's
// handler run again included, is traced under it.
func (t *Tracer) Work(ctx context.Context, w core.Work) (context.Context, func(error)) {
	attrs := []attribute.KeyValue{AttrResource.String(w.Resource)}
	if w.Keys > 1 {
		attrs = append(attrs, AttrKeys.Int(w.Keys))
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...)}
	name := "swrcache.fill"
	if w.Kind == core.WorkRefresh {
		name = "swrcache.refresh"
		opts = append(opts, trace.WithNewRoot(), trace.WithLinks(trace.LinkFromContext(ctx)))
	}
	ctx, span := t.tracer.Start(ctx, name, opts...)
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// span records ev as a finished span named name that began ev.Duration ago.
func (t *Tracer) span(ctx context.Context, name string, ev core.Event) {
	end := time.Now()
	attrs := []attribute.KeyValue{AttrResource.String(ev.Resource)}
	if ev.Detail != "" {
		attrs = append(attrs, AttrDetail.String(ev.Detail))
	}
	_, span := t.tracer.Start(ctx, name, trace.WithTimestamp(end.Add(-ev.Duration)),
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	if ev.Err != nil {
		span.SetStatus(codes.Error, ev.Err.Error())
	}
	span.End(trace.WithTimestamp(end))
}
