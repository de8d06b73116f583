package otelcache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/swrcache/swrcache/adapters/httpcache"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
	"github.com/swrcache/swrcache/internal/syncbuf"
	"github.com/swrcache/swrcache/otelcache"
	"github.com/swrcache/swrcache/slogcache"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, redistest.LeakOptions()...) }

// records decodes the JSON lines logged so far.
func records(t *testing.T, logs *syncbuf.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(logs.Bytes()))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// app is a cached route behind a server span (as otelhttp starts one),
// an outcome holder and an access log.
func app(t *testing.T, tp trace.TracerProvider, logs *syncbuf.Buffer) http.Handler {
	t.Helper()
	logger := slog.New(slogcache.NewHandler(slog.NewJSONHandler(logs, nil)))
	traces := otelcache.New(otelcache.Config{TracerProvider: tp})
	e, err := core.New(core.Config{Client: redistest.Client(t), Namespace: redistest.Prefix(t),
		OnEvent: core.Hooks(traces.Hook, slogcache.Hook), OnWork: traces.Work})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	cache, err := httpcache.New(e, httpcache.Config{
		Policy: core.Policy{TTL: 300 * time.Millisecond, StaleWhileRevalidate: time.Minute, RefreshAhead: -1, Resource: "GET /price"},
		Key:    httpcache.KeySpec{Resource: "price"},
	})
	if err != nil {
		t.Fatal(err)
	}
	db := tp.Tracer("db")
	h := cache(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, span := db.Start(r.Context(), "db.query")
		time.Sleep(20 * time.Millisecond) // the database
		span.End()
		logger.InfoContext(r.Context(), "queried")
		_, _ = w.Write([]byte(`{"price":42}`))
	}))
	access := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		logger.InfoContext(r.Context(), "request", "path", r.URL.Path)
	})
	traced := slogcache.Middleware(access)
	tracer := tp.Tracer("server")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tracer.Start(r.Context(), "GET /price", trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		traced.ServeHTTP(w, r.WithContext(ctx))
	})
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// Must show 3: a miss makes a fill span under the request's span, a hit
// none, a stale hit a refresh trace of its own linked to the request; the
// log records carry each request's trace_id and whether the cache served it.
func TestSpansAndLogsFollowEachRequest(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	logs := &syncbuf.Buffer{}
	srv := httptest.NewServer(app(t, tp, logs))
	t.Cleanup(srv.Close)
	get := func() string {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + "/price")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Cache-Status")
	}

	steps := []struct {
		name          string
		givenWait     time.Duration
		expectOutcome string
		expectHit     bool
		expectFill    bool
	}{
		{"a miss", 0, "miss", false, true},
		{"a hit", 0, "hit", true, false},
		{"a stale hit", 400 * time.Millisecond, "stale", true, false},
	}
	var servers []sdktrace.ReadOnlySpan
	for _, st := range steps {
		time.Sleep(st.givenWait) // the entry's TTL passes
		before := len(rec.Ended())
		status := get()
		ended := rec.Ended()[before:]
		var server, fill, query sdktrace.ReadOnlySpan
		fills := 0
		for _, s := range ended {
			switch s.Name() {
			case "GET /price":
				server = s
			case "db.query":
				query = s
			case "swrcache.fill":
				fill = s
				fills++
				if s.Parent().SpanID() != ended[len(ended)-1].SpanContext().SpanID() || s.SpanContext().TraceID() != ended[len(ended)-1].SpanContext().TraceID() {
					t.Errorf("%s: the fill span is not a child of the request's span", st.name)
				}
				if a := attrs(s); a[otelcache.AttrResource].AsString() != "GET /price" || s.EndTime().Sub(s.StartTime()) < 20*time.Millisecond {
					t.Errorf("%s: fill span attributes %v, duration %v", st.name, a, s.EndTime().Sub(s.StartTime()))
				}
			}
		}
		if server == nil {
			t.Fatalf("%s: no server span among %d (Cache-Status %q)", st.name, len(ended), status)
		}
		if st.expectFill && (query == nil || fill == nil || query.Parent().SpanID() != fill.SpanContext().SpanID()) {
			t.Fatalf("%s: the handler's span is not under the fill span", st.name)
		}
		a := attrs(server)
		if a[otelcache.AttrOutcome].AsString() != st.expectOutcome || a[otelcache.AttrHit].AsBool() != st.expectHit ||
			a[otelcache.AttrResource].AsString() != "GET /price" || (fills == 1) != st.expectFill || fills > 1 {
			t.Fatalf("%s: server span %v with %d fill spans (Cache-Status %q)", st.name, a, fills, status)
		}
		for k := range a {
			if k == "swrcache.key" {
				t.Fatalf("%s: the key reached the span", st.name)
			}
		}
		servers = append(servers, server)
	}

	stale := servers[2].SpanContext()
	var refresh sdktrace.ReadOnlySpan
	for deadline := time.Now().Add(5 * time.Second); refresh == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, s := range rec.Ended() {
			if s.Name() == "swrcache.refresh" {
				refresh = s
			}
		}
	}
	switch {
	case refresh == nil:
		t.Fatal("no refresh span after the stale hit")
	case refresh.SpanContext().TraceID() == stale.TraceID() || refresh.Parent().IsValid():
		t.Fatal("the refresh span is not the root of a trace of its own")
	case len(refresh.Links()) != 1 || refresh.Links()[0].SpanContext.SpanID() != stale.SpanID():
		t.Fatalf("the refresh span's links %v do not point at the stale request's span", refresh.Links())
	}
	var refreshQuery sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "db.query" && s.Parent().SpanID() == refresh.SpanContext().SpanID() {
			refreshQuery = s
		}
	}
	if refreshQuery == nil || refreshQuery.SpanContext().TraceID() != refresh.SpanContext().TraceID() {
		t.Fatal("the refresh's handler span is not in the refresh's trace")
	}

	// Per request: the handler's "queried" on a miss (before the outcome),
	// then the access log's "request"; and the refresh's "queried".
	var requests, refreshed []map[string]any
	for _, r := range records(t, logs) {
		switch {
		case r["msg"] == "request":
			requests = append(requests, r)
		case r["msg"] == "queried" && r["trace_id"] == refresh.SpanContext().TraceID().String():
			refreshed = append(refreshed, r)
		}
	}
	if len(requests) != len(steps) || len(refreshed) != 1 {
		t.Fatalf("%d request records and %d from the refresh, want %d and 1", len(requests), len(refreshed), len(steps))
	}
	for i, r := range requests {
		if r["trace_id"] != servers[i].SpanContext().TraceID().String() || r["span_id"] != servers[i].SpanContext().SpanID().String() ||
			r["cache_hit"] != steps[i].expectHit || r["cache_status"] != steps[i].expectOutcome {
			t.Errorf("%s: log record %v, want trace %s, cache_hit %v", steps[i].name, r, servers[i].SpanContext().TraceID(), steps[i].expectHit)
		}
	}
	if _, ok := refreshed[0]["cache_hit"]; ok {
		t.Errorf("the refresh's log record %v carries the stale request's outcome", refreshed[0])
	}
}
