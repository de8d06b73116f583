package gincache_test

import (
	"log"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/swrcache/swrcache/adapters/gincache"
	"github.com/swrcache/swrcache/core"
)

// cachedRoutes is the README's quick start for gin.
func cachedRoutes(router *gin.Engine, engine *core.Engine, getUser gin.HandlerFunc) error {
	users, err := gincache.New(engine, gincache.Config{
		Policy: core.Policy{TTL: time.Minute, StaleWhileRevalidate: 10 * time.Minute},
		Key:    gincache.KeySpec{Resource: "users"},
		Router: router, // background refreshes are sent through it
	})
	if err != nil {
		return err
	}
	router.GET("/users/:id", users, getUser)
	return nil
}

// New caches one route. Middleware registered before it runs once per
// client request; background refreshes go through the router again, and
// IsRefresh lets a logger skip them. This needs a Redis; TestCachedRoutes
// is its twin.
func Example() {
	var engine *core.Engine // from core.New, once per process
	router := gin.New()
	router.Use(gin.Recovery(), gin.LoggerWithConfig(gin.LoggerConfig{Skip: gincache.IsRefresh}))
	getUser := func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"id": c.Param("id")}) }
	if err := cachedRoutes(router, engine, getUser); err != nil {
		log.Fatal(err)
	}
	log.Fatal(router.Run("127.0.0.1:8080"))
}

// The twin of Example: the quick start's route is a miss, then a hit.
func TestCachedRoutes(t *testing.T) {
	router := gin.New()
	var calls atomic.Int32
	if err := cachedRoutes(router, newEngine(t), func(c *gin.Context) {
		c.String(http.StatusOK, "user %s, call %d", c.Param("id"), calls.Add(1))
	}); err != nil {
		t.Fatal(err)
	}
	first, second := serve(router, http.MethodGet, "/users/7"), serve(router, http.MethodGet, "/users/7")
	if !strings.Contains(second.Header.Get("Cache-Status"), "hit") || body(t, first) != "user 7, call 1" || body(t, second) != "user 7, call 1" {
		t.Fatalf("miss then hit: %q then %q", first.Header.Get("Cache-Status"), second.Header.Get("Cache-Status"))
	}
}
