package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/swrcache/swrcache/breaker"
)

// errCanceled is how the engine reports a caller that went away.
var errCanceled = fmt.Errorf("get user:1: %w", context.Canceled)

func TestClosedStaysClosed(t *testing.T) {
	tests := []struct {
		name        string
		givenCfg    breaker.Config
		whenOutcome func(i int) error
	}{
		{
			name:        "a thousand successes keep it closed",
			whenOutcome: func(int) error { return nil },
		},
		{
			name:        "a thousand canceled operations are excluded and keep it closed",
			givenCfg:    breaker.Config{MinRequests: 1, ConsecutiveFailures: 1},
			whenOutcome: func(int) error { return errCanceled },
		},
		{
			name:     "runs of failures shorter than the limit keep it closed while MinRequests is not reached",
			givenCfg: breaker.Config{MinRequests: 1 << 30, ConsecutiveFailures: 5},
			whenOutcome: func(i int) error {
				if i%5 == 4 {
					return nil
				}
				return errRedis
			},
		},
		{
			name:     "canceled operations between failures do not make a run",
			givenCfg: breaker.Config{MinRequests: 1 << 30, ConsecutiveFailures: 2},
			whenOutcome: func(i int) error {
				switch i % 3 {
				case 0:
					return errRedis
				case 1:
					return errCanceled
				default:
					return nil
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBreaker(t, tt.givenCfg)
			for i := range 1000 {
				complete(t, b, tt.whenOutcome(i))
			}
			if got := b.State(); got != breaker.Closed {
				t.Fatalf("State() = %v, want closed", got)
			}
		})
	}
}

func TestConsecutiveFailuresTripAndOpenRefuses(t *testing.T) {
	b := newBreaker(t, breaker.Config{ConsecutiveFailures: 3, OpenTimeout: time.Hour})
	complete(t, b, errRedis)
	complete(t, b, errRedis)
	if got := b.State(); got != breaker.Closed {
		t.Fatalf("after 2 failures State() = %v, want closed", got)
	}
	complete(t, b, errRedis)
	if got := b.State(); got != breaker.Open {
		t.Fatalf("after 3 failures State() = %v, want open", got)
	}
	for range 100 {
		done, err := b.Allow()
		if done != nil || !errors.Is(err, breaker.ErrOpen) || !errors.Is(err, gobreaker.ErrOpenState) {
			t.Fatalf("Allow() while open = %p, %v; want nil and ErrOpen", done, err)
		}
	}
}

// outcomes returns the outcomes of `completed` operations, all successes
// except failures at the given 1-based positions.
func outcomes(completed int, failAt ...int) []error {
	out := make([]error, completed)
	for _, p := range failAt {
		out[p-1] = errRedis
	}
	return out
}

func TestFailureRateRule(t *testing.T) {
	tests := []struct {
		name          string
		givenInFlight int // operations admitted first and left unfinished
		givenCanceled int // excluded operations completed first
		whenOutcomes  []error
		expectTripped bool
	}{
		{
			name:          "3 interleaved failures in 100 operations (3%) trip",
			whenOutcomes:  outcomes(100, 33, 66, 100),
			expectTripped: true,
		},
		{
			name:         "2 interleaved failures in 100 operations (2%, not above) do not trip",
			whenOutcomes: outcomes(100, 50, 100),
		},
		{
			name:         "4 failures in 99 operations never trip on rate alone",
			whenOutcomes: outcomes(99, 20, 40, 60, 99),
		},
		{
			name:         "20 failures in 60 operations never trip on rate alone",
			whenOutcomes: outcomes(60, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42, 45, 48, 51, 54, 57, 60),
		},
		{
			name:          "excluded operations do not dilute the rate",
			givenCanceled: 100,
			whenOutcomes:  outcomes(100, 33, 66, 100),
			expectTripped: true,
		},
		{
			name:          "excluded operations do not count towards MinRequests",
			givenCanceled: 500,
			whenOutcomes:  outcomes(50, 10, 20, 30, 40, 50),
		},
		{
			name:          "operations in flight do not dilute the rate",
			givenInFlight: 50,
			whenOutcomes:  outcomes(100, 33, 66, 100),
			expectTripped: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBreaker(t, breaker.Config{
				MinRequests: 100, FailureRate: 0.02, ConsecutiveFailures: 5, OpenTimeout: time.Hour,
			})
			var pending []func(error)
			for range tt.givenInFlight {
				done, err := b.Allow()
				if err != nil {
					t.Fatal(err)
				}
				pending = append(pending, done)
			}
			for range tt.givenCanceled {
				complete(t, b, errCanceled)
			}
			for _, err := range tt.whenOutcomes {
				complete(t, b, err)
			}
			want := breaker.Closed
			if tt.expectTripped {
				want = breaker.Open
			}
			if got := b.State(); got != want {
				t.Fatalf("State() = %v, want %v", got, want)
			}
			for _, done := range pending {
				done(nil)
			}
		})
	}
}

func TestSlowCallRule(t *testing.T) {
	tests := []struct {
		name        string
		givenSlow   time.Duration
		whenTakes   time.Duration
		whenErr     error
		expectState breaker.State
	}{
		{name: "a success slower than SlowCall is a failure", givenSlow: 20 * time.Millisecond, whenTakes: 30 * time.Millisecond, expectState: breaker.Open},
		{name: "a fast success is a success", givenSlow: time.Second, expectState: breaker.Closed},
		{name: "a negative SlowCall disables the rule", givenSlow: -1, whenTakes: 30 * time.Millisecond, expectState: breaker.Closed},
		{name: "a slow canceled operation is still excluded", givenSlow: 20 * time.Millisecond, whenTakes: 30 * time.Millisecond, whenErr: errCanceled, expectState: breaker.Closed},
		{name: "a deadline exceeded is a failure", givenSlow: time.Second, whenErr: context.DeadlineExceeded, expectState: breaker.Open},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBreaker(t, breaker.Config{SlowCall: tt.givenSlow, ConsecutiveFailures: 1, OpenTimeout: time.Hour})
			done, err := b.Allow()
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(tt.whenTakes)
			done(tt.whenErr)
			if got := b.State(); got != tt.expectState {
				t.Fatalf("State() = %v, want %v", got, tt.expectState)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	got := []string{breaker.Closed.String(), breaker.HalfOpen.String(), breaker.Open.String()}
	if want := []string{"closed", "half-open", "open"}; !slices.Equal(got, want) {
		t.Fatalf("State strings = %q, want %q", got, want)
	}
}

func TestDoneCountsAnOperationOnceHoweverOftenItIsCalled(t *testing.T) {
	b, err := breaker.New(breaker.Config{ConsecutiveFailures: 2})
	if err != nil {
		t.Fatal(err)
	}
	done, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	fail := errors.New("redis down")
	done(fail)
	done(fail) // a second call must not count a second failure
	if s := b.State(); s != breaker.Closed {
		t.Fatalf("one failed operation reported twice tripped the breaker: %v", s)
	}
}
