package swrcache_test

// The stack matrix: the cache in the middleware chains people run, with
// the ecosystem's own middleware around it. This file puts compression
// before the cache and inside it (between the cache and the handler);
// stack_chain_test.go puts request IDs, loggers, recovery and CORS before
// it. Every response is read as raw bytes, without the client's
// transparent decompression.

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	gingzip "github.com/gin-contrib/gzip"
	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"
	"github.com/klauspost/compress/gzhttp"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"

	"github.com/swrcache/swrcache/adapters/echocache"
	"github.com/swrcache/swrcache/adapters/gincache"
	"github.com/swrcache/swrcache/adapters/httpcache"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/middleware"
)

// compressStack is one framework with its compression middleware.
type compressStack struct {
	name string
	// varyAlways: the compressor names Accept-Encoding in Vary on the
	// responses it leaves plain, too (gin-contrib/gzip and chi's Compress
	// do so only on those they compress).
	varyAlways bool
	// serve serves h on one route behind the cache, with the compressor
	// registered before the cache or, inside, between the cache and h.
	serve func(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler, inside bool) *httptest.Server
}

var compressStacks = []compressStack{
	{name: "gin with gin-contrib gzip", serve: func(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler, inside bool) *httptest.Server {
		r := gin.New()
		compress := gingzip.Gzip(gingzip.DefaultCompression)
		cfg.Router = r
		cache := stackMust(gincache.New(e, cfg))(t)
		if inside {
			r.GET("/*path", cache, compress, gin.WrapH(h))
		} else {
			r.Use(compress)
			r.GET("/*path", cache, gin.WrapH(h))
		}
		return stackServer(t, r)
	}},
	{name: "echo with its Gzip", varyAlways: true, serve: func(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler, inside bool) *httptest.Server {
		app := echo.New()
		cache := stackMust(echocache.New(e, cfg))(t)
		if inside {
			app.GET("/*", echo.WrapHandler(h), cache, echomw.Gzip())
		} else {
			app.Use(echomw.Gzip())
			app.GET("/*", echo.WrapHandler(h), cache)
		}
		return stackServer(t, app)
	}},
	{name: "chi with its Compress", serve: func(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler, inside bool) *httptest.Server {
		r := chi.NewRouter()
		cache := stackMust(httpcache.New(e, cfg))(t)
		if inside {
			r.With(cache, chimw.Compress(5)).Get("/*", h.ServeHTTP)
		} else {
			r.Use(chimw.Compress(5))
			r.With(cache).Get("/*", h.ServeHTTP)
		}
		return stackServer(t, r)
	}},
	{name: "net/http with gzhttp", varyAlways: true, serve: func(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler, inside bool) *httptest.Server {
		cache := stackMust(httpcache.New(e, cfg))(t)
		if inside {
			return stackServer(t, cache(gzhttp.GzipHandler(h)))
		}
		return stackServer(t, gzhttp.GzipHandler(cache(h)))
	}},
}

// placement is where the compressor sits relative to the cache.
type placement struct {
	name   string
	inside bool
	// keyed: the route lists Accept-Encoding in Key.Headers; otherwise the
	// cache learns it from the compressor's Vary.
	keyed bool
}

var placements = []placement{
	{name: "before the cache"},
	{name: "inside the cache, Accept-Encoding in the key", inside: true, keyed: true},
	{name: "inside the cache, Vary learned", inside: true},
}

// compressCase is one row of the matrix.
type compressCase struct {
	givenStack compressStack
	givenPlace placement
	givenBody  []byte
	// whenClients are the Accept-Encoding values of the clients, in order.
	whenClients []string
}

// expectKey is the cache entry the client with Accept-Encoding enc is
// served from: one for every encoding when compression is before the
// cache; one per encoding inside it, unless the key learns the encoding
// from Vary and a plain response without Vary filled first.
func (c compressCase) expectKey(enc string) string {
	switch {
	case !c.givenPlace.inside:
		return ""
	case !c.givenPlace.keyed && !c.givenStack.varyAlways && c.whenClients[0] == "":
		return ""
	}
	return enc
}

// expectGzip reports whether the client with Accept-Encoding enc gets a
// gzip body.
func (c compressCase) expectGzip(enc string) bool {
	if !c.givenPlace.inside {
		return enc == "gzip"
	}
	return c.expectKey(enc) == "gzip"
}

func compressCases() []compressCase {
	held, streamed := stackBody(3<<10), stackBody(64<<10) // below and above the 4 KiB a fill holds
	var cases []compressCase
	for _, s := range compressStacks {
		for _, p := range placements {
			for _, body := range [][]byte{held, streamed} {
				for _, clients := range [][]string{{"gzip", "", "gzip", "", "gzip"}, {"", "gzip", "", "gzip", ""}} {
					cases = append(cases, compressCase{givenStack: s, givenPlace: p, givenBody: body, whenClients: clients})
				}
			}
		}
	}
	return cases
}

func (c compressCase) name() string {
	first := "a gzip client fills first"
	if c.whenClients[0] == "" {
		first = "a plain client fills first"
	}
	return fmt.Sprintf("%s %s: %s, %d KiB body", c.givenStack.name, c.givenPlace.name, first, len(c.givenBody)>>10)
}

