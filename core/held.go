package core

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The two operations that need the fill lock held: store under it, and
// release it. Each is a compare-and-act on the lock's token, done by a Lua
// script, or by a WATCH transaction when Redis refuses scripts (scripting
// disabled, EVAL renamed away, an ACL without @scripting).

// storeScript writes an entry only while the caller still holds the lock,
// and releases the lock in the same step. A holder that stalled past the
// lock's TTL, or whose key was invalidated meanwhile, stores nothing.
var storeScript = redis.NewScript(`
if redis.call("get", KEYS[2]) == ARGV[3] then
	redis.call("set", KEYS[1], ARGV[1], "PX", ARGV[2])
	redis.call("del", KEYS[2])
	return 1
end
return 0`)

// spliceScript is storeScript for an entry whose value ends as the stored
// one does (Item.Unchanged): it is sent without that tail, which Redis
// copies from the stored entry, provided the stored entry is still the
// one the load replaced (its length and everything before the tail).
// It returns -1, having done nothing, when it is not.
var spliceScript = redis.NewScript(`
if redis.call("get", KEYS[2]) ~= ARGV[5] then
	return 0
end
local old = redis.call("get", KEYS[1])
local n = tonumber(ARGV[3])
if not old or #old ~= #ARGV[2] + n or string.sub(old, 1, #ARGV[2]) ~= ARGV[2] then
	return -1
end
redis.call("set", KEYS[1], ARGV[1] .. string.sub(old, #ARGV[2] + 1), "PX", ARGV[4])
redis.call("del", KEYS[2])
return 1`)

// unlockScript deletes the lock only if it still holds the caller's token: a
// plain DEL could delete the lock of whoever took over after it expired.
var unlockScript = redis.NewScript(`
if redis.call("get", KEYS[1]) == ARGV[1] then
	return redis.call("del", KEYS[1])
end
return 0`)

// scriptRetry is how long the engine uses WATCH transactions, without trying
// a script first, after Redis refused one.
const scriptRetry = 30 * time.Second

// scripts remembers when Redis last refused a script.
type scripts struct {
	refusedAt atomic.Int64 // unix nanoseconds; 0 means never
}

// usable reports whether to try a script first.
func (s *scripts) usable() bool {
	at := s.refusedAt.Load()
	return at == 0 || time.Since(time.Unix(0, at)) >= scriptRetry
}

// refused reports whether err is Redis refusing the script itself, rather
// than the script failing for a reason a transaction would share (out of
// memory, a read-only replica) or Redis not answering, and remembers it.
func (s *scripts) refused(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) || errors.Is(err, redis.Nil) {
		return false
	}
	msg := re.Error()
	for _, p := range []string{"NOSCRIPT", "NOPERM", "ERR unknown command", "ERR unknown or disabled command"} {
		if strings.HasPrefix(msg, p) {
			s.refusedAt.Store(time.Now().UnixNano())
			return true
		}
	}
	return false
}

// storeHeld sets ek to raw, with ttl, and deletes lk, if lk holds token.
// It reports whether it stored.
func (e *Engine) storeHeld(ctx context.Context, ek, lk string, raw []byte, ttl time.Duration, token string) (bool, error) {
	if e.scripts.usable() {
		n, err := storeScript.Run(ctx, e.rdb, []string{ek, lk}, raw, ttl.Milliseconds(), token).Int()
		if !e.scripts.refused(err) {
			return n == 1, err
		}
	}
	return e.whileHeld(ctx, lk, token, func(p redis.Pipeliner) {
		p.Set(ctx, ek, raw, ttl)
		p.Del(ctx, lk)
	})
}

// storeSpliced is storeHeld for raw, whose last tail bytes are the last
// tail bytes of the stored entry prev: only the rest is sent. When prev is
// no longer what ek holds, or scripts are refused, raw is sent whole.
func (e *Engine) storeSpliced(ctx context.Context, ek, lk string, raw []byte, prev *entry, tail int, ttl time.Duration, token string) (bool, error) {
	if e.scripts.usable() {
		old := prev.encode()
		head, oldHead := raw[:len(raw)-tail], old[:len(old)-tail]
		n, err := spliceScript.Run(ctx, e.rdb, []string{ek, lk}, head, oldHead, tail, ttl.Milliseconds(), token).Int()
		if !e.scripts.refused(err) && (err != nil || n != -1) {
			return n == 1, err
		}
	}
	return e.storeHeld(ctx, ek, lk, raw, ttl, token)
}

// unchangedTail is how many bytes at the end of item's value need not be
// sent, being those at the end of prev's: 0 when the item says none or
// they differ.
func unchangedTail(item Item, prev *entry) int {
	n := item.Unchanged
	if n <= 0 || prev == nil || n > len(item.Value) || n > len(prev.Value) ||
		!bytes.Equal(item.Value[len(item.Value)-n:], prev.Value[len(prev.Value)-n:]) {
		return 0
	}
	return n
}

// revalidated is the Detail of the EventFill or EventRefreshOK of item,
// which replaced prev: "revalidated" when the loader said prev was still
// good (Item.Unchanged), such as an HTTP 304.
func revalidated(item Item, prev *entry) string {
	if item.Unchanged > 0 && prev != nil {
		return "revalidated"
	}
	return ""
}

