package swrcache_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
	"github.com/swrcache/swrcache/keyfunc"
)

// Hostile input from someone who can write to Redis: planted, corrupt and
// foreign entries. See SECURITY.md.

// plantedEntry builds an engine envelope that passes every check but the
// middleware's own decoding: the right magic, version and fingerprint for
// key, around value. It mirrors core's entry layout, as someone with write
// access to Redis could.
func plantedEntry(t *testing.T, key keyfunc.Key, value []byte) []byte {
	t.Helper()
	sum := sha256.Sum256([]byte(key.ID))
	now := time.Now().UnixMilli()
	b, err := msgpack.Marshal(map[string]any{
		"k": sum[:16], "s": now, "f": now + time.Hour.Milliseconds(), "w": now + time.Hour.Milliseconds(),
		"e": now + time.Hour.Milliseconds(), "d": int64(0), "v": value,
	})
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{0xc1, 's', 1}, b...)
}

// storedResponse encodes a 200 with no header fields in the middleware's
// stored format (see middleware/codec.go), with a body length that need
// not be the body's.
func storedResponse(bodyLen uint64, body string) []byte {
	b := binary.AppendUvarint([]byte{1}, http.StatusOK)
	b = append(b, 0, 0) // no fields, no header strings
	return append(binary.AppendUvarint(b, bodyLen), body...)
}

func TestPlantedEntriesAreMisses(t *testing.T) {
	hugeBody := storedResponse(1<<40, "") // a response whose body "is" 1 TiB
	tests := []struct {
		name  string
		plant func(t *testing.T, rdb redis.UniversalClient, e func(keyfunc.Key) string, key func(path, tenant string) keyfunc.Key)
	}{
		{"garbage", func(t *testing.T, rdb redis.UniversalClient, e func(keyfunc.Key) string, key func(string, string) keyfunc.Key) {
			set(t, rdb, e(key("/x", "globex")), []byte("\x00\xffgarbage"))
		}},
		{"a 2 GiB length prefix in the envelope", func(t *testing.T, rdb redis.UniversalClient, e func(keyfunc.Key) string, key func(string, string) keyfunc.Key) {
			set(t, rdb, e(key("/x", "globex")), []byte{0xc1, 's', 1, 0x81, 0xa1, 'v', 0xc6, 0x7f, 0xff, 0xff, 0xff})
		}},
		{"a valid envelope around a 1 TiB body length", func(t *testing.T, rdb redis.UniversalClient, e func(keyfunc.Key) string, key func(string, string) keyfunc.Key) {
			set(t, rdb, e(key("/x", "globex")), plantedEntry(t, key("/x", "globex"), hugeBody))
		}},
		{"a valid envelope around a malformed vary marker", func(t *testing.T, rdb redis.UniversalClient, e func(keyfunc.Key) string, key func(string, string) keyfunc.Key) {
			set(t, rdb, e(key("/x", "globex")), plantedEntry(t, key("/x", "globex"), []byte{2, 0xff, 0xff, 0xff, 0xff, 0x0f}))
		}},
		{"another tenant's entry", func(t *testing.T, rdb redis.UniversalClient, e func(keyfunc.Key) string, key func(string, string) keyfunc.Key) {
			set(t, rdb, e(key("/x", "globex")), getRaw(t, rdb, e(key("/x", "acme"))))
		}},
		{"another path's entry", func(t *testing.T, rdb redis.UniversalClient, e func(keyfunc.Key) string, key func(string, string) keyfunc.Key) {
			set(t, rdb, e(key("/x", "globex")), getRaw(t, rdb, e(key("/y", "globex"))))
		}},
	}
	for _, a := range adapters {
		for _, tt := range tests {
			t.Run(a.name+"/"+tt.name, func(t *testing.T) {
				rdb, ns := redistest.Client(t), redistest.Prefix(t)
				cfg := baseConfig()
				cfg.TenantHeader = "X-Tenant"
				var calls atomic.Int32
				srv := a.serve(t, newEngineOn(t, rdb, ns, nil), cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					calls.Add(1)
					fmt.Fprintf(w, "secret of %s at %s", r.Header.Get("X-Tenant"), r.URL.Path)
				}))
				key := func(path, tenant string) keyfunc.Key {
					k, err := cfg.Key.Key(httptest.NewRequest(http.MethodGet, srv.URL+path, nil), tenant)
					if err != nil {
						t.Fatal(err)
					}
					return k
				}
				redisKey := func(k keyfunc.Key) string { return ns + "{" + k.Name + "}" }
				get(t, srv, "/x", "X-Tenant", "acme")
				get(t, srv, "/y", "X-Tenant", "globex")
				getRaw(t, rdb, redisKey(key("/x", "acme"))) // the key layout this test relies on
				tt.plant(t, rdb, redisKey, key)
				before := calls.Load()
				for range 2 {
					if r := get(t, srv, "/x", "X-Tenant", "globex"); r.status != http.StatusOK || r.body != "secret of globex at /x" {
						t.Fatalf("globex got %d %q (%s) after the planting", r.status, r.body, r.cacheStatus())
					}
				}
				if calls.Load() != before+1 {
					t.Fatalf("%d handler calls, want one miss that overwrote the planted entry", calls.Load()-before)
				}
				if r := get(t, srv, "/x", "X-Tenant", "acme"); !r.hit() || r.body != "secret of acme at /x" {
					t.Fatalf("acme got %q (%s), want its own entry untouched", r.body, r.cacheStatus())
				}
			})
		}
	}
}

