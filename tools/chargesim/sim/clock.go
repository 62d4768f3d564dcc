package sim

import (
	"context"
	"slices"
	"sync"
	"time"
)

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

// ManualClock is a Clock that moves only when told to: Now stays put
// until Advance, and the channel After returns receives once Advance
// reaches its deadline. Stations on manual clocks started at the same
// time and stepped alike live identical sessions (the same timestamps,
// meter readings and energy), whatever the machine's load.
//
// Create it with [NewManualClock]. It is safe for concurrent use.
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []manualTimer
	changed chan struct{} // closed (and replaced) when a timer is added
}

type manualTimer struct {
	at time.Time
	ch chan time.Time
}

var _ Clock = (*ManualClock)(nil)

// NewManualClock returns a manual clock standing at start.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start, changed: make(chan struct{})}
}

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives once the clock reaches now+d; at
// once when d is not positive.
func (c *ManualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, manualTimer{at: c.now.Add(d), ch: ch})
	close(c.changed)
	c.changed = make(chan struct{})
	return ch
}

// Advance moves the clock forward by d (see [ManualClock.AdvanceTo]).
func (c *ManualClock) Advance(d time.Duration) {
	c.AdvanceTo(c.Now().Add(d))
}

// AdvanceTo moves the clock to t (never backwards) and fires, in deadline
// order, every timer due by then.
func (c *ManualClock) AdvanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	slices.SortStableFunc(c.timers, func(a, b manualTimer) int { return a.at.Compare(b.at) })
	n := 0
	for _, tm := range c.timers {
		if tm.at.After(c.now) {
			break
		}
		tm.ch <- tm.at // buffered, and each fires once
		n++
	}
	c.timers = slices.Delete(c.timers, 0, n)
}

// WaitTimer blocks until a timer due exactly at t is pending, or ctx ends.
// A test steps a station deterministically by waiting for the timer the
// station sets next (the next meter sample, say) before advancing to it:
// then everything the previous step started has happened.
func (c *ManualClock) WaitTimer(ctx context.Context, t time.Time) error {
	for {
		c.mu.Lock()
		found := slices.ContainsFunc(c.timers, func(tm manualTimer) bool { return tm.at.Equal(t) })
		changed := c.changed
		c.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
