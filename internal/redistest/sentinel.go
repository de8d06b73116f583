package redistest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a master, a replica and a Sentinel watching them, processes
// a test owns on ports of their own, killed when the test ends.
type Sentinel struct {
	t               testing.TB
	Master, Replica *Server
	Watcher         *Server // the Sentinel
	Name            string  // the master's name in the Sentinel
}

// StartSentinel starts a master, its replica and a Sentinel (quorum 1)
// that fails the master over once it has been unreachable for a second.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	s := &Sentinel{t: t, Name: "swrtest"}
	s.Master = StartServer(t)
	s.Replica = StartServer(t, "--replicaof", "127.0.0.1", fmt.Sprint(s.Master.port))
	s.Watcher = NewServer(t, "--sentinel")
	s.Watcher.conf = filepath.Join(s.Watcher.dir, "sentinel.conf")
	conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %[1]s 1000\nsentinel failover-timeout %[1]s 5000\n",
		s.Name, s.Master.port)
	if err := os.WriteFile(s.Watcher.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Watcher.Start()
	s.waitReplica()
	return s
}

// waitReplica waits until the Sentinel knows the replica and the replica
// is in sync.
func (s *Sentinel) waitReplica() {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, _ := s.Replica.Do("INFO", "replication").Text()
		replicas, _ := s.Watcher.Do("SENTINEL", "REPLICAS", s.Name).Slice()
		if strings.Contains(info, "master_link_status:up") && len(replicas) > 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redistest: the replica is not in sync, or the Sentinel does not know it, after 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Client returns a failover client that finds the master through the
// Sentinel, with the project's recommended options, closed when the test
// ends.
func (s *Sentinel) Client() *redis.Client {
	o := Options("")
	c := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            s.Name,
		SentinelAddrs:         []string{s.Watcher.Addr()},
		ContextTimeoutEnabled: o.ContextTimeoutEnabled,
		MaxRetries:            o.MaxRetries,
		DialTimeout:           o.DialTimeout,
		ReadTimeout:           o.ReadTimeout,
		WriteTimeout:          o.WriteTimeout,
		PoolSize:              o.PoolSize,
		PoolTimeout:           o.PoolTimeout,
	})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// MasterAddr is the master's address, as the Sentinel says.
func (s *Sentinel) MasterAddr() string {
	s.t.Helper()
	addr, err := s.Watcher.Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.Name).StringSlice()
	if err != nil || len(addr) != 2 {
		s.t.Fatalf("redistest: SENTINEL GET-MASTER-ADDR-BY-NAME: %v %v", addr, err)
	}
	return addr[0] + ":" + addr[1]
}
