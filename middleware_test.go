package swrcache_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/swrcache/swrcache/adapters/httpcache"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
	"github.com/swrcache/swrcache/middleware"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, redistest.LeakOptions()...) }

// adapter puts the cache middleware of one framework in front of h, on one
// route that answers every path, and serves it.
type adapter struct {
	name  string
	serve func(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler) *httptest.Server
}

// adapters lists every framework; each adapter's test file adds its own.
var adapters = []adapter{{name: "net/http", serve: serveNetHTTP}}

func mustNetHTTP(t *testing.T, e *core.Engine, cfg middleware.Config) func(http.Handler) http.Handler {
	t.Helper()
	mw, err := httpcache.New(e, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

func serveNetHTTP(t *testing.T, e *core.Engine, cfg middleware.Config, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(mustNetHTTP(t, e, cfg)(h))
	t.Cleanup(srv.Close)
	return srv
}

// newEngine builds an engine on the test Redis under its own prefix.
func newEngine(t *testing.T, mod func(*core.Config)) *core.Engine {
	t.Helper()
	return newEngineOn(t, redistest.Client(t), redistest.Prefix(t), mod)
}

func newEngineOn(t *testing.T, rdb redis.UniversalClient, ns string, mod func(*core.Config)) *core.Engine {
	t.Helper()
	cfg := core.Config{Client: rdb, Namespace: ns}
	if mod != nil {
		mod(&cfg)
	}
	e, err := core.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	})
	return e
}

// reply is one response as a client saw it.
type reply struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, srv *httptest.Server, path string, header ...string) reply {
	t.Helper()
	return do(t, srv, http.MethodGet, path, header...)
}

func do(t *testing.T, srv *httptest.Server, method, path string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return send(t, srv, req, header...)
}

// send adds header (name, value, ...) to req, sends it and reads the reply.
func send(t *testing.T, srv *httptest.Server, req *http.Request, header ...string) reply {
	t.Helper()
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func (r reply) cacheStatus() string { return r.header.Get("Cache-Status") }

func (r reply) hit() bool { return strings.Contains(r.cacheStatus(), "; hit") }
