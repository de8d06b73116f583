package httpcache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/swrcache/swrcache/adapters/httpcache"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, redistest.LeakOptions()...) }

func newEngine(t *testing.T) *core.Engine {
	t.Helper()
	e, err := core.New(core.Config{Client: redistest.Client(t), Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

func send(t *testing.T, srv *httptest.Server, method, path string, header ...string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if method != http.MethodGet { // a GET with a body bypasses the cache
		body = strings.NewReader("{}")
	}
	req, _ := http.NewRequest(method, srv.URL+path, body)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestInvalidateDropsTaggedEntriesBeforeTheWriteIsAnswered(t *testing.T) {
	e := newEngine(t)
	cached, err := httpcache.New(e, httpcache.Config{Policy: core.Policy{TTL: time.Minute}, Key: httpcache.KeySpec{Resource: "items"}, TagsHeader: "X-Cache-Tags"})
	if err != nil {
		t.Fatal(err)
	}
	inval, err := httpcache.Invalidate(e, httpcache.InvalidateConfig{
		Tags: func(r *http.Request) []string { return []string{"item:" + r.PathValue("id")} },
	})
	if err != nil {
		t.Fatal(err)
	}
	var version atomic.Int32
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", cached(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Cache-Tags", "item:"+r.PathValue("id"))
		fmt.Fprintf(w, "item %s v%d", r.PathValue("id"), version.Load())
	})))
	mux.Handle("PUT /items/{id}", inval(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Fail") != "" {
			http.Error(w, "rejected", http.StatusBadRequest)
			return
		}
		version.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	send(t, srv, http.MethodGet, "/items/1")
	send(t, srv, http.MethodGet, "/items/2")
	if resp, body := send(t, srv, http.MethodGet, "/items/1"); !strings.Contains(resp.Header.Get("Cache-Status"), "hit") ||
		body != "item 1 v0" || resp.Header.Get("X-Cache-Tags") != "" {
		t.Fatalf("warm read: %q %q, tags header %q", resp.Header.Get("Cache-Status"), body, resp.Header.Get("X-Cache-Tags"))
	}
	send(t, srv, http.MethodPut, "/items/1", "X-Fail", "1")
	if resp, _ := send(t, srv, http.MethodGet, "/items/1"); !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
		t.Fatalf("a failed write invalidated the entry: %q", resp.Header.Get("Cache-Status"))
	}
	send(t, srv, http.MethodPut, "/items/1")
	if resp, body := send(t, srv, http.MethodGet, "/items/1"); body != "item 1 v1" {
		t.Fatalf("read right after the write: %q (%s), want the new version", body, resp.Header.Get("Cache-Status"))
	}
	if resp, _ := send(t, srv, http.MethodGet, "/items/2"); !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
		t.Fatalf("another item's entry was invalidated: %q", resp.Header.Get("Cache-Status"))
	}
}

func TestBypassedRequestsKeepTheServersWriter(t *testing.T) {
	mw, err := httpcache.New(newEngine(t), httpcache.Config{Policy: core.Policy{TTL: time.Minute}, Key: httpcache.KeySpec{Resource: "items"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, flusher := w.(http.Flusher)
		_, hijacker := w.(http.Hijacker)
		err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Second))
		fmt.Fprintf(w, "flusher=%v hijacker=%v deadline=%v", flusher, hijacker, err == nil)
	})))
	defer srv.Close()
	if _, body := send(t, srv, http.MethodGet, "/x", "Authorization", "Bearer a"); body != "flusher=true hijacker=true deadline=true" {
		t.Fatalf("handler saw %q", body)
	}
}

// Middleware before the cache that parsed the form leaves no parameter
// outside the key for a fill's handler to read.
func TestAFillSeesOnlyTheKeyedQueryEvenAfterMiddlewareParsedTheForm(t *testing.T) {
	mw, err := httpcache.New(newEngine(t), httpcache.Config{Policy: core.Policy{TTL: time.Minute},
		Key: httpcache.KeySpec{Resource: "items", Query: []string{"id"}}})
	if err != nil {
		t.Fatal(err)
	}
	cached := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "lang=%s id=%s", r.FormValue("lang"), r.FormValue("id"))
	}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.FormValue("lang") // parses the whole query
		cached.ServeHTTP(w, r)
	}))
	defer srv.Close()
	if _, body := send(t, srv, http.MethodGet, "/x?id=1&lang=evil"); body != "lang= id=1" {
		t.Fatalf("the fill's handler saw %q, want the keyed parameters only", body)
	}
	if resp, body := send(t, srv, http.MethodGet, "/x?id=1"); body != "lang= id=1" || !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
		t.Fatalf("a plain request: %q (%s), want the unpoisoned entry", body, resp.Header.Get("Cache-Status"))
	}
}
