package breaker_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/swrcache/swrcache/breaker"
)

func Example() {
	b, err := breaker.New(breaker.Config{ConsecutiveFailures: 2, OpenTimeout: time.Minute})
	if err != nil {
		panic(err)
	}
	b.OnStateChange(func(from, to string) {
		fmt.Printf("breaker %s -> %s (State: %v)\n", from, to, b.State())
	})

	// Two Redis operations in a row time out.
	for range 2 {
		done, err := b.Allow()
		if err != nil {
			panic(err)
		}
		done(errors.New("redis: i/o timeout"))
	}

	// The next operation skips Redis and goes to the origin.
	_, err = b.Allow()
	fmt.Println(errors.Is(err, breaker.ErrOpen))
	fmt.Println(err)
	// Output:
	// breaker closed -> open (State: open)
	// true
	// breaker: open (swrcache): circuit breaker is open
}
