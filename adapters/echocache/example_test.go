package echocache_test

import (
	"fmt"
	"log"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/swrcache/swrcache/adapters/echocache"
	"github.com/swrcache/swrcache/core"
)

// cachedRoutes is the README's quick start for echo.
func cachedRoutes(e *echo.Echo, engine *core.Engine, getUser echo.HandlerFunc) error {
	users, err := echocache.New(engine, echocache.Config{
		Policy: core.Policy{TTL: time.Minute, StaleWhileRevalidate: 10 * time.Minute},
		Key:    echocache.KeySpec{Resource: "users"},
	})
	if err != nil {
		return err
	}
	e.GET("/users/:id", getUser, users)
	return nil
}

// New caches one route. Middleware registered before it runs once per
// client request; background refreshes go through echo again, and
// IsRefresh lets a logger skip them. This needs a Redis;
// TestCachedRoutes is its twin.
func Example() {
	var engine *core.Engine // from core.New, once per process
	e := echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !echocache.IsRefresh(c) {
				log.Print(c.Request().URL)
			}
			return next(c)
		}
	})
	getUser := func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"id": c.Param("id")})
	}
	if err := cachedRoutes(e, engine, getUser); err != nil {
		log.Fatal(err)
	}
	log.Fatal(e.Start("127.0.0.1:8080"))
}

// The twin of Example: the quick start's route is a miss, then a hit.
func TestCachedRoutes(t *testing.T) {
	e := echo.New()
	var calls atomic.Int32
	if err := cachedRoutes(e, newEngine(t), func(c echo.Context) error {
		return c.String(http.StatusOK, fmt.Sprintf("user %s, call %d", c.Param("id"), calls.Add(1)))
	}); err != nil {
		t.Fatal(err)
	}
	first, second := serve(e, http.MethodGet, "/users/7"), serve(e, http.MethodGet, "/users/7")
	if !isHit(second) || first.Body.String() != "user 7, call 1" || second.Body.String() != "user 7, call 1" {
		t.Fatalf("miss then hit: %q then %q", cacheStatus(first), cacheStatus(second))
	}
}
