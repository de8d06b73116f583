// Package redistest gives tests a Redis client and a key prefix of their own.
//
// The model is simple: tests talk to a real Redis server and isolate
// themselves by key prefix, never by database number and never by flushing.
// Prefix returns a prefix unique to the calling test and, when the test
// ends, removes every key under it with SCAN and UNLINK. Nothing in this
// package ever runs FLUSHALL or FLUSHDB, or touches a key outside a prefix
// it handed out, so tests may share a Redis with other test binaries (and
// with people) running at the same time.
//
// Addr decides which server the tests use, once per test process:
//
//   - REDIS_URL, when set, either a URL (redis://[user:pass@]host:port/db,
//     or rediss:// for TLS) or a bare host:port. Its user name, password,
//     database and TLS settings are applied by Client. If the server does
//     not answer PING, every test that asks for it fails.
//   - Otherwise 127.0.0.1:6379, if something answers PING there.
//   - Otherwise an embedded miniredis (github.com/alicebob/miniredis/v2),
//     started once per test process and announced once on stderr. Each
//     test binary gets its own, so binaries running in parallel do not
//     interfere. Embedded reports this case so that tests relying on
//     real-Redis behaviour (precise PX expiry, Lua details, ...) can skip.
//
// With SWRCACHE_REQUIRE_REDIS=1 the fallback is disabled: when no real
// Redis is reachable the tests fail with a clear message instead (use it
// in CI, where a silent fallback would hide missing coverage).
//
// Tests that must kill, restart or reconfigure a Redis (maxmemory, renamed
// commands) start a redis-server of their own with StartServer, on a free
// port, killed when the test ends. They never do so to the shared server.
//
// The embedded miniredis lives until the process exits, so a package that
// uses goleak should pass LeakOptions to goleak.VerifyTestMain.
package redistest
