package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, redistest.LeakOptions()...) }

// seen is what the demo origin was asked for one path, and what it
// answered last.
type seen struct {
	calls       int
	ifNoneMatch string // the last request's
	status      int    // the last answer's
}

// recorder wraps the demo origin and records, by path, what reaches it.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	path map[string]seen // protected by mu
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	rec.next.ServeHTTP(sw, r)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	s := rec.path[r.Method+" "+r.URL.Path]
	rec.path[r.Method+" "+r.URL.Path] = seen{calls: s.calls + 1, ifNoneMatch: r.Header.Get("If-None-Match"), status: sw.status}
}

func (rec *recorder) get(methodAndPath string) seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.path[methodAndPath]
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// newServers starts the demo origin and the proxy in front of it, on a
// Redis prefix of the test's own.
func newServers(t *testing.T) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{next: newOrigin(), path: map[string]seen{}}
	origin := httptest.NewServer(rec)
	t.Cleanup(origin.Close)
	engine, err := core.New(core.Config{Client: redistest.Client(t), Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close(context.Background()) })
	u, err := url.Parse(origin.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := newProxy(engine, u)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv, rec
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) cacheStatus() string { return r.header.Get("Cache-Status") }

func do(t *testing.T, srv *httptest.Server, method, path, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func TestMaxAgeIsAHit(t *testing.T) {
	srv, rec := newServers(t)
	first := do(t, srv, "GET", "/hello", "")
	if first.status != http.StatusOK || !strings.Contains(first.cacheStatus(), "fwd=uri-miss; stored") {
		t.Fatalf("first GET: %d, Cache-Status %q; want 200 and a stored miss", first.status, first.cacheStatus())
	}
	second := do(t, srv, "GET", "/hello", "")
	if !strings.Contains(second.cacheStatus(), "; hit") || second.body != first.body {
		t.Fatalf("second GET: %q, Cache-Status %q; want a hit with %q", second.body, second.cacheStatus(), first.body)
	}
	if n := rec.get("GET /hello").calls; n != 1 {
		t.Fatalf("the origin answered GET /hello %d times, want once", n)
	}
}

func TestHitsSayTheirAge(t *testing.T) {
	srv, _ := newServers(t)
	do(t, srv, "GET", "/hello", "")
	time.Sleep(1100 * time.Millisecond) // Age counts whole seconds
	hit := do(t, srv, "GET", "/hello", "")
	age, err := strconv.Atoi(hit.header.Get("Age"))
	if !strings.Contains(hit.cacheStatus(), "; hit") || err != nil || age < 1 || age > 30 {
		t.Fatalf("a hit after a second: Age %q, Cache-Status %q; want a hit with Age 1 or more", hit.header.Get("Age"), hit.cacheStatus())
	}
}

func TestNoCacheIsRevalidatedBeforeEachUse(t *testing.T) {
	srv, rec := newServers(t)
	first := do(t, srv, "GET", "/news", "")
	etag := first.header.Get("Etag")
	if first.status != http.StatusOK || etag == "" {
		t.Fatalf("first GET /news: %d, ETag %q", first.status, etag)
	}
	for i := range 2 {
		r := do(t, srv, "GET", "/news", "")
		s := rec.get("GET /news")
		if s.calls != i+2 || s.ifNoneMatch != etag || s.status != http.StatusNotModified {
			t.Fatalf("use %d: the origin had %d calls, the last with If-None-Match %q answered %d; want %d, %q and a 304",
				i+2, s.calls, s.ifNoneMatch, s.status, i+2, etag)
		}
		if r.status != http.StatusOK || r.body != first.body || strings.Contains(r.cacheStatus(), "; hit") {
			t.Fatalf("use %d: %d %q, Cache-Status %q; want 200 with the stored body, revalidated", i+2, r.status, r.body, r.cacheStatus())
		}
	}
}

func TestPostInvalidatesTheList(t *testing.T) {
	srv, rec := newServers(t)
	do(t, srv, "GET", "/items", "")
	if r := do(t, srv, "GET", "/items", ""); !strings.Contains(r.cacheStatus(), "; hit") {
		t.Fatalf("second GET /items: Cache-Status %q, want a hit", r.cacheStatus())
	}
	if r := do(t, srv, "POST", "/items", "cherry"); r.status != http.StatusCreated {
		t.Fatalf("POST /items: %d %q, want 201", r.status, r.body)
	}
	after := do(t, srv, "GET", "/items", "")
	if n := rec.get("GET /items").calls; n != 2 || after.body != "apple\ncherry\n" {
		t.Fatalf("GET /items after the POST: %q, %d origin calls; want the new list from the origin (2 calls)", after.body, n)
	}
}

func TestFailedPostKeepsTheList(t *testing.T) {
	srv, rec := newServers(t)
	do(t, srv, "GET", "/items", "")
	if r := do(t, srv, "POST", "/items", ""); r.status != http.StatusBadRequest {
		t.Fatalf("empty POST /items: %d, want 400", r.status)
	}
	if r := do(t, srv, "GET", "/items", ""); !strings.Contains(r.cacheStatus(), "; hit") || rec.get("GET /items").calls != 1 {
		t.Fatalf("GET /items after a failed POST: Cache-Status %q; want a hit", r.cacheStatus())
	}
}
