package swrcache_test

import (
	"bytes"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-contrib/cors"
	"github.com/gin-contrib/requestid"
	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"
	chicors "github.com/go-chi/cors"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"

	"github.com/swrcache/swrcache/adapters/echocache"
	"github.com/swrcache/swrcache/adapters/gincache"
	"github.com/swrcache/swrcache/adapters/httpcache"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/middleware"
)

// stackOrigin is the Origin every client sends, and the one CORS allows.
const stackOrigin = "https://app.example"

// chainStack is one framework with its usual middleware before the cache:
// a request ID, a logger, recovery, CORS, and a counting middleware of
// the test's own, in that order.
type chainStack struct {
	name string
	// refreshesThroughChain: background refreshes are sent through the
	// router, so the middleware before the cache sees them (echo, gin);
	// net/http calls the handler after the cache directly.
	refreshesThroughChain bool
	serve                 func(t *testing.T, e *core.Engine, cfg middleware.Config, p *chainProbe) *httptest.Server
}

// chainProbe counts what the counting middleware, the logger and the
// handler saw.
type chainProbe struct {
	clientRuns, refreshRuns atomic.Int32 // the counting middleware, by IsRefresh
	calls, handlerRefreshes atomic.Int32 // the handler, and the calls IsRefresh flagged
	logLines                lineCounter
}

func (p *chainProbe) count(refresh bool) {
	if refresh {
		p.refreshRuns.Add(1)
	} else {
		p.clientRuns.Add(1)
	}
}

// handle counts a handler call and returns its body.
func (p *chainProbe) handle(refresh bool) string {
	if refresh {
		p.handlerRefreshes.Add(1)
	}
	return fmt.Sprintf("v%d", p.calls.Add(1))
}

// lineCounter is a logger's output: it counts the lines.
type lineCounter struct{ n atomic.Int32 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n.Add(int32(bytes.Count(p, []byte("\n"))))
	return len(p), nil
}

var chainStacks = []chainStack{
	{name: "gin with gin-contrib requestid and cors", refreshesThroughChain: true, serve: func(t *testing.T, e *core.Engine, cfg middleware.Config, p *chainProbe) *httptest.Server {
		r := gin.New()
		r.Use(requestid.New(),
			gin.LoggerWithConfig(gin.LoggerConfig{Output: &p.logLines, Skip: gincache.IsRefresh}),
			gin.Recovery(),
			cors.New(cors.Config{AllowOrigins: []string{stackOrigin}}),
			func(c *gin.Context) { p.count(gincache.IsRefresh(c)) })
		cfg.Router = r
		r.GET("/things/:id", stackMust(gincache.New(e, cfg))(t), func(c *gin.Context) {
			c.Writer.Header().Add("Vary", "Accept-Language")
			c.String(http.StatusOK, p.handle(gincache.IsRefresh(c)))
		})
		return stackServer(t, r)
	}},
	{name: "echo with its RequestID, Logger, Recover and CORS", refreshesThroughChain: true, serve: func(t *testing.T, e *core.Engine, cfg middleware.Config, p *chainProbe) *httptest.Server {
		app := echo.New()
		app.Use(echomw.RequestID(),
			echomw.LoggerWithConfig(echomw.LoggerConfig{Output: &p.logLines, Skipper: echocache.IsRefresh}),
			echomw.Recover(),
			echomw.CORSWithConfig(echomw.CORSConfig{AllowOrigins: []string{stackOrigin}}),
			func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error { p.count(echocache.IsRefresh(c)); return next(c) }
			})
		app.GET("/things/:id", func(c echo.Context) error {
			c.Response().Header().Add("Vary", "Accept-Language")
			return c.String(http.StatusOK, p.handle(echocache.IsRefresh(c)))
		}, stackMust(echocache.New(e, cfg))(t))
		return stackServer(t, app)
	}},
	{name: "chi with its RequestID, Logger, Recoverer and go-chi cors", serve: func(t *testing.T, e *core.Engine, cfg middleware.Config, p *chainProbe) *httptest.Server {
		r := chi.NewRouter()
		r.Use(chimw.RequestID,
			func(next http.Handler) http.Handler { // chi keeps the ID in the context; a response header shows it
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set(chimw.RequestIDHeader, chimw.GetReqID(r.Context()))
					next.ServeHTTP(w, r)
				})
			},
			chimw.RequestLogger(&chimw.DefaultLogFormatter{Logger: log.New(&p.logLines, "", 0), NoColor: true}),
			chimw.Recoverer,
			chicors.Handler(chicors.Options{AllowedOrigins: []string{stackOrigin}}),
			func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					p.count(httpcache.IsRefresh(r))
					next.ServeHTTP(w, r)
				})
			})
		r.With(stackMust(httpcache.New(e, cfg))(t)).Get("/things/{id}", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Vary", "Accept-Language")
			_, _ = w.Write([]byte(p.handle(httpcache.IsRefresh(r))))
		})
		return stackServer(t, r)
	}},
}

