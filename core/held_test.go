package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/internal/redistest"
)

// noScriptRedis starts a private Redis with EVAL and EVALSHA renamed away,
// as a managed Redis with scripting disabled answers.
func noScriptRedis(t *testing.T) *redis.Client {
	t.Helper()
	srv := redistest.StartServer(t, "--rename-command", "EVAL", "", "--rename-command", "EVALSHA", "")
	rdb := redis.NewClient(redistest.Options(srv.Addr()))
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Eval(context.Background(), "return 1", nil).Err(); err == nil {
		t.Fatal("EVAL still works on the private Redis")
	}
	return rdb
}

// The lock's compare-and-act operations behave the same whether Redis runs
// scripts or refuses them (then they are WATCH transactions).
func TestLockedOperationsWorkWithAndWithoutScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	servers := []struct {
		name string
		rdb  func(t *testing.T) (redis.UniversalClient, string)
	}{
		{"scripts", func(t *testing.T) (redis.UniversalClient, string) { return redistest.Client(t), redistest.Prefix(t) }},
		{"no scripts", func(t *testing.T) (redis.UniversalClient, string) { return noScriptRedis(t), "noscript:" }},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			ctx := context.Background()
			rdb, ns := s.rdb(t)
			br := must(breaker.New(breaker.Config{}))
			e := newEngine(t, rdb, ns, func(c *Config) { c.Breaker = br })
			p := Policy{TTL: time.Minute}
			k := Key{Name: "k"}
			ek := e.entryKey(k.Name)
			lk := lockKey(ek)

			res, err := e.Lookup(ctx, k, p, item("v1"))
			if err != nil || !res.Stored || res.Status != StatusMiss {
				t.Fatalf("a fill: %v stored=%v err=%v; want a stored miss", res.Status, res.Stored, err)
			}
			if n := rdb.Exists(ctx, lk).Val(); n != 0 {
				t.Fatal("the fill left its lock behind")
			}
			if res, err = e.Lookup(ctx, k, p, item("unused")); err != nil || res.Status != StatusHit || string(res.Value) != "v1" {
				t.Fatalf("after the fill: %q %v %v; want a hit on v1", res.Value, res.Status, err)
			}

			// A holder whose lock passed to someone else stores nothing and
			// releases nothing.
			if err := rdb.Set(ctx, lk, "theirs", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			if _, stored := e.store(ctx, k, p, Item{Value: []byte("late")}, 0, "mine", time.Now(), nil); stored {
				t.Error("stored under a lock held by someone else")
			}
			e.unlock(ctx, k, "mine")
			if got := rdb.Get(ctx, lk).Val(); got != "theirs" {
				t.Errorf("lock after another token's store and unlock = %q, want theirs", got)
			}
			if _, stored := e.store(ctx, k, p, Item{Value: []byte("v2")}, 0, "theirs", time.Now(), nil); !stored {
				t.Error("the holder's store was refused")
			}
			if n := rdb.Exists(ctx, lk).Val(); n != 0 {
				t.Error("the holder's store left its lock")
			}
			if res, _ = e.Lookup(ctx, k, p, item("unused")); string(res.Value) != "v2" {
				t.Errorf("after the holder's store: %q, want v2", res.Value)
			}
			// A revalidated value that ends as the stored one does (Item.
			// Unchanged): spliced by a script, or sent whole without one.
			raw, _ := rdb.Get(ctx, ek).Bytes()
			prev, err := decodeEntry(raw, k)
			if err != nil {
				t.Fatal(err)
			}
			if err := rdb.Set(ctx, lk, "third", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			if _, stored := e.store(ctx, k, p, Item{Value: []byte("x2"), Unchanged: 1}, 0, "third", time.Now(), prev); !stored {
				t.Error("the revalidated store was refused")
			}
			if res, _ = e.Lookup(ctx, k, p, item("unused")); string(res.Value) != "x2" || rdb.Exists(ctx, lk).Val() != 0 {
				t.Errorf("after the revalidated store: %q, lock left %v; want x2, no lock", res.Value, rdb.Exists(ctx, lk).Val() != 0)
			}
			if got := br.State(); got != breaker.Closed {
				t.Errorf("breaker %v, want closed: refused scripts are answers, not outages", got)
			}
		})
	}
}

