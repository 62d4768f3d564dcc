// Package clock is the time source of the station's devices (the RFID
// reader, the display and the screens): an interface that tells the time
// and waits, so that tests drive time instead of sleeping on the wall
// clock (clocktest has the fake).
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

// System is the wall clock.
type System struct{}

var _ Clock = System{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

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
