package swrcache_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"

	"github.com/swrcache/swrcache/adapters/echocache"
	"github.com/swrcache/swrcache/adapters/gincache"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/middleware"
)

// hangAfter bounds every request of these tests: a request still
// unanswered after it is hanging. It is a bound on hanging, not a
// performance assertion, so it is generous.
const hangAfter = 5 * time.Second

// panicLog records the values a framework's recovery saw.
type panicLog struct {
	mu     sync.Mutex
	values []any // protected by mu
}

func (l *panicLog) add(v any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.values = append(l.values, v)
}

func (l *panicLog) seen() []any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]any(nil), l.values...)
}

// behindRecovery serves h behind the cache and the framework's own panic
// recovery, which records what it recovers in seen. Every adapter in
// adapters needs one.
var behindRecovery = map[string]func(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler, seen *panicLog) *httptest.Server{
	"net/http": serveNetHTTPRecovering,
	"echo":     serveEchoRecovering,
	"gin":      serveGinRecovering,
}

// serveNetHTTPRecovering puts a recovering handler outside the cache. The
// net/http server has no recovery that answers: it recovers a panic per
// connection, logs it and closes the connection, so a client sees EOF and
// nothing to assert on. Routers and services put a wrapper like this one in
// front for that reason; with it, a panic the cache raises again on the
// client's goroutine becomes a 500 that the test can check.
// TestAPanicWithoutRecoveryClosesTheConnection covers the bare server.
func serveNetHTTPRecovering(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler, seen *panicLog) *httptest.Server {
	t.Helper()
	cached := mustNetHTTP(t, e, cfg)(h)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				seen.add(v)
				http.Error(w, "recovered", http.StatusInternalServerError)
			}
		}()
		cached.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// serveEchoRecovering puts a stand-in for echo's middleware.Recover in
// front: like it, it hands the panic to echo's HTTPErrorHandler as an
// error. (echo's middleware package needs golang.org/x/time, which this
// module does not require.)
func serveEchoRecovering(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler, seen *panicLog) *httptest.Server {
	t.Helper()
	mw, err := echocache.New(e, cfg)
	if err != nil {
		t.Fatal(err)
	}
	app := echo.New()
	app.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					seen.add(v)
					c.Error(fmt.Errorf("%v", v))
				}
			}()
			return next(c)
		}
	})
	app.GET("/*", echo.WrapHandler(h), mw)
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return srv
}

// serveGinRecovering puts gin's own recovery in front, recording what it
// recovers.
func serveGinRecovering(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler, seen *panicLog) *httptest.Server {
	t.Helper()
	r := gin.New()
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, v any) {
		seen.add(v)
		c.AbortWithStatus(http.StatusInternalServerError)
	}))
	cfg.Router = r
	mw, err := gincache.New(e, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.GET("/*path", mw, gin.WrapH(h))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// outcome is what one client got: a reply, or the transport's error.
type outcome struct {
	reply
	err error
}

// try sends a GET that gives up after hangAfter, and returns what the
// client got, a closed connection included, instead of failing t.
func try(ctx context.Context, srv *httptest.Server, path string) outcome {
	ctx, cancel := context.WithTimeout(ctx, hangAfter)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	if err != nil {
		return outcome{err: err}
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return outcome{reply{resp.StatusCode, resp.Header, string(b)}, err}
}

// concurrently sends n GETs for path at once and returns what each got.
func concurrently(srv *httptest.Server, n int, path string) []outcome {
	got := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = try(context.Background(), srv, path)
		}()
	}
	wg.Wait()
	return got
}

// hung reports whether o is a request that ran into hangAfter.
func (o outcome) hung() bool { return errors.Is(o.err, context.DeadlineExceeded) }

// slowly waits d, or until ctx ends, and reports whether d passed.
func slowly(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// panicking answers "ok", except while on is set: then it takes a while,
// so that concurrent requests wait on one fill, writes partial (if any)
// and panics.
func panicking(on *atomic.Bool, calls *atomic.Int32, partial string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if on.Load() {
			slowly(r.Context(), 100*time.Millisecond)
			if partial != "" {
				_, _ = w.Write([]byte(partial))
			}
			panic("kaboom")
		}
		fmt.Fprint(w, "ok")
	})
}

