package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/swrcache/swrcache/internal/syncbuf"
)

func TestWatchPrintsTheNoticesAnotherEnginePublishes(t *testing.T) {
	tests := []struct {
		name        string
		givenOutput string
		expect      func(t *testing.T, out string) bool // whether out holds both notices
	}{
		{"as text", "text", func(t *testing.T, out string) bool {
			keys := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT[\d:.]+Z keys=user:1,user:2 tags=- missed=false$`)
			tags := regexp.MustCompile(`(?m)^\S+ keys=- tags=team:7 missed=false$`)
			return keys.MatchString(out) && tags.MatchString(out)
		}},
		{"as JSON, a line each", "json", func(t *testing.T, out string) bool {
			var seen []notice
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				var n notice
				if err := json.Unmarshal([]byte(l), &n); err != nil {
					t.Fatalf("line %q: %v", l, err)
				}
				seen = append(seen, n)
			}
			have := func(keys, tags string) bool {
				for _, n := range seen {
					if strings.Join(n.Keys, ",") == keys && strings.Join(n.Tags, ",") == tags && !n.Missed && !n.Time.IsZero() {
						return true
					}
				}
				return false
			}
			return have("user:1,user:2", "") && have("", "team:7")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ns := newEngine(t)
			ctx, cancel := context.WithCancel(context.Background())
			var out syncbuf.Buffer
			code := make(chan int, 1)
			args := append([]string{"watch", "--output", tt.givenOutput}, connFlags(t, ns)...)
			go func() { code <- run(ctx, args, &out, io.Discard) }()
			stopped := false
			stop := func() int {
				if stopped {
					return exitOK
				}
				stopped = true
				cancel()
				return <-code
			}
			t.Cleanup(func() { stop() })

			// Pub/sub keeps nothing for a subscriber not yet listening:
			// publish a probe until watch prints it.
			for i := 0; !strings.Contains(out.String(), "probe"); i++ {
				if err := e.Invalidate(ctx, fmt.Sprintf("probe-%d", i)); err != nil {
					t.Fatal(err)
				}
				if i == 500 {
					t.Fatalf("watch printed no probe:\n%s", out.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := e.Invalidate(ctx, "user:1", "user:2"); err != nil {
				t.Fatal(err)
			}
			if err := e.InvalidateTags(ctx, "team:7"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "both notices", func() bool { return tt.expect(t, out.String()) })
			if c := stop(); c != exitOK {
				t.Fatalf("watch exited %d after Ctrl-C", c)
			}
		})
	}
}
