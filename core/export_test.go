package core

import "time"

// SetClock and SetRand let external tests drive freshness decisions.
func SetClock(e *Engine, now func() time.Time) { e.now = now }

func SetRand(e *Engine, r func() float64) { e.rand = r }

var nowForTest = time.UnixMilli(1_700_000_000_000)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
