package lcd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// State is a display's health.
type State string

// States of a Resilient display.
const (
	// StateStarting: no attempt to open the display has been made yet.
	StateStarting State = "starting"
	// StateOK: the display answers.
	StateOK State = "ok"
	// StateMissing: no display answers (ErrNotFound); retried with backoff.
	StateMissing State = "missing"
	// StateFailing: the display answered but then failed; retried with backoff.
	StateFailing State = "failing"
	// StateStopped: Run has returned.
	StateStopped State = "stopped"
)

// Status is a display's health and counters, for /healthz and metrics.
type Status struct {
	State State `json:"state"`
	// Since is when State last changed.
	Since time.Time `json:"since,omitzero"`
	// Display is the hardware in use, or last in use.
	Display Info `json:"display,omitzero"`
	// LastError is the last failure and when it happened.
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
	// NextRetry is when a missing or failing display is tried again.
	NextRetry time.Time `json:"nextRetry,omitzero"`
	// Failures counts failed attempts to open or write the display.
	Failures uint64 `json:"failures"`
	// Recoveries counts the times the display answered again after a failure.
	Recoveries uint64 `json:"recoveries"`
}

// Opener finds and initialises a display; errors wrapping ErrNotFound mean
// that none is there.
type Opener func() (Driver, error)

// Defaults of ResilientOptions.
const (
	defaultBackoffMin = time.Second
	defaultBackoffMax = time.Minute
)

// ResilientOptions tune a Resilient; zero values take the defaults.
type ResilientOptions struct {
	// BackoffMin and BackoffMax bound the wait before retrying a missing
	// or failing display; it doubles after each failure (1 s to 1 min).
	BackoffMin, BackoffMax time.Duration
	// Clock is the time source (the wall clock).
	Clock Clock
	// Logger receives state changes and errors (nil: discarded).
	Logger *slog.Logger
}

// Resilient is a Display that survives its hardware: it opens the display
// through an Opener, and when that fails or a write fails, it logs it,
// reports it in Status, retries with exponential backoff in Run and
// redraws the last frame once the display answers. Show never fails.
type Resilient struct {
	open       Opener
	cols, rows int
	opts       ResilientOptions
	log        *slog.Logger
	wake       chan struct{}

	mu      sync.Mutex // also serialises the display's I/O
	dev     Driver
	frame   []string
	status  Status
	backoff time.Duration
}

var _ Display = (*Resilient)(nil)

// NewResilient returns a Resilient for a cols x rows display that open
// provides. Nothing is opened before Run.
func NewResilient(open Opener, cols, rows int, opts ResilientOptions) *Resilient {
	if opts.BackoffMin <= 0 {
		opts.BackoffMin = defaultBackoffMin
	}
	if opts.BackoffMax < opts.BackoffMin {
		opts.BackoffMax = max(defaultBackoffMax, opts.BackoffMin)
	}
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Resilient{
		open: open, cols: cols, rows: rows, opts: opts, log: log,
		wake:    make(chan struct{}, 1),
		status:  Status{State: StateStarting, Since: opts.Clock.Now()},
		backoff: opts.BackoffMin,
	}
}

// Size returns the configured geometry.
func (r *Resilient) Size() (cols, rows int) { return r.cols, r.rows }

// Show remembers lines as the frame to show and writes it if the display
// is there. A failure is logged and reported in Status, and Run retries;
// Show itself always returns nil.
func (r *Resilient) Show(lines []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frame = slices.Clone(lines)
	if r.dev == nil {
		return nil
	}
	if err := r.dev.Show(r.frame); err != nil {
		r.failLocked(StateFailing, err)
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// Status returns the display's health.
func (r *Resilient) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// Run opens the display and keeps it open until ctx ends, then closes it.
// It always returns nil: a display is optional hardware.
func (r *Resilient) Run(ctx context.Context) error {
	for {
		r.mu.Lock()
		now := r.opts.Clock.Now()
		if r.dev == nil && !now.Before(r.status.NextRetry) {
			r.attemptLocked()
		}
		var retry <-chan time.Time
		if r.dev == nil {
			retry = r.opts.Clock.After(r.status.NextRetry.Sub(now))
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			r.mu.Lock()
			r.closeLocked()
			r.setStateLocked(StateStopped)
			r.status.NextRetry = time.Time{}
			r.mu.Unlock()
			return nil
		case <-r.wake:
		case <-retry:
		}
	}
}

// Close closes the display; Run opens it again at its next attempt.
func (r *Resilient) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closeLocked()
}

// attemptLocked opens the display and draws the last frame on it.
func (r *Resilient) attemptLocked() {
	dev, err := r.open()
	if err != nil {
		state := StateFailing
		if errors.Is(err, ErrNotFound) {
			state = StateMissing
		}
		r.failLocked(state, err)
		return
	}
	r.dev = dev
	r.status.Display = dev.Info()
	if r.frame != nil {
		if err := dev.Show(r.frame); err != nil {
			r.failLocked(StateFailing, err)
			return
		}
	}
	if r.status.Failures > 0 {
		r.status.Recoveries++
	}
	r.backoff = r.opts.BackoffMin
	r.status.NextRetry = time.Time{}
	r.setStateLocked(StateOK)
	r.log.Info("lcd display ready", "display", r.status.Display.String())
}

// failLocked drops the display after err and schedules the next attempt.
func (r *Resilient) failLocked(state State, err error) {
	r.closeLocked()
	now := r.opts.Clock.Now()
	r.status.Failures++
	r.status.NextRetry = now.Add(r.backoff)
	changed := state != r.status.State || err.Error() != r.status.LastError
	r.status.LastError, r.status.LastErrorAt = err.Error(), now
	r.setStateLocked(state)
	level := slog.LevelDebug
	if changed {
		level = slog.LevelWarn
	}
	r.log.Log(context.Background(), level, "lcd display "+string(state), "err", err, "retry_in", r.backoff)
	r.backoff = min(2*r.backoff, r.opts.BackoffMax)
}

func (r *Resilient) setStateLocked(s State) {
	if r.status.State != s {
		r.status.State, r.status.Since = s, r.opts.Clock.Now()
	}
}

func (r *Resilient) closeLocked() error {
	if r.dev == nil {
		return nil
	}
	err := r.dev.Close()
	r.dev = nil
	return err
}
