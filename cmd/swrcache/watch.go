package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/swrcache/swrcache/core"
)

// notice is one line of watch's JSON output.
type notice struct {
	Time   time.Time `json:"time"`
	Keys   []string  `json:"keys,omitempty"`
	Tags   []string  `json:"tags,omitempty"`
	Missed bool      `json:"missed"`
}

// runWatch prints every invalidation notice published in the namespace,
// through core.Engine.Subscribe, until ctx ends (Ctrl-C).
func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c conn
	fs := newFlagSet("watch", "watch [flags]", stderr)
	c.register(fs)
	output := outputFlag(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if code, bad := checkOutput(fs, *output); bad {
		return code
	}
	e, done, code := c.open(ctx, "watch", stderr)
	if e == nil {
		return code
	}
	defer done()
	fmt.Fprintf(stderr, "swrcache watch: notices of namespace %q on %s; Ctrl-C to stop\n", c.namespace, c.where())
	enc := json.NewEncoder(stdout)
	_ = e.Subscribe(ctx, func(inv core.Invalidation) { // on this goroutine: one line at a time
		n := notice{Time: time.Now(), Keys: inv.Keys, Tags: inv.Tags, Missed: inv.Missed}
		if *output == "json" {
			_ = enc.Encode(n)
			return
		}
		fmt.Fprintln(stdout, n.line())
	})
	return exitOK
}

// line is n as one line of text: its time, keys, tags and Missed. A
// Missed notice says that notices may have been lost: the subscription
// broke, or the master failed over.
func (n notice) line() string {
	list := func(s []string) string {
		if len(s) == 0 {
			return "-"
		}
		return strings.Join(s, ",")
	}
	s := fmt.Sprintf("%s keys=%s tags=%s missed=%t", stamp(n.Time), list(n.Keys), list(n.Tags), n.Missed)
	if n.Missed {
		s += " (notices may have been lost: the subscription broke or the master failed over)"
	}
	return s
}
