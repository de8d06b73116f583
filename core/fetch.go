package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Fetch returns the value cached under key, loading it with load on a miss,
// with the read path of Lookup: fresh, refreshed ahead of expiry, served
// stale while it revalidates or while the loader fails, filled once across
// every instance. Unlike Lookup, the load of a fill runs on a goroutine of
// the engine, on a context detached from every caller and bounded by
// Config.LoadTimeout, so one caller that gives up fails no other, and what
// it loads is stored even if all of them gave up (Close waits for it). A
// panicking load reaches every caller as a *PanicError. Values go through
// the engine's Codec, so every caller gets its own copy. Redis trouble
// never makes Fetch fail: it calls load instead.
func Fetch[T any](ctx context.Context, e *Engine, key string, p Policy, load func(ctx context.Context) (T, error)) (T, error) {
	v, _, err := lookup(ctx, e, Key{Name: key}, p, encoder(e.cfg.Codec, load), decoder[T](e.cfg.Codec), true)
	return v, err
}

// validName reports why name cannot be a key's Name: the engine puts it in
// a Redis Cluster hash tag, which a brace would change.
func validName(name string) error {
	switch {
	case name == "":
		return errors.New("core: empty key")
	case strings.ContainsAny(name, "{}"):
		return fmt.Errorf("core: key %q must not contain '{' or '}': in Redis Cluster its entry and its lock would be on different slots", name)
	}
	return nil
}

func encoder[T any](c Codec, load func(ctx context.Context) (T, error)) LoaderFunc {
	return func(ctx context.Context) (Item, error) {
		v, err := load(ctx)
		if err != nil {
			return Item{}, err
		}
		b, err := c.Marshal(v)
		if err != nil {
			return Item{}, fmt.Errorf("core: encode value: %w", err)
		}
		return Item{Value: b}, nil
	}
}

func decoder[T any](c Codec) func([]byte) (T, error) {
	return func(b []byte) (T, error) {
		var v T // always a fresh value: decoding into a used one keeps old fields
		err := c.Unmarshal(b, &v)
		return v, err
	}
}
