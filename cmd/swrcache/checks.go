package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// verdict is the outcome of one check.
type verdict string

const (
	pass verdict = "pass"
	warn verdict = "warn"
	fail verdict = "fail"
	skip verdict = "skip" // could not be checked; does not change the exit code
)

// check is one row of doctor's report.
type check struct {
	Check  string  `json:"check"`
	Node   string  `json:"node"`
	Status verdict `json:"status"`
	Source string  `json:"source"`
	Detail string  `json:"detail"`
	Fix    string  `json:"fix,omitempty"`
}

// facts is what doctor read from one node; the checks judge it, and
// touch no network.
type facts struct {
	info      map[string]string // INFO
	config    map[string]string // CONFIG GET, by parameter; missing when refused
	configErr error             // why CONFIG GET was refused, or nil
	pings     []time.Duration   // PING round trips
	pingErr   error
	spikes    []spike           // LATENCY LATEST
	cluster   map[string]string // CLUSTER INFO, on a cluster node
	// clusterErr is why CLUSTER INFO failed, or nil.
	clusterErr error
}

// spike is one event of LATENCY LATEST.
type spike struct {
	event  string
	at     time.Time
	latest time.Duration
	max    time.Duration
}

// thresholds are the doctor's tunable limits.
type thresholds struct {
	p50, p99    time.Duration // PING round trips above these warn
	clusterFlag bool          // --cluster was given: every master is checked
}

// The limits of the checks that have no flag.
const (
	fragMinUsed     = 64 << 20 // below this much used memory, the fragmentation ratio means nothing
	fragHigh        = 1.5
	fragSwap        = 0.9 // RSS this far below used memory: swapped out
	clientsWarnPct  = 80
	recentSpike     = 10 * time.Minute
	clusterSlots    = 16384
	configFix       = "allow CONFIG GET (ACL: +config|get), or name a renamed CONFIG with --config-command; some managed Redis (ElastiCache) never allow it"
	maxmemoryFix    = "set maxmemory below the host's RAM, leaving room for fragmentation and replication and AOF buffers: CONFIG SET maxmemory 4gb, and the same in redis.conf"
	policyFix       = "CONFIG SET maxmemory-policy allkeys-lru (allkeys-lfu for a few very hot keys), and the same in redis.conf"
	lazyfreeFix     = "CONFIG SET lazyfree-lazy-eviction yes, and the same in redis.conf"
	fragFix         = "CONFIG SET activedefrag yes (jemalloc builds), or restart the node in a quiet hour; keep values small"
	swapFix         = "lower maxmemory to what the host can hold in RAM, and turn swap off on Redis hosts"
	clientsFix      = "raise maxclients (and the file limit, ulimit -n), or shrink client pools: pool size times instances must stay below maxclients"
	latencyFix      = "run the app near Redis (same zone), check the host's CPU and network; redis-cli --latency-history and --intrinsic-latency tell the network from the server"
	monitorFix      = "CONFIG SET latency-monitor-threshold 100 (ms), and the same in redis.conf; then LATENCY LATEST and LATENCY DOCTOR show spikes"
	spikeFix        = "LATENCY DOCTOR on the node says why; eviction spikes: lazyfree-lazy-eviction yes; fork spikes: no persistence on a cache node"
	clusterFix      = "redis-cli --cluster check <node> shows what is wrong; --cluster fix assigns lost slots; replace failed masters"
	unreachableNode = "check that the node is up and reachable from here"
)

// judge runs every check on one node's facts.
func judge(node string, f facts, th thresholds) []check {
	out := []check{
		checkMaxmemory(f.info),
		checkPolicy(f.info),
		checkLazyfree(f),
		checkFragmentation(f.info),
		checkClients(f),
		checkLatency(f, th),
		checkLatencyMonitor(f),
		checkCluster(f, th),
	}
	for i := range out {
		out[i].Node = node
		if out[i].Status == pass {
			out[i].Fix = ""
		}
	}
	return out
}

func checkMaxmemory(info map[string]string) check {
	c := check{Check: "maxmemory", Source: "INFO memory", Fix: maxmemoryFix}
	limit, ok := number(info, "maxmemory")
	if !ok {
		return c.skipped("INFO reports no maxmemory")
	}
	used, _ := number(info, "used_memory")
	if limit == 0 {
		c.Status, c.Detail = fail, fmt.Sprintf("0, no limit: Redis grows until the host runs out of memory, swaps or kills it (%s used)", humanBytes(used))
		return c
	}
	c.Status, c.Detail = pass, fmt.Sprintf("%s, %s used (%.0f%%)", humanBytes(limit), humanBytes(used), 100*used/limit)
	return c
}

