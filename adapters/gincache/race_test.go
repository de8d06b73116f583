package gincache_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// A fill runs the middleware before the cache again, on its own goroutine;
// run with -race, this checks that it does not share the request of a
// caller that stopped waiting and is still being processed.
func TestFillDoesNotShareTheRequestOfACallerThatLeft(t *testing.T) {
	router := gin.New()
	var ids atomic.Int32
	released := make(chan struct{})
	router.Use(func(c *gin.Context) {
		c.Request.Header.Set("X-Request-Id", fmt.Sprint(ids.Add(1)))
		c.Next()
		_ = c.Request.Header.Get("X-Request-Id")
	})
	route(t, router, config(), func(c *gin.Context) {
		<-released
		c.String(http.StatusOK, "late")
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		router.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/things/1", nil).WithContext(ctx))
	}()
	for ids.Load() < 2 { // the caller and its fill
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	close(released)
	// Collapses onto the fill, or hits once it is stored.
	if r := serve(router, http.MethodGet, "/things/1"); body(t, r) != "late" {
		t.Fatalf("after the fill: %q (%s)", body(t, r), r.Header.Get("Cache-Status"))
	}
}
