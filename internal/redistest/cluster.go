package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster a test owns: redis-server processes on ports
// of their own, killed when the test ends. Tests may kill and restart its
// nodes, which they must never do to a shared server.
type Cluster struct {
	t        testing.TB
	Masters  []*Server
	Replicas []*Server // Replicas[i*n+j] is the j-th replica of Masters[i], for n replicas each
}

// ClusterNodeTimeout is the cluster-node-timeout of a started cluster:
// about how long a dead master takes to be marked failed, and to fail over
// to a replica.
const ClusterNodeTimeout = time.Second

// StartCluster starts a cluster of masters masters, each with replicas
// replicas, with redis-cli --cluster create, and waits until every node
// says the cluster is ok. It answers for the slots of live masters while
// another is down (cluster-require-full-coverage no), as a cluster that
// should survive a dead master must be set up. args go to every node.
func StartCluster(t testing.TB, masters, replicas int, args ...string) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skipf("no redis-cli on PATH: %v", err)
	}
	// A replica fails over however long ago it last heard from its master
	// (cluster-replica-validity-factor 0): a test's idle master may not
	// have pinged it for a while.
	nodeArgs := append([]string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", fmt.Sprint(ClusterNodeTimeout.Milliseconds()),
		"--cluster-require-full-coverage", "no", "--cluster-replica-validity-factor", "0"}, args...)
	c := &Cluster{t: t}
	var addrs []string
	for i := range masters * (1 + replicas) {
		s := StartServer(t, nodeArgs...)
		if i < masters {
			c.Masters = append(c.Masters, s)
		} else {
			c.Replicas = append(c.Replicas, s)
		}
		addrs = append(addrs, s.Addr())
	}
	create := append([]string{"--cluster", "create"}, addrs...)
	create = append(create, "--cluster-replicas", fmt.Sprint(replicas), "--cluster-yes")
	if out, err := exec.Command(cli, create...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy()
	return c
}

// Seeds returns the addresses of every node, for a client to start from.
func (c *Cluster) Seeds() []string {
	var addrs []string
	for _, s := range append(append([]*Server{}, c.Masters...), c.Replicas...) {
		addrs = append(addrs, s.Addr())
	}
	return addrs
}

// Client returns a cluster client with the project's recommended options
// (see Options), closed when the test ends.
func (c *Cluster) Client(opts ...func(*redis.ClusterOptions)) *redis.ClusterClient {
	o := clusterOptions(c.Seeds(), Options(""))
	for _, opt := range opts {
		opt(o)
	}
	cc := redis.NewClusterClient(o)
	c.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// WaitHealthy waits until every running node says cluster_state:ok and
// that every slot is served by a live master, failing the test after 30 s.
func (c *Cluster) WaitHealthy() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		bad := ""
		for _, s := range append(append([]*Server{}, c.Masters...), c.Replicas...) {
			if !s.Running() {
				continue
			}
			info, err := s.Do("CLUSTER", "INFO").Text()
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
				bad = fmt.Sprintf("%s: %v %q %q", s.Addr(), err, firstLine(info, "cluster_state"), firstLine(info, "cluster_slots_ok"))
				break
			}
		}
		if bad == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("redistest: the cluster is not healthy after 30s: %s", bad)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// MasterOf returns the address of the master serving key, by asking a live
// node.
func (c *Cluster) MasterOf(ctx context.Context, cc *redis.ClusterClient, key string) string {
	c.t.Helper()
	node, err := cc.MasterForKey(ctx, key)
	if err != nil {
		c.t.Fatalf("redistest: master for %q: %v", key, err)
	}
	return node.Options().Addr
}

func firstLine(info, field string) string {
	for l := range strings.SplitSeq(info, "\n") {
		if strings.HasPrefix(l, field) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
