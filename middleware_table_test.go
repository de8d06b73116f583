package swrcache_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/keyfunc"
	"github.com/swrcache/swrcache/middleware"
)

// behaviour is one row of the table every adapter runs through.
type behaviour struct {
	name        string
	givenConfig func(*middleware.Config)
	// givenHandler answers the route; calls counts its invocations.
	givenHandler func(calls *atomic.Int32) http.Handler
	// expect drives requests and checks what clients see.
	expect func(t *testing.T, c *client, calls *atomic.Int32)
}

// client sends requests to one test server.
type client struct {
	get func(path string, header ...string) reply
	do  func(method, path string, header ...string) reply
}

func baseConfig() middleware.Config {
	return middleware.Config{Policy: core.Policy{TTL: time.Minute}, Key: keyfunc.Spec{Resource: "things"}}
}

// handler writes status, the headers in h (multi-valued, in order) and a
// body counting its calls.
func handler(status int, h ...string) func(calls *atomic.Int32) http.Handler {
	return func(calls *atomic.Int32) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := calls.Add(1)
			for i := 0; i+1 < len(h); i += 2 {
				w.Header().Add(h[i], h[i+1])
			}
			w.WriteHeader(status)
			fmt.Fprintf(w, "body %d for %s", n, r.URL.Path)
		})
	}
}

// expectStoredOnce checks that a second request is a hit with the first's body.
func expectStoredOnce(t *testing.T, c *client, calls *atomic.Int32) {
	t.Helper()
	first, second := c.get("/x"), c.get("/x")
	if !second.hit() || second.body != first.body || calls.Load() != 1 {
		t.Fatalf("second request: %q (%s), %d handler calls; want a hit", second.body, second.cacheStatus(), calls.Load())
	}
}

// expectNotStored checks that every request reaches the handler.
func expectNotStored(t *testing.T, c *client, calls *atomic.Int32) {
	t.Helper()
	first, second := c.get("/x"), c.get("/x")
	if second.hit() || calls.Load() != 2 || first.body == second.body {
		t.Fatalf("second request %q (%s) after %d handler calls; want the handler again", second.body, second.cacheStatus(), calls.Load())
	}
}