func TestStackMiddlewareBeforeTheCacheRunsOncePerClientRequest(t *testing.T) {
	for _, s := range chainStacks {
		t.Run(s.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.TTL, cfg.StaleWhileRevalidate, cfg.RefreshAhead = 300*time.Millisecond, time.Minute, -1
			cfg.Key.Headers = []string{"Accept-Language"}
			var p chainProbe
			d := &chainClient{t: t, c: rawClient(t), url: s.serve(t, newEngine(t, nil), cfg, &p).URL + "/things/1"}

			d.expect("a miss", "fwd=uri-miss", "v1")
			for i := range 3 {
				d.expect(fmt.Sprintf("hit %d", i+1), "; hit", "v1")
			}
			var sawStale bool
			waitUntil(t, "a stale response and its background refresh", func() bool {
				r := d.send()
				sawStale = sawStale || strings.Contains(r.header.Get("Cache-Status"), "fwd=stale")
				return string(r.raw) == "v2"
			})
			if !sawStale {
				t.Errorf("the response was refreshed before any client got it stale")
			}
			d.expect("a hit after the refresh", "; hit", "v2")
			d.expect("a request with Authorization", "fwd=bypass; detail=authorization", "v3", "Authorization", "Bearer alice")

			sent := d.sent
			if n := p.clientRuns.Load(); n != sent {
				t.Errorf("the counting middleware ran %d times as a client's for %d client requests", n, sent)
			}
			wantRefreshRuns := int32(0)
			if s.refreshesThroughChain {
				wantRefreshRuns = 1
			}
			if n := p.refreshRuns.Load(); n != wantRefreshRuns {
				t.Errorf("the counting middleware saw %d requests IsRefresh flagged, want %d", n, wantRefreshRuns)
			}
			if n := p.handlerRefreshes.Load(); n != 1 {
				t.Errorf("the handler saw %d requests IsRefresh flagged, want the one refresh", n)
			}
			if n := p.calls.Load(); n != 3 {
				t.Errorf("the handler ran %d times, want 3: the fill, the refresh, the bypass", n)
			}
			if n := p.logLines.n.Load(); n != sent {
				t.Errorf("the logger wrote %d lines for %d client requests", n, sent)
			}
		})
	}
}

// chainClient sends the requests of one test, each with a request ID of
// its own, an Origin and an Accept-Language, and checks what every reply
// must hold whatever the cache did.
type chainClient struct {
	t    *testing.T
	c    rawHTTPClient
	url  string
	sent int32
}

// send sends a GET with header (name, value, ...) on top of the usual ones.
func (d *chainClient) send(header ...string) rawReply {
	t := d.t
	t.Helper()
	d.sent++
	id := fmt.Sprintf("client-%d", d.sent)
	r := d.c.get(t, d.url, append([]string{"X-Request-Id", id, "Origin", stackOrigin, "Accept-Language", "en"}, header...)...)
	what := fmt.Sprintf("request %d (%q, Cache-Status %q)", d.sent, r.raw, r.header.Get("Cache-Status"))
	if r.readErr != nil || r.status != http.StatusOK {
		t.Errorf("%s: status %d, reading the body: %v", what, r.status, r.readErr)
	}
	if got := r.header.Values("X-Request-Id"); !slices.Equal(got, []string{id}) {
		t.Errorf("%s: X-Request-Id %q, want this request's own %q", what, got, id)
	}
	if got := r.header.Values("Access-Control-Allow-Origin"); !slices.Equal(got, []string{stackOrigin}) {
		t.Errorf("%s: Access-Control-Allow-Origin %q, want %q once", what, got, stackOrigin)
	}
	if vary := varyTokens(r.header); !slices.Contains(vary, "Origin") || !slices.Contains(vary, "Accept-Language") {
		t.Errorf("%s: Vary %q, want CORS's Origin and the handler's Accept-Language", what, r.header.Values("Vary"))
	}
	expectNoRepeatedVary(t, what, r.header)
	return r
}

// expect sends a request and checks its Cache-Status and body.
func (d *chainClient) expect(what, cacheStatus, body string, header ...string) {
	d.t.Helper()
	r := d.send(header...)
	if got := r.header.Get("Cache-Status"); !strings.Contains(got, cacheStatus) || string(r.raw) != body {
		d.t.Errorf("%s: %q with Cache-Status %q, want %q with %q", what, r.raw, got, body, cacheStatus)
	}
}
