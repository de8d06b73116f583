package breaker_test

import (
	"testing"

	"github.com/swrcache/swrcache/breaker"
)

// BenchmarkAllowDone measures the hot path: one admitted, successful
// operation on a closed breaker with the default slow-call rule.
func BenchmarkAllowDone(b *testing.B) {
	br := newBreaker(b, breaker.Config{})
	b.ReportAllocs()
	for b.Loop() {
		done, err := br.Allow()
		if err != nil {
			b.Fatal(err)
		}
		done(nil)
	}
}

// BenchmarkAllowDoneParallel is BenchmarkAllowDone from many goroutines.
func BenchmarkAllowDoneParallel(b *testing.B) {
	br := newBreaker(b, breaker.Config{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			done, err := br.Allow()
			if err != nil {
				b.Fatal(err)
			}
			done(nil)
		}
	})
}

// BenchmarkAllowOpen measures the refusal path of an open breaker, which
// every request takes while Redis is down.
func BenchmarkAllowOpen(b *testing.B) {
	br := newBreaker(b, breaker.Config{ConsecutiveFailures: 1})
	complete(b, br, errRedis)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := br.Allow(); err == nil {
			b.Fatal("open breaker admitted an operation")
		}
	}
}
