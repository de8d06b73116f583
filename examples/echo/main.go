// Command echo is a small multi-tenant product API on echo v4 with
// swrcache in front of its read routes:
//
//	go run ./examples/echo
//
// GET /products/:id (a 150ms lookup; fresh for 30s, then served stale for
// up to 5 minutes while it refreshes) and GET /products (fresh for 10s)
// are cached per tenant, the trusted X-Tenant header as a gateway in front
// of the app would set it. Both carry the tag "products", which
// PUT /products/:id invalidates. On start it prints curl commands to try;
// watch the Cache-Status header.
//
// It listens on ADDR (default 127.0.0.1:8080) and uses REDIS_URL, else a
// Redis on 127.0.0.1:6379, else an embedded in-memory Redis (miniredis),
// and says which.
package main

import (
	"fmt"
	"log"
	"os"

	"github.com/swrcache/swrcache/internal/exampleapp"
)

func main() {
	engine, metrics, stop := exampleapp.Engine("echo")
	defer stop() // waits for background refreshes
	app, err := newApp(engine, os.Stdout, metrics)
	if err != nil {
		log.Fatal(err)
	}
	exampleapp.Serve(app, func(base string) []string {
		return []string{
			fmt.Sprintf("curl -i -H 'X-Tenant: acme' %s/products/1    # Cache-Status: swrcache; fwd=uri-miss; stored (150ms)", base),
			fmt.Sprintf("curl -i -H 'X-Tenant: acme' %s/products/1    # Cache-Status: swrcache; hit; ttl=29", base),
			fmt.Sprintf("curl -i -X PUT -H 'X-Tenant: acme' -H 'Content-Type: application/json' -d '{\"name\":\"new\"}' %s/products/1", base),
			fmt.Sprintf("curl -i -H 'X-Tenant: acme' %s/products/1    # a miss again, with the new name", base),
			fmt.Sprintf("curl -i -H 'X-Tenant: globex' %s/products/1  # another tenant, another entry", base),
			fmt.Sprintf("curl -i -H 'X-Tenant: acme' %s/products", base),
		}
	})
}
