// Package benchcpu reports the CPU time a benchmark's process spends per
// operation, next to ns/op. On a small machine that also runs Redis,
// wall-clock throughput swings with whatever else the cores are doing; the
// process's own CPU per operation is what a busy app server pays for each
// request, and it is stable from run to run.
package benchcpu

import (
	"syscall"
	"testing"
	"time"
)

// Start begins measuring; call the function it returns after the timed
// loop. It reports "cpu-ns/op": user plus system CPU time of the whole
// process, divided by b.N. It reports nothing where getrusage fails.
func Start(b *testing.B) (stop func()) {
	b.Helper()
	before, ok := cpu()
	return func() {
		after, ok2 := cpu()
		if ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(after-before)/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpu() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
