package breaker_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/swrcache/swrcache/breaker"
)

func TestDefaultConfigHasTheDocumentedValues(t *testing.T) {
	want := breaker.Config{
		Name:                "swrcache",
		SlowCall:            100 * time.Millisecond,
		FailureRate:         0.02,
		MinRequests:         100,
		Window:              30 * time.Second,
		Buckets:             10,
		ConsecutiveFailures: 5,
		OpenTimeout:         5 * time.Second,
		HalfOpenProbes:      3,
	}
	if got := breaker.DefaultConfig(); got != want {
		t.Fatalf("DefaultConfig() = %+v, want %+v", got, want)
	}
	if err := want.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		givenCfg  breaker.Config
		expectErr string // "" means valid
		expectNew bool   // New succeeds
	}{
		{name: "the zero config is valid", givenCfg: breaker.Config{}, expectNew: true},
		{name: "a negative SlowCall is valid and disables the rule", givenCfg: breaker.Config{SlowCall: -1}, expectNew: true},
		{name: "a rate just inside (0, 1) is valid", givenCfg: breaker.Config{FailureRate: 0.999}, expectNew: true},
		{name: "one bucket is valid", givenCfg: breaker.Config{Buckets: 1}, expectNew: true},
		{name: "a negative rate is rejected", givenCfg: breaker.Config{FailureRate: -0.1}, expectErr: "FailureRate"},
		{name: "a rate of 1 is rejected", givenCfg: breaker.Config{FailureRate: 1}, expectErr: "FailureRate"},
		{name: "a rate above 1 is rejected", givenCfg: breaker.Config{FailureRate: 2}, expectErr: "FailureRate"},
		{name: "a NaN rate is rejected", givenCfg: breaker.Config{FailureRate: math.NaN()}, expectErr: "FailureRate"},
		{name: "a negative window is rejected", givenCfg: breaker.Config{Window: -time.Second}, expectErr: "Window"},
		{name: "negative buckets are rejected", givenCfg: breaker.Config{Buckets: -1}, expectErr: "Buckets"},
		{name: "a negative open timeout is rejected", givenCfg: breaker.Config{OpenTimeout: -time.Second}, expectErr: "OpenTimeout"},
		{name: "a window shorter than its bucket count is rejected", givenCfg: breaker.Config{Window: 5, Buckets: 10}, expectErr: "too short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.givenCfg.Validate()
			switch {
			case tt.expectErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.expectErr != "" && err == nil:
				t.Fatalf("Validate() = nil, want an error mentioning %q", tt.expectErr)
			case err != nil && (!strings.HasPrefix(err.Error(), "breaker: ") || !strings.Contains(err.Error(), tt.expectErr)):
				t.Fatalf("Validate() = %q, want prefix %q and mention of %q", err, "breaker: ", tt.expectErr)
			}
			b, nerr := breaker.New(tt.givenCfg)
			if tt.expectNew != (nerr == nil) || (nerr == nil) != (b != nil) {
				t.Fatalf("New() = %v, %v; want success %v", b, nerr, tt.expectNew)
			}
			if nerr != nil && nerr.Error() != err.Error() {
				t.Fatalf("New() error %q differs from Validate() error %q", nerr, err)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := breaker.Config{FailureRate: 3, Window: -1, OpenTimeout: -1}.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, "breaker: ") {
			t.Errorf("line %q lacks the %q prefix", line, "breaker: ")
		}
	}
	for _, field := range []string{"FailureRate", "Window", "OpenTimeout"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("Validate() = %q, does not mention %s", err, field)
		}
	}
}
