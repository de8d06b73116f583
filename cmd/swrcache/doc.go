// Command swrcache is the operator's tool for a swrcache deployment: it
// reads what the cache holds, invalidates it as the application does, checks
// a Redis against the operating guide's pitfalls, and follows invalidations.
//
//	go install github.com/swrcache/swrcache/cmd/swrcache@latest
//
//	swrcache inspect    --url https://shop.example/products/1 --resource product --no-query --tenant acme
//	swrcache inspect    --key product:1
//	swrcache invalidate --tag products
//	swrcache invalidate --url https://shop.example/products/1 --resource product --no-query --tenant acme
//	swrcache doctor     --redis redis://cache:6379
//	swrcache watch
//
// Every subcommand takes the connection flags: --redis, a Redis URL
// (default $REDIS_URL, else redis://127.0.0.1:6379); --cluster, the
// comma-separated addresses of Redis Cluster nodes (then the user, password
// and TLS settings of --redis apply to them); --namespace, the engine's
// Config.Namespace (default "swr:"); and --timeout, the bound on each Redis
// command (default 2s). "swrcache <subcommand> -h" lists the rest.
//
// Results go to stdout, as text or, with --output json, as JSON;
// diagnostics go to stderr.
//
// # Keys
//
// inspect and invalidate find an HTTP route's entry from a URL and the
// route's key settings, the flags that mirror keyfunc.Spec (--resource,
// --query, --no-query, --all-query, --header, --ignore-host, --hash-len),
// plus the request's tenant (--tenant) and header values (--header-value,
// which a Vary route's variant is keyed by). --key names an entry directly,
// by its core Key.Name: a core.Fetch key, or an HTTP key such as
// v1:api:product:<hash>:acme.
//
// # Exit codes
//
//	0   done; doctor: every check passed or was skipped
//	1   doctor: some check warns; inspect: no entry a lookup would serve
//	    (missing, corrupt, or another request's)
//	2   doctor: some check fails
//	3   Redis could not be reached (or, for invalidate, stopped answering:
//	    run it again)
//	64  usage: an unknown subcommand, a bad flag or a missing argument
package main
