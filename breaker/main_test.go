package breaker_test

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/swrcache/swrcache/breaker"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// errRedis stands for any Redis failure.
var errRedis = errors.New("redis: connection refused")

// newBreaker returns a Breaker for c or fails the test.
func newBreaker(t testing.TB, c breaker.Config) *breaker.Breaker {
	t.Helper()
	b, err := breaker.New(c)
	if err != nil {
		t.Fatalf("New(%+v): %v", c, err)
	}
	return b
}

// complete runs one operation with outcome err, failing the test if the
// breaker refuses it.
func complete(t testing.TB, b *breaker.Breaker, err error) {
	t.Helper()
	done, aerr := b.Allow()
	if aerr != nil {
		t.Fatalf("Allow: %v (state %v)", aerr, b.State())
	}
	done(err)
}

// awaitHalfOpen polls Allow until the open breaker admits a probe, and
// returns the probe's done function.
func awaitHalfOpen(t testing.TB, b *breaker.Breaker) func(error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		done, err := b.Allow()
		if err == nil {
			return done
		}
		if !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("Allow while open: %v does not wrap ErrOpen", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("breaker still refusing after 5s: %v", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
