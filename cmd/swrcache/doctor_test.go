package main

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/swrcache/swrcache/internal/redistest"
)

// goodConfig is a cache node set up as the operating guide says.
var goodConfig = []string{"--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru",
	"--lazyfree-lazy-eviction", "yes", "--latency-monitor-threshold", "100"}

// doctor runs doctor with JSON output and thresholds no loopback PING
// reaches (the latency rule has its own test), and returns the report.
func doctor(t *testing.T, conn ...string) (doctorReport, result) {
	t.Helper()
	args := append([]string{"doctor", "--output", "json", "--warn-p50", "1s", "--warn-p99", "1s", "--pings", "20"}, conn...)
	got := swrcache(t, args...)
	var rep doctorReport
	if err := json.Unmarshal([]byte(got.stdout), &rep); err != nil {
		t.Fatalf("exit %d, %v:\n%s%s", got.code, err, got.stdout, got.stderr)
	}
	return rep, got
}

// expectChecks fails t unless every check of rep has the status expect
// gives it (by check name), and every other one passes.
func expectChecks(t *testing.T, rep doctorReport, expect map[string]verdict) {
	t.Helper()
	for _, c := range rep.Checks {
		want, ok := expect[c.Check]
		if !ok {
			want = pass
		}
		if c.Status != want {
			t.Errorf("%s on %s: %s (%s), want %s", c.Check, c.Node, c.Status, c.Detail, want)
		}
		if (c.Status == warn || c.Status == fail) && c.Fix == "" {
			t.Errorf("%s: %s without a fix", c.Check, c.Status)
		}
	}
}

func TestDoctorOnAPrivateRedis(t *testing.T) {
	tests := []struct {
		name         string
		givenArgs    []string // redis-server's
		givenFlags   []string // doctor's
		expectChecks map[string]verdict
		expectExit   int
	}{
		{"a good configuration passes", goodConfig, nil,
			map[string]verdict{"cluster": skip}, exitOK},
		{"no maxmemory fails and noeviction warns, nothing else",
			[]string{"--maxmemory", "0", "--maxmemory-policy", "noeviction", "--lazyfree-lazy-eviction", "yes", "--latency-monitor-threshold", "100"}, nil,
			map[string]verdict{"maxmemory": fail, "eviction-policy": warn, "cluster": skip}, exitFail},
		{"Redis's defaults warn of lazyfree and the latency monitor", []string{"--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lfu"}, nil,
			map[string]verdict{"lazyfree-lazy-eviction": warn, "latency-monitor": warn, "cluster": skip}, exitProblem},
		{"a refused CONFIG skips its checks and changes no code", append([]string{"--rename-command", "CONFIG", ""}, goodConfig...), nil,
			map[string]verdict{"lazyfree-lazy-eviction": skip, "latency-monitor": skip, "cluster": skip}, exitOK},
		{"a renamed CONFIG is found with --config-command", append([]string{"--rename-command", "CONFIG", "SECRET_CONFIG"}, goodConfig...),
			[]string{"--config-command", "SECRET_CONFIG"}, map[string]verdict{"cluster": skip}, exitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.StartServer(t, tt.givenArgs...)
			rep, got := doctor(t, append([]string{"--redis", "redis://" + srv.Addr()}, tt.givenFlags...)...)
			if len(rep.Checks) != 8 {
				t.Fatalf("%d checks, want 8:\n%s", len(rep.Checks), got.stdout)
			}
			expectChecks(t, rep, tt.expectChecks)
			if got.code != tt.expectExit || rep.Exit != tt.expectExit {
				t.Errorf("exit %d (report: %d), want %d", got.code, rep.Exit, tt.expectExit)
			}
		})
	}
}

