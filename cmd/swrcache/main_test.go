package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/internal/redistest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m, redistest.LeakOptions()...)
}

// result is what one run of the command printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// swrcache runs the command in-process with args.
func swrcache(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errs bytes.Buffer
	code := run(ctx, args, &out, &errs)
	return result{out.String(), errs.String(), code}
}

// connFlags are the connection flags for the Redis the tests share, with
// ns as the namespace.
func connFlags(t *testing.T, ns string) []string {
	t.Helper()
	if redistest.IsCluster(t) {
		return []string{"--cluster", os.Getenv("SWRCACHE_REDIS_CLUSTER"), "--namespace", ns}
	}
	addr := redistest.Addr(t)
	u := "redis://" + addr
	if env := os.Getenv("REDIS_URL"); strings.Contains(env, "://") {
		u = env // its credentials and database
	}
	return []string{"--redis", u, "--namespace", ns}
}

// newEngine builds an engine under a namespace of the test's own, closed
// when the test ends, and returns it with that namespace.
func newEngine(t *testing.T) (*core.Engine, string) {
	t.Helper()
	ns := redistest.Prefix(t)
	e, err := core.New(core.Config{Client: redistest.Client(t), Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	})
	return e, ns
}

// waitFor polls cond until it holds, failing t after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// deadAddr returns an address on which nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestUsageAndExitCodes(t *testing.T) {
	dead := "redis://" + deadAddr(t)
	tests := []struct {
		name         string
		givenArgs    []string
		expectCode   int
		expectStderr string // a part of it
		expectStdout string
	}{
		{"no subcommand is a usage error", nil, exitUsage, "usage: swrcache <subcommand>", ""},
		{"an unknown subcommand is a usage error", []string{"frobnicate"}, exitUsage, `unknown subcommand "frobnicate"`, ""},
		{"help prints the usage on stdout", []string{"help"}, exitOK, "", "subcommands:"},
		{"-h of a subcommand lists its flags", []string{"inspect", "-h"}, exitOK, "-header-value", ""},
		{"an unknown flag is a usage error", []string{"doctor", "--nope"}, exitUsage, "flag provided but not defined", ""},
		{"a stray argument is a usage error", []string{"watch", "extra"}, exitUsage, `unexpected argument "extra"`, ""},
		{"inspect needs --url or --key", []string{"inspect"}, exitUsage, "give --url", ""},
		{"inspect takes one of them", []string{"inspect", "--key", "k", "--url", "http://h/"}, exitUsage, "one of them", ""},
		{"a URL needs the route's resource", []string{"inspect", "--url", "http://h/"}, exitUsage, "--resource", ""},
		{"a URL needs a host", []string{"inspect", "--url", "/p", "--resource", "r"}, exitUsage, "no host", ""},
		{"query flags exclude each other", []string{"inspect", "--url", "http://h/", "--resource", "r", "--query", "a", "--no-query"}, exitUsage, "exclude each other", ""},
		{"a bad tenant is a usage error", []string{"invalidate", "--url", "http://h/", "--resource", "r", "--tenant", "Acme"}, exitUsage, "not a valid tenant", ""},
		{"a bad header value is a usage error", []string{"inspect", "--url", "http://h/", "--resource", "r", "--header-value", "nocolon"}, exitUsage, "'Name: value'", ""},
		{"invalidate needs something to invalidate", []string{"invalidate"}, exitUsage, "at least one", ""},
		{"a key with braces is refused", []string{"invalidate", "--key", "a{b}"}, exitUsage, "'{'", ""},
		{"an unknown output is a usage error", []string{"doctor", "--output", "yaml"}, exitUsage, "text or json", ""},
		{"a Redis that does not answer is 3", []string{"doctor", "--redis", dead, "--timeout", "200ms"}, exitUnreachable, "does not answer", ""},
		{"inspect without Redis is 3", []string{"inspect", "--key", "k", "--redis", dead, "--timeout", "200ms"}, exitUnreachable, "does not answer", ""},
		{"a bad Redis URL is a usage error", []string{"watch", "--redis", "mysql://x"}, exitUsage, "--redis", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := swrcache(t, tt.givenArgs...)
			if got.code != tt.expectCode || !strings.Contains(got.stderr, tt.expectStderr) || !strings.Contains(got.stdout, tt.expectStdout) {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got.code, tt.expectCode, got.stdout, got.stderr)
			}
		})
	}
}
