package echocache_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"
)

// recoverPanics does what echo's middleware.Recover does by default: it
// hands a panic to echo's HTTPErrorHandler as an error, and records it.
// (echo's middleware package needs golang.org/x/time, which this module
// does not require.)
func recoverPanics(seen *[]any) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					*seen = append(*seen, v)
					c.Error(fmt.Errorf("%v", v))
				}
			}()
			return next(c)
		}
	}
}

// panicky answers "ok" except on its first call, where it writes part of
// a response and panics.
func panicky(calls *atomic.Int32) echo.HandlerFunc {
	return func(c echo.Context) error {
		if calls.Add(1) == 1 {
			_, _ = c.Response().Write([]byte("partial"))
			panic("kaboom")
		}
		return c.String(http.StatusOK, "ok")
	}
}

func TestAPanicReachesEchosRecoverAndNothingIsStored(t *testing.T) {
	e := echo.New()
	var recovered []any
	e.Use(recoverPanics(&recovered))
	var calls atomic.Int32
	e.GET("/x", panicky(&calls), newCache(t, cacheConfig()))

	// A small response is held until the fill is over, so nothing of it
	// went out and echo's error handler answers.
	if w := serve(e, http.MethodGet, "/x"); w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "partial") {
		t.Fatalf("panicking route: %d %q, want echo's 500", w.Code, w.Body)
	}
	if len(recovered) != 1 || recovered[0] != "kaboom" {
		t.Fatalf("Recover saw %v, want the panic once", recovered)
	}
	if w := serve(e, http.MethodGet, "/x"); w.Body.String() != "ok" || cacheStatus(w) != "swrcache; fwd=uri-miss; stored" {
		t.Fatalf("after the panic: %q, Cache-Status %q; want a fresh miss", w.Body, cacheStatus(w))
	}
}

func TestAPanicWithoutRecoverReachesTheCaller(t *testing.T) {
	e := echo.New()
	var calls atomic.Int32
	e.GET("/x", panicky(&calls), newCache(t, cacheConfig()))
	func() {
		defer func() {
			if v := recover(); v != "kaboom" {
				t.Fatalf("e.ServeHTTP panicked with %v, want the route's value", v)
			}
		}()
		serve(e, http.MethodGet, "/x")
	}()
	if w := serve(e, http.MethodGet, "/x"); w.Body.String() != "ok" || calls.Load() != 2 {
		t.Fatalf("after the panic: %q after %d calls; want the route again", w.Body, calls.Load())
	}
}
