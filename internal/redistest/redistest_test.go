package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, LeakOptions()...)
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestClientSetGet(t *testing.T) {
	c := Client(t)
	p := Prefix(t)
	if err := c.Set(ctx(t), p+"k", "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	got, err := c.Get(ctx(t), p+"k").Result()
	if err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want \"v\", nil", got, err)
	}
	t.Logf("addr %s, embedded %v", Addr(t), Embedded())
}

func TestClientAppliesOptions(t *testing.T) {
	if IsCluster(t) {
		t.Skip("checks the options of a single-node client")
	}
	c := Client(t, func(o *redis.Options) { o.ClientName = "redistest-opt" }).(*redis.Client)
	if o := c.Options(); o.ClientName != "redistest-opt" || !o.ContextTimeoutEnabled || o.MaxRetries != 0 {
		t.Fatalf("options not applied: name %q, ctxTimeout %v, retries %d",
			o.ClientName, o.ContextTimeoutEnabled, o.MaxRetries)
	}
	if err := c.Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
}

func TestPrefixCleanup(t *testing.T) {
	c := Client(t)
	const n = 1234 // more than one SCAN page
	var inner string
	var siblings []string
	t.Cleanup(func() {
		c := newClient(std.server(t), std.server(t).options()) // the test's is closed by now
		defer c.Close()
		for _, k := range siblings { // one key per command: a cluster
			if err := c.Del(context.Background(), k).Err(); err != nil {
				t.Errorf("deleting siblings: %v", err)
			}
		}
	})

	t.Run("inner", func(t *testing.T) {
		inner = Prefix(t)
		if !strings.HasPrefix(inner, "swrtest:TestPrefixCleanup_inner:") || !strings.HasSuffix(inner, ":") {
			t.Fatalf("unexpected prefix %q", inner)
		}
		// Keys that share everything but the random part, or lack the
		// final colon, are outside the prefix and must survive.
		other := strings.TrimSuffix(inner, randomPart(inner)+":") + randomHex(4) + ":"
		siblings = []string{other + "k", strings.TrimSuffix(inner, ":") + "x"}
		pipe := c.Pipeline()
		for _, k := range siblings {
			pipe.Set(ctx(t), k, "sibling", time.Minute)
		}
		for i := range n {
			pipe.Set(ctx(t), inner+strconv.Itoa(i), "x", time.Minute)
		}
		if _, err := pipe.Exec(ctx(t)); err != nil {
			t.Fatalf("seeding: %v", err)
		}
		_ = c.Close() // cleanup must not depend on the test's clients
	})

	c = Client(t)
	if left := countUnder(t, c, inner); left != 0 {
		t.Fatalf("%d keys left under %q after cleanup", left, inner)
	}
	for _, k := range siblings {
		if got, err := c.Get(ctx(t), k).Result(); err != nil || got != "sibling" {
			t.Fatalf("sibling %q: GET = %q, %v; want it untouched", k, got, err)
		}
	}
}

func randomPart(prefix string) string {
	parts := strings.Split(strings.TrimSuffix(prefix, ":"), ":")
	return parts[len(parts)-1]
}

func countUnder(t *testing.T, c redis.UniversalClient, prefix string) int {
	t.Helper()
	return CountKeys(t, c, prefix)
}

func TestEscapeGlobAgainstRedis(t *testing.T) {
	c := Client(t)
	p := Prefix(t)
	literal := p + `a*b?[c]\d`
	lookalike := p + `aXXbY[c]\d`
	for _, k := range []string{literal, lookalike} {
		if err := c.Set(ctx(t), k, "1", time.Minute).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
	}
	got := map[string]bool{}
	for _, k := range Scan(t, c, escapeGlob(literal)) {
		got[k] = true
	}
	if len(got) != 1 || !got[literal] {
		t.Fatalf("escaped MATCH found %v; want only %q", got, literal)
	}
}

func TestSanitizeAndEscape(t *testing.T) {
	for in, want := range map[string]string{
		"TestX/sub_case-1":                "TestX_sub_case-1",
		"a*b?c[d]e\\f g:h":                "a_b_c_d_e_f_g_h",
		"":                                "test",
		strings.Repeat("x", 100):          strings.Repeat("x", 40),
		"Ünïcode":                         "__n__code",
		"Test/" + strings.Repeat("y", 50): "Test_" + strings.Repeat("y", 35),
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q; want %q", in, got, want)
		}
	}
	if got, want := escapeGlob(`a*b?c[d]e\f`), `a\*b\?c\[d\]e\\f`; got != want {
		t.Errorf("escapeGlob = %q; want %q", got, want)
	}
}