func checkPolicy(info map[string]string) check {
	c := check{Check: "eviction-policy", Source: "INFO memory", Fix: policyFix}
	policy, ok := info["maxmemory_policy"]
	switch {
	case !ok:
		return c.skipped("INFO reports no maxmemory_policy")
	case policy == "noeviction":
		c.Status, c.Detail = warn, "noeviction: at maxmemory every write fails with OOM, so the cache stops storing (lookups fall back to the handler)"
	case slices.Contains([]string{"allkeys-lru", "allkeys-lfu", "allkeys-lrm"}, policy):
		c.Status, c.Detail = pass, policy+": evicts the keys least used, as a cache should"
	case policy == "allkeys-random":
		c.Status, c.Detail = pass, policy+": fine for uniform access; allkeys-lru keeps hot keys better"
	case strings.HasPrefix(policy, "volatile-"):
		c.Status, c.Detail = pass, policy+": evicts only keys with a TTL; every swrcache key has one, keys of other programs without one are never evicted"
	default:
		c.Status, c.Detail = warn, policy+": a policy this check does not know"
	}
	return c
}

func checkLazyfree(f facts) check {
	c := check{Check: "lazyfree-lazy-eviction", Source: "CONFIG GET lazyfree-lazy-eviction", Fix: lazyfreeFix}
	v, ok := f.config["lazyfree-lazy-eviction"]
	switch {
	case !ok:
		return c.configSkipped(f.configErr, "lazyfree-lazy-eviction")
	case v == "yes":
		c.Status, c.Detail = pass, "yes: an evicted value is freed in a background thread"
	default:
		c.Status, c.Detail = warn, v+": an evicted large value is freed on the main thread, stalling every command meanwhile"
	}
	return c
}

func checkFragmentation(info map[string]string) check {
	c := check{Check: "fragmentation", Source: "INFO memory"}
	ratio, ok1 := number(info, "mem_fragmentation_ratio")
	used, ok2 := number(info, "used_memory")
	rss, _ := number(info, "used_memory_rss")
	switch {
	case !ok1 || !ok2:
		return c.skipped("INFO reports no mem_fragmentation_ratio or used_memory")
	case used < fragMinUsed:
		c.Status, c.Detail = pass, fmt.Sprintf("ratio %.2f with %s used: too little in use for the ratio to mean anything", ratio, humanBytes(used))
	case ratio > fragHigh:
		c.Status, c.Fix = warn, fragFix
		c.Detail = fmt.Sprintf("ratio %.2f: RSS %s for %s used, %s lost to fragmentation", ratio, humanBytes(rss), humanBytes(used), humanBytes(rss-used))
	case ratio < fragSwap:
		c.Status, c.Fix = warn, swapFix
		c.Detail = fmt.Sprintf("ratio %.2f: RSS %s below %s used: part of Redis is likely swapped out", ratio, humanBytes(rss), humanBytes(used))
	default:
		c.Status, c.Detail = pass, fmt.Sprintf("ratio %.2f with %s used", ratio, humanBytes(used))
	}
	return c
}

func checkClients(f facts) check {
	c := check{Check: "clients", Source: "INFO clients, INFO stats", Fix: clientsFix}
	connected, ok := number(f.info, "connected_clients")
	limit, okMax := number(f.info, "maxclients")
	if !okMax { // INFO has it since Redis 7
		limit, okMax = number(f.config, "maxclients")
	}
	rejected, _ := number(f.info, "rejected_connections")
	switch {
	case !ok || !okMax || limit == 0:
		return c.skipped("neither INFO nor CONFIG GET reports connected_clients and maxclients")
	case 100*connected >= clientsWarnPct*limit:
		c.Status = warn
	case rejected > 0:
		c.Status = warn
	default:
		c.Status = pass
	}
	c.Detail = fmt.Sprintf("%.0f of %.0f (%.0f%%)", connected, limit, 100*connected/limit)
	if rejected > 0 {
		c.Detail += fmt.Sprintf("; %.0f connections refused at maxclients since start", rejected)
	}
	return c
}

