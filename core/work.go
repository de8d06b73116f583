package core

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
)

// Work is a load the engine starts, as Config.OnWork sees it: a fill's
// loader call or a background refresh.
type Work struct {
	Kind     WorkKind
	Resource string // the Policy.Resource of the load
	Key      string // the item's name; "" for a batch
	Keys     int    // the items the load is for: 1, or a batch's size
}

// WorkKind says what a Work is.
type WorkKind uint8

// The kinds of Work.
const (
	// WorkFill: a loader call for callers that found no usable entry (a
	// Lookup's on its leader's context, a Fetch's on the engine's, a
	// FetchMany's batch).
	WorkFill WorkKind = iota + 1
	// WorkRefresh: a background refresh of an entry that is stale or due,
	// on a context detached from the caller that found it so.
	WorkRefresh
)

// String returns the kind's name: "fill" or "refresh".
func (k WorkKind) String() string {
	switch k {
	case WorkFill:
		return "fill"
	case WorkRefresh:
		return "refresh"
	}
	return "unknown"
}

// errLoadPanicked ends the Work of a loader that panicked.
var errLoadPanicked = errors.New("core: the loader panicked")

// startWork calls Config.OnWork for w, if set: it returns the context the
// load runs on and the function to call when it ends. A panic in the hook
// is stopped, as for OnEvent: the load then runs on ctx.
func (e *Engine) startWork(ctx context.Context, w Work) (context.Context, func(error)) {
	if e.cfg.OnWork == nil {
		return ctx, func(error) {}
	}
	wctx, end := ctx, func(error) {}
	func() {
		defer e.recoverHook(ctx, "OnWork")
		c, f := e.cfg.OnWork(ctx, w)
		if c != nil && f != nil {
			wctx, end = c, f
		}
	}()
	return wctx, func(err error) {
		defer e.recoverHook(ctx, "OnWork's end")
		end(err)
	}
}

// recoverHook stops the panic of a hook, logging it when there is a logger.
func (e *Engine) recoverHook(ctx context.Context, hook string) {
	if v := recover(); v != nil && e.cfg.Logger != nil {
		e.cfg.Logger.LogAttrs(ctx, slog.LevelError, "swrcache: Config."+hook+" panicked",
			slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
	}
}
