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
