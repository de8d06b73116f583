package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/middleware"
)

// invalidated is what invalidate reports.
type invalidated struct {
	Keys []string `json:"keys,omitempty"`
	Tags []string `json:"tags,omitempty"`
}

// runInvalidate removes entries with the engine's own Invalidate and
// InvalidateTags, so that the notice every instance listens for
// (core.Engine.Subscribe) goes out as it does from the application.
//
// A URL names its route's base key, but a route whose responses vary on
// request headers (Vary) keeps each response under a variant key that
// hashes the request's values of those headers: no URL leads to them. The
// HTTP layer tags the marker and every variant it stores with
// middleware.VaryTag(base key), so --url invalidates the base key and that
// tag: the entry, or the marker and every variant.
func runInvalidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c conn
	var k keyFlags
	tags, keys := listFlag{whole: true}, listFlag{whole: true}
	fs := newFlagSet("invalidate", "invalidate (--tag TAG | --key NAME | --url URL --resource NAME [key flags])... [flags]", stderr)
	c.register(fs)
	k.register(fs)
	fs.Var(&tags, "tag", "a `tag` to invalidate, repeatable")
	fs.Var(&keys, "key", "an entry's `name` (core Key.Name) to invalidate, repeatable")
	output := outputFlag(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if code, bad := checkOutput(fs, *output); bad {
		return code
	}
	todo := invalidated{Keys: keys.list, Tags: tags.list}
	if k.url != "" {
		_, _, base, err := k.base()
		if err != nil {
			return usageError(fs, "%v", err)
		}
		todo.Keys = append(todo.Keys, base.Name)
		todo.Tags = append(todo.Tags, middleware.VaryTag(base.Name))
	}
	if err := todo.validate(); err != nil {
		return usageError(fs, "%v", err)
	}
	e, done, code := c.open(ctx, "invalidate", stderr)
	if e == nil {
		return code
	}
	defer done()
	if err := invalidate(ctx, e, todo); err != nil {
		fmt.Fprintf(stderr, "swrcache invalidate: %v\n", err)
		if errors.Is(err, core.ErrQueued) {
			fmt.Fprintln(stderr, "swrcache invalidate: Redis stopped answering; it may not be done: run it again")
			return exitUnreachable
		}
		return exitUsage
	}
	if *output == "json" {
		_ = json.NewEncoder(stdout).Encode(todo)
		return exitOK
	}
	for _, name := range todo.Keys {
		fmt.Fprintf(stdout, "invalidated key %s\n", name)
	}
	for _, tag := range todo.Tags {
		fmt.Fprintf(stdout, "invalidated tag %s\n", tag)
	}
	return exitOK
}

// validate checks todo against core's rules before anything is sent, so
// that a bad name is a usage error, not half an invalidation.
func (todo invalidated) validate() error {
	if len(todo.Keys) == 0 && len(todo.Tags) == 0 {
		return errors.New("give at least one --tag, --key or --url")
	}
	for _, name := range todo.Keys {
		if name == "" || strings.ContainsAny(name, "{}") {
			return fmt.Errorf("--key %q: a name is not empty and holds no '{' or '}'", name)
		}
	}
	for _, tag := range todo.Tags {
		if tag == "" || len(tag) > maxTagLen {
			return fmt.Errorf("--tag %.40q: a tag is 1 to %d bytes", tag, maxTagLen)
		}
	}
	return nil
}

// invalidate removes todo's keys, then its tags: one notice each.
func invalidate(ctx context.Context, e *core.Engine, todo invalidated) error {
	if len(todo.Keys) > 0 {
		if err := e.Invalidate(ctx, todo.Keys...); err != nil {
			return err
		}
	}
	if len(todo.Tags) > 0 {
		return e.InvalidateTags(ctx, todo.Tags...)
	}
	return nil
}