var behaviours = []behaviour{
	{
		name:         "a miss then a hit replays status, every header value and the body",
		givenHandler: handler(http.StatusOK, "X-Multi", "a", "X-Multi", "b, c", "X-Multi", "d", "Content-Type", "text/plain; charset=utf-8", "Etag", `"v1"`),
		expect: func(t *testing.T, c *client, calls *atomic.Int32) {
			first := c.get("/x")
			if first.cacheStatus() != "swrcache; fwd=uri-miss; stored" {
				t.Fatalf("first Cache-Status = %q", first.cacheStatus())
			}
			second := c.get("/x")
			if !strings.HasPrefix(second.cacheStatus(), "swrcache; hit; ttl=") || calls.Load() != 1 {
				t.Fatalf("second Cache-Status = %q after %d calls", second.cacheStatus(), calls.Load())
			}
			if second.status != first.status || second.body != first.body ||
				!slices.Equal(second.header.Values("X-Multi"), []string{"a", "b, c", "d"}) ||
				second.header.Get("Content-Type") != first.header.Get("Content-Type") || second.header.Get("Age") == "" {
				t.Fatalf("replay differs: %d %q %v", second.status, second.body, second.header)
			}
		},
	},
	{name: "a 404 is stored", givenHandler: handler(http.StatusNotFound), expect: expectStoredOnce},
	{name: "a response with Set-Cookie is not stored", givenHandler: handler(http.StatusOK, "Set-Cookie", "session=alice"), expect: expectNotStored},
	{name: "a private response is not stored", givenHandler: handler(http.StatusOK, "Cache-Control", "private, max-age=60"), expect: expectNotStored},
	{name: "a no-store response is not stored", givenHandler: handler(http.StatusOK, "Cache-Control", "no-store"), expect: expectNotStored},
	{name: "a 500 is not stored", givenHandler: handler(http.StatusInternalServerError), expect: expectNotStored},
	{name: "a 201 is not stored by default", givenHandler: handler(http.StatusCreated), expect: expectNotStored},
	{name: "Vary: * is not stored", givenHandler: handler(http.StatusOK, "Vary", "*"), expect: expectNotStored},
	{
		name: "a response's Vary on a header outside the key is learned and stored per value",
		givenHandler: func(calls *atomic.Int32) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Vary", "Accept-Language")
				fmt.Fprintf(w, "hello in %q", r.Header.Get("Accept-Language"))
			})
		},
		expect: func(t *testing.T, c *client, calls *atomic.Int32) {
			for range 2 {
				for _, lang := range []string{"en", "fr", ""} {
					if r := c.get("/x", "Accept-Language", lang); r.body != fmt.Sprintf("hello in %q", lang) {
						t.Fatalf("Accept-Language %q got %q (%s)", lang, r.body, r.cacheStatus())
					}
				}
			}
			if calls.Load() != 3 {
				t.Fatalf("%d handler calls for three languages asked twice, want 3", calls.Load())
			}
			if r := c.get("/x", "Accept-Language", strings.Repeat("x", 300)); !strings.Contains(r.cacheStatus(), "detail=vary-value") {
				t.Fatalf("an oversized varying header: %q, want a bypass", r.cacheStatus())
			}
		},
	},
	{
		name:         "Vary on a header in the key is stored per value",
		givenConfig:  func(c *middleware.Config) { c.Key.Headers = []string{"Accept-Language"} },
		givenHandler: handler(http.StatusOK, "Vary", "Accept-Language"),
		expect: func(t *testing.T, c *client, calls *atomic.Int32) {
			en, fr := c.get("/x", "Accept-Language", "en"), c.get("/x", "Accept-Language", "fr")
			en2 := c.get("/x", "Accept-Language", "en")
			if en.body == fr.body || en2.body != en.body || !en2.hit() || calls.Load() != 2 {
				t.Fatalf("en %q, fr %q, en again %q (%s)", en.body, fr.body, en2.body, en2.cacheStatus())
			}
		},
	},
	{
		name:         "a request with Authorization bypasses the cache",
		givenHandler: handler(http.StatusOK),
		expect: func(t *testing.T, c *client, calls *atomic.Int32) {
			c.get("/x", "Authorization", "Bearer alice")
			r := c.get("/x", "Authorization", "Bearer alice")
			if calls.Load() != 2 || r.cacheStatus() != "swrcache; fwd=bypass; detail=authorization" {
				t.Fatalf("%d calls, Cache-Status %q", calls.Load(), r.cacheStatus())
			}
		},
	},
	{
		name:         "Authorization is cached when the route opts in with a per-user key",
		givenConfig:  func(c *middleware.Config) { c.AllowAuthorization, c.TenantHeader = true, "X-Tenant" },
		givenHandler: handler(http.StatusOK),
		expect: func(t *testing.T, c *client, calls *atomic.Int32) {
			c.get("/x", "Authorization", "Bearer a", "X-Tenant", "alice")
			if r := c.get("/x", "Authorization", "Bearer a", "X-Tenant", "alice"); !r.hit() || calls.Load() != 1 {
				t.Fatalf("%d calls, Cache-Status %q", calls.Load(), r.cacheStatus())
			}
		},
	},
	{
		name:        "two tenants on one URL never see each other's body",
		givenConfig: func(c *middleware.Config) { c.TenantHeader = "X-Tenant" },
		givenHandler: func(calls *atomic.Int32) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				fmt.Fprintf(w, "secret of %s", r.Header.Get("X-Tenant"))
			})
		},
		expect: func(t *testing.T, c *client, calls *atomic.Int32) {
			for range 2 {
				for _, tenant := range []string{"acme", "globex"} {
					if r := c.get("/x", "X-Tenant", tenant); r.body != "secret of "+tenant {
						t.Fatalf("tenant %s got %q", tenant, r.body)
					}
				}
			}
			if r := c.get("/x", "X-Tenant", "Bad Tenant!"); r.cacheStatus() != "swrcache; fwd=bypass; detail=tenant" {
				t.Fatalf("invalid tenant: Cache-Status %q, want a bypass", r.cacheStatus())
			}
			if r := c.get("/x"); r.cacheStatus() != "swrcache; fwd=bypass; detail=tenant" {
				t.Fatalf("missing tenant: Cache-Status %q, want a bypass", r.cacheStatus())
			}
			if calls.Load() != 4 {
				t.Fatalf("%d handler calls, want 2 fills and 2 bypasses", calls.Load())
			}
		},
	},
	{
		name:         "If-None-Match with the stored ETag gets a 304",
		givenHandler: handler(http.StatusOK, "Etag", `"abc"`),
		expect: func(t *testing.T, c *client, calls *atomic.Int32) {
			c.get("/x")
			r := c.get("/x", "If-None-Match", `"zzz", W/"abc"`)
			if r.status != http.StatusNotModified || r.body != "" || calls.Load() != 1 {
				t.Fatalf("got %d %q after %d calls, want 304 from the cache", r.status, r.body, calls.Load())
			}
		},
	},
	{
		name:         "HEAD is served from the GET entry",
		givenHandler: handler(http.StatusOK, "X-Thing", "1"),
		expect: func(t *testing.T, c *client, calls *atomic.Int32) {
			g := c.get("/x")
			h := c.do(http.MethodHead, "/x")
			if !h.hit() || h.body != "" || h.header.Get("X-Thing") != "1" || h.header.Get("Content-Length") != fmt.Sprint(len(g.body)) {
				t.Fatalf("HEAD: %q %v", h.cacheStatus(), h.header)
			}
		},
	},
	{
		name:        "a body over the cap passes through uncached, whole",
		givenConfig: func(c *middleware.Config) { c.MaxBody = 1000 },
		givenHandler: func(calls *atomic.Int32) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Write([]byte(strings.Repeat("x", 5000)))
			})
		},
		expect: func(t *testing.T, c *client, calls *atomic.Int32) {
			for range 3 {
				if r := c.get("/x"); len(r.body) != 5000 || r.hit() {
					t.Fatalf("got %d bytes (%s), want all 5000 uncached", len(r.body), r.cacheStatus())
				}
			}
			if calls.Load() != 3 {
				t.Fatalf("%d handler calls, want 3", calls.Load())
			}
		},
	},
	{
		name:         "an event stream is not stored",
		givenHandler: handler(http.StatusOK, "Content-Type", "text/event-stream"),
		expect:       expectNotStored,
	},
	{
		name:         "the kill switch sends every request to the handler",
		givenConfig:  func(c *middleware.Config) { c.Disabled = func() bool { return true } },
		givenHandler: handler(http.StatusOK),
		expect:       expectNotStored,
	},
	{
		name:         "the canary rate is honoured within sampling error",
		givenConfig:  func(c *middleware.Config) { c.SampleRate = 0.25 },
		givenHandler: handler(http.StatusOK),
		expect: func(t *testing.T, c *client, calls *atomic.Int32) {
			const n = 400
			sampled := 0
			for range n {
				if !strings.Contains(c.get("/x").cacheStatus(), "sampled-out") {
					sampled++
				}
			}
			if sampled < 60 || sampled > 140 { // 100 ± 4.6 standard deviations
				t.Fatalf("%d of %d requests used the cache, want about 25%%", sampled, n)
			}
		},
	},
	{
		name: "a stale response is served at once and refreshed without the trigger's cookies",
		givenConfig: func(c *middleware.Config) {
			c.TTL, c.StaleWhileRevalidate, c.RefreshAhead = 300*time.Millisecond, time.Minute, -1
		},
		givenHandler: func(calls *atomic.Int32) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				fmt.Fprintf(w, "v%d cookie=%q auth=%q", n, r.Header.Get("Cookie"), r.Header.Get("Authorization"))
			})
		},
		expect: func(t *testing.T, c *client, calls *atomic.Int32) {
			c.get("/x")
			var stale reply
			waitUntil(t, "the response to go stale", func() bool {
				stale = c.get("/x", "Cookie", "session=alice")
				return strings.Contains(stale.cacheStatus(), "fwd=stale")
			})
			if !strings.HasPrefix(stale.body, "v1 ") {
				t.Fatalf("stale body %q, want the first response", stale.body)
			}
			var fresh reply
			waitUntil(t, "the background refresh", func() bool {
				fresh = c.get("/x")
				return strings.HasPrefix(fresh.body, "v2 ")
			})
			if fresh.body != `v2 cookie="" auth=""` {
				t.Fatalf("refreshed body %q: the refresh carried the trigger's credentials", fresh.body)
			}
		},
	},
}