func TestDoctorPrintsATableWithTheFixes(t *testing.T) {
	srv := redistest.StartServer(t, "--maxmemory-policy", "noeviction", "--lazyfree-lazy-eviction", "yes", "--latency-monitor-threshold", "100")
	got := swrcache(t, "doctor", "--redis", "redis://"+srv.Addr(), "--warn-p50", "1s", "--warn-p99", "1s")
	for _, want := range []string{
		"STATUS  CHECK",
		"fail    maxmemory               " + srv.Addr() + "  0, no limit",
		"skip    cluster",
		"fixes:\n  fail maxmemory on " + srv.Addr() + ": set maxmemory",
		"  warn eviction-policy on " + srv.Addr() + ": CONFIG SET maxmemory-policy allkeys-lru",
		"\n5 pass, 1 warn, 1 fail, 1 skip\n",
	} {
		if !strings.Contains(got.stdout, want) {
			t.Errorf("no %q in:\n%s", want, got.stdout)
		}
	}
	if got.code != exitFail {
		t.Errorf("exit %d, want %d", got.code, exitFail)
	}
}

func TestDoctorChecksEveryMasterOfACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	cl := redistest.StartCluster(t, 3, 0, goodConfig...)
	flags := []string{"--cluster", strings.Join(cl.Seeds(), ",")}
	rep, got := doctor(t, flags...)
	expectChecks(t, rep, nil)
	nodes := map[string]bool{}
	for _, c := range rep.Checks {
		nodes[c.Node] = true
	}
	if len(nodes) != 3 || len(rep.Checks) != 3*8 || got.code != exitOK {
		t.Fatalf("exit %d, %d checks on %d nodes; want 0, 24 on 3:\n%s", got.code, len(rep.Checks), len(nodes), got.stdout)
	}

	// A master dies and has no replica: its slots fail.
	dead := cl.Masters[2].Addr()
	cl.Masters[2].Kill()
	waitFor(t, "the cluster to see the master fail", func() bool {
		info, err := cl.Masters[0].Do("CLUSTER", "INFO").Text()
		return err == nil && !strings.Contains(info, "cluster_slots_fail:0")
	})
	rep, got = doctor(t, flags...)
	if got.code != exitFail {
		t.Errorf("exit %d after a master died, want %d", got.code, exitFail)
	}
	for _, c := range rep.Checks {
		switch {
		case c.Node == dead && (c.Check != "reachable" || c.Status != fail):
			t.Errorf("the dead master: %+v", c)
		case c.Node != dead && c.Check == "cluster" && c.Status != fail:
			t.Errorf("a live master's cluster check: %+v", c)
		}
	}
}