func TestStackCompressionBeforeAndInsideTheCache(t *testing.T) {
	for _, c := range compressCases() {
		t.Run(c.name(), func(t *testing.T) {
			cfg := baseConfig()
			if c.givenPlace.keyed {
				cfg.Key.Headers = []string{"Accept-Encoding"}
			}
			var calls atomic.Int32
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				_, _ = w.Write(c.givenBody)
			})
			srv := c.givenStack.serve(t, newEngine(t, nil), cfg, h, c.givenPlace.inside)
			cl := rawClient(t)

			filled := map[string]bool{}
			for i, enc := range c.whenClients {
				r := cl.get(t, srv.URL+"/things/1", "Accept-Encoding", enc)
				what := fmt.Sprintf("request %d (Accept-Encoding %q, Cache-Status %q)", i+1, enc, r.header.Get("Cache-Status"))
				expectDecodes(t, what, r, c.givenBody, c.expectGzip(enc))
				if got, want := r.header.Values("Content-Encoding"), c.expectGzip(enc); want != slices.Equal(got, []string{"gzip"}) {
					t.Errorf("%s: Content-Encoding %q, want gzip %v", what, got, want)
				}
				if vary := varyTokens(r.header); (c.expectGzip(enc) || c.givenStack.varyAlways) && !slices.Contains(vary, "Accept-Encoding") {
					t.Errorf("%s: Vary %q, want Accept-Encoding as the compressor set it", what, r.header.Values("Vary"))
				}
				expectNoRepeatedVary(t, what, r.header)
				key := c.expectKey(enc)
				want := "fwd=uri-miss; stored" // the key's first request fills it
				if filled[key] {
					want = "; hit"
				}
				if !strings.Contains(r.header.Get("Cache-Status"), want) {
					t.Errorf("%s: want %q", what, want)
				}
				filled[key] = true
			}
			if int(calls.Load()) != len(filled) {
				t.Errorf("the handler ran %d times for %d cache keys", calls.Load(), len(filled))
			}
		})
	}
}

// expectDecodes checks that r's bytes are gzip exactly when r says so, and
// decode to want.
func expectDecodes(t *testing.T, what string, r rawReply, want []byte, wantGzip bool) {
	t.Helper()
	if r.readErr != nil {
		t.Errorf("%s: reading the body after %d bytes: %v (Content-Length %q)", what, len(r.raw), r.readErr, r.header.Get("Content-Length"))
		return
	}
	if r.status != http.StatusOK {
		t.Errorf("%s: status %d", what, r.status)
	}
	if cl := r.header.Get("Content-Length"); cl != "" && cl != fmt.Sprint(len(r.raw)) {
		t.Errorf("%s: Content-Length %s, but %d bytes came", what, cl, len(r.raw))
	}
	isGzip := bytes.HasPrefix(r.raw, []byte{0x1f, 0x8b})
	if isGzip != (r.header.Get("Content-Encoding") == "gzip") {
		t.Errorf("%s: gzip bytes %v but Content-Encoding %q", what, isGzip, r.header.Values("Content-Encoding"))
	}
	body := r.raw
	if isGzip {
		zr, err := gzip.NewReader(bytes.NewReader(r.raw))
		if err == nil {
			body, err = io.ReadAll(zr)
		}
		if err != nil {
			t.Errorf("%s: gunzip %d bytes: %v", what, len(r.raw), err)
			return
		}
	}
	if !bytes.Equal(body, want) {
		t.Errorf("%s: %d bytes decode to %d bytes (%.40q...), want the handler's %d", what, len(r.raw), len(body), body, len(want))
	}
	if isGzip != wantGzip {
		t.Errorf("%s: a gzip body %v, want %v", what, isGzip, wantGzip)
	}
}

// stackBody returns n bytes of text every compressor takes, random enough
// that 64 KiB compress to more than a fill holds (4 KiB).
func stackBody(n int) []byte {
	words := []string{"stale", "while", "revalidate", "redis", "fill", "hit", "miss", "vary"}
	rng := rand.New(rand.NewPCG(8, 9))
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, "%s-%d ", words[rng.IntN(len(words))], rng.IntN(10000))
	}
	return b.Bytes()[:n]
}

// rawHTTPClient sees responses as they come: no transparent gunzip, no
// Accept-Encoding of its own.
type rawHTTPClient struct{ c *http.Client }

func rawClient(t *testing.T) rawHTTPClient {
	t.Helper()
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return rawHTTPClient{&http.Client{Transport: tr}}
}

// rawReply is one response as it came; readErr is the error reading its
// body (a body shorter than its Content-Length).
type rawReply struct {
	status  int
	header  http.Header
	raw     []byte
	readErr error
}

// get sends a GET with header (name, value, ...; empty values are left
// out) and reads the reply.
func (c rawHTTPClient) get(t *testing.T, url string, header ...string) rawReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] != "" {
			req.Header.Add(header[i], header[i+1])
		}
	}
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return rawReply{status: resp.StatusCode, header: resp.Header, raw: b, readErr: err}
}

// varyTokens lists the field names in h's Vary headers, canonicalized.
func varyTokens(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, http.CanonicalHeaderKey(f))
			}
		}
	}
	return out
}

// expectNoRepeatedVary checks that h's Vary names each field once.
func expectNoRepeatedVary(t *testing.T, what string, h http.Header) {
	t.Helper()
	tokens := varyTokens(h)
	slices.Sort(tokens)
	if len(slices.Compact(slices.Clone(tokens))) != len(tokens) {
		t.Errorf("%s: Vary %q names a field twice", what, h.Values("Vary"))
	}
}

// stackMust takes a constructor's results and returns a function that
// fails t on its error, or returns the middleware.
func stackMust[M any](mw M, err error) func(t *testing.T) M {
	return func(t *testing.T) M {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return mw
	}
}

func stackServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