func TestBehaviourThroughEveryAdapter(t *testing.T) {
	for _, a := range adapters {
		for _, b := range behaviours {
			t.Run(a.name+"/"+b.name, func(t *testing.T) {
				cfg := baseConfig()
				if b.givenConfig != nil {
					b.givenConfig(&cfg)
				}
				var calls atomic.Int32
				srv := a.serve(t, newEngine(t, nil), cfg, b.givenHandler(&calls))
				b.expect(t, &client{
					get: func(path string, h ...string) reply { return get(t, srv, path, h...) },
					do:  func(m, path string, h ...string) reply { return do(t, srv, m, path, h...) },
				}, &calls)
			})
		}
	}
}

// waitUntil polls cond, failing t after a generous deadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRefreshKeepsTheRoutesPathValues(t *testing.T) {
	var calls atomic.Int32
	mux := http.NewServeMux()
	cfg := baseConfig()
	cfg.TTL, cfg.StaleWhileRevalidate, cfg.RefreshAhead = 300*time.Millisecond, time.Minute, -1
	mw := mustNetHTTP(t, newEngine(t, nil), cfg)
	mux.Handle("GET /p/{id}", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "v%d id=%s", calls.Add(1), r.PathValue("id"))
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get(t, srv, "/p/7")
	waitUntil(t, "a refreshed response", func() bool { return strings.HasPrefix(get(t, srv, "/p/7").body, "v2") })
	if r := get(t, srv, "/p/7"); r.body != "v2 id=7" {
		t.Fatalf("after a refresh: %q, want the path value kept", r.body)
	}
}

