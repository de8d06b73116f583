package slogcache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/slogtest"

	"go.opentelemetry.io/otel/trace"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/slogcache"
)

// The wrapper is a correct slog.Handler.
func TestHandlerPassesSlogtest(t *testing.T) {
	var buf bytes.Buffer
	h := slogcache.NewHandler(slog.NewJSONHandler(&buf, nil))
	err := slogtest.TestHandler(h, func() []map[string]any {
		var out []map[string]any
		for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		return out
	})
	if err != nil {
		t.Fatal(err)
	}
}

func spanContext() context.Context {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:     trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		TraceFlags: trace.FlagsSampled,
	})
	return trace.ContextWithSpanContext(context.Background(), sc)
}

// trace_id, span_id and the cache fields stay at the top level of the
// record, whatever groups the logger opened.
func TestTraceAndCacheFieldsStayTopLevel(t *testing.T) {
	tests := []struct {
		name   string
		logger func(*slog.Logger) *slog.Logger
	}{
		{"no group", func(l *slog.Logger) *slog.Logger { return l }},
		{"attrs", func(l *slog.Logger) *slog.Logger { return l.With("app", "shop") }},
		{"a group", func(l *slog.Logger) *slog.Logger { return l.WithGroup("req").With("id", 7) }},
		{"nested groups", func(l *slog.Logger) *slog.Logger { return l.With("app", "shop").WithGroup("a").WithGroup("b") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := tt.logger(slog.New(slogcache.NewHandler(slog.NewJSONHandler(&buf, nil))))
			ctx := slogcache.WithOutcome(spanContext())
			slogcache.Hook(ctx, core.Event{Kind: core.EventStale})
			l.InfoContext(ctx, "served", "k", 1)
			var m map[string]any
			if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			if m["trace_id"] != "0102030405060708090a0b0c0d0e0f10" || m["span_id"] != "0102030405060708" ||
				m["cache_hit"] != true || m["cache_status"] != "stale" {
				t.Fatalf("record %s", buf.Bytes())
			}
		})
	}
}

// A record without a span or an outcome gets none of the fields; a miss
// says cache_hit false; Middleware gives each request its own holder.
func TestFieldsOnlyWhenKnown(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slogcache.NewHandler(slog.NewJSONHandler(&buf, nil)))
	var seen []bool
	h := slogcache.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.InfoContext(r.Context(), "before the cache") // no outcome yet
		slogcache.Hook(r.Context(), core.Event{Kind: core.EventMiss})
		slogcache.Hook(r.Context(), core.Event{Kind: core.EventFill}) // a step: not an outcome
		k, ok := slogcache.Outcome(r.Context())
		seen = append(seen, ok && k == core.EventMiss)
		l.InfoContext(r.Context(), "after")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	var first, second map[string]any
	_ = json.Unmarshal(lines[0], &first)
	_ = json.Unmarshal(lines[1], &second)
	if _, ok := first["cache_hit"]; ok || first["trace_id"] != nil {
		t.Fatalf("first record %s", lines[0])
	}
	if second["cache_hit"] != false || second["cache_status"] != "miss" || len(seen) != 1 || !seen[0] {
		t.Fatalf("second record %s", lines[1])
	}
}
