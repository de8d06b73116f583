package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/swrcache/swrcache/adapters/echocache"
	"github.com/swrcache/swrcache/core"
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

// newApp returns the API, caching through engine, logging client
// requests to logw, with metrics served at /metrics.
func newApp(engine *core.Engine, logw io.Writer, metrics http.Handler) (*echo.Echo, error) {
	db := &catalog{tenant: make(map[string]map[int]product)}

	// Tenant-scoped routes: a request without exactly one valid X-Tenant
	// (as the gateway in front of the app sets it) bypasses the cache. The
	// key covers method, host and path; Query is an empty allow-list, so
	// ?junk=1 cannot create entries.
	productCache, err := echocache.New(engine, echocache.Config{
		Policy:       core.Policy{TTL: 30 * time.Second, StaleWhileRevalidate: 5 * time.Minute, Tags: []string{"products"}},
		Key:          echocache.KeySpec{Resource: "product", Query: []string{}},
		TenantHeader: "X-Tenant",
	})
	if err != nil {
		return nil, err
	}
	listCache, err := echocache.New(engine, echocache.Config{
		Policy:       core.Policy{TTL: 10 * time.Second, Tags: []string{"products"}},
		Key:          echocache.KeySpec{Resource: "products", Query: []string{}},
		TenantHeader: "X-Tenant",
	})
	if err != nil {
		return nil, err
	}
	// The tag is not tenant-scoped: a PUT by one tenant also drops the other
	// tenants' entries, which costs them one reload each.
	invalidate, err := echocache.Invalidate(engine, echocache.InvalidateConfig{
		Tags: func(*http.Request) []string { return []string{"products"} },
		OnError: func(r *http.Request, err error) {
			fmt.Fprintf(logw, "%s %s: invalidation failed: %v\n", r.Method, r.URL.Path, err)
		},
	})
	if err != nil {
		return nil, err
	}

	e := echo.New()
	e.GET("/metrics", echo.WrapHandler(metrics))
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(logw)
	e.Use(logRequests(log.New(logw, "", log.LstdFlags)))

	e.GET("/products/:id", func(c echo.Context) error {
		tenant, id, err := tenantAndID(c)
		if err != nil {
			return err
		}
		if err := slowLookup(c.Request().Context()); err != nil {
			return err
		}
		db.mu.Lock()
		p, found := db.forTenant(tenant)[id]
		db.mu.Unlock()
		if !found {
			// Written, not returned as an error, so that the 404 is cached
			// (and dropped by the PUT that creates the product).
			return c.JSON(http.StatusNotFound, echo.Map{"message": "no such product"})
		}
		return c.JSON(http.StatusOK, p)
	}, productCache)

	e.GET("/products", func(c echo.Context) error {
		tenant := c.Request().Header.Get("X-Tenant")
		if tenant == "" {
			return echo.NewHTTPError(http.StatusBadRequest, "X-Tenant header required")
		}
		if err := slowLookup(c.Request().Context()); err != nil {
			return err
		}
		db.mu.Lock()
		list := make([]product, 0, len(db.forTenant(tenant)))
		for _, p := range db.forTenant(tenant) {
			list = append(list, p)
		}
		db.mu.Unlock()
		slices.SortFunc(list, func(a, b product) int { return cmp.Compare(a.ID, b.ID) })
		return c.JSON(http.StatusOK, list)
	}, listCache)

	e.PUT("/products/:id", func(c echo.Context) error {
		tenant, id, err := tenantAndID(c)
		if err != nil {
			return err
		}
		var in struct {
			Name  string   `json:"name"`
			Price *float64 `json:"price"`
		}
		if err := c.Bind(&in); err != nil || in.Name == "" {
			return echo.NewHTTPError(http.StatusBadRequest, `body must be JSON like {"name":"new","price":12.5}`)
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
		return c.JSON(http.StatusOK, p) // the 200 invalidates, before it is sent
	}, invalidate)
	return e, nil
}

// tenantAndID reads the tenant and the product id, or returns a 400 or a
// 404 for echo to render.
func tenantAndID(c echo.Context) (string, int, error) {
	tenant := c.Request().Header.Get("X-Tenant")
	if tenant == "" {
		return "", 0, echo.NewHTTPError(http.StatusBadRequest, "X-Tenant header required")
	}
	id, err := strconv.Atoi(c.Param("id"))
	if err != nil || id < 1 {
		return "", 0, echo.NewHTTPError(http.StatusNotFound, "no such product")
	}
	return tenant, id, nil
}

// slowLookup waits lookupDelay, or returns the context's error if the
// request ended first.
func slowLookup(ctx context.Context) error {
	t := time.NewTimer(lookupDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// logRequests logs every client request with its status, time and
// Cache-Status. The cache's background refreshes, which it sends through
// echo, are skipped with echocache.IsRefresh.
func logRequests(l *log.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if echocache.IsRefresh(c) {
				return next(c)
			}
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err) // render it now, to log the status sent
			}
			res := c.Response()
			l.Printf("%s %s %d %v [%s]", c.Request().Method, c.Request().URL, res.Status,
				time.Since(start).Round(time.Millisecond), res.Header().Get("Cache-Status"))
			return nil
		}
	}
}
