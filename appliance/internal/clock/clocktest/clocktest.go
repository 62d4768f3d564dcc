// Package clocktest has a fake clock.Clock for tests: its time moves only
// when the test says so, and it tells the test when the code under test
// waits, so no test sleeps on the wall clock.
package clocktest

import (
	"sync"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
)

// Clock is a fake clock.Clock and clock.Monotonic: its wall time and its
// monotonic time move together, except that Step sets the wall clock
// alone, as NTP does. Safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	mono    time.Duration // the monotonic clock, which waits are measured on
	instant bool
	timers  []timer
	waits   []time.Duration // After calls not yet taken by NextWait or TakeWaits
	notify  chan struct{}   // signalled at every After, for NextWait
}

type timer struct {
	at time.Duration // on the monotonic clock
	ch chan time.Time
}

var _ clock.Monotonic = (*Clock)(nil)

// New returns a Clock showing t whose waits end when Advance reaches them.
func New(t time.Time) *Clock {
	return &Clock{now: t, notify: make(chan struct{}, 1)}
}

// NewInstant returns a Clock showing t whose waits end at once, moving
// its time forward by them: for code that only needs its waits to end
// (a driver's settle times) while the test checks what it waited for.
func NewInstant(t time.Time) *Clock {
	c := New(t)
	c.instant = true
	return c
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Read returns the fake wall time and the fake monotonic time.
func (c *Clock) Read() (wall time.Time, mono time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now, c.mono
}

// Step moves the wall time by d (either way) and leaves the monotonic
// time and the waits alone: the clock being set, by NTP for instance.
func (c *Clock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// After returns a channel that receives the fake time once Advance has
// moved it d forward; at once if d <= 0 or the Clock is instant. Every
// call is recorded for NextWait and TakeWaits.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	switch {
	case c.instant:
		c.now = c.now.Add(max(d, 0))
		c.mono += max(d, 0)
		ch <- c.now
	case d <= 0:
		ch <- c.now
	default:
		c.timers = append(c.timers, timer{at: c.mono + d, ch: ch})
	}
	c.waits = append(c.waits, d)
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return ch
}

// Advance moves the fake time forward by d and fires the waits that are due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.mono += d
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at > c.mono {
			kept = append(kept, t)
			continue
		}
		t.ch <- c.now
	}
	c.timers = kept
}

// NextWait blocks until the code under test calls After (or has called
// it since the last NextWait) and returns the duration it asked for, so a
// test knows the code is waiting before it advances the clock.
func (c *Clock) NextWait() time.Duration {
	for {
		c.mu.Lock()
		if len(c.waits) > 0 {
			d := c.waits[0]
			c.waits = c.waits[1:]
			c.mu.Unlock()
			return d
		}
		c.mu.Unlock()
		<-c.notify
	}
}

// Waited is signalled when the code under test calls After: a test that
// must also watch other channels selects on it, then takes the waits with
// TakeWaits.
func (c *Clock) Waited() <-chan struct{} { return c.notify }

// RunUntil fires every wait the code under test asks for, each after its
// own duration, until done returns true, and reports whether it did
// within timeout of wall time: the timeout turns a hang into a failure, it
// times nothing, so make it generous.
func (c *Clock) RunUntil(timeout time.Duration, done func() bool) bool {
	guard := time.After(timeout)
	poll := time.NewTicker(5 * time.Millisecond) // done may hold without a new wait
	defer poll.Stop()
	for !done() {
		select {
		case <-c.Waited():
			for _, d := range c.TakeWaits() {
				c.Advance(d)
			}
		case <-poll.C:
		case <-guard:
			return false
		}
	}
	return true
}

// TakeWaits returns, without blocking, the durations of the After calls
// that NextWait has not returned yet, oldest first, and forgets them.
func (c *Clock) TakeWaits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	waits := c.waits
	c.waits = nil
	return waits
}
