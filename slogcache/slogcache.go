package slogcache

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"go.opentelemetry.io/otel/trace"

	"github.com/swrcache/swrcache/core"
)

// outcomeKey is the context key of a request's outcome holder.
type outcomeKey struct{}

// holder keeps the outcome of the request whose context carries it, and
// the trace it was recorded in.
type holder struct {
	mu    sync.Mutex
	kind  core.EventKind // protected by mu
	trace trace.TraceID  // protected by mu
}

// WithOutcome returns a context that keeps the outcome of the cache
// lookup made with it (Hook records it), for the log records made with it
// afterwards. Install it before the cache: Middleware does for net/http.
func WithOutcome(ctx context.Context) context.Context {
	if _, ok := ctx.Value(outcomeKey{}).(*holder); ok {
		return ctx
	}
	return context.WithValue(ctx, outcomeKey{}, new(holder))
}

// Middleware puts an outcome holder in every request's context (see
// WithOutcome); place it outside the cache and the access log.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(WithOutcome(r.Context())))
	})
}

// Hook records each lookup's outcome in the context's holder; set it as
// core.Config.OnEvent (with core.Hooks to combine it with others).
func Hook(ctx context.Context, ev core.Event) {
	if !ev.Kind.Outcome() {
		return
	}
	if h, ok := ctx.Value(outcomeKey{}).(*holder); ok {
		h.mu.Lock()
		h.kind, h.trace = ev.Kind, trace.SpanContextFromContext(ctx).TraceID()
		h.mu.Unlock()
	}
}

// Outcome returns the outcome recorded in ctx, if any. Work the request
// set off in a trace of its own, such as a background refresh traced by
// otelcache, has none: its context still carries the request's holder,
// but the trace differs.
func Outcome(ctx context.Context) (core.EventKind, bool) {
	h, ok := ctx.Value(outcomeKey{}).(*holder)
	if !ok {
		return 0, false
	}
	h.mu.Lock()
	k, tr := h.kind, h.trace
	h.mu.Unlock()
	if k == 0 || tr != trace.SpanContextFromContext(ctx).TraceID() {
		return 0, false
	}
	return k, true
}

// Handler adds to every record logged with a context: trace_id, span_id
// and trace_flags from its span, at the top level whatever groups are
// open (as OpenTelemetry's log correlation asks); and, once the request's
// lookup is done, cache_hit (served from the cache: hit, stale or
// stale-if-error) and cache_status (the outcome).
type Handler struct {
	root slog.Handler // the wrapped handler, before any With*
	ops  []op         // With* calls since root, replayed on root when groups are open
	h    slog.Handler // root with ops applied
	grp  bool         // a group is open
}

type op struct {
	group string
	attrs []slog.Attr
}

// NewHandler wraps h.
func NewHandler(h slog.Handler) *Handler { return &Handler{root: h, h: h} }

// Enabled reports whether the wrapped handler handles level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.h.Enabled(ctx, level)
}

// Handle adds the trace and cache attributes to r and hands it on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	top := contextAttrs(ctx)
	if len(top) == 0 {
		return h.h.Handle(ctx, r)
	}
	if !h.grp {
		r.AddAttrs(top...)
		return h.h.Handle(ctx, r)
	}
	inner := h.root.WithAttrs(top) // top level, then the groups as they were opened
	for _, o := range h.ops {
		if o.group != "" {
			inner = inner.WithGroup(o.group)
		} else {
			inner = inner.WithAttrs(o.attrs)
		}
	}
	return inner.Handle(ctx, r)
}

// WithAttrs returns the wrapper of h's handler with attrs.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return &Handler{root: h.root, ops: append(h.ops[:len(h.ops):len(h.ops)], op{attrs: attrs}), h: h.h.WithAttrs(attrs), grp: h.grp}
}

// WithGroup returns the wrapper of h's handler with the group name open.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &Handler{root: h.root, ops: append(h.ops[:len(h.ops):len(h.ops)], op{group: name}), h: h.h.WithGroup(name), grp: true}
}

// contextAttrs are the trace and cache attributes of ctx.
func contextAttrs(ctx context.Context) []slog.Attr {
	if ctx == nil {
		return nil
	}
	var out []slog.Attr
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		out = append(out, slog.String("trace_id", sc.TraceID().String()),
			slog.String("span_id", sc.SpanID().String()),
			slog.String("trace_flags", sc.TraceFlags().String()))
	}
	if k, ok := Outcome(ctx); ok {
		out = append(out, slog.Bool("cache_hit", k.Served()), slog.String("cache_status", k.String()))
	}
	return out
}
