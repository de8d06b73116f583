package swrcache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swrcache/swrcache/internal/redistest"
	"github.com/swrcache/swrcache/keyfunc"
)

// Hostile input from someone who can only send requests: poisoning, path
// confusion, key injection and cost. Planted entries are in
// hostile_planted_test.go. See SECURITY.md.

// unkeyedHeaders are the classic cache-poisoning inputs: headers a handler
// may read but that are not part of the key unless the route says so.
var unkeyedHeaders = []string{"X-Forwarded-Host", "X-Original-Url", "X-Forwarded-Proto", "X-Http-Method-Override", "X-Forwarded-For"}

// reflecting answers with the values of unkeyedHeaders, as a handler that
// builds links from X-Forwarded-Host would. extra headers are set on the
// response first.
func reflecting(calls *atomic.Int32, extra ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		for i := 0; i+1 < len(extra); i += 2 {
			w.Header().Set(extra[i], extra[i+1])
		}
		for _, h := range unkeyedHeaders {
			fmt.Fprintf(w, "%s=%q\n", h, r.Header.Get(h))
		}
	})
}

func TestUnkeyedHeadersDoNotChangeTheKey(t *testing.T) {
	spec := keyfunc.Spec{Resource: "things"}
	plain := httptest.NewRequest(http.MethodGet, "http://example.com/x?a=1", nil)
	want, err := spec.Key(plain, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range unkeyedHeaders {
		r := plain.Clone(context.Background())
		r.Header.Set(h, "evil.example/admin")
		if got, err := spec.Key(r, ""); err != nil || got != want {
			t.Errorf("%s changed the key (%v): the key covers only method, host, path, query and listed headers", h, err)
		}
	}
}

func TestPoisoningThroughUnkeyedHeaders(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.name+"/an unkeyed header the handler reflects is the app's to key", func(t *testing.T) {
			var calls atomic.Int32
			srv := a.serve(t, newEngine(t, nil), baseConfig(), reflecting(&calls))
			evil := get(t, srv, "/x", "X-Forwarded-Host", "evil.example")
			victim := get(t, srv, "/x")
			if !victim.hit() || victim.body != evil.body || calls.Load() != 1 {
				t.Fatalf("victim %q (%s): an unkeyed header is documented as not in the key", victim.body, victim.cacheStatus())
			}
		})
		t.Run(a.name+"/a header listed in Key.Headers never poisons", func(t *testing.T) {
			cfg := baseConfig()
			cfg.Key.Headers = unkeyedHeaders
			var calls atomic.Int32
			srv := a.serve(t, newEngine(t, nil), cfg, reflecting(&calls))
			expectNotPoisoned(t, srv)
		})
		t.Run(a.name+"/a header the response varies on is learned and never poisons", func(t *testing.T) {
			var calls atomic.Int32
			srv := a.serve(t, newEngine(t, nil), baseConfig(), reflecting(&calls, "Vary", strings.Join(unkeyedHeaders, ", ")))
			expectNotPoisoned(t, srv)
		})
	}
}

// expectNotPoisoned sends, for each unkeyed header, an attacker's request
// with it and then a victim's without it, and checks the victim never gets
// the attacker's value while the attacker's own variant is cached.
func expectNotPoisoned(t *testing.T, srv *httptest.Server) {
	t.Helper()
	for i, h := range unkeyedHeaders {
		path := fmt.Sprintf("/p%d", i)
		evil := get(t, srv, path, h, "evil.example")
		if !strings.Contains(evil.body, "evil.example") {
			t.Fatalf("%s: the attacker's own response %q lacks its value", h, evil.body)
		}
		for range 2 {
			if victim := get(t, srv, path); strings.Contains(victim.body, "evil") {
				t.Fatalf("%s: the victim got the attacker's response %q (%s)", h, victim.body, victim.cacheStatus())
			}
		}
		if again := get(t, srv, path, h, "evil.example"); !again.hit() || again.body != evil.body {
			t.Fatalf("%s: the attacker's variant %q (%s), want its own, from the cache", h, again.body, again.cacheStatus())
		}
	}
}

