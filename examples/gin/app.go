package main

import (
	"cmp"
	"fmt"
	"log"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/swrcache/swrcache/adapters/gincache"
	"github.com/swrcache/swrcache/core"
)

// lookupDelay is how long the pretend database takes to answer.
const lookupDelay = 150 * time.Millisecond

type user struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
}

// directory is the pretend database: one set of users per tenant.
type directory struct {
	mu     sync.Mutex
	tenant map[string]map[string]user // protected by mu
}

// forTenant returns t's users, seeding them on first use; d.mu is held.
func (d *directory) forTenant(t string) map[string]user {
	if m, ok := d.tenant[t]; ok {
		return m
	}
	m := make(map[string]user)
	for i, name := range []string{"Ada Lovelace", "Grace Hopper", "Alan Turing"} {
		id := fmt.Sprint(i + 1)
		m[id] = user{ID: id, Tenant: t, Name: name}
	}
	d.tenant[t] = m
	return m
}

// newApp returns the API, caching through engine, with metrics served at
// /metrics.
func newApp(engine *core.Engine, metrics http.Handler) (*gin.Engine, error) {
	db := &directory{tenant: make(map[string]map[string]user)}
	r := gin.New()
	r.GET("/metrics", gin.WrapH(metrics)) // registered before Use: no tenant needed
	// Middleware before the cache runs once for every client request, hits
	// included, and for each background refresh, which carries X-Tenant
	// (gincache.IsRefresh tells one apart).
	r.Use(gin.Recovery(), requireTenant)

	// Tenant-scoped routes: a request without exactly one valid X-Tenant
	// bypasses the cache. The key covers method, host and path; Query is an
	// empty allow-list, so ?junk=1 cannot create entries. The handlers name
	// their tags in X-Cache-Tags, which is never sent to clients.
	userCache, err := gincache.New(engine, gincache.Config{
		Policy:       core.Policy{TTL: 30 * time.Second, StaleWhileRevalidate: 5 * time.Minute},
		Key:          gincache.KeySpec{Resource: "user", Query: []string{}},
		TenantHeader: "X-Tenant",
		TagsHeader:   "X-Cache-Tags",
		Router:       r, // background refreshes go through it
	})
	if err != nil {
		return nil, err
	}
	listCache, err := gincache.New(engine, gincache.Config{
		Policy:       core.Policy{TTL: 10 * time.Second},
		Key:          gincache.KeySpec{Resource: "users", Query: []string{}},
		TenantHeader: "X-Tenant",
		TagsHeader:   "X-Cache-Tags",
		Router:       r,
	})
	if err != nil {
		return nil, err
	}

	// A greeting in the client's language. The response names
	// Accept-Language in Vary, so each language gets an entry of its own
	// under the route's key. It is fresh for 2 s, then served stale for a
	// minute while one background refresh replaces it.
	greetingCache, err := gincache.New(engine, gincache.Config{
		Policy:       core.Policy{TTL: 2 * time.Second, StaleWhileRevalidate: time.Minute},
		Key:          gincache.KeySpec{Resource: "greeting", Query: []string{}},
		TenantHeader: "X-Tenant",
		Router:       r,
	})
	if err != nil {
		return nil, err
	}
	r.GET("/greeting", greetingCache, func(c *gin.Context) {
		c.Header("Vary", "Accept-Language")
		hello := "Hello"
		if strings.HasPrefix(c.GetHeader("Accept-Language"), "fr") {
			hello = "Bonjour"
		}
		c.JSON(http.StatusOK, gin.H{"greeting": hello, "at": time.Now().UTC().Format(time.RFC3339Nano)})
	})

	r.GET("/users/:id", userCache, func(c *gin.Context) {
		tenant, id := c.GetHeader("X-Tenant"), c.Param("id")
		// Tag even a 404, so that a PUT creating the user drops it.
		c.Header("X-Cache-Tags", "user:"+tenant+":"+id)
		if !slowLookup(c) {
			return
		}
		db.mu.Lock()
		u, found := db.forTenant(tenant)[id]
		db.mu.Unlock()
		if !found {
			c.JSON(http.StatusNotFound, gin.H{"error": "no such user"})
			return
		}
		c.JSON(http.StatusOK, u)
	})
	r.GET("/users", listCache, func(c *gin.Context) {
		tenant := c.GetHeader("X-Tenant")
		c.Header("X-Cache-Tags", "users:"+tenant)
		if !slowLookup(c) {
			return
		}
		db.mu.Lock()
		list := make([]user, 0, len(db.forTenant(tenant)))
		for _, u := range db.forTenant(tenant) {
			list = append(list, u)
		}
		db.mu.Unlock()
		slices.SortFunc(list, func(a, b user) int { return cmp.Compare(a.ID, b.ID) })
		c.JSON(http.StatusOK, list)
	})
	// The write route invalidates what it changes before its answer goes
	// out, so a client reading right after its write never gets the old
	// response. A failure leaves the old one in place until its TTL; the
	// write itself has happened.
	invalidate, err := gincache.Invalidate(engine, gincache.InvalidateConfig{
		Tags: func(r *http.Request) []string {
			tenant := r.Header.Get("X-Tenant")
			return []string{"user:" + tenant + ":" + r.PathValue("id"), "users:" + tenant}
		},
		OnError: func(r *http.Request, err error) { log.Printf("PUT %s: invalidation failed: %v", r.URL.Path, err) },
	})
	if err != nil {
		return nil, err
	}
	r.PUT("/users/:id", invalidate, func(c *gin.Context) {
		tenant, id := c.GetHeader("X-Tenant"), c.Param("id")
		var in struct {
			Name string `json:"name" binding:"required"`
		}
		if err := c.ShouldBindJSON(&in); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": `body must be JSON like {"name":"Ada"}`})
			return
		}
		db.mu.Lock()
		u := user{ID: id, Tenant: tenant, Name: in.Name}
		db.forTenant(tenant)[id] = u
		db.mu.Unlock()
		c.JSON(http.StatusOK, u)
	})
	return r, nil
}

// requireTenant answers 400 to a request without X-Tenant.
func requireTenant(c *gin.Context) {
	if c.GetHeader("X-Tenant") == "" {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "X-Tenant header required"})
	}
}

// slowLookup waits lookupDelay, or answers 503 and reports false if the
// request's context ends first. A 5xx is never stored.
func slowLookup(c *gin.Context) bool {
	t := time.NewTimer(lookupDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.Request.Context().Done():
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "database timeout"})
		return false
	}
}
