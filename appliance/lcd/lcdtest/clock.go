// Package lcdtest has test helpers for the display packages: a clock that
// moves only when the test says so.
package lcdtest

import (
	"sync"
	"time"
)

// Clock is a fake lcd.Clock (and screen clock). Safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	waits   []time.Duration // After calls not yet taken by NextWait
	notify  chan struct{}
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewClock returns a Clock showing t.
func NewClock(t time.Time) *Clock {
	return &Clock{now: t, notify: make(chan struct{}, 1)}
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the fake time once Advance has
// moved it d forward; at once if d <= 0.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
	} else {
		c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
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
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// NextWait blocks until the code under test calls After (or has called it
// since the last NextWait) and returns the duration it asked for, so a
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
