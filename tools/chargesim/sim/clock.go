package sim

import "time"

// Clock tells the time and schedules the station's waits (meter interval,
// session length, heartbeats, backoff), so tests can run with short
// intervals or a clock of their own.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

var _ Clock = RealClock{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// After calls time.After.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
