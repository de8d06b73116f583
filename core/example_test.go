package core_test

import (
	"context"
	"log"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
)

// New builds the engine once per process, on a client set up as a cache's
// should be. (The README's quick start shows this body.)
func ExampleNew() {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{"127.0.0.1:6379"},
		ContextTimeoutEnabled: true, // let per-call deadlines bound socket reads
		MaxRetries:            -1,   // the breaker, not retries, handles a sick Redis
	})
	defer rdb.Close()
	br, err := breaker.New(breaker.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	engine, err := core.New(core.Config{Client: rdb, Breaker: br})
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close(context.Background()) // waits for the fills and refreshes in flight

	// Give the engine to every route and call site.
	_ = engine
}

// User is what the examples cache.
type User struct {
	ID   string
	Name string
}

// userStore stands for a database.
type userStore interface {
	LoadUser(ctx context.Context, id string) (User, error)
	LoadUsers(ctx context.Context, ids []string) (map[string]User, error)
	SaveUser(ctx context.Context, u User) error
}

// readAndWrite is the README's quick start for any function: one value,
// a batch, and a write that invalidates. TestQuickStartForFunctions runs it.
func readAndWrite(ctx context.Context, engine *core.Engine, db userStore, keys []string) (User, map[string]User, error) {
	policy := core.Policy{TTL: 5 * time.Minute, StaleWhileRevalidate: time.Hour, StaleIfError: time.Hour}

	// One value, tagged so that a write can invalidate it.
	tagged := policy
	tagged.Tags = []string{"user:42"}
	user, err := core.Fetch(ctx, engine, "user:42", tagged, func(ctx context.Context) (User, error) {
		return db.LoadUser(ctx, "42")
	})
	if err != nil {
		return User{}, nil, err
	}

	// N+1: one pipelined read per 50 keys, one loader call with exactly
	// the keys that missed.
	users, err := core.FetchMany(ctx, engine, keys, policy, func(ctx context.Context, missing []string) (map[string]User, error) {
		return db.LoadUsers(ctx, missing)
	})
	if err != nil {
		return User{}, nil, err
	}

	// After a write: every item tagged user:42, in every instance.
	if err := db.SaveUser(ctx, User{ID: "42", Name: "Ada"}); err != nil {
		return User{}, nil, err
	}
	if err := engine.InvalidateTags(ctx, "user:42"); err != nil {
		return User{}, nil, err
	}
	return user, users, nil
}

// Fetch caches one value and FetchMany a batch; InvalidateTags drops them
// after a write. This needs a Redis; TestQuickStartForFunctions is its twin.
func ExampleFetch() {
	var engine *core.Engine // from core.New, once per process
	var db userStore        // your database
	user, users, err := readAndWrite(context.Background(), engine, db, []string{"user:1", "user:2"})
	if err != nil {
		log.Print(err)
		return
	}
	log.Print(user.Name, len(users))
}

// The twin of ExampleFetch: the README's quick start for functions caches,
// batches, and invalidates what it tagged.
func TestQuickStartForFunctions(t *testing.T) {
	engine, err := core.New(core.Config{Client: redistest.Client(t), Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close(context.Background()) })
	db := &fakeUsers{names: map[string]string{"42": "Grace", "user:1": "One", "user:2": "Two"}}
	ctx := context.Background()
	keys := []string{"user:1", "user:2"}
	user, users, err := readAndWrite(ctx, engine, db, keys)
	if err != nil || user.Name != "Grace" || len(users) != 2 || users["user:2"].Name != "Two" || db.loads.Load() != 2 {
		t.Fatalf("first run: %+v %+v %v, %d loads", user, users, err, db.loads.Load())
	}
	// The write invalidated user:42, and only it: it is loaded again, with
	// the new name, while the batch is served from the cache.
	user, users, err = readAndWrite(ctx, engine, db, keys)
	if err != nil || user.Name != "Ada" || len(users) != 2 || db.loads.Load() != 3 {
		t.Fatalf("after the write: %+v %v, %d loads; want the new value loaded again, the batch cached", user, err, db.loads.Load())
	}
}

