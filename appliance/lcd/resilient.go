package lcd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
	"github.com/constellation-ev/constellation/appliance/internal/device"
)

// Status is a display's health and counters, for /healthz and metrics.
// Its State is missing when no display answers (ErrNotFound) and failing
// when one answered but then failed; Failures counts failed attempts to
// open or write the display.
type Status struct {
	device.Health
	// Display is the hardware in use, or last in use.
	Display Info `json:"display,omitzero"`
	// Recoveries counts the times the display answered again after a failure.
	Recoveries uint64 `json:"recoveries"`
}

// Opener finds and initialises a display; errors wrapping ErrNotFound mean
// that none is there.
type Opener func() (Driver, error)

// ResilientOptions tune a Resilient; zero values take the defaults.
type ResilientOptions struct {
	// BackoffMin and BackoffMax bound the wait before retrying a missing
	// or failing display; it doubles after each failure (1 s to 1 min).
	BackoffMin, BackoffMax time.Duration
	// Clock is the time source (the wall clock).
	Clock clock.Clock
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
	health     *device.Tracker

	mu    sync.Mutex // also serialises the display's I/O
	dev   Driver
	frame []string
	// status has the display's own fields; health has the rest.
	status Status
}

var _ Display = (*Resilient)(nil)

// NewResilient returns a Resilient for a cols x rows display that open
// provides. Nothing is opened before Run.
func NewResilient(open Opener, cols, rows int, opts ResilientOptions) *Resilient {
	opts.Clock = clock.OrSystem(opts.Clock)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Resilient{
		open: open, cols: cols, rows: rows, opts: opts, log: log,
		wake: make(chan struct{}, 1),
		health: device.NewTracker("lcd display", device.TrackerOptions{
			BackoffMin: opts.BackoffMin, BackoffMax: opts.BackoffMax, Clock: opts.Clock, Logger: log}),
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
		r.failLocked(device.StateFailing, err)
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
	st := r.status
	r.mu.Unlock()
	st.Health = r.health.Health()
	return st
}

// Run opens the display and keeps it open until ctx ends, then closes it.
// It always returns nil: a display is optional hardware.
func (r *Resilient) Run(ctx context.Context) error {
	for {
		r.mu.Lock()
		now := r.opts.Clock.Now()
		if r.dev == nil && !now.Before(r.health.Health().NextRetry) {
			r.attemptLocked()
		}
		var retry <-chan time.Time
		if r.dev == nil {
			retry = r.opts.Clock.After(r.health.Health().NextRetry.Sub(now))
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			r.mu.Lock()
			r.closeLocked()
			r.health.Stop()
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
		state := device.StateFailing
		if errors.Is(err, ErrNotFound) {
			state = device.StateMissing
		}
		r.failLocked(state, err)
		return
	}
	r.dev = dev
	r.status.Display = dev.Info()
	if r.frame != nil {
		if err := dev.Show(r.frame); err != nil {
			r.failLocked(device.StateFailing, err)
			return
		}
	}
	if r.health.Health().Failures > 0 {
		r.status.Recoveries++
	}
	r.health.OK()
	r.log.Info("lcd display ready", "display", r.status.Display.String())
}

// failLocked drops the display after err and schedules the next attempt.
func (r *Resilient) failLocked(state device.State, err error) {
	r.closeLocked()
	r.health.Fail(state, err)
}

func (r *Resilient) closeLocked() error {
	if r.dev == nil {
		return nil
	}
	err := r.dev.Close()
	r.dev = nil
	return err
}
