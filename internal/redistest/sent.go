package redistest

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Sent is a go-redis hook that counts the bytes of the arguments of every
// command a client sends (numbers count 8): what writing costs the
// network. Add it with AddHook.
type Sent struct{ n atomic.Int64 }

// Bytes returns the bytes counted so far.
func (s *Sent) Bytes() int64 { return s.n.Load() }

// DialHook is the identity.
func (s *Sent) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook counts cmd.
func (s *Sent) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		s.count(cmd)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook counts every command of a pipeline.
func (s *Sent) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			s.count(c)
		}
		return next(ctx, cmds)
	}
}

func (s *Sent) count(cmd redis.Cmder) {
	for _, a := range cmd.Args() {
		switch v := a.(type) {
		case string:
			s.n.Add(int64(len(v)))
		case []byte:
			s.n.Add(int64(len(v)))
		default:
			s.n.Add(8)
		}
	}
}
