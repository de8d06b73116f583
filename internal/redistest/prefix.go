package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	prefixRoot    = "swrtest:"
	maxNameLen    = 40
	scanCount     = 500
	cleanupBudget = 30 * time.Second
)

// Prefix returns a key prefix unique to the calling test, of the form
// "swrtest:<test name>:<8 random hex digits>:", where the test name is
// reduced to [A-Za-z0-9_-] and at most 40 characters. When the test ends,
// every key under the prefix is removed (SCAN MATCH <prefix>* COUNT 500,
// then UNLINK) through a short-lived client of its own, so the cleanup
// works even if the test closed its clients. Keys outside the prefix are
// never touched.
func Prefix(t testing.TB) string {
	t.Helper()
	srv := std.server(t)
	prefix := prefixRoot + sanitize(t.Name()) + ":" + randomHex(4) + ":"
	t.Cleanup(func() {
		if err := removeUnder(srv, prefix); err != nil {
			t.Errorf("redistest: removing the keys under %q: %v", prefix, err)
		}
	})
	return prefix
}

// removeUnder deletes every key of srv whose name starts with prefix: on
// each master of a cluster, one key per UNLINK (keys of one SCAN page may
// hash to several slots).
func removeUnder(srv server, prefix string) error {
	o := srv.options()
	o.PoolSize = 1
	o.ReadTimeout, o.WriteTimeout = 5*time.Second, 5*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), cleanupBudget)
	defer cancel()
	if srv.cluster == nil {
		c := redis.NewClient(o)
		defer c.Close()
		return removeOn(ctx, c, prefix)
	}
	c := redis.NewClusterClient(clusterOptions(srv.cluster, o))
	defer c.Close()
	return c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		return removeOn(ctx, node, prefix)
	})
}

// removeOn deletes the keys under prefix of one node.
func removeOn(ctx context.Context, c *redis.Client, prefix string) error {
	match := escapeGlob(prefix) + "*"
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, match, scanCount).Result()
		if err != nil {
			return fmt.Errorf("SCAN %s: %w", c.Options().Addr, err)
		}
		for _, k := range keys {
			if err := c.Unlink(ctx, k).Err(); err != nil {
				return fmt.Errorf("UNLINK on %s: %w", c.Options().Addr, err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// sanitize maps s to [A-Za-z0-9_-], replacing every other byte with '_',
// and cuts the result to maxNameLen bytes.
func sanitize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < maxNameLen; i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "test"
	}
	return b.String()
}

// escapeGlob escapes the characters that are special in a Redis glob
// pattern (* ? [ ] \), so that the result matches s literally.
func escapeGlob(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// randomHex returns n random bytes as 2n hex digits.
func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf) // crypto/rand.Read never fails (Go 1.24+).
	return hex.EncodeToString(buf)
}

// CountKeys returns how many keys of c (every master, for a cluster) start
// with prefix.
func CountKeys(t testing.TB, c redis.UniversalClient, prefix string) int {
	t.Helper()
	return len(Scan(t, c, escapeGlob(prefix)+"*"))
}

// Scan returns the keys of c (every master, for a cluster) that match the
// glob pattern.
func Scan(t testing.TB, c redis.UniversalClient, pattern string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupBudget)
	defer cancel()
	var mu sync.Mutex
	var keys []string
	scan := func(ctx context.Context, node *redis.Client) error {
		iter := node.Scan(ctx, 0, pattern, scanCount).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			keys = append(keys, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, scan)
	} else {
		err = scan(ctx, c.(*redis.Client))
	}
	if err != nil {
		t.Fatalf("redistest: SCAN %s: %v", pattern, err)
	}
	return keys
}
