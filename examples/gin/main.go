// Command gin is a small multi-tenant user API on gin with swrcache in
// front of its read routes:
//
//	go run ./examples/gin
//
// GET /users/:id and GET /users are cached per tenant (the trusted X-Tenant
// header, as a gateway in front of the app would set it), and
// PUT /users/:id invalidates what it changes. On start it prints curl
// commands to try; watch the Cache-Status header.
//
// It listens on ADDR (default 127.0.0.1:8080) and uses REDIS_URL, else a
// Redis on 127.0.0.1:6379, else an embedded in-memory Redis (miniredis),
// and says which.
package main

import (
	"fmt"
	"log"

	"github.com/gin-gonic/gin"

	"github.com/swrcache/swrcache/internal/exampleapp"
)

func main() {
	gin.SetMode(gin.ReleaseMode)
	engine, metrics, stop := exampleapp.Engine("gin")
	defer stop() // waits for background refreshes
	app, err := newApp(engine, metrics)
	if err != nil {
		log.Fatal(err)
	}
	exampleapp.Serve(app, func(base string) []string {
		return []string{
			fmt.Sprintf("curl -i -H 'X-Tenant: acme' %s/users/1    # Cache-Status: ...; fwd=uri-miss; stored (150ms)", base),
			fmt.Sprintf("curl -i -H 'X-Tenant: acme' %s/users/1    # Cache-Status: ...; hit", base),
			fmt.Sprintf("curl -i -X PUT -H 'X-Tenant: acme' -d '{\"name\":\"Ada King\"}' %s/users/1", base),
			fmt.Sprintf("curl -i -H 'X-Tenant: acme' %s/users/1    # a miss again, with the new name", base),
			fmt.Sprintf("curl -i -H 'X-Tenant: globex' %s/users/1  # another tenant, another entry", base),
			fmt.Sprintf("curl -i -H 'X-Tenant: acme' %s/users", base),
		}
	})
}
