package httpcache_test

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swrcache/swrcache/adapters/httpcache"
	"github.com/swrcache/swrcache/core"
)

// users stands for a database of users by tenant and id.
type users struct {
	mu    sync.Mutex
	names map[string]string // tenant/id → name; protected by mu
}

func (db *users) name(tenant, id string) string {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.names[tenant+"/"+id]
}

func (db *users) rename(tenant, id, name string) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.names[tenant+"/"+id] = name
}

// routes is the README's quick start for net/http: a cached read route,
// whose handler tags its response, and a write route that invalidates the
// tag. TestQuickStartInvalidates runs it.
func routes(mux *http.ServeMux, engine *core.Engine, db *users) error {
	getUser := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant, id := r.Header.Get("X-Tenant"), r.PathValue("id")
		w.Header().Set("X-Cache-Tags", "user:"+tenant+":"+id) // for the cache; never sent
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id, "name": db.name(tenant, id)})
	})
	putUser := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Name string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		db.rename(r.Header.Get("X-Tenant"), r.PathValue("id"), in.Name)
		w.WriteHeader(http.StatusNoContent)
	})

	users, err := httpcache.New(engine, httpcache.Config{
		Policy:       core.Policy{TTL: 5 * time.Minute, StaleWhileRevalidate: time.Hour},
		Key:          httpcache.KeySpec{Resource: "users"},
		TenantHeader: "X-Tenant",     // set by your own gateway, never by clients
		TagsHeader:   "X-Cache-Tags", // getUser names its response's tags there
	})
	if err != nil {
		return err
	}
	mux.Handle("GET /users/{id}", users(getUser))

	invalidate, err := httpcache.Invalidate(engine, httpcache.InvalidateConfig{
		Tags: func(r *http.Request) []string {
			return []string{"user:" + r.Header.Get("X-Tenant") + ":" + r.PathValue("id")}
		},
	})
	if err != nil {
		return err
	}
	mux.Handle("PUT /users/{id}", invalidate(putUser))
	return nil
}

// New caches a route; Invalidate drops what a write changed. This needs a
// Redis; TestQuickStartInvalidates is its twin.
func Example() {
	var engine *core.Engine // from core.New, once per process
	mux := http.NewServeMux()
	if err := routes(mux, engine, &users{names: map[string]string{}}); err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}

// The quick start's write route invalidates what its read route cached: a
// read right after the write gets the new name, from the handler.
func TestQuickStartInvalidates(t *testing.T) {
	db := &users{names: map[string]string{"acme/42": "Grace"}}
	mux := http.NewServeMux()
	if err := routes(mux, newEngine(t), db); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	read := func() (string, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/users/42", nil)
		req.Header.Set("X-Tenant", "acme")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.Header.Get("X-Cache-Tags") != "" {
			t.Fatal("the tags header reached the client")
		}
		return strings.TrimSpace(string(b)), resp.Header.Get("Cache-Status")
	}
	read()
	if body, status := read(); !strings.Contains(status, "hit") || !strings.Contains(body, "Grace") {
		t.Fatalf("second read: %s (%s), want a hit", body, status)
	}
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/users/42", strings.NewReader(`{"Name":"Ada"}`))
	req.Header.Set("X-Tenant", "acme")
	resp, err := srv.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT: %v %v", resp, err)
	}
	resp.Body.Close()
	if body, status := read(); strings.Contains(status, "hit") || !strings.Contains(body, "Ada") {
		t.Fatalf("read after the write: %s (%s), want the new name from the handler", body, status)
	}
}
