// Package device is the health model that the station's devices (the
// RFID reader and the display) share: the State they are in, the Health
// they report in their status, and the Tracker that keeps it, with the
// exponential backoff between retries and the logging of state changes.
package device

import (
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
)

// State is a device's health.
type State string

// States of a device.
const (
	// StateStarting: the device has not been tried yet.
	StateStarting State = "starting"
	// StateOK: the device answers.
	StateOK State = "ok"
	// StateMissing: the device is not there; retried with backoff.
	StateMissing State = "missing"
	// StateFailing: the device is there but failed; retried with backoff.
	StateFailing State = "failing"
	// StateStopped: the device's loop has returned.
	StateStopped State = "stopped"
)

// Health is what every device reports about itself, for /healthz, the
// LCD and metrics; each device's Status embeds it next to its own counters.
type Health struct {
	State State `json:"state"`
	// Since is when State last changed.
	Since time.Time `json:"since,omitzero"`
	// LastError is the last failure and when it happened.
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
	// NextRetry is when a missing or failing device is tried again.
	NextRetry time.Time `json:"nextRetry,omitzero"`
	// Failures counts failed attempts to use the device since the start.
	Failures uint64 `json:"failures"`
}

// Defaults of TrackerOptions.
const (
	DefaultBackoffMin = time.Second
	DefaultBackoffMax = time.Minute
)

// TrackerOptions tune a Tracker; zero values take the defaults.
type TrackerOptions struct {
	// BackoffMin and BackoffMax bound the wait before retrying a missing
	// or failing device; it doubles after each failure in a row (1 s to 1 min).
	BackoffMin, BackoffMax time.Duration
	// Clock is the time source (the wall clock).
	Clock clock.Clock
	// Logger receives failures (nil: discarded).
	Logger *slog.Logger
}

// Tracker keeps one device's Health: it records failures and recoveries,
// computes the backoff before the next attempt, and logs a failure at
// WARN when it changes the state (at DEBUG while the state stays), so a
// device that stays missing is one warning, not one a minute. Safe for
// concurrent use.
type Tracker struct {
	name     string
	min, max time.Duration
	clock    clock.Clock
	log      *slog.Logger

	mu     sync.Mutex
	health Health
	streak int // failures since the last success, for the backoff
}

// NewTracker returns a Tracker in StateStarting for the device that name
// calls it in log messages ("RFID reader").
func NewTracker(name string, o TrackerOptions) *Tracker {
	if o.BackoffMin <= 0 {
		o.BackoffMin = DefaultBackoffMin
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = max(DefaultBackoffMax, o.BackoffMin)
	}
	c := clock.OrSystem(o.Clock)
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Tracker{
		name: name, min: o.BackoffMin, max: o.BackoffMax, clock: c, log: log,
		health: Health{State: StateStarting, Since: c.Now()},
	}
}

// Health returns the device's health now.
func (t *Tracker) Health() Health {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.health
}

// Fail records err, after which the device is in state (StateMissing or
// StateFailing), and returns how long to wait before the next attempt:
// BackoffMin after the first failure in a row, doubling up to BackoffMax.
func (t *Tracker) Fail(state State, err error) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	wait := t.min
	for range t.streak {
		if wait >= t.max {
			break
		}
		wait *= 2
	}
	wait = min(wait, t.max)
	t.streak++
	now := t.clock.Now()
	changed := t.health.State != state
	t.health.Failures++
	t.health.LastError, t.health.LastErrorAt = err.Error(), now
	t.setStateLocked(state, now)
	t.health.NextRetry = now.Add(wait)
	if changed {
		t.log.Warn(t.name+" "+string(state), "err", err, "retry_in", wait)
	} else {
		t.log.Debug(t.name+" still "+string(state), "err", err, "retry_in", wait)
	}
	return wait
}

// OK records that the device answers: the backoff starts again from
// BackoffMin and no retry is due. It returns the state before, so the
// caller can say how the device came back.
func (t *Tracker) OK() (was State) {
	t.mu.Lock()
	defer t.mu.Unlock()
	was = t.health.State
	t.streak = 0
	t.setStateLocked(StateOK, t.clock.Now())
	t.health.NextRetry = time.Time{}
	return was
}

// Stop records that the device's loop has returned.
func (t *Tracker) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.setStateLocked(StateStopped, t.clock.Now())
	t.health.NextRetry = time.Time{}
}

// setStateLocked sets the state, and Since when it changes.
func (t *Tracker) setStateLocked(s State, now time.Time) {
	if t.health.State != s {
		t.health.State, t.health.Since = s, now
	}
}
