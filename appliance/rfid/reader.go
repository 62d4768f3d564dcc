package rfid

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
	"github.com/constellation-ev/constellation/appliance/internal/device"
)

// Device is one card reader as the Reader polls it.
type Device interface {
	// Init (re)starts the reader; the Reader calls it first and again
	// after any failure. Errors wrapping ErrNoDevice mean the reader is
	// absent rather than broken.
	Init(ctx context.Context) error
	// Poll looks for a card once: its UID and true if one is in the field.
	// An error wrapping ErrCard is a card that could not be read; any
	// other error is the device failing, and the Reader calls Init again.
	Poll(ctx context.Context) (uid []byte, present bool, err error)
	// Close releases the device.
	Close() error
}

// EventKind says what happened to a card.
type EventKind int

// Event kinds.
const (
	// Tapped is a card newly presented: one per presentation, however long
	// the card stays.
	Tapped EventKind = iota + 1
	// Removed is the card of the last Tapped taken away.
	Removed
)

// String returns "tapped" or "removed".
func (k EventKind) String() string {
	switch k {
	case Tapped:
		return "tapped"
	case Removed:
		return "removed"
	}
	return "unknown"
}

// Event is a card tapped on, or removed from, the reader.
type Event struct {
	Kind EventKind
	// UID is the card's UID as the card sent it.
	UID []byte
	// Token is UID in the configured Format: the OCPP id token.
	Token string
	// At is when the reader saw it happen.
	At time.Time
}

// Status is the reader's health and counters, for /healthz, the LCD and
// metrics. Its State is missing when the device is not there (ErrNoDevice)
// and failing when it is but fails; Failures counts device failures (Init
// or Poll errors) and LastError names the operation that failed.
type Status struct {
	device.Health
	// CardPresent says whether a card is on the reader now.
	CardPresent bool `json:"cardPresent"`
	// Taps counts Tapped events since the start.
	Taps uint64 `json:"taps"`
	// CardErrors counts cards seen but not read (ErrCard) since the start.
	CardErrors uint64 `json:"cardErrors"`
}

// Defaults of Options.
const (
	defaultInterval = 100 * time.Millisecond
	defaultMisses   = 3
	defaultBuffer   = 16
)

// Options tune a Reader; zero values take the defaults.
type Options struct {
	// Format makes Event.Token.
	Format Format
	// Interval is the time between polls (100 ms).
	Interval time.Duration
	// RemovalMisses is how many polls in a row must miss a card before
	// it counts as removed (3).
	RemovalMisses int
	// BackoffMin and BackoffMax bound the wait before retrying a missing
	// or failing device; it doubles after each failure (1 s to 1 min).
	BackoffMin, BackoffMax time.Duration
	// Buffer is how many events wait for a slow consumer before the
	// Reader stops polling until they are taken (16).
	Buffer int
	// Clock is the time source (the wall clock).
	Clock clock.Clock
	// Logger receives state changes and errors (nil: discarded).
	Logger *slog.Logger
}

// ReaderOptions returns the Options that c configures.
func (c Config) ReaderOptions() Options {
	return Options{Format: c.Format, Interval: c.PollInterval, RemovalMisses: c.RemovalMisses}
}

// Reader polls a Device and turns what it sees into Events.
//
// Delivery policy: events go to a buffered channel and are never dropped.
// When the buffer is full the Reader waits for the consumer before it
// polls again, so a slow consumer delays cards (a driver taps again)
// instead of losing them; each event carries the time it was seen.
//
// A card held on the reader is one Tapped event. A card missed by a poll is
// still there until RemovalMisses polls in a row miss it; a different card
// read in between is a removal then a tap. When the device fails, the card
// on it is kept: if the same card is still there after the recovery it is
// not tapped again.
type Reader struct {
	dev    Device
	opts   Options
	log    *slog.Logger
	events chan Event
	health *device.Tracker

	mu       sync.Mutex
	counters Status // the counters; health has the rest

	// Owned by the goroutine in Run.
	ready  bool   // dev.Init succeeded and no failure since
	card   []byte // UID on the reader; nil: none
	misses int    // polls in a row without card
}

