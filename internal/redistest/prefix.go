package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
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

// removeUnder deletes every key of srv whose name starts with prefix.
func removeUnder(srv server, prefix string) error {
	o := srv.options()
	o.PoolSize = 1
	o.ReadTimeout, o.WriteTimeout = 5*time.Second, 5*time.Second
	c := redis.NewClient(o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupBudget)
	defer cancel()

	match := escapeGlob(prefix) + "*"
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, match, scanCount).Result()
		if err != nil {
			return fmt.Errorf("SCAN: %w", err)
		}
		if len(keys) > 0 {
			if err := c.Unlink(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("UNLINK: %w", err)
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