func TestAPanickingHandlerReachesTheFrameworksRecoveryAndIsNotStored(t *testing.T) {
	for _, a := range adapters {
		for _, partial := range []string{"", "partial"} {
			name := a.name + "/panicking before writing"
			if partial != "" {
				name = a.name + "/panicking after writing part of a body"
			}
			t.Run(name, func(t *testing.T) {
				serve := behindRecovery[a.name]
				if serve == nil {
					t.Fatalf("no recovering server for adapter %s: add one to behindRecovery", a.name)
				}
				var seen panicLog
				var on atomic.Bool
				var calls atomic.Int32
				on.Store(true)
				srv := serve(t, newEngine(t, nil), baseConfig(), panicking(&on, &calls, partial), &seen)

				leaders := 0
				for i, o := range concurrently(srv, 10, "/cold") {
					switch {
					case o.hung():
						t.Fatalf("waiter %d still waiting after %v", i, hangAfter)
					case strings.Contains(o.cacheStatus(), "collapsed; detail=panic") && o.status == http.StatusInternalServerError:
						// Waited on the fill: an error response, no handler call.
					case !strings.Contains(o.cacheStatus(), "collapsed") && !o.hit():
						// Ran the handler itself: what its framework's recovery
						// sends, a 500, since the part written before the panic
						// was small enough to be held until the fill was over.
						leaders++
						if o.err == nil && (o.status != http.StatusInternalServerError || strings.Contains(o.body, "partial")) {
							t.Errorf("the request that ran the handler got %d %q, want the recovery's 500", o.status, o.body)
						}
					default:
						t.Errorf("waiter %d got %d %q (%s), want the recovery's or the cache's 500", i, o.status, o.body, o.cacheStatus())
					}
				}
				if leaders != 1 || calls.Load() != 1 {
					t.Errorf("%d requests ran the handler, %d calls; want one of each", leaders, calls.Load())
				}
				got := seen.seen()
				if len(got) != 1 || got[0] != "kaboom" {
					t.Fatalf("the framework's recovery saw %v, want the handler's one panic", got)
				}

				on.Store(false)
				before := calls.Load()
				if r := get(t, srv, "/cold"); r.body != "ok" || calls.Load() != before+1 || r.cacheStatus() != "swrcache; fwd=uri-miss; stored" {
					t.Fatalf("after the panics: %q (%s) after %d calls; want the handler again", r.body, r.cacheStatus(), calls.Load()-before)
				}
			})
		}
	}
}

// Without a recovery of its own, a net/http server recovers a panic per
// connection and closes it: the connection of the request that ran the
// handler closes; those that waited on it get a 500; none hangs.
func TestAPanicWithoutRecoveryClosesTheConnection(t *testing.T) {
	var on atomic.Bool
	var calls atomic.Int32
	on.Store(true)
	cached := mustNetHTTP(t, newEngine(t, nil), baseConfig())(panicking(&on, &calls, ""))
	srv := httptest.NewUnstartedServer(cached)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the server logs each panic
	srv.Start()
	t.Cleanup(srv.Close)

	closed := 0
	for i, o := range concurrently(srv, 10, "/cold") {
		switch {
		case o.hung():
			t.Fatalf("waiter %d still waiting after %v", i, hangAfter)
		case o.err != nil:
			closed++
		case o.status != http.StatusInternalServerError || !strings.Contains(o.cacheStatus(), "detail=panic"):
			t.Fatalf("waiter %d: %d %q (%s); want a closed connection or the cache's 500", i, o.status, o.body, o.cacheStatus())
		}
	}
	if closed != 1 {
		t.Fatalf("%d connections closed, want the one whose request ran the handler", closed)
	}
	on.Store(false)
	before := calls.Load()
	if r := get(t, srv, "/cold"); r.body != "ok" || calls.Load() != before+1 {
		t.Fatalf("after the panics: %q (%s); want the handler again", r.body, r.cacheStatus())
	}
}

// A fill runs on the request that leads it, as the handler would without
// the cache: a handler that outlasts its clients sees their contexts end.
// What it makes then is not stored, each client leaving hands the fill to
// one still waiting, and nothing is left behind, the lock included.
func TestAHandlerThatOutlastsItsClientsIsNotStored(t *testing.T) {
	// While slow is set the handler takes 2s; it answers 503 when its
	// context ends, as handlers that respect it do, or "late" if it ever
	// got the time. Else it answers "fast" at once.
	handler := func(slow *atomic.Bool, calls *atomic.Int32) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			if !slow.Load() {
				fmt.Fprint(w, "fast")
				return
			}
			if !slowly(r.Context(), 2*time.Second) {
				http.Error(w, "gave up", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, "late")
		})
	}
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			var slow atomic.Bool
			var calls atomic.Int32
			slow.Store(true)
			srv := a.serve(t, newEngine(t, nil), baseConfig(), handler(&slow, &calls))
			for round := range 2 { // the second finds nothing stored
				var wg sync.WaitGroup
				for i := range 5 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ctx, cancel := context.WithTimeout(context.Background(), time.Duration(100*(i+1))*time.Millisecond)
						defer cancel()
						if o := try(ctx, srv, "/slow"); o.err == nil {
							t.Errorf("round %d, client %d got %d %q (%s) before its deadline, want to give up", round, i, o.status, o.body, o.cacheStatus())
						}
					}()
				}
				wg.Wait()
			}
			if n := calls.Load(); n < 2 || n > 10 {
				t.Fatalf("%d handler calls for two rounds of five clients leaving one after another, want the fill handed on", n)
			}
			// Nothing was stored and no lock is left: the next fill runs at once.
			slow.Store(false)
			if r := get(t, srv, "/slow"); r.body != "fast" || r.cacheStatus() != "swrcache; fwd=uri-miss; stored" {
				t.Fatalf("once the handler is fast again: %d %q (%s), want its response stored", r.status, r.body, r.cacheStatus())
			}
		})
	}
}

