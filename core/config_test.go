package core

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swrcache/swrcache/internal/redistest"
)

// Must show 5: what can never work is an error at construction, with a
// message that names the field and says what to change.
func TestConfigValidateRejectsWhatCannotWork(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { _ = client.Close() })
	tests := []struct {
		name        string
		givenConfig Config
		expectErr   string // "" means valid
	}{
		{"no client", Config{}, "Config.Client is required"},
		{"a namespace with an opening brace", Config{Client: client, Namespace: "app{1}:"}, "Config.Namespace \"app{1}:\" must not contain '{' or '}'"},
		{"a namespace with a closing brace", Config{Client: client, Namespace: "app}:"}, "different slots"},
		{"LockWait longer than LockTTL", Config{Client: client, LockTTL: time.Second, LockWait: 5 * time.Second}, "Config.LockWait (5s) must not exceed LockTTL (1s)"},
		{"LockWait longer than the default LockTTL", Config{Client: client, LockWait: 10 * time.Second}, "must not exceed LockTTL (5s)"},
		{"a negative OpTimeout", Config{Client: client, OpTimeout: -1}, "Config.OpTimeout must not be negative"},
		{"a negative LockWait", Config{Client: client, LockWait: -time.Second}, "Config.LockWait must not be negative"},
		{"a LockTTL under a millisecond", Config{Client: client, LockTTL: time.Microsecond}, "Config.LockTTL must be at least 1ms"},
		{"negative RefreshWorkers", Config{Client: client, RefreshWorkers: -1}, "Config.RefreshWorkers"},
		{"a memory tier under 1 MiB", Config{Client: client, Memory: MemoryConfig{MaxBytes: 100}}, "under 1 MiB"},
		{"a negative memory bound", Config{Client: client, Memory: MemoryConfig{MaxBytes: -1}}, "must not be negative"},
		{"a memory MaxAge without MaxBytes", Config{Client: client, Memory: MemoryConfig{MaxAge: time.Second}}, "MaxBytes is 0"},
		{"a memory MaxAge under a millisecond", Config{Client: client, Memory: MemoryConfig{MaxBytes: 1 << 20, MaxAge: time.Nanosecond}}, "under 1ms"},
		{"LockWait equal to LockTTL", Config{Client: client, LockTTL: time.Second, LockWait: time.Second}, ""},
		{"the defaults", Config{Client: client}, ""},
		{"a namespace without braces", Config{Client: client, Namespace: "app:v2:"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.givenConfig.Validate()
			switch {
			case tt.expectErr == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tt.expectErr != "" && (err == nil || !strings.Contains(err.Error(), tt.expectErr)):
				t.Fatalf("Validate: %v, want an error saying %q", err, tt.expectErr)
			}
			if _, nerr := New(tt.givenConfig); (nerr == nil) != (err == nil) {
				t.Fatalf("New: %v, while Validate said %v", nerr, err)
			}
		})
	}
}

func TestPolicyValidateRejectsWhatCannotWork(t *testing.T) {
	tests := []struct {
		name        string
		givenPolicy Policy
		expectErr   string // "" means valid
	}{
		{"no TTL", Policy{}, "Policy.TTL must be at least 1ms"},
		{"RefreshAhead as long as TTL", Policy{TTL: time.Second, RefreshAhead: time.Second}, "Policy.RefreshAhead (1s) must be shorter than TTL (1s): every hit would start a refresh"},
		{"RefreshAhead longer than TTL", Policy{TTL: time.Second, RefreshAhead: 2 * time.Second}, "must be shorter than TTL"},
		{"a negative stale window", Policy{TTL: time.Second, StaleIfError: -1}, "must not be negative"},
		{"a Beta that is not a number", Policy{TTL: time.Second, Beta: math.NaN()}, "Policy.Beta must be a finite number"},
		{"an empty tag", Policy{TTL: time.Second, Tags: []string{""}}, "Policy.Tags: a tag must not be empty"},
		{"RefreshAhead just under TTL", Policy{TTL: time.Second, RefreshAhead: time.Second - time.Millisecond}, ""},
		{"RefreshAhead off", Policy{TTL: time.Second, RefreshAhead: -1}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.givenPolicy.Validate()
			switch {
			case tt.expectErr == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tt.expectErr != "" && (err == nil || !strings.Contains(err.Error(), tt.expectErr)):
				t.Fatalf("Validate: %v, want an error saying %q", err, tt.expectErr)
			}
		})
	}
}

// Must show 6 of issue 9: a brace in a key name would move the entry and
// its lock to different Redis Cluster slots; every entry point refuses it.
func TestKeyNamesWithBracesAreRejected(t *testing.T) {
	e := newEngine(t, redistest.Client(t), redistest.Prefix(t), nil)
	ctx := context.Background()
	p := Policy{TTL: time.Minute}
	for _, name := range []string{"}user:1", "user:{1}", "{"} {
		if _, err := e.Lookup(ctx, Key{Name: name}, p, item("v")); err == nil || !strings.Contains(err.Error(), "must not contain '{' or '}'") {
			t.Errorf("Lookup(%q): %v", name, err)
		}
		if _, err := Fetch(ctx, e, name, p, func(context.Context) (string, error) { return "v", nil }); err == nil {
			t.Errorf("Fetch(%q) accepted it", name)
		}
		if _, err := FetchMany(ctx, e, []string{"ok", name}, p, func(context.Context, []string) (map[string]string, error) { return nil, nil }); err == nil {
			t.Errorf("FetchMany with %q accepted it", name)
		}
		if err := e.Invalidate(ctx, name); err == nil {
			t.Errorf("Invalidate(%q) accepted it", name)
		}
	}
}
