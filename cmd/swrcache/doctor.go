package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
)

// doctorOptions are the flags of doctor.
type doctorOptions struct {
	conn      conn
	output    string
	pings     int
	th        thresholds
	configCmd string
}

// doctorReport is doctor's JSON output.
type doctorReport struct {
	Checks  []check         `json:"checks"`
	Summary map[verdict]int `json:"summary"`
	Exit    int             `json:"exit_code"`
}

// runDoctor checks the Redis of the flags, or each master of a cluster,
// against the operating guide's pitfalls. It only reads: INFO, CONFIG GET,
// LATENCY LATEST, CLUSTER INFO and PING; it never changes a setting.
func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o doctorOptions
	fs := newFlagSet("doctor", "doctor [flags]", stderr)
	o.conn.register(fs)
	output := outputFlag(fs)
	fs.IntVar(&o.pings, "pings", 100, "PINGs to sample latency with, per node")
	fs.DurationVar(&o.th.p50, "warn-p50", 2*time.Millisecond, "warn when the median PING takes longer")
	fs.DurationVar(&o.th.p99, "warn-p99", 10*time.Millisecond, "warn when the 99th percentile PING takes longer")
	fs.StringVar(&o.configCmd, "config-command", "CONFIG", "the `name` of CONFIG on a server that renamed it")
	if code, done := parse(fs, args); done {
		return code
	}
	o.output = *output
	if code, bad := checkOutput(fs, o.output); bad {
		return code
	}
	if o.pings < 0 || o.configCmd == "" {
		return usageError(fs, "--pings must not be negative and --config-command not empty")
	}
	o.th.clusterFlag = o.conn.cluster != ""
	rdb, code := o.conn.connect(ctx, "doctor", stderr)
	if rdb == nil {
		return code
	}
	defer rdb.Close()
	checks, err := o.checkAll(ctx, rdb)
	if err != nil {
		fmt.Fprintf(stderr, "swrcache doctor: %v\n", err)
		return exitUnreachable
	}
	rep := doctorReport{Checks: checks, Summary: map[verdict]int{pass: 0, warn: 0, fail: 0, skip: 0}}
	for _, c := range checks {
		rep.Summary[c.Status]++
	}
	switch {
	case rep.Summary[fail] > 0:
		rep.Exit = exitFail
	case rep.Summary[warn] > 0:
		rep.Exit = exitProblem
	}
	if o.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printDoctor(stdout, rep)
	}
	return rep.Exit
}

// checkAll checks the node of a single client, or every master of a
// cluster, each on a client of its own. Its error means the cluster's
// masters could not even be listed.
func (o *doctorOptions) checkAll(ctx context.Context, rdb redis.UniversalClient) ([]check, error) {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		c := rdb.(*redis.Client)
		return o.checkNode(ctx, c.Options().Addr, c), nil
	}
	var mu sync.Mutex
	var all []check
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		checks := o.checkNode(ctx, node.Options().Addr, node)
		mu.Lock()
		all = append(all, checks...)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot list the masters of %s: %w", o.conn.where(), err)
	}
	// Stable output: by node, each node's checks in their own order.
	slices.SortStableFunc(all, func(a, b check) int { return strings.Compare(a.Node, b.Node) })
	return all, nil
}

// checkNode reads one node's facts and judges them.
func (o *doctorOptions) checkNode(ctx context.Context, addr string, c *redis.Client) []check {
	var f facts
	raw, err := c.Info(ctx).Result()
	if err != nil {
		return []check{{Check: "reachable", Node: addr, Status: fail, Source: "INFO", Detail: err.Error(), Fix: unreachableNode}}
	}
	f.info = parseFields(raw)
	f.config = map[string]string{}
	for _, param := range []string{"lazyfree-lazy-eviction", "latency-monitor-threshold", "maxclients"} {
		v, found, err := o.configGet(ctx, c, param)
		if err != nil {
			f.configErr = err
			break
		}
		if found {
			f.config[param] = v
		}
	}
	for range o.pings {
		start := time.Now()
		if f.pingErr = c.Ping(ctx).Err(); f.pingErr != nil {
			break
		}
		f.pings = append(f.pings, time.Since(start))
	}
	if v := f.config["latency-monitor-threshold"]; v != "" && v != "0" {
		f.spikes, _ = latencyLatest(ctx, c) // refused (NOPERM, a managed Redis): judged on the threshold alone
	}
	if f.info["cluster_enabled"] == "1" {
		var ci string
		if ci, f.clusterErr = c.ClusterInfo(ctx).Result(); f.clusterErr == nil {
			f.cluster = parseFields(ci)
		}
	}
	return judge(addr, f, o.th)
}

// configGet reads one parameter with CONFIG GET under its configured name.
// found is false when the server does not know the parameter; an error
// means CONFIG was refused.
func (o *doctorOptions) configGet(ctx context.Context, c *redis.Client, param string) (value string, found bool, err error) {
	res, err := c.Do(ctx, o.configCmd, "GET", param).Result()
	if err != nil {
		return "", false, err
	}
	switch r := res.(type) {
	case []any: // RESP2: name, value, ...
		for i := 0; i+1 < len(r); i += 2 {
			if fmt.Sprint(r[i]) == param {
				return fmt.Sprint(r[i+1]), true, nil
			}
		}
	case map[any]any: // RESP3
		if v, ok := r[param]; ok {
			return fmt.Sprint(v), true, nil
		}
	default:
		return "", false, fmt.Errorf("unexpected reply %T to %s GET", res, o.configCmd)
	}
	return "", false, nil
}

// latencyLatest reads LATENCY LATEST: per event, its name, the Unix time of
// its latest spike, that spike's and the all-time maximum latency in ms.
func latencyLatest(ctx context.Context, c *redis.Client) ([]spike, error) {
	res, err := c.Do(ctx, "LATENCY", "LATEST").Slice()
	if err != nil {
		return nil, err
	}
	var out []spike
	for _, row := range res {
		fields, ok := row.([]any)
		if !ok || len(fields) < 4 {
			return out, errors.New("LATENCY LATEST: unexpected reply")
		}
		num := func(v any) int64 { n, _ := v.(int64); return n }
		out = append(out, spike{event: fmt.Sprint(fields[0]), at: time.Unix(num(fields[1]), 0),
			latest: time.Duration(num(fields[2])) * time.Millisecond, max: time.Duration(num(fields[3])) * time.Millisecond})
	}
	return out, nil
}

// parseFields reads the "name:value" lines of INFO and CLUSTER INFO.
func parseFields(raw string) map[string]string {
	m := map[string]string{}
	for line := range strings.SplitSeq(raw, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// printDoctor writes rep as a table, the fixes of what did not pass, and
// a summary.
func printDoctor(w io.Writer, rep doctorReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tCHECK\tNODE\tDETAIL")
	for _, c := range rep.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Status, c.Check, c.Node, c.Detail)
	}
	_ = tw.Flush()
	header := false
	for _, c := range rep.Checks {
		if c.Fix == "" {
			continue
		}
		if !header {
			fmt.Fprintln(w, "\nfixes:")
			header = true
		}
		fmt.Fprintf(w, "  %s %s on %s: %s\n", c.Status, c.Check, c.Node, c.Fix)
	}
	fmt.Fprintf(w, "\n%d pass, %d warn, %d fail, %d skip\n", rep.Summary[pass], rep.Summary[warn], rep.Summary[fail], rep.Summary[skip])
}