// fakeUsers is a userStore in memory.
type fakeUsers struct {
	mu    sync.Mutex
	names map[string]string // protected by mu
	loads atomic.Int32
}

func (f *fakeUsers) LoadUser(_ context.Context, id string) (User, error) {
	f.loads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return User{ID: id, Name: f.names[id]}, nil
}

func (f *fakeUsers) LoadUsers(_ context.Context, ids []string) (map[string]User, error) {
	f.loads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]User, len(ids))
	for _, id := range ids {
		out[id] = User{ID: id, Name: f.names[id]}
	}
	return out, nil
}

func (f *fakeUsers) SaveUser(_ context.Context, u User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names[u.ID] = u.Name
	return nil
}

// A memory tier in front of Redis: hits without a round trip, kept
// coherent across instances, and the origin's shield while Redis is down.
// TestMemoryServesByTheEntrysWindowsUntilMaxAge and the root package's
// memory tests are its twins.
func ExampleMemoryConfig() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true, MaxRetries: -1})
	br, err := breaker.New(breaker.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	engine, err := core.New(core.Config{
		Client:  rdb,
		Breaker: br,
		Memory:  core.MemoryConfig{MaxBytes: 256 << 20, MaxAge: 5 * time.Second},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close(context.Background()) // ends the tier's subscription, gives its memory back

	// Per policy: how long a copy may be served before it is read again
	// (0: MaxAge), or -1 to keep a policy's items out of memory.
	prices := core.Policy{TTL: time.Minute, StaleIfError: time.Hour, Memory: time.Second}
	_ = prices
}

// token is an access token from an identity provider, valid until
// Expires.
type token struct {
	Value   string
	Expires time.Time
}

// cachedToken caches the provider's token for as long as it is valid,
// less a minute: its lifetime comes from the value itself, not the
// policy, whose TTL is then the most it gets.
func cachedToken(ctx context.Context, engine *core.Engine, fetch func(context.Context) (token, error)) (token, error) {
	policy := core.Policy{TTL: time.Hour, RefreshAhead: -1}
	var tok token
	res, err := engine.Lookup(ctx, core.Key{Name: "idp-token"}, policy, core.LoaderFunc(func(ctx context.Context) (core.Item, error) {
		t, err := fetch(ctx)
		if err != nil {
			return core.Item{}, err
		}
		valid := min(time.Until(t.Expires)-time.Minute, policy.TTL)
		return core.Item{Value: []byte(t.Value), Lifetime: &core.Lifetime{TTL: valid}}, nil
	}))
	if err != nil {
		return token{}, err
	}
	tok.Value, tok.Expires = string(res.Value), res.FreshUntil.Add(time.Minute)
	return tok, nil
}

// A value whose source says how long it stays good: Item.Lifetime. This
// needs a Redis; TestItemLifetimeFromTheSource is its twin.
func ExampleLifetime() {
	var engine *core.Engine // from core.New, once per process
	tok, err := cachedToken(context.Background(), engine, func(context.Context) (token, error) {
		return token{Value: "secret", Expires: time.Now().Add(5 * time.Minute)}, nil
	})
	if err != nil {
		log.Print(err)
		return
	}
	log.Print(tok.Expires)
}

// The twin of ExampleLifetime: the token is stored for its own lifetime,
// less the minute, not the policy's hour, and served from the cache.
func TestItemLifetimeFromTheSource(t *testing.T) {
	engine, err := core.New(core.Config{Client: redistest.Client(t), Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close(context.Background()) })
	var fetches atomic.Int32
	fetch := func(context.Context) (token, error) {
		fetches.Add(1)
		return token{Value: "secret", Expires: time.Now().Add(5 * time.Minute)}, nil
	}
	for range 2 {
		tok, err := cachedToken(context.Background(), engine, fetch)
		left := time.Until(tok.Expires)
		if err != nil || tok.Value != "secret" || left > 5*time.Minute || left < 4*time.Minute {
			t.Fatalf("got %+v (%v left), %v; want the token, valid about 5 minutes", tok, left, err)
		}
	}
	if fetches.Load() != 1 {
		t.Fatalf("%d fetches, want 1: the second read is a hit", fetches.Load())
	}
}
