package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/swrcache/swrcache/core"
	"github.com/swrcache/swrcache/keyfunc"
	"github.com/swrcache/swrcache/middleware"
)

// inspectOptions are the flags of inspect.
type inspectOptions struct {
	conn     conn
	key      keyFlags
	name     string // --key
	body     int
	value    string
	variants int
	output   string
}

// inspectReport is what inspect prints.
type inspectReport struct {
	Now   time.Time   `json:"now"`
	Entry entryReport `json:"entry"`
	// Variant is the entry of the request's variant, when Entry is a vary
	// marker.
	Variant *entryReport `json:"variant,omitempty"`
	// VaryTag and Variants: the tag every variant of the URL's route key
	// carries, and the variants it finds.
	VaryTag  string           `json:"vary_tag,omitempty"`
	Variants []variantSummary `json:"variants,omitempty"`
	More     bool             `json:"more_variants,omitempty"` // more than --variants were found
}

// variantSummary is one line of the variants list.
type variantSummary struct {
	Name      string `json:"name"`
	State     string `json:"state"` // or "missing", "corrupt"
	Status    int    `json:"status,omitempty"`
	BodyBytes int    `json:"body_bytes"`
}

// runInspect prints what Redis holds for a URL under its route's key
// settings, or for a key name: the entry's state and windows, its tags, and
// its value decoded (a stored response, a vary marker, a Fetch value). For
// a route that varies, it also prints the request's variant and the
// variants the vary tag finds (see middleware.VaryTag). It only reads.
func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o inspectOptions
	fs := newFlagSet("inspect", "inspect (--url URL --resource NAME [key flags] | --key NAME) [flags]", stderr)
	o.conn.register(fs)
	o.key.register(fs)
	fs.StringVar(&o.name, "key", "", "an entry's `name` (core Key.Name, before the namespace), instead of --url")
	fs.IntVar(&o.body, "body", 512, "show at most `N` bytes of a body or value")
	fs.StringVar(&o.value, "value", "auto", "how to read a --key entry's value: auto, http, msgpack or raw")
	fs.IntVar(&o.variants, "variants", 100, "list at most `N` Vary variants")
	output := outputFlag(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	o.output = *output
	if code, bad := checkOutput(fs, o.output); bad {
		return code
	}
	switch {
	case (o.name == "") == (o.key.url == ""):
		return usageError(fs, "give --url (with the route's key flags) or --key, one of them")
	case strings.ContainsAny(o.name, "{}"):
		return usageError(fs, "--key %q: a name holds no '{' or '}'", o.name)
	case o.body < 0 || o.variants < 0:
		return usageError(fs, "--body and --variants must not be negative")
	case o.value != "auto" && o.value != "http" && o.value != "msgpack" && o.value != "raw":
		return usageError(fs, "--value must be auto, http, msgpack or raw, not %q", o.value)
	}
	target, err := o.target()
	if err != nil {
		return usageError(fs, "%v", err)
	}
	e, done, code := o.conn.open(ctx, "inspect", stderr)
	if e == nil {
		return code
	}
	defer done()
	rep, err := o.inspect(ctx, e, target)
	if err != nil {
		fmt.Fprintf(stderr, "swrcache inspect: %v\n", err)
		return exitUnreachable
	}
	if o.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printInspect(stdout, rep)
	}
	if !rep.servable() {
		return exitProblem
	}
	return exitOK
}

// maxTagLen is core's bound on a tag.
const maxTagLen = 256

// inspectTarget is what to inspect: a key, known to hold the HTTP layer's
// values or not, and for a URL the way to its variants' keys.
type inspectTarget struct {
	base    keyfunc.Key // its ID is empty for --key: the identity is unknown
	http    bool
	variant func(vary []string) (keyfunc.Key, error) // nil for --key
}

// target is what the flags say to inspect.
func (o *inspectOptions) target() (inspectTarget, error) {
	if o.key.url == "" {
		isHTTP := o.value == "http" || o.value == "auto" && keyfunc.ValidName(o.name) == nil
		return inspectTarget{base: keyfunc.Key{Name: o.name}, http: isHTTP}, nil
	}
	spec, r, base, err := o.key.base()
	if err != nil {
		return inspectTarget{}, err
	}
	return inspectTarget{base: base, http: true, variant: func(vary []string) (keyfunc.Key, error) {
		return spec.Key(r, o.key.tenant, vary...)
	}}, nil
}

// inspect reads the target's entry, its request's variant and the
// variants of its route key.
func (o *inspectOptions) inspect(ctx context.Context, e *core.Engine, t inspectTarget) (inspectReport, error) {
	rep := inspectReport{Now: time.Now()}
	var err error
	if rep.Entry, err = o.entry(ctx, e, t.base, t.http, rep.Now); err != nil {
		return rep, err
	}
	if !t.http || len(middleware.VaryTag(t.base.Name)) > maxTagLen {
		return rep, nil
	}
	if vary := rep.Entry.Vary; vary != nil && t.variant != nil {
		vk, err := t.variant(vary)
		if err != nil {
			rep.Entry.Problem = fmt.Sprintf("no variant key for this request: %v", err)
		} else {
			v, err := o.entry(ctx, e, vk, true, rep.Now)
			if err != nil {
				return rep, err
			}
			rep.Variant = &v
		}
	}
	rep.VaryTag = middleware.VaryTag(t.base.Name)
	names, err := e.Tagged(ctx, rep.VaryTag, o.variants+1)
	if err != nil {
		return rep, err
	}
	if len(names) > o.variants {
		names, rep.More = names[:o.variants], true
	}
	for _, name := range names {
		if name == t.base.Name {
			continue // the marker
		}
		v, err := o.entry(ctx, e, keyfunc.Key{Name: name}, true, rep.Now)
		if err != nil {
			return rep, err
		}
		s := variantSummary{Name: name, State: v.State}
		if v.Response != nil {
			s.Status, s.BodyBytes = v.Response.Status, v.Response.BodyBytes
		}
		rep.Variants = append(rep.Variants, s)
	}
	if len(rep.Variants) == 0 && rep.Entry.Vary == nil {
		rep.VaryTag = "" // the route does not vary
	}
	return rep, nil
}

// servable reports whether a lookup of the request (or the key) would find
// an entry to serve: the entry, and for a marker the request's variant.
func (r inspectReport) servable() bool {
	ok := func(e entryReport) bool { return e.Found && e.Problem == "" }
	if r.Variant != nil {
		return ok(r.Entry) && ok(*r.Variant)
	}
	return ok(r.Entry)
}
