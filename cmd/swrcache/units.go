package main

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// stamp formats t in UTC to the millisecond.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// ms formats a number of milliseconds as a duration: to the millisecond
// below a minute, to the second above.
func ms(n int64) string {
	d := time.Duration(n) * time.Millisecond
	if d >= time.Minute {
		d = d.Round(time.Second)
	}
	return d.String()
}

// number reads a numeric field; ok is false when it is missing or not a
// number.
func number(m map[string]string, field string) (float64, bool) {
	v, ok := m[field]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseFloat(v, 64)
	return n, err == nil
}

// percentiles returns the p50, p99 and maximum of samples (not empty).
func percentiles(samples []time.Duration) (p50, p99, top time.Duration) {
	s := slices.Clone(samples)
	slices.Sort(s)
	at := func(p int) time.Duration { return s[(len(s)*p+99)/100-1] } // nearest rank
	return at(50), at(99), s[len(s)-1]
}

// round keeps a latency readable: 412µs, 1.25ms.
func round(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// humanBytes formats n bytes with a binary unit.
func humanBytes(n float64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%.0f B", n)
	}
	div, exp := float64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", n/div, "KMGTP"[exp])
}