// NewReader returns a Reader of dev; Run starts it.
func NewReader(dev Device, o Options) *Reader {
	if o.Interval <= 0 {
		o.Interval = defaultInterval
	}
	if o.RemovalMisses <= 0 {
		o.RemovalMisses = defaultMisses
	}
	if o.Buffer <= 0 {
		o.Buffer = defaultBuffer
	}
	o.Clock = clock.OrSystem(o.Clock)
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Reader{
		dev:    dev,
		opts:   o,
		log:    log,
		events: make(chan Event, o.Buffer),
		health: device.NewTracker("RFID reader", device.TrackerOptions{
			BackoffMin: o.BackoffMin, BackoffMax: o.BackoffMax, Clock: o.Clock, Logger: log}),
	}
}

// Events returns the channel of taps and removals; it is closed when Run returns.
func (r *Reader) Events() <-chan Event { return r.events }

// Status returns the reader's current health and counters.
func (r *Reader) Status() Status {
	r.mu.Lock()
	st := r.counters
	r.mu.Unlock()
	st.Health = r.health.Health()
	return st
}

// Run polls the device until ctx ends, then closes the device and the
// Events channel. Device failures never end it. Call it once.
func (r *Reader) Run(ctx context.Context) error {
	defer close(r.events)
	defer func() {
		if err := r.dev.Close(); err != nil {
			r.log.Warn("closing the RFID reader", "err", err)
		}
		r.health.Stop()
	}()
	for {
		wait := r.step(ctx)
		if err := clock.Sleep(ctx, r.opts.Clock, wait); err != nil {
			return nil
		}
	}
}

// step initialises the device if needed and polls it once; it returns how
// long to wait before the next step.
func (r *Reader) step(ctx context.Context) time.Duration {
	if !r.ready {
		if err := r.dev.Init(ctx); err != nil {
			return r.fail(ctx, "init", err)
		}
		r.ready = true
	}
	uid, present, err := r.dev.Poll(ctx)
	switch {
	case errors.Is(err, ErrCard):
		r.mu.Lock()
		r.counters.CardErrors++
		r.mu.Unlock()
		r.log.Debug("card not read", "err", err)
		present = false
	case err != nil:
		r.ready = false
		return r.fail(ctx, "poll", err)
	}
	// OK only once a poll works: a device that initialises and then fails
	// every poll is failing, not flapping.
	if was := r.health.OK(); was != device.StateOK {
		r.log.Info("RFID reader ok", "was", string(was))
	}
	now := r.opts.Clock.Now()
	switch {
	case present && bytes.Equal(uid, r.card):
		r.misses = 0
	case present:
		r.removeCard(ctx, now)
		r.card = slices.Clone(uid)
		r.misses = 0
		r.mu.Lock()
		r.counters.Taps++
		r.counters.CardPresent = true
		r.mu.Unlock()
		r.emit(ctx, Event{Kind: Tapped, UID: slices.Clone(r.card), Token: r.opts.Format.Token(r.card), At: now})
	case r.card != nil:
		r.misses++
		if r.misses >= r.opts.RemovalMisses {
			r.removeCard(ctx, now)
		}
	}
	return r.opts.Interval
}

// removeCard emits Removed for the card on the reader, if any.
func (r *Reader) removeCard(ctx context.Context, now time.Time) {
	if r.card == nil {
		return
	}
	r.emit(ctx, Event{Kind: Removed, UID: r.card, Token: r.opts.Format.Token(r.card), At: now})
	r.card = nil
	r.misses = 0
	r.mu.Lock()
	r.counters.CardPresent = false
	r.mu.Unlock()
}

// emit delivers ev, waiting for room in the buffer (see the delivery policy).
func (r *Reader) emit(ctx context.Context, ev Event) {
	select {
	case r.events <- ev:
	case <-ctx.Done():
	}
}

// fail records a device failure and returns the backoff before the retry.
func (r *Reader) fail(ctx context.Context, op string, err error) time.Duration {
	if ctx.Err() != nil {
		return 0 // shutting down: not a device failure
	}
	state := device.StateFailing
	if errors.Is(err, ErrNoDevice) {
		state = device.StateMissing
	}
	return r.health.Fail(state, fmt.Errorf("%s: %w", op, err))
}