// deleteHeld deletes lk if it holds token.
func (e *Engine) deleteHeld(ctx context.Context, lk, token string) error {
	if e.scripts.usable() {
		err := unlockScript.Run(ctx, e.rdb, []string{lk}, token).Err()
		if !e.scripts.refused(err) {
			return err
		}
	}
	_, err := e.whileHeld(ctx, lk, token, func(p redis.Pipeliner) { p.Del(ctx, lk) })
	return err
}

// whileHeld runs the commands queued by cmds in a MULTI transaction if lk
// holds token, and as long as it still does (WATCH): a lock that expires or
// changes hands before EXEC aborts it. It reports whether they ran.
func (e *Engine) whileHeld(ctx context.Context, lk, token string, cmds func(redis.Pipeliner)) (bool, error) {
	ran := false
	err := e.rdb.Watch(ctx, func(tx *redis.Tx) error {
		held, err := tx.Get(ctx, lk).Result()
		if errors.Is(err, redis.Nil) || (err == nil && held != token) {
			return nil // expired, or someone else's now
		}
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			cmds(p)
			return nil
		})
		if errors.Is(err, redis.TxFailedErr) {
			return nil // the lock changed hands meanwhile
		}
		ran = err == nil
		return err
	}, lk)
	return ran, err
}

// unlock releases k's lock if token still holds it. It runs without ctx's
// cancellation, bounded by OpTimeout alone: ctx is often a load's, ended by
// LoadTimeout, and a lock left behind would make every caller until
// LockTTL wait for a fill that is no longer running. A release that fails
// (Redis down, or the breaker refusing it) is remembered as an orphan, for
// the next fill of k in this process to retry.
func (e *Engine) unlock(ctx context.Context, k Key, token string) {
	lk := lockKey(e.entryKey(k.Name))
	_, err := call(context.WithoutCancel(ctx), e, k.Name, lk, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, e.deleteHeld(ctx, lk, token)
	})
	if err != nil {
		e.orphans.add(lk, token, e.cfg.LockTTL)
	}
}

// unlockMany releases the locks of keys that token still holds, a pipeline
// of scripts per chunk. Scripts in a pipeline cannot fall back from
// EVALSHA, so this sends each script whole.
func (e *Engine) unlockMany(ctx context.Context, keys []string, token string) {
	ctx = context.WithoutCancel(ctx)
	for _, chunk := range e.byNode(ctx, keys, e.entryKey) {
		if e.scripts.usable() {
			_, err := call(ctx, e, "", e.entryKey(chunk[0]), func(ctx context.Context) (struct{}, error) {
				pipe := e.rdb.Pipeline()
				cmds := make([]*redis.Cmd, len(chunk))
				for i, key := range chunk {
					cmds[i] = unlockScript.Eval(ctx, pipe, []string{lockKey(e.entryKey(key))}, token)
				}
				_, _ = pipe.Exec(ctx) // each command's own error is checked below
				for _, cmd := range cmds {
					if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
						return struct{}{}, err
					}
				}
				return struct{}{}, nil
			})
			if err == nil {
				continue
			}
			if !e.scripts.refused(err) {
				for _, key := range chunk {
					e.orphans.add(lockKey(e.entryKey(key)), token, e.cfg.LockTTL)
				}
				continue
			}
		}
		for _, key := range chunk { // one at a time, with the WATCH fallback
			e.unlock(ctx, Key{Name: key}, token)
		}
	}
}

// reclaim releases an orphan of this process on lk, if there is one, and
// reports whether it tried: the caller then tries the lock again at once
// rather than wait for a fill that is no longer running.
func (e *Engine) reclaim(ctx context.Context, k Key) bool {
	lk := lockKey(e.entryKey(k.Name))
	token, ok := e.orphans.take(lk)
	if !ok {
		return false
	}
	e.unlock(ctx, k, token)
	return true
}

// maxOrphans bounds the locks remembered as orphans. Past it, a lock left
// behind expires after LockTTL, as it would without the memory.
const maxOrphans = 4096

// orphans are the locks this process took and failed to release, by lock
// key, until they expire in Redis anyway. The zero value is ready to use.
type orphans struct {
	mu sync.Mutex
	m  map[string]orphan // protected by mu
}

type orphan struct {
	token string
	until time.Time // when the lock expires in Redis at the latest
}

func (o *orphans) add(lk, token string, ttl time.Duration) {
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = make(map[string]orphan)
	}
	if len(o.m) >= maxOrphans {
		for k, v := range o.m {
			if !now.Before(v.until) {
				delete(o.m, k)
			}
		}
		if len(o.m) >= maxOrphans {
			return
		}
	}
	o.m[lk] = orphan{token: token, until: now.Add(ttl)}
}

// take removes and returns the orphan on lk, if it may still be in Redis.
func (o *orphans) take(lk string) (token string, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.m[lk]
	if !ok {
		return "", false
	}
	delete(o.m, lk)
	return v.token, time.Now().Before(v.until)
}

// len reports how many orphans are remembered.
func (o *orphans) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.m)
}