func set(t *testing.T, rdb redis.UniversalClient, key string, v []byte) {
	t.Helper()
	if err := rdb.Set(context.Background(), key, v, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
}

func getRaw(t *testing.T, rdb redis.UniversalClient, key string) []byte {
	t.Helper()
	b, err := rdb.Get(context.Background(), key).Bytes()
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	return b
}

func TestFetchKeepsTenantsApart(t *testing.T) {
	e := newEngine(t, nil)
	ctx := context.Background()
	policy := core.Policy{TTL: time.Minute}
	for _, tenant := range []string{"acme", "globex"} {
		for range 2 {
			got, err := core.Fetch(ctx, e, "t:"+tenant+":user:1", policy, func(context.Context) (string, error) { return "user 1 of " + tenant, nil })
			if err != nil || got != "user 1 of "+tenant {
				t.Fatalf("%s: %q, %v", tenant, got, err)
			}
		}
	}
	got, err := core.FetchMany(ctx, e, []string{"t:acme:user:1", "t:globex:user:1"}, policy,
		func(_ context.Context, missing []string) (map[string]string, error) {
			return nil, fmt.Errorf("unexpected load of %v", missing)
		})
	if err != nil || got["t:acme:user:1"] != "user 1 of acme" || got["t:globex:user:1"] != "user 1 of globex" {
		t.Fatalf("FetchMany: %v, %v", got, err)
	}
}

// The check above is against corruption and mix-ups, not forgery: anyone
// who can write to Redis can compute a fingerprint and plant a well-formed
// response, which is served. Redis writers are trusted (SECURITY.md). This
// also shows plantedEntry passes the engine's checks, so the malformed
// payloads above reach the middleware's decoder.
func TestAWellFormedForgeryIsServed(t *testing.T) {
	rdb, ns := redistest.Client(t), redistest.Prefix(t)
	var calls atomic.Int32
	srv := serveNetHTTP(t, newEngineOn(t, rdb, ns, nil), baseConfig(), handler(http.StatusOK)(&calls))
	k, err := baseConfig().Key.Key(httptest.NewRequest(http.MethodGet, srv.URL+"/x", nil), "")
	if err != nil {
		t.Fatal(err)
	}
	set(t, rdb, ns+"{"+k.Name+"}", plantedEntry(t, k, storedResponse(6, "forged")))
	if r := get(t, srv, "/x"); r.body != "forged" || !r.hit() || calls.Load() != 0 {
		t.Fatalf("%q (%s), %d handler calls; want the forged entry (is the envelope layout out of date?)", r.body, r.cacheStatus(), calls.Load())
	}
}
