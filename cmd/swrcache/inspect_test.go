package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"

	"github.com/swrcache/swrcache/adapters/echocache"
	"github.com/swrcache/swrcache/adapters/gincache"
	"github.com/swrcache/swrcache/adapters/httpcache"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
)

// The routes of the examples, configured as examples/nethttp, gin and echo
// configure them (their packages are commands, so they cannot be
// imported): what inspect must decode is what those routes store.

func nethttpProduct(t *testing.T, e *core.Engine) http.Handler {
	cache, err := httpcache.New(e, httpcache.Config{
		Policy:       core.Policy{TTL: 30 * time.Second, StaleWhileRevalidate: 5 * time.Minute, StaleIfError: 10 * time.Minute},
		Key:          httpcache.KeySpec{Resource: "product", Query: []string{}},
		TenantHeader: "X-Tenant",
		TagsHeader:   "X-Cache-Tags",
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /products/{id}", cache(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Cache-Tags", "product:"+r.PathValue("id"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%s,"tenant":%q,"name":"espresso machine","price":10}`+"\n", r.PathValue("id"), r.Header.Get("X-Tenant"))
	})))
	return mux
}

func ginUser(t *testing.T, e *core.Engine) http.Handler {
	r := gin.New()
	cache, err := gincache.New(e, gincache.Config{
		Policy:       core.Policy{TTL: 30 * time.Second, StaleWhileRevalidate: 5 * time.Minute},
		Key:          gincache.KeySpec{Resource: "user", Query: []string{}},
		TenantHeader: "X-Tenant",
		TagsHeader:   "X-Cache-Tags",
		Router:       r,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.GET("/users/:id", cache, func(c *gin.Context) {
		tenant, id := c.GetHeader("X-Tenant"), c.Param("id")
		c.Header("X-Cache-Tags", "user:"+tenant+":"+id)
		c.JSON(http.StatusOK, gin.H{"id": id, "tenant": tenant, "name": "Ada Lovelace"})
	})
	return r
}

func echoProduct(t *testing.T, e *core.Engine) http.Handler {
	cache, err := echocache.New(e, echocache.Config{
		Policy:       core.Policy{TTL: 30 * time.Second, StaleWhileRevalidate: 5 * time.Minute, Tags: []string{"products"}},
		Key:          echocache.KeySpec{Resource: "product", Query: []string{}},
		TenantHeader: "X-Tenant",
	})
	if err != nil {
		t.Fatal(err)
	}
	ec := echo.New()
	ec.HideBanner, ec.HidePort = true, true
	ec.Logger.SetOutput(io.Discard)
	ec.GET("/products/:id", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"id": 1, "tenant": c.Request().Header.Get("X-Tenant"), "name": "grinder"})
	}, cache)
	return ec
}

// get requests path from srv with the given request headers (name, value,
// ...), and returns the response's Cache-Status and body.
func get(t *testing.T, srv *httptest.Server, path string, header ...string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.Header.Get("Cache-Status") + " | " + string(body)
}

// line matches a "label  value" line of inspect's text output.
func line(label, value string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(label) + `\s+` + value)
}

func TestInspectDecodesTheEntryOfEachExample(t *testing.T) {
	tests := []struct {
		name       string
		givenRoute func(*testing.T, *core.Engine) http.Handler // nil: a core entry, filled by givenFill
		givenFill  func(context.Context, *core.Engine) error
		givenPath  string
		givenArgs  []string // the route's key flags, or --key
		expect     []*regexp.Regexp
	}{
		{name: "nethttp: GET /products/{id}", givenRoute: nethttpProduct, givenPath: "/products/1",
			givenArgs: []string{"--resource", "product", "--no-query", "--tenant", "acme"},
			expect: []*regexp.Regexp{line("state", "fresh"), line("identity", "matches"), line("tags", "product:1$"),
				line("fresh", `until .* \(in .*; TTL 30s\)`), line("stale-while-revalidate", `until .*; 5m0s past fresh\)`),
				line("stale-if-error", `until .*; 10m0s past fresh\)`), line("status", "200"),
				line("header", "Content-Type: application/json"), line("body", `\d+ bytes: \{"id":1,"tenant":"acme","name":"espresso machine","price":10\}\\n$`)}},
		{name: "gin: GET /users/:id", givenRoute: ginUser, givenPath: "/users/1",
			givenArgs: []string{"--resource", "user", "--no-query", "--tenant", "acme"},
			expect: []*regexp.Regexp{line("state", "fresh"), line("tags", "user:acme:1$"), line("stale-if-error", "none"),
				line("status", "200"), line("header", "Content-Type: application/json; charset=utf-8"),
				line("body", `\d+ bytes: \{"id":"1","name":"Ada Lovelace","tenant":"acme"\}$`)}},
		{name: "echo: GET /products/:id", givenRoute: echoProduct, givenPath: "/products/1",
			givenArgs: []string{"--resource", "product", "--no-query", "--tenant", "acme"},
			expect: []*regexp.Regexp{line("state", "fresh"), line("tags", "products$"), line("status", "200"),
				line("header", "Content-Type: application/json"), line("body", `\d+ bytes: \{"id":1,"name":"grinder","tenant":"acme"\}\\n$`)}},
		{name: "fetch: core.Fetch of a product", givenArgs: []string{"--key", "product:1"},
			givenFill: func(ctx context.Context, e *core.Engine) error {
				type product struct {
					ID    int     `json:"id"`
					Name  string  `json:"name"`
					Price float64 `json:"price"`
				}
				p := core.Policy{TTL: time.Minute, StaleWhileRevalidate: 5 * time.Minute, Tags: []string{"products"}}
				_, err := core.Fetch(ctx, e, "product:1", p, func(context.Context) (product, error) { return product{1, "product 1", 9.99}, nil })
				return err
			},
			expect: []*regexp.Regexp{line("state", "fresh"), line("identity", "matches"), line("tags", "products$"),
				line("value", `\d+ bytes, msgpack: \{"id":1,"name":"product 1","price":9.99\}$`)}},
		{name: "batch: core.FetchMany of customers", givenArgs: []string{"--key", "customer:3"},
			givenFill: func(ctx context.Context, e *core.Engine) error {
				type customer struct {
					ID   int    `json:"id"`
					Name string `json:"name"`
				}
				p := core.Policy{TTL: time.Minute, StaleWhileRevalidate: 10 * time.Minute, Tags: []string{"customers"}}
				_, err := core.FetchMany(ctx, e, []string{"customer:1", "customer:3"}, p,
					func(_ context.Context, keys []string) (map[string]customer, error) {
						out := map[string]customer{}
						for _, k := range keys {
							var id int
							fmt.Sscanf(k, "customer:%d", &id)
							out[k] = customer{id, fmt.Sprintf("customer %d", id)}
						}
						return out, nil
					})
				return err
			},
			expect: []*regexp.Regexp{line("state", "fresh"), line("tags", "customers$"), line("stale-while-revalidate", "until .*10m0s past fresh"),
				line("value", `\d+ bytes, msgpack: \{"id":3,"name":"customer 3"\}$`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ns := newEngine(t)
			args := append([]string{"inspect"}, connFlags(t, ns)...)
			if tt.givenRoute != nil {
				srv := httptest.NewServer(tt.givenRoute(t, e))
				t.Cleanup(srv.Close)
				if got := get(t, srv, tt.givenPath, "X-Tenant", "acme"); !strings.Contains(got, "stored") {
					t.Fatalf("the fill was not stored: %s", got)
				}
				args = append(args, "--url", srv.URL+tt.givenPath)
			} else if err := tt.givenFill(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			got := swrcache(t, append(args, tt.givenArgs...)...)
			if got.code != exitOK {
				t.Fatalf("exit %d\n%s%s", got.code, got.stdout, got.stderr)
			}
			for _, re := range tt.expect {
				if !re.MatchString(got.stdout) {
					t.Errorf("no line matches %s in:\n%s", re, got.stdout)
				}
			}
		})
	}
}

// varyRoute answers in the request's language, with Vary: Accept-Language,
// and counts its calls.
func varyRoute(t *testing.T, e *core.Engine, calls *atomic.Int32) http.Handler {
	cache, err := httpcache.New(e, httpcache.Config{
		Policy: core.Policy{TTL: time.Minute},
		Key:    httpcache.KeySpec{Resource: "greeting", Query: []string{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	greetings := map[string]string{"en": "hello", "fr": "bonjour", "de": "hallo"}
	return cache(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("Content-Language", r.Header.Get("Accept-Language"))
		fmt.Fprint(w, greetings[r.Header.Get("Accept-Language")])
	}))
}

func TestInspectShowsTheVaryMarkerAndTheVariants(t *testing.T) {
	e, ns := newEngine(t)
	var calls atomic.Int32
	srv := httptest.NewServer(varyRoute(t, e, &calls))
	t.Cleanup(srv.Close)
	for _, lang := range []string{"en", "fr"} {
		if got := get(t, srv, "/greeting", "Accept-Language", lang); !strings.Contains(got, "stored") {
			t.Fatalf("%s: %s", lang, got)
		}
	}
	args := append([]string{"inspect", "--url", srv.URL + "/greeting", "--resource", "greeting", "--no-query",
		"--header-value", "Accept-Language: fr"}, connFlags(t, ns)...)

	text := swrcache(t, args...)
	for _, re := range []*regexp.Regexp{line("vary marker", "Accept-Language: a variant per request value"),
		regexp.MustCompile(`(?m)^variant for this request:$`), line("body", "7 bytes: bonjour$"),
		line("header", "Content-Language: fr"), regexp.MustCompile(`(?m)^variants found by tag swrcache:vary:v1:api:greeting:\w+:_: 2$`)} {
		if !re.MatchString(text.stdout) {
			t.Errorf("no line matches %s in:\n%s", re, text.stdout)
		}
	}
	if text.code != exitOK {
		t.Fatalf("exit %d: %s", text.code, text.stderr)
	}

	var rep inspectReport
	js := swrcache(t, append(args, "--output", "json")...)
	if err := json.Unmarshal([]byte(js.stdout), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, js.stdout)
	}
	if len(rep.Entry.Vary) != 1 || rep.Entry.Vary[0] != "Accept-Language" || rep.Entry.Identity != "matches" {
		t.Errorf("the base entry: %+v", rep.Entry)
	}
	if v := rep.Variant; v == nil || v.Response == nil || v.Response.BodyPreview != "bonjour" || v.Identity != "matches" || v.State != "fresh" {
		t.Errorf("the request's variant: %+v", v)
	}
	if len(rep.Variants) != 2 || rep.Variants[0].Status != 200 || rep.Variants[1].Status != 200 {
		t.Errorf("the variants: %+v", rep.Variants)
	}

	// The marker by its name: no request, so no variant of its own.
	byName := swrcache(t, append([]string{"inspect", "--key", rep.Entry.Name}, connFlags(t, ns)...)...)
	if byName.code != exitOK || !line("vary marker", "Accept-Language").MatchString(byName.stdout) ||
		!strings.Contains(byName.stdout, "variants found by tag") || strings.Contains(byName.stdout, "variant for this request") {
		t.Errorf("--key of the marker: exit %d\n%s", byName.code, byName.stdout)
	}

	// A language no one asked for has no variant yet.
	de := swrcache(t, append(args, "--header-value", "Accept-Language: de")...)
	if de.code != exitProblem || !line("state", "missing").MatchString(de.stdout) {
		t.Errorf("another language: exit %d\n%s", de.code, de.stdout)
	}
}

func TestInspectReportsWhatALookupWouldNotServe(t *testing.T) {
	ns := redistest.Prefix(t)
	if err := redistest.Client(t).Set(context.Background(), ns+"{planted}", "\x00\xffnot an entry", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		givenKey    string
		expectState string
		expectLine  *regexp.Regexp
	}{
		{"a missing key", "absent", "missing", line("problem", "no entry")},
		{"a value another program planted", "planted", "corrupt", line("value", `14 bytes, raw: \\x00\\xffnot an entry$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := swrcache(t, append([]string{"inspect", "--key", tt.givenKey}, connFlags(t, ns)...)...)
			if got.code != exitProblem || !line("state", tt.expectState).MatchString(got.stdout) || !tt.expectLine.MatchString(got.stdout) {
				t.Fatalf("exit %d:\n%s", got.code, got.stdout)
			}
		})
	}
}

func TestPreviewIsPrintable(t *testing.T) {
	tests := []struct {
		name   string
		given  string
		givenN int
		expect string
	}{
		{"text is kept", "héllo", 10, "héllo"},
		{"control bytes are escaped", "a\x00\n\tb\\", 10, `a\x00\n\tb\\`},
		{"invalid UTF-8 is escaped", "\xff\xfe", 10, `\xff\xfe`},
		{"a cut counts what is left", "abcdef", 4, "abcd... (2 more bytes)"},
		{"a rune is never split", "aé", 2, "a... (2 more bytes)"},
		{"an escape sequence from a terminal is escaped", "\x1b[31mred", 20, `\x1b[31mred`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := preview([]byte(tt.given), tt.givenN); got != tt.expect {
				t.Fatalf("preview = %q, want %q", got, tt.expect)
			}
		})
	}
}
