package breaker

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config configures a Breaker. The zero value of every field means its
// documented default, so Config{} is a usable configuration.
type Config struct {
	// Name identifies the breaker in gobreaker and in errors; "" means
	// "swrcache".
	Name string

	// SlowCall is the duration above which a successful operation counts as a
	// failure, measured from Allow to done. 0 means 100ms; a negative value
	// disables the rule, so that only errors count as failures.
	SlowCall time.Duration

	// FailureRate trips the breaker when failures/(successes+failures) over the
	// rolling window exceeds it. It must lie in (0, 1); 0 means 0.02.
	FailureRate float64

	// MinRequests is the number of completed operations (successes plus
	// failures, not excluded ones) the window must hold before FailureRate
	// applies. 0 means 100.
	MinRequests uint32

	// Window is the length of the rolling window over which FailureRate is
	// computed. 0 means 30s.
	Window time.Duration

	// Buckets is the number of buckets the rolling window is divided into; the
	// window moves forward one bucket (Window/Buckets) at a time. 0 means 10.
	Buckets int

	// ConsecutiveFailures trips the breaker after this many failures in a row,
	// whatever the rate. 0 means 5.
	ConsecutiveFailures uint32

	// OpenTimeout is how long the breaker stays open before it lets probes
	// through in the half-open state. 0 means 5s (gobreaker's own default of
	// 60s is far too long for a cache).
	OpenTimeout time.Duration

	// HalfOpenProbes is the number of operations allowed while half-open; that
	// many consecutive successes close the breaker. 0 means 3.
	HalfOpenProbes uint32
}

// Defaults applied to the zero values of Config fields.
const (
	defaultName                = "swrcache"
	defaultSlowCall            = 100 * time.Millisecond
	defaultFailureRate         = 0.02
	defaultMinRequests         = 100
	defaultWindow              = 30 * time.Second
	defaultBuckets             = 10
	defaultConsecutiveFailures = 5
	defaultOpenTimeout         = 5 * time.Second
	defaultHalfOpenProbes      = 3
)

// DefaultConfig returns the configuration that the zero Config stands for,
// with every default written out.
func DefaultConfig() Config {
	return Config{}.withDefaults()
}

// withDefaults returns c with every zero field replaced by its default.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = defaultName
	}
	if c.SlowCall == 0 {
		c.SlowCall = defaultSlowCall
	}
	if c.FailureRate == 0 {
		c.FailureRate = defaultFailureRate
	}
	if c.MinRequests == 0 {
		c.MinRequests = defaultMinRequests
	}
	if c.Window == 0 {
		c.Window = defaultWindow
	}
	if c.Buckets == 0 {
		c.Buckets = defaultBuckets
	}
	if c.ConsecutiveFailures == 0 {
		c.ConsecutiveFailures = defaultConsecutiveFailures
	}
	if c.OpenTimeout == 0 {
		c.OpenTimeout = defaultOpenTimeout
	}
	if c.HalfOpenProbes == 0 {
		c.HalfOpenProbes = defaultHalfOpenProbes
	}
	return c
}

// Validate reports whether c is usable, after zero fields take their defaults.
// FailureRate must lie in (0, 1); Window, Buckets and OpenTimeout must not be
// negative (SlowCall may be, to disable the slow-call rule); and Window must
// hold at least one nanosecond per bucket. All errors start with "breaker: ".
func (c Config) Validate() error {
	var errs []error
	if math.IsNaN(c.FailureRate) || c.FailureRate < 0 || c.FailureRate >= 1 {
		errs = append(errs, fmt.Errorf("breaker: FailureRate %v is outside (0, 1)", c.FailureRate))
	}
	if c.Window < 0 {
		errs = append(errs, fmt.Errorf("breaker: Window %v is negative", c.Window))
	}
	if c.Buckets < 0 {
		errs = append(errs, fmt.Errorf("breaker: Buckets %d is negative", c.Buckets))
	}
	if c.OpenTimeout < 0 {
		errs = append(errs, fmt.Errorf("breaker: OpenTimeout %v is negative", c.OpenTimeout))
	}
	if c.Window >= 0 && c.Buckets >= 0 {
		d := c.withDefaults()
		if d.Window/time.Duration(d.Buckets) <= 0 {
			errs = append(errs, fmt.Errorf("breaker: Window %v is too short for %d buckets", d.Window, d.Buckets))
		}
	}
	return errors.Join(errs...)
}
