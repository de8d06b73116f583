package core

import "time"

// SetClock lets tests drive freshness decisions.
func SetClock(e *Engine, now func() time.Time) { e.now = now }

var nowForTest = time.UnixMilli(1_700_000_000_000)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// MemoryLive reports whether e's memory tier hears the notices.
func MemoryLive(e *Engine) bool { return e.MemoryStats().Live }

// MemoryWeight is what e's memory tier holds, by its weigher.
func MemoryWeight(e *Engine) uint64 { return e.MemoryStats().Bytes }

// LargestReadBatch is the most GETs e sent in one pipeline.
func LargestReadBatch(e *Engine) int { return int(e.gets.largest.Load()) }