func TestOptions(t *testing.T) {
	o := Options("h:1")
	if o.Addr != "h:1" || !o.ContextTimeoutEnabled || o.MaxRetries != -1 ||
		o.DialTimeout != time.Second || o.ReadTimeout != time.Second || o.WriteTimeout != time.Second ||
		o.PoolSize <= 0 {
		t.Fatalf("unexpected options %+v", o)
	}
}

// deadAddr returns an address on which nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func newResolver(t *testing.T, env map[string]string) (*resolver, *bytes.Buffer) {
	var notice bytes.Buffer
	r := &resolver{probeAddr: deadAddr(t), getenv: func(k string) string { return env[k] }, notice: &notice}
	t.Cleanup(func() {
		if r.mini != nil {
			r.mini.Close()
		}
	})
	return r, &notice
}

func TestFallbackToMiniredis(t *testing.T) {
	r, notice := newResolver(t, nil)
	srv := r.server(t)
	_ = r.server(t) // resolved once, announced once
	if !srv.embedded || !r.embedded.Load() || r.mini == nil {
		t.Fatalf("want the embedded miniredis, got %+v", srv)
	}
	if got := strings.Count(notice.String(), "using an embedded miniredis"); got != 1 {
		t.Fatalf("notice printed %d times: %q", got, notice.String())
	}
	c := redis.NewClient(srv.options())
	defer c.Close()
	const key = "swrtest:fallback:k"
	if err := c.Set(ctx(t), key, "v", 0).Err(); err != nil {
		t.Fatalf("SET on miniredis: %v", err)
	}
	if err := removeUnder(srv, "swrtest:fallback:"); err != nil {
		t.Fatalf("cleanup on miniredis: %v", err)
	}
	if n, _ := c.Exists(ctx(t), key).Result(); n != 0 {
		t.Fatalf("cleanup on miniredis left the key")
	}
}

func TestRequireRedis(t *testing.T) {
	r, notice := newResolver(t, map[string]string{envRequire: "1"})
	srv := r.resolve()
	if srv.err == nil || !strings.Contains(srv.err.Error(), envRequire) || r.mini != nil {
		t.Fatalf("want an error naming %s and no miniredis; got %+v", envRequire, srv)
	}
	if notice.Len() != 0 {
		t.Fatalf("unexpected notice %q", notice.String())
	}
}

func TestRedisURL(t *testing.T) {
	addr := Addr(t)
	if Embedded() {
		t.Skip("needs a real Redis")
	}
	for _, raw := range []string{addr, "redis://" + addr + "/0"} {
		r, _ := newResolver(t, map[string]string{envURL: raw})
		if srv := r.resolve(); srv.err != nil || srv.addr != addr || srv.embedded {
			t.Fatalf("REDIS_URL=%q: got %+v", raw, srv)
		}
	}
	r, _ := newResolver(t, map[string]string{envURL: "redis://u:secret@" + deadAddr(t) + "/3"})
	srv := r.resolve()
	if srv.err == nil || strings.Contains(srv.err.Error(), "secret") || r.mini != nil {
		t.Fatalf("dead REDIS_URL: want an error without the password and no fallback; got %v", srv.err)
	}
	s, err := parseURL("rediss://u:pw@example.com:6380/3")
	if err != nil || s.addr != "example.com:6380" || s.db != 3 || s.username != "u" || s.password != "pw" || s.tls == nil {
		t.Fatalf("parseURL: %+v, %v", s, err)
	}
	if _, err := parseURL("no-port"); err == nil {
		t.Fatal("parseURL accepted a bare host without a port")
	}
}

func TestStartClusterServesEverySlot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	c := StartCluster(t, 3, 0)
	cc := c.Client()
	p := "swrtest:cluster:" + randomHex(4) + ":"
	for i := range 50 {
		if err := cc.Set(ctx(t), fmt.Sprint(p, i), "v", time.Minute).Err(); err != nil {
			t.Fatalf("SET on the cluster: %v", err)
		}
	}
	if n := CountKeys(t, cc, p); n != 50 {
		t.Fatalf("counted %d keys across the masters, want 50", n)
	}
	masters := map[string]bool{}
	for i := range 50 {
		masters[c.MasterOf(ctx(t), cc, fmt.Sprint(p, i))] = true
	}
	if len(masters) != 3 {
		t.Fatalf("50 keys on %d masters, want all 3", len(masters))
	}
}

func TestStartSentinelFailsOver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Sentinel")
	}
	s := StartSentinel(t)
	c := s.Client()
	if err := c.Set(ctx(t), "swrtest:sentinel", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	before := s.MasterAddr()
	if err := s.Watcher.Do("SENTINEL", "FAILOVER", s.Name).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.MasterAddr() == before {
		if time.Now().After(deadline) {
			t.Fatal("no failover after 20s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s.MasterAddr() != s.Replica.Addr() {
		t.Fatalf("the master is %s, want the replica %s", s.MasterAddr(), s.Replica.Addr())
	}
}