// With a Key.Query allow-list, parameters outside it are not in the key,
// so a fill's handler never sees them: a request carrying one cannot store
// a response the others then get. Bypassed requests reach the handler
// unchanged, and PassUnkeyedQuery hands a fill everything.
func TestUnkeyedQueryParametersNeverReachAFill(t *testing.T) {
	echoQuery := func(calls *atomic.Int32) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			fmt.Fprintf(w, "raw=%s lang=%s uri=%s", r.URL.RawQuery, r.URL.Query().Get("lang"), r.RequestURI)
		})
	}
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.Key.Query = []string{"id"}
			var calls atomic.Int32
			srv := a.serve(t, newEngine(t, nil), cfg, echoQuery(&calls))
			evil := get(t, srv, "/x?lang=evil&id=1&id=2&cb=9")
			if want := "raw=id=1&id=2 lang= uri=/x?id=1&id=2"; evil.body != want {
				t.Fatalf("the fill saw %q, want %q", evil.body, want)
			}
			victim := get(t, srv, "/x?id=1&id=2")
			if !victim.hit() || victim.body != evil.body || calls.Load() != 1 {
				t.Fatalf("victim: %q (%s), %d handler calls; want the same entry, unpoisoned", victim.body, victim.cacheStatus(), calls.Load())
			}
			pass := get(t, srv, "/x?lang=fr&id=1", "Authorization", "Bearer t")
			if !strings.Contains(pass.body, "lang=fr") || !strings.Contains(pass.cacheStatus(), "fwd=bypass") {
				t.Fatalf("a bypassed request: %q (%s); want it unchanged", pass.body, pass.cacheStatus())
			}
		})
		t.Run(a.name+"/PassUnkeyedQuery", func(t *testing.T) {
			cfg := baseConfig()
			cfg.Key.Query = []string{"id"}
			cfg.PassUnkeyedQuery = true
			var calls atomic.Int32
			srv := a.serve(t, newEngine(t, nil), cfg, echoQuery(&calls))
			if r := get(t, srv, "/x?lang=fr&id=1"); !strings.Contains(r.body, "lang=fr") {
				t.Fatalf("the fill saw %q, want every parameter", r.body)
			}
		})
	}
}

// A GET body is not part of the key, so a request with one must not
// fill the entry other requests read ("fat GET" poisoning).
func TestAGetWithABodyNeverPoisons(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := a.serve(t, newEngine(t, nil), baseConfig(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				b, _ := io.ReadAll(r.Body)
				fmt.Fprintf(w, "body=%q", b)
			}))
			for _, chunked := range []bool{false, true} {
				req, err := http.NewRequest(http.MethodGet, srv.URL+"/x", strings.NewReader("evil"))
				if err != nil {
					t.Fatal(err)
				}
				if chunked {
					req.ContentLength = -1
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != `body="evil"` || !strings.Contains(resp.Header.Get("Cache-Status"), "detail=body") {
					t.Fatalf("chunked %v: the attacker got %q (%s), want its own response, bypassing", chunked, b, resp.Header.Get("Cache-Status"))
				}
				if v := get(t, srv, "/x"); v.body != `body=""` {
					t.Fatalf("chunked %v: the victim got %q (%s)", chunked, v.body, v.cacheStatus())
				}
			}
		})
	}
}

// rawGet sends GET with the request target exactly as given, which Go's
// client would otherwise clean or re-escape.
func rawGet(t *testing.T, srv *httptest.Server, target string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	path, query, _ := strings.Cut(target, "?")
	req.URL.Opaque, req.URL.RawQuery = path, query
	return send(t, srv, req, header...)
}

func echoingTarget(calls *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		fmt.Fprintf(w, "path=%s query=%s", r.URL.EscapedPath(), r.URL.RawQuery)
	})
}

// expectOwnBodies requests every target twice, in turn, and checks each
// always gets the body of its own request.
func expectOwnBodies(t *testing.T, srv *httptest.Server, targets []string) {
	t.Helper()
	for round := range 2 {
		for _, target := range targets {
			path, query, _ := strings.Cut(target, "?")
			want := fmt.Sprintf("path=%s query=%s", path, query)
			if r := rawGet(t, srv, target); r.status != http.StatusOK || r.body != want {
				t.Fatalf("round %d, %s: %d %q (%s), want %q", round, target, r.status, r.body, r.cacheStatus(), want)
			}
		}
	}
}

