package rfid

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
)

// TapDuration is how long Sim.Tap leaves a card on the simulated reader:
// longer than a few polls, as a hand would.
const TapDuration = 500 * time.Millisecond

// Sim is the simulated reader of dev mode: cards are placed, removed or
// tapped through the local API and tools. It is safe for concurrent use.
type Sim struct {
	clock clock.Clock

	mu        sync.Mutex
	uid       []byte    // card in the field; nil: none
	until     time.Time // when a tapped card leaves; zero: held until Remove
	unplugged bool
}

var _ Device = (*Sim)(nil)

// NewSim returns an empty simulated reader; clk (nil: the wall clock)
// times the taps.
func NewSim(clk clock.Clock) *Sim {
	return &Sim{clock: clock.OrSystem(clk)}
}

// Place puts a card on the reader until Remove (or another card).
func (s *Sim) Place(uid []byte) error { return s.put(uid, time.Time{}) }

// Tap puts a card on the reader for TapDuration.
func (s *Sim) Tap(uid []byte) error { return s.put(uid, s.clock.Now().Add(TapDuration)) }

func (s *Sim) put(uid []byte, until time.Time) error {
	if err := checkUID(uid); err != nil {
		return fmt.Errorf("rfid sim: uid: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uid = slices.Clone(uid)
	s.until = until
	return nil
}

// Remove takes the card away.
func (s *Sim) Remove() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uid = nil
}

// Unplug makes the reader absent: Poll fails and Init reports ErrNoDevice
// until Plug, as a real reader pulled off its bus would.
func (s *Sim) Unplug() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unplugged = true
}

// Plug brings an unplugged reader back.
func (s *Sim) Plug() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unplugged = false
}

// Init succeeds unless the reader is unplugged.
func (s *Sim) Init(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unplugged {
		return fmt.Errorf("rfid sim: %w (unplugged)", ErrNoDevice)
	}
	return nil
}

// Poll returns the card on the reader, if any.
func (s *Sim) Poll(context.Context) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unplugged {
		return nil, false, fmt.Errorf("rfid sim: poll: %w (unplugged)", ErrNoDevice)
	}
	if s.uid != nil && !s.until.IsZero() && !s.clock.Now().Before(s.until) {
		s.uid = nil
	}
	if s.uid == nil {
		return nil, false, nil
	}
	return slices.Clone(s.uid), true, nil
}

// Close does nothing: the simulated reader holds no resources.
func (s *Sim) Close() error { return nil }
