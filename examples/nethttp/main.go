// Command nethttp is a small multi-tenant product API on net/http's
// ServeMux with swrcache in front of its read routes:
//
//	go run ./examples/nethttp
//
// GET /products/{id} and GET /products are cached per tenant (the trusted
// X-Tenant header, as a gateway in front of the app would set it), and
// PUT /products/{id} invalidates what it changes. On start it prints curl
// commands to try; watch the Cache-Status header.
//
// It listens on ADDR (default 127.0.0.1:8080) and uses REDIS_URL, else a
// Redis on 127.0.0.1:6379, else an embedded in-memory Redis (miniredis),
// and says which.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/swrcache/swrcache/adapters/httpcache"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/exampleapp"
)

// lookupDelay is how long the pretend database takes to answer.
const lookupDelay = 150 * time.Millisecond

type product struct {
	ID     int     `json:"id"`
	Tenant string  `json:"tenant"`
	Name   string  `json:"name"`
	Price  float64 `json:"price"`
}

// catalog is the pretend database: one set of products per tenant.
type catalog struct {
	mu     sync.Mutex
	tenant map[string]map[int]product // protected by mu
}

// forTenant returns t's products, seeding them on first use; c.mu is held.
func (c *catalog) forTenant(t string) map[int]product {
	if m, ok := c.tenant[t]; ok {
		return m
	}
	m := make(map[int]product)
	for i, name := range []string{"espresso machine", "grinder", "kettle"} {
		m[i+1] = product{ID: i + 1, Tenant: t, Name: name, Price: float64(10 * (i + 1))}
	}
	c.tenant[t] = m
	return m
}

// newApp returns the API, caching through engine, with metrics served at
// /metrics.
func newApp(engine *core.Engine, metrics http.Handler) (http.Handler, error) {
	db := &catalog{tenant: make(map[string]map[int]product)}

	// Tenant-scoped routes: a request without exactly one valid X-Tenant
	// bypasses the cache. The key covers method, host and path; Query is an
	// empty allow-list, so ?junk=1 cannot create entries.
	productCache, err := httpcache.New(engine, httpcache.Config{
		Policy:       core.Policy{TTL: 30 * time.Second, StaleWhileRevalidate: 5 * time.Minute, StaleIfError: 10 * time.Minute},
		Key:          httpcache.KeySpec{Resource: "product", Query: []string{}},
		TenantHeader: "X-Tenant",
		TagsHeader:   "X-Cache-Tags", // set by getProduct, never sent to clients
	})
	if err != nil {
		return nil, err
	}
	listCache, err := httpcache.New(engine, httpcache.Config{
		Policy:       core.Policy{TTL: 10 * time.Second, Tags: []string{"products"}},
		Key:          httpcache.KeySpec{Resource: "products", Query: []string{}},
		TenantHeader: "X-Tenant",
	})
	if err != nil {
		return nil, err
	}
	// Tags are not tenant-scoped: a PUT by one tenant also drops the other
	// tenants' copies of that product, which costs them one reload. Put the
	// tenant in the tag ("acme:product:1") to narrow it.
	invalidate, err := httpcache.Invalidate(engine, httpcache.InvalidateConfig{
		Tags: func(r *http.Request) []string { return []string{"product:" + r.PathValue("id"), "products"} },
		OnError: func(r *http.Request, err error) {
			log.Printf("%s %s: invalidation failed: %v", r.Method, r.URL.Path, err)
		},
	})
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.Handle("GET /products/{id}", productCache(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant, id, ok := tenantAndID(w, r)
		if !ok {
			return
		}
		// Tag even a 404, so that a PUT creating the product drops it.
		w.Header().Set("X-Cache-Tags", "product:"+strconv.Itoa(id))
		if !slowLookup(r.Context(), w) {
			return
		}
		db.mu.Lock()
		p, found := db.forTenant(tenant)[id]
		db.mu.Unlock()
		if !found {
			http.Error(w, "no such product", http.StatusNotFound)
			return
		}
		writeJSON(w, p)
	})))
	mux.Handle("GET /products", listCache(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant := r.Header.Get("X-Tenant")
		if tenant == "" {
			http.Error(w, "X-Tenant header required", http.StatusBadRequest)
			return
		}
		if !slowLookup(r.Context(), w) {
			return
		}
		db.mu.Lock()
		list := make([]product, 0, len(db.forTenant(tenant)))
		for _, p := range db.forTenant(tenant) {
			list = append(list, p)
		}
		db.mu.Unlock()
		slices.SortFunc(list, func(a, b product) int { return cmp.Compare(a.ID, b.ID) })
		writeJSON(w, list)
	})))
	mux.Handle("PUT /products/{id}", invalidate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant, id, ok := tenantAndID(w, r)
		if !ok {
			return
		}
		var in struct {
			Name  string   `json:"name"`
			Price *float64 `json:"price"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil || in.Name == "" {
			http.Error(w, `body must be JSON like {"name":"new","price":12.5}`, http.StatusBadRequest)
			return
		}
		db.mu.Lock()
		p, found := db.forTenant(tenant)[id]
		if !found {
			p = product{ID: id, Tenant: tenant}
		}
		p.Name = in.Name
		if in.Price != nil {
			p.Price = *in.Price
		}
		db.forTenant(tenant)[id] = p
		db.mu.Unlock()
		writeJSON(w, p) // the 200 triggers the invalidation, before it is sent
	})))
	return mux, nil
}

// tenantAndID reads the tenant and the product id, or answers 400 or 404.
func tenantAndID(w http.ResponseWriter, r *http.Request) (string, int, bool) {
	tenant := r.Header.Get("X-Tenant")
	if tenant == "" {
		http.Error(w, "X-Tenant header required", http.StatusBadRequest)
		return "", 0, false
	}
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 {
		http.Error(w, "no such product", http.StatusNotFound)
		return "", 0, false
	}
	return tenant, id, true
}

// slowLookup waits lookupDelay, or answers 503 and reports false if ctx
// ends first. A 5xx is never stored: the cache serves stale-if-error instead.
func slowLookup(ctx context.Context, w http.ResponseWriter) bool {
	t := time.NewTimer(lookupDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		http.Error(w, "database timeout", http.StatusServiceUnavailable)
		return false
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func main() {
	engine, metrics, stop := exampleapp.Engine("nethttp")
	defer stop() // waits for background refreshes
	app, err := newApp(engine, metrics)
	if err != nil {
		log.Fatal(err)
	}
	exampleapp.Serve(app, func(base string) []string {
		return []string{
			fmt.Sprintf("curl -i -H 'X-Tenant: acme' %s/products/1    # Cache-Status: ...; fwd=uri-miss; stored (150ms)", base),
			fmt.Sprintf("curl -i -H 'X-Tenant: acme' %s/products/1    # Cache-Status: ...; hit", base),
			fmt.Sprintf("curl -i -X PUT -H 'X-Tenant: acme' -d '{\"name\":\"new\"}' %s/products/1", base),
			fmt.Sprintf("curl -i -H 'X-Tenant: acme' %s/products/1    # a miss again, with the new name", base),
			fmt.Sprintf("curl -i -H 'X-Tenant: globex' %s/products/1  # another tenant, another entry", base),
			fmt.Sprintf("curl -i -H 'X-Tenant: acme' %s/products", base),
		}
	})
}