func TestEveryRawPathHasItsOwnEntry(t *testing.T) {
	paths := []string{"/a/b", "/a%2Fb", "/a%2fb", "/a/./b", "/a/../a/b", "/a//b", "/a/b/", "/a", "/a/", "/A/b", "/a;x/b", "/a%3Bx/b", "/a%20b", "/a+b"}
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := a.serve(t, newEngine(t, nil), baseConfig(), echoingTarget(&calls))
			expectOwnBodies(t, srv, paths)
			if calls.Load() != int32(len(paths)) {
				t.Fatalf("%d handler calls for %d paths asked twice, want one each", calls.Load(), len(paths))
			}
		})
	}
}

func TestCacheDeceptionNeverStoresPrivateResponses(t *testing.T) {
	private := map[string][]string{
		"/account.css":         {"Set-Cookie", "session=alice"},
		"/account/x.js":        {"Cache-Control", "private, max-age=600"},
		"/account/avatar.png":  {"Cache-Control", "no-store"},
		"/account;/static.css": {"Set-Cookie", "csrf=1", "Cache-Control", "public, max-age=600"},
	}
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := a.serve(t, newEngine(t, nil), baseConfig(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				h := private[r.URL.EscapedPath()]
				for i := 0; i+1 < len(h); i += 2 {
					w.Header().Add(h[i], h[i+1])
				}
				fmt.Fprintf(w, "account page of %q", r.Header.Get("Cookie"))
			}))
			for path := range private {
				victim := rawGet(t, srv, path, "Cookie", "user=alice")
				attacker := rawGet(t, srv, path)
				if !strings.Contains(victim.body, "alice") || strings.Contains(attacker.body, "alice") || attacker.hit() {
					t.Fatalf("%s: victim %q, attacker %q (%s); the victim's page must not be stored", path, victim.body, attacker.body, attacker.cacheStatus())
				}
			}
			if calls.Load() != int32(2*len(private)) {
				t.Fatalf("%d handler calls, want every request answered by the handler", calls.Load())
			}
		})
	}
}

// distinctQueries are pairwise different once decoded as url.ParseQuery
// decodes them (the key is on decoded, name-sorted parameters), and would
// collide under a key built by joining with ":", "|", "=" or "&".
var distinctQueries = []string{
	"", "a=", "a=&a=", "b=", "a=1", "a=1&a=2", "a=2&a=1", "a=1,2", "a=1&a=2&a=", "a=12", "a1=2",
	"a%3Ab=c", "a=b%3Ac", "a=b%7Cc=d", "a=b&c=d", "a=b%26c%3Dd", "a%3Db=c", "a=b%3Dc", "a%26b=c",
	"a=1&b=", "a=1%26b%3D", "ab=c", "a=bc",
	"q=%E2%9C%93", "q=%E2%9C%94", "q=%C3%A9", "q=e%CC%81", "q=%FF", "q=%FE", "%E2%9C%93=q",
	"a=%00", "a=%00%00", "a%00=1", "a=1%0D%0AX-Evil:%201",
}

func TestQueryKeysAreCollisionFree(t *testing.T) {
	spec := keyfunc.Spec{Resource: "things"}
	seen := map[string]string{}
	for _, q := range distinctQueries {
		k, err := spec.Key(httptest.NewRequest(http.MethodGet, "http://example.com/x?"+q, nil), "")
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if other, ok := seen[k.Name]; ok {
			t.Fatalf("%q and %q share the key %s", q, other, k.Name)
		}
		seen[k.Name] = q
	}
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := a.serve(t, newEngine(t, nil), baseConfig(), echoingTarget(&calls))
			targets := make([]string, 0, len(distinctQueries)+1)
			for _, q := range distinctQueries {
				targets = append(targets, "/x?"+q)
			}
			targets = append(targets, "/x?a=1;b=2") // a malformed query bypasses
			expectOwnBodies(t, srv, targets)
			if n := calls.Load(); n != int32(len(distinctQueries)+2) {
				t.Fatalf("%d handler calls, want one per query plus two bypasses", n)
			}
		})
	}
}

