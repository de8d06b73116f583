package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, redistest.LeakOptions()...) }

// newServer serves the app on a Redis prefix of the test's own.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	engine, err := core.New(core.Config{Client: redistest.Client(t), Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close(context.Background()) })
	app, err := newApp(engine, io.Discard, http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return srv
}

type reply struct {
	status      int
	cacheStatus string
	body        string
}

func do(t *testing.T, srv *httptest.Server, method, path, tenant, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tenant != "" {
		req.Header.Set("X-Tenant", tenant)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
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
	return reply{resp.StatusCode, resp.Header.Get("Cache-Status"), string(b)}
}

// expect checks a reply's status and that its Cache-Status contains want.
func expect(t *testing.T, what string, r reply, status int, want string) {
	t.Helper()
	if r.status != status || !strings.Contains(r.cacheStatus, want) {
		t.Fatalf("%s: got %d, Cache-Status %q, want %d and %q; body %s", what, r.status, r.cacheStatus, status, want, r.body)
	}
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return v
}

func TestMissThenHit(t *testing.T) {
	srv := newServer(t)
	first := do(t, srv, "GET", "/products/1", "acme", "")
	expect(t, "first GET", first, http.StatusOK, "swrcache; fwd=uri-miss; stored")
	second := do(t, srv, "GET", "/products/1", "acme", "")
	expect(t, "second GET", second, http.StatusOK, "swrcache; hit; ttl=")
	if second.body != first.body {
		t.Errorf("hit body %q, want %q", second.body, first.body)
	}
	if p := decode[product](t, second.body); p.ID != 1 || p.Tenant != "acme" || p.Name != "espresso machine" {
		t.Errorf("got %+v", p)
	}
}

func TestPutInvalidatesTheProductAndTheList(t *testing.T) {
	srv := newServer(t)
	expect(t, "GET product", do(t, srv, "GET", "/products/1", "acme", ""), http.StatusOK, "stored")
	expect(t, "GET list", do(t, srv, "GET", "/products", "acme", ""), http.StatusOK, "stored")
	expect(t, "GET list again", do(t, srv, "GET", "/products", "acme", ""), http.StatusOK, "; hit")
	expect(t, "GET a missing product", do(t, srv, "GET", "/products/9", "acme", ""), http.StatusNotFound, "stored")

	if r := do(t, srv, "PUT", "/products/1", "acme", `{"name":"new"}`); r.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	after := do(t, srv, "GET", "/products/1", "acme", "")
	expect(t, "GET after PUT", after, http.StatusOK, "fwd=uri-miss; stored")
	if p := decode[product](t, after.body); p.Name != "new" {
		t.Errorf("GET after PUT: name %q, want \"new\"", p.Name)
	}
	list := do(t, srv, "GET", "/products", "acme", "")
	expect(t, "list after PUT", list, http.StatusOK, "fwd=uri-miss; stored")
	if ps := decode[[]product](t, list.body); len(ps) != 3 || ps[0].Name != "new" {
		t.Errorf("list after PUT: %+v", ps)
	}

	if r := do(t, srv, "PUT", "/products/9", "acme", `{"name":"created"}`); r.status != http.StatusOK {
		t.Fatalf("PUT a new product: %d %s", r.status, r.body)
	}
	expect(t, "GET the created product", do(t, srv, "GET", "/products/9", "acme", ""), http.StatusOK, "stored")
}

func TestFailedPutKeepsTheCache(t *testing.T) {
	srv := newServer(t)
	expect(t, "GET", do(t, srv, "GET", "/products/2", "acme", ""), http.StatusOK, "stored")
	if r := do(t, srv, "PUT", "/products/2", "acme", `not json`); r.status != http.StatusBadRequest {
		t.Fatalf("bad PUT: %d, want 400", r.status)
	}
	expect(t, "GET after a failed PUT", do(t, srv, "GET", "/products/2", "acme", ""), http.StatusOK, "; hit")
}

func TestTenantsHaveSeparateEntries(t *testing.T) {
	srv := newServer(t)
	expect(t, "acme", do(t, srv, "GET", "/products/1", "acme", ""), http.StatusOK, "stored")
	globex := do(t, srv, "GET", "/products/1", "globex", "")
	expect(t, "globex after acme", globex, http.StatusOK, "fwd=uri-miss; stored")
	if p := decode[product](t, globex.body); p.Tenant != "globex" {
		t.Errorf("globex got tenant %q's product", p.Tenant)
	}
	expect(t, "acme again", do(t, srv, "GET", "/products/1", "acme", ""), http.StatusOK, "; hit")
	expect(t, "no tenant", do(t, srv, "GET", "/products/1", "", ""), http.StatusBadRequest, "fwd=bypass; detail=tenant")
}
