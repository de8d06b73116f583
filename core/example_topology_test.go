package core_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/breaker"
	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
)

// clusterClient is the README's client for a Redis Cluster.
func clusterClient(addrs []string) *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 addrs, // some of the cluster's nodes: it finds the rest
		ContextTimeoutEnabled: true,  // as for a single node
		MaxRetries:            -1,
		// ReadOnly, RouteByLatency and RouteRandomly stay off: a replica
		// can lag behind an invalidation.
	})
}

// sentinelClient is the README's client for a master watched by Sentinels.
func sentinelClient(master string, sentinels []string) *redis.Client {
	return redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            master,    // as the Sentinels name it
		SentinelAddrs:         sentinels, // they say which node is the master
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
	})
}

// An engine on a Redis Cluster: breaker.Breaker keeps a state per master,
// so that a dead master bypasses only the keys it owns.
func ExampleNew_cluster() {
	rdb := clusterClient([]string{"redis-1:6379", "redis-2:6379", "redis-3:6379"})
	defer rdb.Close()
	br, err := breaker.New(breaker.DefaultConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	engine, err := core.New(core.Config{Client: rdb, Breaker: br})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer engine.Close(context.Background())
}

// An engine on a master watched by Sentinels: a failover is followed by
// the client, and by Subscribe.
func ExampleNew_sentinel() {
	rdb := sentinelClient("mymaster", []string{"sentinel-1:26379", "sentinel-2:26379", "sentinel-3:26379"})
	defer rdb.Close()
	engine, err := core.New(core.Config{Client: rdb, Namespace: "app:"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer engine.Close(context.Background())
}

// fetchesTwice fetches n keys twice on an engine over rdb, and fails t
// unless the second round hits every one.
func fetchesTwice(t *testing.T, rdb redis.UniversalClient, n int) *breaker.Breaker {
	t.Helper()
	br, err := breaker.New(breaker.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	engine, err := core.New(core.Config{Client: rdb, Breaker: br, Namespace: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close(context.Background()) })
	ctx := context.Background()
	loads := 0
	for round := range 2 {
		for i := range n {
			v, err := core.Fetch(ctx, engine, fmt.Sprint("item:", i), core.Policy{TTL: time.Minute}, func(context.Context) (int, error) {
				loads++
				return i, nil
			})
			if err != nil || v != i {
				t.Fatalf("round %d, item %d: %d, %v", round, i, v, err)
			}
		}
	}
	if loads != n {
		t.Fatalf("%d loads for %d keys fetched twice, want one each", loads, n)
	}
	return br
}

// The twin of ExampleNew_cluster, when the tests run on a cluster.
func TestTheREADMEClusterClient(t *testing.T) {
	cc, ok := redistest.Client(t).(*redis.ClusterClient)
	if !ok {
		t.Skip("the tests do not run on a Redis Cluster")
	}
	rdb := clusterClient(cc.Options().Addrs[:1])
	t.Cleanup(func() { _ = rdb.Close() })
	br := fetchesTwice(t, rdb, 200)
	var masters atomic.Int32 // ForEachMaster runs fn on each at once
	err := rdb.ForEachMaster(context.Background(), func(ctx context.Context, m *redis.Client) error {
		masters.Add(1)
		if st := br.NodeState(m.Options().Addr); st != breaker.Closed {
			return fmt.Errorf("master %s: breaker %v", m.Options().Addr, st)
		}
		return nil
	})
	if err != nil || masters.Load() < 2 {
		t.Fatalf("%d masters: %v", masters.Load(), err)
	}
}

// The twin of ExampleNew_sentinel, on a Sentinel set of the test's own.
func TestTheREADMESentinelClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Sentinel")
	}
	if redistest.IsCluster(t) {
		t.Skip("starts servers of its own: run once, with the single-node suite")
	}
	s := redistest.StartSentinel(t)
	rdb := sentinelClient(s.Name, []string{s.Watcher.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	fetchesTwice(t, rdb, 50)
	if n, err := s.Master.Do("DBSIZE").Int(); err != nil || n < 50 {
		t.Fatalf("the master holds %d keys (%v), want the 50 items at least", n, err)
	}
}