func TestHostileRequestsCostBoundedWork(t *testing.T) {
	sized := func(calls *atomic.Int32) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			fmt.Fprintf(w, "path %d query %d header %d", len(r.URL.EscapedPath()), len(r.URL.RawQuery), len(r.Header.Get("X-Big")))
		})
	}
	var many strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&many, "&p%d=%d", i, i)
	}
	longPath := "/" + strings.Repeat("p", 16<<10)
	tests := []struct {
		name, target string
		header       []string
		want         string
	}{
		{"a 16 KiB path", longPath, nil, fmt.Sprintf("path %d query 0 header 0", len(longPath))},
		{"5000 query parameters", "/x?" + many.String()[1:], nil, fmt.Sprintf("path 2 query %d header 0", many.Len()-1)},
		{"a 64 KiB keyed header", "/x", []string{"X-Big", strings.Repeat("h", 64<<10)}, "path 2 query 0 header 65536"},
	}
	for _, a := range adapters {
		for _, tt := range tests {
			t.Run(a.name+"/"+tt.name, func(t *testing.T) {
				cfg := baseConfig()
				cfg.Key.Headers = []string{"X-Big"}
				var calls atomic.Int32
				srv := a.serve(t, newEngine(t, nil), cfg, sized(&calls))
				for range 2 {
					if r := get(t, srv, tt.target, tt.header...); r.status != http.StatusOK || r.body != tt.want {
						t.Fatalf("%d %q (%s), want %q from the handler or the cache", r.status, r.body, r.cacheStatus(), tt.want)
					}
				}
				if calls.Load() != 1 {
					t.Fatalf("%d handler calls, want the second request served from its fixed-size key", calls.Load())
				}
			})
		}
	}
}

func TestCacheBustingParametersAreBoundedByTheAllowList(t *testing.T) {
	for _, a := range adapters {
		for _, allow := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/allow-list %v", a.name, allow), func(t *testing.T) {
				rdb, ns := redistest.Client(t), redistest.Prefix(t)
				cfg := baseConfig()
				if allow {
					cfg.Key.Query = []string{"page"}
				}
				var calls atomic.Int32
				srv := a.serve(t, newEngineOn(t, rdb, ns, nil), cfg, handler(http.StatusOK)(&calls))
				const n = 100
				for i := range n {
					if r := get(t, srv, fmt.Sprintf("/x?cb=%d&page=1", i)); r.status != http.StatusOK {
						t.Fatalf("request %d: %d (%s)", i, r.status, r.cacheStatus())
					}
				}
				keys := redistest.CountKeys(t, rdb, ns)
				switch {
				case allow && (calls.Load() != 1 || keys > 2):
					t.Fatalf("%d handler calls, %d Redis keys; want 1 call and 1 entry", calls.Load(), keys)
				case !allow && (calls.Load() != n || keys < n):
					t.Fatalf("%d handler calls, %d Redis keys; without an allow-list every parameter is keyed", calls.Load(), keys)
				}
			})
		}
	}
}

func TestVaryVariantsAreBoundedByTTLAndValueSize(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			rdb, ns := redistest.Client(t), redistest.Prefix(t)
			var calls atomic.Int32
			srv := a.serve(t, newEngineOn(t, rdb, ns, nil), baseConfig(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Vary", "X-V")
				fmt.Fprintf(w, "variant %q", r.Header.Get("X-V"))
			}))
			const n = 200
			for i := range n {
				v := fmt.Sprintf("v%d", i)
				if r := get(t, srv, "/x", "X-V", v); r.status != http.StatusOK || r.body != fmt.Sprintf("variant %q", v) {
					t.Fatalf("X-V %s: %d %q (%s)", v, r.status, r.body, r.cacheStatus())
				}
			}
			ctx := context.Background()
			keys, err := rdb.Keys(ctx, ns+"*").Result()
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) > n+2 {
				t.Fatalf("%d Redis keys for %d variants", len(keys), n)
			}
			limit := baseConfig().TTL + 10*time.Second // the last window plus a small expiry margin
			for _, k := range keys {
				if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > limit {
					t.Fatalf("%s expires in %v, want within %v", k, ttl, limit)
				}
			}
			before := calls.Load()
			for range 2 {
				r := get(t, srv, "/x", "X-V", strings.Repeat("v", 257))
				if r.status != http.StatusOK || !strings.Contains(r.cacheStatus(), "detail=vary-value") {
					t.Fatalf("a 257-byte varying value: %d (%s), want a bypass", r.status, r.cacheStatus())
				}
			}
			if calls.Load() != before+2 {
				t.Fatalf("%d handler calls for two oversized values, want 2", calls.Load()-before)
			}
		})
	}
}