// The rules, on facts made up for each case.
func TestDoctorRules(t *testing.T) {
	good := func() facts {
		return facts{
			info: map[string]string{"maxmemory": "67108864", "used_memory": "1048576", "used_memory_rss": "4194304",
				"maxmemory_policy": "allkeys-lru", "mem_fragmentation_ratio": "4.00", "connected_clients": "10",
				"maxclients": "10000", "rejected_connections": "0", "cluster_enabled": "0", "server_time_usec": "1700000000000000"},
			config: map[string]string{"lazyfree-lazy-eviction": "yes", "latency-monitor-threshold": "100"},
			pings:  []time.Duration{time.Millisecond},
		}
	}
	th := thresholds{p50: 2 * time.Millisecond, p99: 10 * time.Millisecond}
	tests := []struct {
		name        string
		givenFacts  func(f *facts)
		expectCheck string
		expectVerd  verdict
	}{
		{"a volatile policy passes: every swrcache key has a TTL", func(f *facts) { f.info["maxmemory_policy"] = "volatile-lru" }, "eviction-policy", pass},
		{"an unknown policy warns", func(f *facts) { f.info["maxmemory_policy"] = "allkeys-magic" }, "eviction-policy", warn},
		{"a high ratio on a tiny instance passes", func(f *facts) { f.info["mem_fragmentation_ratio"] = "7.56" }, "fragmentation", pass},
		{"a high ratio on a large instance warns", func(f *facts) {
			f.info["used_memory"], f.info["used_memory_rss"], f.info["mem_fragmentation_ratio"] = "209715200", "419430400", "2.00"
		}, "fragmentation", warn},
		{"RSS well below used memory warns of swap", func(f *facts) {
			f.info["used_memory"], f.info["used_memory_rss"], f.info["mem_fragmentation_ratio"] = "209715200", "104857600", "0.50"
		}, "fragmentation", warn},
		{"80% of maxclients warns", func(f *facts) { f.info["connected_clients"] = "8000" }, "clients", warn},
		{"79% of maxclients passes", func(f *facts) { f.info["connected_clients"] = "7900" }, "clients", pass},
		{"refused connections warn", func(f *facts) { f.info["rejected_connections"] = "3" }, "clients", warn},
		{"maxclients from CONFIG on an older Redis", func(f *facts) {
			delete(f.info, "maxclients")
			f.config["maxclients"] = "100"
			f.info["connected_clients"] = "90"
		}, "clients", warn},
		{"a slow median warns", func(f *facts) { f.pings = []time.Duration{3 * time.Millisecond, 3 * time.Millisecond} }, "latency", warn},
		{"a slow 99th percentile warns", func(f *facts) {
			f.pings = make([]time.Duration, 100)
			for i := range f.pings {
				f.pings[i] = 100 * time.Microsecond
			}
			f.pings[98], f.pings[99] = 20*time.Millisecond, 20*time.Millisecond
		}, "latency", warn},
		{"one slow PING in a hundred passes", func(f *facts) {
			f.pings = make([]time.Duration, 100)
			for i := range f.pings {
				f.pings[i] = 100 * time.Microsecond
			}
			f.pings[99] = 50 * time.Millisecond
		}, "latency", pass},
		{"a failed PING fails", func(f *facts) { f.pingErr = errors.New("i/o timeout") }, "latency", fail},
		{"a recent spike warns", func(f *facts) {
			f.spikes = []spike{{event: "eviction-cycle", at: time.UnixMicro(1_700_000_000_000_000).Add(-time.Minute), latest: 120 * time.Millisecond}}
		}, "latency-monitor", warn},
		{"an old spike passes", func(f *facts) {
			f.spikes = []spike{{event: "command", at: time.UnixMicro(1_700_000_000_000_000).Add(-time.Hour), latest: 120 * time.Millisecond}}
		}, "latency-monitor", pass},
		{"a refused CONFIG skips", func(f *facts) { f.config, f.configErr = map[string]string{}, errors.New("NOPERM") }, "lazyfree-lazy-eviction", skip},
		{"a missing parameter skips", func(f *facts) { delete(f.config, "latency-monitor-threshold") }, "latency-monitor", skip},
		{"a full cluster passes", func(f *facts) { cluster(f, "ok", 16384, 16384, 0, 0) }, "cluster", pass},
		{"possibly failing slots warn", func(f *facts) { cluster(f, "ok", 16384, 16000, 384, 0) }, "cluster", warn},
		{"failed slots fail", func(f *facts) { cluster(f, "ok", 16384, 16000, 0, 384) }, "cluster", fail},
		{"unassigned slots fail", func(f *facts) { cluster(f, "ok", 10000, 10000, 0, 0) }, "cluster", fail},
		{"a failed state fails", func(f *facts) { cluster(f, "fail", 16384, 16384, 0, 0) }, "cluster", fail},
		{"a CLUSTER INFO that fails fails", func(f *facts) { f.info["cluster_enabled"] = "1"; f.clusterErr = errors.New("NOPERM") }, "cluster", fail},
		{"INFO without the fields skips", func(f *facts) { f.info = map[string]string{} }, "maxmemory", skip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := good()
			tt.givenFacts(&f)
			for _, c := range judge("node", f, th) {
				if c.Check == tt.expectCheck {
					if c.Status != tt.expectVerd {
						t.Fatalf("%s: %s (%s), want %s", c.Check, c.Status, c.Detail, tt.expectVerd)
					}
					return
				}
			}
			t.Fatalf("no check %s", tt.expectCheck)
		})
	}
	for _, c := range judge("node", good(), th) {
		if want := map[string]verdict{"cluster": skip}[c.Check]; c.Status != pass && c.Status != want {
			t.Errorf("the good facts: %s is %s (%s)", c.Check, c.Status, c.Detail)
		}
	}
}

// cluster makes f a cluster node's, with CLUSTER INFO's fields.
func cluster(f *facts, state string, assigned, ok, pfail, failed int) {
	f.info["cluster_enabled"] = "1"
	f.cluster = map[string]string{"cluster_state": state, "cluster_slots_assigned": strconv.Itoa(assigned),
		"cluster_slots_ok": strconv.Itoa(ok), "cluster_slots_pfail": strconv.Itoa(pfail), "cluster_slots_fail": strconv.Itoa(failed)}
}
