package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// background owns every goroutine the engine starts, and counts the fills
// running on callers' goroutines, so that Close can wait for all of them.
// Each kind is bounded: refreshes by the worker pool (a full pool skips),
// abandoned Redis calls and detached fills by slots of their own (when
// those are full, the work runs on the caller's goroutine instead).
type background struct {
	mu        sync.Mutex
	closed    bool                // protected by mu
	refreshes map[string]struct{} // keys being refreshed; protected by mu
	workers   chan struct{}       // refresh slots
	calls     chan struct{}       // slots for abandonable Redis calls
	fills     chan struct{}       // slots for detached fills
	stop      chan struct{}       // closed by close
	wg        sync.WaitGroup      // Add only under mu while not closed
}

func (b *background) init(workers int) {
	b.stop = make(chan struct{})
	b.refreshes = make(map[string]struct{})
	b.workers = make(chan struct{}, workers)
	b.calls = make(chan struct{}, 4*workers+256)
	b.fills = make(chan struct{}, 4*workers+256)
}

// goRefreshMany claims the keys not being refreshed, and a worker, and then
// runs prepare on the caller's goroutine and what it returns on the worker
// with the claimed keys. It never waits; it returns "" or why it ran
// nothing: "closed", "running" (every key is being refreshed) or
// "pool-full".
func (b *background) goRefreshMany(keys []string, prepare func() func(claimed []string)) (skipped string) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return "closed"
	}
	var claimed []string
	for _, k := range keys {
		if _, busy := b.refreshes[k]; !busy {
			claimed = append(claimed, k)
		}
	}
	if len(claimed) == 0 {
		b.mu.Unlock()
		return "running"
	}
	select {
	case b.workers <- struct{}{}:
	default:
		b.mu.Unlock()
		return "pool-full"
	}
	for _, k := range claimed {
		b.refreshes[k] = struct{}{}
	}
	b.wg.Add(1)
	b.mu.Unlock()
	release := func() {
		b.mu.Lock()
		for _, k := range claimed {
			delete(b.refreshes, k)
		}
		b.mu.Unlock()
		<-b.workers
		b.wg.Done()
	}
	launched := false
	defer func() {
		if !launched { // prepare panicked: give back what was claimed
			release()
		}
	}()
	fn := prepare()
	launched = true
	go func() {
		defer release()
		fn(claimed)
	}()
	return ""
}

// goAbandonable runs fn on a goroutine Close waits for. It runs nothing and
// returns errCallsFull when too many such calls are outstanding, or ErrClosed
// after Close.
func (b *background) goAbandonable(fn func()) error {
	return b.goSlot(b.calls, fn)
}

var errCallsFull = errors.New("core: too many redis calls outstanding")

// goFill runs fn on a goroutine Close waits for, and reports whether it
// did: not after Close, nor while too many detached fills run.
func (b *background) goFill(fn func()) bool {
	return b.goSlot(b.fills, fn) == nil
}

func (b *background) goSlot(slots chan struct{}, fn func()) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	select {
	case slots <- struct{}{}:
	default:
		return errCallsFull
	}
	b.wg.Add(1)
	go func() {
		defer func() {
			<-slots
			b.wg.Done()
		}()
		fn()
	}()
	return nil
}

// goOwned runs fn on a goroutine Close waits for, with a channel that
// close closes, and reports whether it did (not after Close). The caller
// bounds how many run.
func (b *background) goOwned(fn func(stop <-chan struct{})) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		fn(b.stop)
	}()
	return true
}

// enter counts a fill running on a caller's goroutine, for Close to wait
// for, and reports whether it did (not after Close); leave ends it.
func (b *background) enter() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.wg.Add(1)
	return true
}

func (b *background) leave() { b.wg.Done() }

func (b *background) close(ctx context.Context) error {
	b.mu.Lock()
	already := b.closed
	b.closed = true
	b.mu.Unlock()
	if already {
		return ErrClosed
	}
	close(b.stop)
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("core: close: %w", ctx.Err())
	}
}