// A Redis at maxmemory with noeviction refuses every write with OOM. It
// still answers reads, and the engine keeps reading from it: the breaker
// stays closed, stored keys hit, new keys are loaded and not stored.
func TestAFullRedisKeepsServingWhatItHolds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	ctx := context.Background()
	srv := redistest.StartServer(t)
	rdb := redis.NewClient(redistest.Options(srv.Addr()))
	t.Cleanup(func() { _ = rdb.Close() })
	br := must(breaker.New(breaker.Config{}))
	var ev events
	e := newEngine(t, rdb, "full:", func(c *Config) { c.Breaker = br; c.OnEvent = ev.hook })
	p := Policy{TTL: time.Minute}
	if _, err := Fetch(ctx, e, "stored", p, func(context.Context) (string, error) { return "old", nil }); err != nil {
		t.Fatal(err)
	}
	if err := srv.Do("SET", "ballast", strings.Repeat("x", 2<<20)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Do("CONFIG", "SET", "maxmemory-policy", "noeviction", "maxmemory", "1mb").Err(); err != nil {
		t.Fatal(err)
	}

	var loads atomic.Int32
	for i := range 200 {
		key := "stored"
		if i%2 == 1 {
			key = fmt.Sprintf("new-%d", i)
		}
		res, err := e.Lookup(ctx, Key{Name: key}, p, LoaderFunc(func(context.Context) (Item, error) {
			loads.Add(1)
			return Item{Value: []byte("loaded")}, nil
		}))
		switch {
		case err != nil:
			t.Fatalf("%s: %v", key, err)
		case key == "stored" && res.Status != StatusHit:
			t.Fatalf("stored key with Redis full: %v, want a hit", res.Status)
		case key != "stored" && (res.Stored || string(res.Value) != "loaded"):
			t.Fatalf("new key with Redis full: %q stored=%v; want the loaded value, not stored", res.Value, res.Stored)
		}
	}
	if got := loads.Load(); got != 100 {
		t.Errorf("%d loads for 100 new keys", got)
	}
	if got := br.State(); got != breaker.Closed {
		t.Errorf("breaker %v after OOM replies, want closed", got)
	}
	oom := 0
	for _, e := range ev.all(EventRedisError) {
		if strings.Contains(e.Err.Error(), "OOM") {
			oom++
		}
	}
	if oom == 0 {
		t.Error("no OOM reported as a Redis error event")
	}
}

// switchable is a breaker a test opens and closes by hand.
type switchable struct{ open atomic.Bool }

var errSwitchedOpen = errors.New("test breaker open")

func (s *switchable) Allow() (func(error), error) {
	if s.open.Load() {
		return nil, errSwitchedOpen
	}
	return func(error) {}, nil
}

