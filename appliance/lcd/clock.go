package lcd

import "time"

// Clock tells the time and waits, so tests drive time instead of sleeping.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

var _ Clock = SystemClock{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// pause waits for one of the controller's execution times. These are a
// few milliseconds at most, so they do not take a context.
func pause(clock Clock, d time.Duration) { <-clock.After(d) }