// flaky answers "good" with its call number while failing is unset, else 500.
func flaky(failing *atomic.Bool, calls *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if failing.Load() {
			http.Error(w, "origin down", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "good %d", n)
	})
}

func TestA5xxIsNotStoredAndStaleIfErrorServesTheOldEntryInsideItsWindow(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.name+"/a 5xx is not stored", func(t *testing.T) {
			var failing atomic.Bool
			var calls atomic.Int32
			failing.Store(true)
			srv := a.serve(t, newEngine(t, nil), baseConfig(), flaky(&failing, &calls))
			for range 2 {
				if r := get(t, srv, "/x"); r.status != http.StatusInternalServerError || r.hit() {
					t.Fatalf("got %d (%s), want the handler's 500", r.status, r.cacheStatus())
				}
			}
			if calls.Load() != 2 {
				t.Fatalf("%d handler calls for two requests, want 2", calls.Load())
			}
		})
		t.Run(a.name+"/inside the window the old entry is served", func(t *testing.T) {
			cfg := baseConfig()
			cfg.TTL, cfg.StaleIfError = 200*time.Millisecond, time.Minute
			var failing atomic.Bool
			var calls atomic.Int32
			srv := a.serve(t, newEngine(t, nil), cfg, flaky(&failing, &calls))
			if r := get(t, srv, "/x"); r.body != "good 1" || !strings.Contains(r.cacheStatus(), "stored") {
				t.Fatalf("first request: %q (%s)", r.body, r.cacheStatus())
			}
			failing.Store(true)
			var r reply
			waitUntil(t, "the entry to expire", func() bool { r = get(t, srv, "/x"); return !r.hit() })
			if r.status != http.StatusOK || r.body != "good 1" || !strings.Contains(r.cacheStatus(), "detail=stale-if-error") {
				t.Fatalf("after the TTL with the origin failing: %d %q (%s), want the old entry", r.status, r.body, r.cacheStatus())
			}
		})
		t.Run(a.name+"/outside the window the 5xx goes to the client", func(t *testing.T) {
			cfg := baseConfig()
			cfg.TTL, cfg.StaleIfError = 200*time.Millisecond, 200*time.Millisecond
			var failing atomic.Bool
			var calls atomic.Int32
			srv := a.serve(t, newEngine(t, nil), cfg, flaky(&failing, &calls))
			get(t, srv, "/x")
			failing.Store(true)
			var r reply
			waitUntil(t, "the stale-if-error window to pass", func() bool {
				r = get(t, srv, "/x")
				return !r.hit() && !strings.Contains(r.cacheStatus(), "stale-if-error")
			})
			if r.status != http.StatusInternalServerError || r.body != "origin down\n" {
				t.Fatalf("past the window: %d %q (%s), want the handler's 500", r.status, r.body, r.cacheStatus())
			}
		})
	}
}

func TestAClientLeavingMidFillDoesNotFailTheOthersWaiting(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			var calls atomic.Int32
			started := make(chan struct{}, 1)
			srv := a.serve(t, newEngine(t, nil), baseConfig(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				select {
				case started <- struct{}{}:
				default:
				}
				// A fill tied to the first client's context would end here.
				if !slowly(r.Context(), 300*time.Millisecond) {
					http.Error(w, "cancelled", http.StatusServiceUnavailable)
					return
				}
				fmt.Fprint(w, "the full response")
			}))

			ctxA, cancelA := context.WithCancel(context.Background())
			defer cancelA()
			doneA := make(chan outcome, 1)
			go func() { doneA <- try(ctxA, srv, "/cold") }()
			<-started // A's fill is running the handler
			doneB := make(chan outcome, 1)
			go func() { doneB <- try(context.Background(), srv, "/cold") }()
			time.Sleep(50 * time.Millisecond) // A leaves mid-fill
			cancelA()

			if a := <-doneA; !errors.Is(a.err, context.Canceled) {
				t.Errorf("client A: %v, %d %q; want its own cancellation", a.err, a.status, a.body)
			}
			b := <-doneB
			if b.err != nil || b.status != http.StatusOK || b.body != "the full response" {
				t.Fatalf("client B: %v, %d %q (%s); want the full response", b.err, b.status, b.body, b.cacheStatus())
			}
			// A's request ran the handler; when A left, B led the fill again.
			if calls.Load() != 2 {
				t.Fatalf("%d handler calls, want A's and then B's", calls.Load())
			}
			if r := get(t, srv, "/cold"); !r.hit() || r.body != "the full response" {
				t.Fatalf("third request: %q (%s), want a hit", r.body, r.cacheStatus())
			}
		})
	}
}
