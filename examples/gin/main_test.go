package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m, redistest.LeakOptions()...)
}

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
	if tenant != "" {
		req.Header.Set("X-Tenant", tenant)
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
	first := do(t, srv, "GET", "/users/1", "acme", "")
	expect(t, "first GET", first, "fwd=uri-miss; stored")
	second := do(t, srv, "GET", "/users/1", "acme", "")
	expect(t, "second GET", second, "; hit")
	if second.body != first.body {
		t.Errorf("hit body %q, want %q", second.body, first.body)
	}
	if u := decode[user](t, second.body); u.ID != "1" || u.Tenant != "acme" || u.Name != "Ada Lovelace" {
		t.Errorf("got %+v", u)
	}
}

func TestPutInvalidatesTheUserAndTheList(t *testing.T) {
	srv := newServer(t)
	expect(t, "GET user", do(t, srv, "GET", "/users/1", "acme", ""), "stored")
	expect(t, "GET list", do(t, srv, "GET", "/users", "acme", ""), "stored")
	expect(t, "GET other user", do(t, srv, "GET", "/users/2", "acme", ""), "stored")
	expect(t, "GET user of another tenant", do(t, srv, "GET", "/users/1", "globex", ""), "stored")

	if r := do(t, srv, "PUT", "/users/1", "acme", `{"name":"Ada King"}`); r.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}

	after := do(t, srv, "GET", "/users/1", "acme", "")
	expect(t, "GET after PUT", after, "fwd=uri-miss; stored")
	if u := decode[user](t, after.body); u.Name != "Ada King" {
		t.Errorf("GET after PUT: name %q, want \"Ada King\"", u.Name)
	}
	list := do(t, srv, "GET", "/users", "acme", "")
	expect(t, "list after PUT", list, "fwd=uri-miss; stored")
	if us := decode[[]user](t, list.body); len(us) != 3 || us[0].Name != "Ada King" {
		t.Errorf("list after PUT: %+v", us)
	}
	expect(t, "other user after PUT", do(t, srv, "GET", "/users/2", "acme", ""), "; hit")
	expect(t, "other tenant after PUT", do(t, srv, "GET", "/users/1", "globex", ""), "; hit")
}

func TestFailedPutKeepsTheCache(t *testing.T) {
	srv := newServer(t)
	expect(t, "GET", do(t, srv, "GET", "/users/2", "acme", ""), "stored")
	if r := do(t, srv, "PUT", "/users/2", "acme", `not json`); r.status != http.StatusBadRequest {
		t.Fatalf("bad PUT: %d, want 400", r.status)
	}
	expect(t, "GET after a failed PUT", do(t, srv, "GET", "/users/2", "acme", ""), "; hit")
}

func TestUnknownUserIsCachedAndDroppedWhenCreated(t *testing.T) {
	srv := newServer(t)
	do(t, srv, "GET", "/users/9", "acme", "")
	if r := do(t, srv, "GET", "/users/9", "acme", ""); r.status != http.StatusNotFound || !strings.Contains(r.cacheStatus, "; hit") {
		t.Fatalf("unknown user again: %d, Cache-Status %q; want a cached 404", r.status, r.cacheStatus)
	}
	do(t, srv, "PUT", "/users/9", "acme", `{"name":"Barbara Liskov"}`)
	expect(t, "GET after creating", do(t, srv, "GET", "/users/9", "acme", ""), "fwd=uri-miss; stored")
}

func TestRequestWithoutTenantIsRefused(t *testing.T) {
	srv := newServer(t)
	if r := do(t, srv, "GET", "/users/1", "", ""); r.status != http.StatusBadRequest {
		t.Errorf("no tenant: %d, want 400", r.status)
	}
}