// A fill whose breaker opens while it loads can neither store nor release
// its lock. The next fill of the key in this process releases it and fills
// at once, rather than wait LockWait for a fill that ended long ago.
func TestALockTheBreakerStrandedIsReleasedByTheNextFill(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t)
	br := &switchable{}
	e := newEngine(t, rdb, redistest.Prefix(t), func(c *Config) {
		c.Breaker = br
		c.LockTTL, c.LockWait = time.Minute, time.Minute
	})
	p := Policy{TTL: time.Minute}
	k := Key{Name: "k"}
	lk := lockKey(e.entryKey(k.Name))

	res, err := e.Lookup(ctx, k, p, LoaderFunc(func(context.Context) (Item, error) {
		br.open.Store(true) // Redis went away while the handler ran
		return Item{Value: []byte("v1")}, nil
	}))
	if err != nil || res.Stored || string(res.Value) != "v1" {
		t.Fatalf("fill with the breaker opening: %q stored=%v err=%v; want v1, not stored", res.Value, res.Stored, err)
	}
	if rdb.Exists(ctx, lk).Val() != 1 || e.orphans.len() != 1 {
		t.Fatalf("lock in Redis: %d, orphans remembered: %d; want the stranded lock, remembered", rdb.Exists(ctx, lk).Val(), e.orphans.len())
	}

	br.open.Store(false)
	// Waiting LockWait would outlast this deadline and fail the lookup.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err = e.Lookup(wctx, k, p, item("v2"))
	if err != nil || !res.Stored || string(res.Value) != "v2" {
		t.Fatalf("next fill: %q %v stored=%v err=%v; want v2 stored without waiting", res.Value, res.Status, res.Stored, err)
	}
	if rdb.Exists(ctx, lk).Val() != 0 || e.orphans.len() != 0 {
		t.Error("a lock or an orphan is left after the next fill")
	}
}

// The memory of orphans is bounded, and forgets a lock once it has expired
// in Redis anyway.
func TestOrphansAreBoundedAndExpire(t *testing.T) {
	var o orphans
	o.add("gone", "t", -time.Second)
	if _, ok := o.take("gone"); ok {
		t.Error("an orphan past its lock's TTL was handed out")
	}
	for i := range maxOrphans + 10 {
		o.add(fmt.Sprint(i), "t", time.Minute)
	}
	if o.len() != maxOrphans {
		t.Errorf("%d orphans remembered, want the cap %d", o.len(), maxOrphans)
	}
	if tok, ok := o.take("0"); !ok || tok != "t" {
		t.Errorf("take = %q %v, want the orphan", tok, ok)
	}
	if _, ok := o.take("0"); ok {
		t.Error("an orphan was handed out twice")
	}

	var full orphans
	for i := range maxOrphans {
		full.add(fmt.Sprint(i), "t", -time.Second)
	}
	full.add("new", "t", time.Minute)
	if tok, ok := full.take("new"); !ok || tok != "t" || full.len() != 0 {
		t.Errorf("at the cap with every orphan expired: take = %q %v, %d left; want the new one, the expired swept", tok, ok, full.len())
	}
}

// A node that cannot serve, unlike a full one, is a failure: a client left
// on a replica (a demoted master, after a failover) gets READONLY for every
// lock, and the breaker opens rather than the engine keep asking it.
func TestANodeThatCannotServeWritesOpensTheBreaker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-servers")
	}
	if redistest.IsCluster(t) {
		t.Skip("starts servers of its own: run once, with the single-node suite")
	}
	ctx := context.Background()
	master := redistest.StartServer(t)
	replica := redistest.StartServer(t, "--replicaof", "127.0.0.1", strings.Split(master.Addr(), ":")[1])
	rdb := redis.NewClient(redistest.Options(replica.Addr()))
	t.Cleanup(func() { _ = rdb.Close() })
	br := must(breaker.New(breaker.Config{MinRequests: 20}))
	var ev events
	e := newEngine(t, rdb, "demoted:", func(c *Config) { c.Breaker = br; c.OnEvent = ev.hook })
	for i := range 100 {
		res, err := e.Lookup(ctx, Key{Name: fmt.Sprint("k", i)}, Policy{TTL: time.Minute}, item("loaded"))
		if err != nil || string(res.Value) != "loaded" || res.Stored {
			t.Fatalf("lookup %d on a replica: %q stored=%v %v; want the loaded value, not stored", i, res.Value, res.Stored, err)
		}
	}
	if got := br.State(); got != breaker.Open {
		t.Errorf("breaker %v after READONLY replies, want open", got)
	}
	readonly := 0
	for _, e := range ev.all(EventRedisError) {
		if strings.Contains(e.Err.Error(), "READONLY") {
			readonly++
		}
	}
	if readonly == 0 {
		t.Error("no READONLY reported as a Redis error event")
	}
}
