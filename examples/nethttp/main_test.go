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
	app, err := newApp(engine, http.NotFoundHandler())
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
	req.Header.Set("X-Tenant", tenant)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if tags := resp.Header.Get("X-Cache-Tags"); tags != "" {
		t.Errorf("%s %s: X-Cache-Tags %q reached the client", method, path, tags)
	}
	return reply{resp.StatusCode, resp.Header.Get("Cache-Status"), string(b)}
}

// expect checks a reply's status and that its Cache-Status contains want.
func expect(t *testing.T, what string, r reply, want string) {
	t.Helper()
	if r.status != http.StatusOK || !strings.Contains(r.cacheStatus, want) {
		t.Fatalf("%s: got %d, Cache-Status %q, want 200 and %q; body %s", what, r.status, r.cacheStatus, want, r.body)
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
	expect(t, "first GET", first, "fwd=uri-miss; stored")
	second := do(t, srv, "GET", "/products/1", "acme", "")
	expect(t, "second GET", second, "; hit")
	if second.body != first.body {
		t.Errorf("hit body %q, want %q", second.body, first.body)
	}
	if p := decode[product](t, second.body); p.ID != 1 || p.Tenant != "acme" || p.Name != "espresso machine" {
		t.Errorf("got %+v", p)
	}
}

func TestPutInvalidates(t *testing.T) {
	srv := newServer(t)
	expect(t, "GET product", do(t, srv, "GET", "/products/1", "acme", ""), "stored")
	expect(t, "GET list", do(t, srv, "GET", "/products", "acme", ""), "stored")
	expect(t, "GET list again", do(t, srv, "GET", "/products", "acme", ""), "; hit")

	if r := do(t, srv, "PUT", "/products/1", "acme", `{"name":"new"}`); r.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}

	after := do(t, srv, "GET", "/products/1", "acme", "")
	expect(t, "GET after PUT", after, "fwd=uri-miss; stored")
	if p := decode[product](t, after.body); p.Name != "new" {
		t.Errorf("GET after PUT: name %q, want \"new\"", p.Name)
	}
	list := do(t, srv, "GET", "/products", "acme", "")
	expect(t, "list after PUT", list, "fwd=uri-miss; stored")
	if ps := decode[[]product](t, list.body); len(ps) != 3 || ps[0].Name != "new" {
		t.Errorf("list after PUT: %+v", ps)
	}
}

func TestFailedPutKeepsCache(t *testing.T) {
	srv := newServer(t)
	expect(t, "GET", do(t, srv, "GET", "/products/2", "acme", ""), "stored")
	if r := do(t, srv, "PUT", "/products/2", "acme", `not json`); r.status != http.StatusBadRequest {
		t.Fatalf("bad PUT: %d, want 400", r.status)
	}
	expect(t, "GET after a failed PUT", do(t, srv, "GET", "/products/2", "acme", ""), "; hit")
}

func TestTenantsHaveSeparateEntries(t *testing.T) {
	srv := newServer(t)
	expect(t, "acme", do(t, srv, "GET", "/products/1", "acme", ""), "stored")
	globex := do(t, srv, "GET", "/products/1", "globex", "")
	expect(t, "globex after acme", globex, "fwd=uri-miss; stored")
	if p := decode[product](t, globex.body); p.Tenant != "globex" {
		t.Errorf("globex got tenant %q's product", p.Tenant)
	}
	acme := do(t, srv, "GET", "/products/1", "acme", "")
	expect(t, "acme again", acme, "; hit")
	if p := decode[product](t, acme.body); p.Tenant != "acme" {
		t.Errorf("acme got tenant %q's product", p.Tenant)
	}
	if r := do(t, srv, "GET", "/products/1", "", ""); r.status != http.StatusBadRequest || !strings.Contains(r.cacheStatus, "bypass") {
		t.Errorf("no tenant: %d, Cache-Status %q; want 400 and a bypass", r.status, r.cacheStatus)
	}
}