func checkLatency(f facts, th thresholds) check {
	c := check{Check: "latency", Source: fmt.Sprintf("PING x%d", len(f.pings)), Fix: latencyFix}
	if f.pingErr != nil {
		c.Status, c.Detail = fail, fmt.Sprintf("PING failed after %d answers: %v", len(f.pings), f.pingErr)
		return c
	}
	if len(f.pings) == 0 {
		return c.skipped("no PING sent (--pings 0)")
	}
	p50, p99, top := percentiles(f.pings)
	c.Detail = fmt.Sprintf("p50 %v, p99 %v, max %v", round(p50), round(p99), round(top))
	c.Status = pass
	if p50 > th.p50 || p99 > th.p99 {
		c.Status = warn
		c.Detail += fmt.Sprintf(" (warns above p50 %v or p99 %v)", th.p50, th.p99)
	}
	return c
}

func checkLatencyMonitor(f facts) check {
	c := check{Check: "latency-monitor", Source: "CONFIG GET latency-monitor-threshold, LATENCY LATEST", Fix: monitorFix}
	v, ok := f.config["latency-monitor-threshold"]
	if !ok {
		return c.configSkipped(f.configErr, "latency-monitor-threshold")
	}
	if v == "0" {
		c.Status, c.Detail = warn, "off (threshold 0): latency spikes (fork, eviction, expiry cycles, slow commands) leave no trace"
		return c
	}
	c.Status, c.Detail = pass, fmt.Sprintf("threshold %sms; no spike recorded", v)
	now := time.Now()
	if usec, ok := number(f.info, "server_time_usec"); ok {
		now = time.UnixMicro(int64(usec)) // the node's clock, as the spikes' times are
	}
	var recent []string
	for _, s := range f.spikes {
		if now.Sub(s.at) <= recentSpike {
			recent = append(recent, fmt.Sprintf("%s %v at %s (max %v)", s.event, s.latest, stamp(s.at), s.max))
		}
	}
	switch {
	case len(recent) > 0:
		c.Status, c.Fix = warn, spikeFix
		c.Detail = fmt.Sprintf("threshold %sms; spikes in the last %v: %s", v, recentSpike, strings.Join(recent, "; "))
	case len(f.spikes) > 0:
		c.Detail = fmt.Sprintf("threshold %sms; %d older spikes recorded, none in the last %v", v, len(f.spikes), recentSpike)
	}
	return c
}

func checkCluster(f facts, th thresholds) check {
	c := check{Check: "cluster", Source: "INFO cluster, CLUSTER INFO", Fix: clusterFix}
	if f.info["cluster_enabled"] != "1" {
		return c.skipped("not a cluster node")
	}
	if f.clusterErr != nil {
		c.Status, c.Detail = fail, fmt.Sprintf("CLUSTER INFO failed: %v", f.clusterErr)
		return c
	}
	state := f.cluster["cluster_state"]
	assigned, _ := number(f.cluster, "cluster_slots_assigned")
	ok, _ := number(f.cluster, "cluster_slots_ok")
	pfail, _ := number(f.cluster, "cluster_slots_pfail")
	failed, _ := number(f.cluster, "cluster_slots_fail")
	c.Detail = fmt.Sprintf("state %s, slots assigned %.0f, ok %.0f, pfail %.0f, fail %.0f of %d", state, assigned, ok, pfail, failed, clusterSlots)
	switch {
	case state != "ok" || assigned < clusterSlots || failed > 0:
		c.Status = fail
	case pfail > 0 || ok < clusterSlots:
		c.Status = warn
	default:
		c.Status = pass
	}
	if !th.clusterFlag {
		c.Detail += "; run with --cluster to check every master"
	}
	return c
}

func (c check) skipped(why string) check {
	c.Status, c.Detail, c.Fix = skip, why, ""
	return c
}

// configSkipped is a CONFIG-based check that could not run: CONFIG GET
// was refused (renamed, an ACL, a managed Redis), or the server does not
// know the parameter.
func (c check) configSkipped(err error, param string) check {
	if err != nil {
		c.Status, c.Detail, c.Fix = skip, fmt.Sprintf("CONFIG GET refused: %v", err), configFix
		return c
	}
	return c.skipped(fmt.Sprintf("CONFIG GET reports no %s on this server", param))
}