func TestTagsHeaderNeverReachesClients(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.TagsHeader = "X-Cache-Tags"
			var calls atomic.Int32
			srv := a.serve(t, newEngine(t, nil), cfg, handler(http.StatusOK, "X-Cache-Tags", "item:1")(&calls))
			for _, h := range [][]string{nil, nil, {"Authorization", "Bearer a"}} { // miss, hit, bypass
				if r := get(t, srv, "/x", h...); r.header.Get("X-Cache-Tags") != "" {
					t.Fatalf("%s: the tags header reached the client", r.cacheStatus())
				}
			}
		})
	}
}

// Requests waiting on the fill that first learns a Vary must not receive a
// variant meant for other header values (RFC 9111 section 4.1).
func TestCollapsedRequestsGetTheirOwnVariant(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := a.serve(t, newEngine(t, nil), baseConfig(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				time.Sleep(100 * time.Millisecond)
				w.Header().Set("Vary", "Accept-Language")
				fmt.Fprintf(w, "hello in %s", r.Header.Get("Accept-Language"))
			}))
			langs := []string{"en", "fr", "de", "en", "fr", "de", "en", "fr"}
			got := make([]string, len(langs))
			var wg sync.WaitGroup
			for i, lang := range langs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got[i] = get(t, srv, "/cold", "Accept-Language", lang).body
				}()
			}
			wg.Wait()
			for i, lang := range langs {
				if got[i] != "hello in "+lang {
					t.Errorf("Accept-Language %s got %q", lang, got[i])
				}
			}
			if n := calls.Load(); n > 4 {
				t.Errorf("%d handler calls for three languages, want at most one each plus the first", n)
			}
		})
	}
}
