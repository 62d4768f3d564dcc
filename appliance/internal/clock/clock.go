// Package clock is the time source of the station's devices (the RFID
// reader, the display and the screens): an interface that tells the time
// and waits, so that tests drive time instead of sleeping on the wall
// clock (clocktest has the fake). It also watches whether the system
// clock has been synchronised ([Sync]): a Raspberry Pi has no real-time
// clock, and the times it takes before NTP has set it are corrected
// afterwards.
package clock

import (
	"context"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// Monotonic is a Clock that also reads a monotonic clock, which moves
// only with the time that passes: setting the wall clock (NTP stepping
// it) moves the wall time, never the monotonic one.
type Monotonic interface {
	Clock
	// Read returns the wall time and the monotonic time, read together;
	// monotonic times compare only with others of the same process.
	Read() (wall time.Time, mono time.Duration)
}

// System is the wall clock.
type System struct{}

var _ Monotonic = System{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// processStart is the origin of System's monotonic times.
var processStart = time.Now()

// Read returns time.Now() and the monotonic time since the process
// started (time.Time's own monotonic reading, which Sub uses).
func (System) Read() (time.Time, time.Duration) {
	now := time.Now()
	return now, now.Sub(processStart)
}

// After returns time.After(d).
func (System) After(d time.Duration) <-chan time.Time { return time.After(d) }

// OrSystem returns c, or the wall clock when c is nil: the default of
// every option and argument that takes a Clock.
func OrSystem(c Clock) Clock {
	if c == nil {
		return System{}
	}
	return c
}

// Sleep waits for d on c, or until ctx ends, and then returns ctx.Err().
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	select {
	case <-c.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
