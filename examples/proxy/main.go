// Command proxy is a distributed HTTP cache in a few dozen lines:
// net/http/httputil's ReverseProxy to an upstream, with swrcache in front
// of it taking each response's lifetime from the response itself, as a
// shared HTTP cache does:
//
//	go run ./examples/proxy
//
// The upstream is UPSTREAM (a URL such as http://127.0.0.1:9000), else a
// small demo origin started in the same process on a free port (see
// origin.go). Freshness comes from the upstream's CDN-Cache-Control,
// s-maxage, max-age or Expires, less its Age; no-store and private
// responses are not stored; no-cache ones are stored and revalidated
// before each use; stale-while-revalidate and stale-if-error are honoured
// within the route's windows; a successful POST, PUT, PATCH or DELETE
// drops what is stored for its URL. Every instance started on the same
// Redis shares one cache. On start it prints curl commands to try; watch
// the Cache-Status and Age headers.
//
// It listens on ADDR (default 127.0.0.1:8080) and uses REDIS_URL, else a
// Redis on 127.0.0.1:6379, else an embedded in-memory Redis (miniredis),
// and says which.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/examples/proxy/cacheproxy"
	"github.com/swrcache/swrcache/internal/exampleapp"
)

// newProxy returns the caching reverse proxy to upstream: see
// cacheproxy.New, a few dozen lines.
func newProxy(engine *core.Engine, upstream *url.URL) (http.Handler, error) {
	return cacheproxy.New(engine, upstream, cacheproxy.Config(), cacheproxy.Options{})
}

// upstream returns UPSTREAM, or else starts the demo origin on a free
// port, and a function that stops it; demo says which.
func upstream() (u *url.URL, demo bool, stop func()) {
	if raw := os.Getenv("UPSTREAM"); raw != "" {
		parsed, err := url.Parse(raw)
		if err != nil || parsed.Host == "" {
			log.Fatalf("UPSTREAM %q is not an absolute URL", raw)
		}
		return parsed, false, func() {}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: newOrigin(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }() // ends when the deferred Close runs
	fmt.Printf("demo origin at http://%s\n", ln.Addr())
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}, true, func() { _ = srv.Close() }
}

func main() {
	engine, _, stop := exampleapp.Engine("proxy")
	defer stop() // waits for background refreshes
	up, demo, closeUpstream := upstream()
	defer closeUpstream()
	proxy, err := newProxy(engine, up)
	if err != nil {
		log.Fatal(err)
	}
	exampleapp.Serve(proxy, func(base string) []string {
		if !demo {
			return []string{fmt.Sprintf("curl -i %s/   # twice; watch Cache-Status and Age", base)}
		}
		return []string{
			fmt.Sprintf("curl -i %s/hello               # max-age=30: stored, then hits with a growing Age", base),
			fmt.Sprintf("curl -i -H 'Range: bytes=0-9' %s/file.txt   # ETag and ranges answered from the cache", base),
			fmt.Sprintf("curl -i %s/news                # no-cache: revalidated each time; a 304 until a POST /items", base),
			fmt.Sprintf("curl -i %s/swr                 # stale-while-revalidate: stale at once, refreshed behind", base),
			fmt.Sprintf("curl -i -X POST -d pear %s/items  # invalidates GET /items", base),
		}
	})
}
