// Package downlink sends the watchtower's downstream messages to a site:
// its desired configuration (retained), what its authorization list lacks
// (full or a delta), and its queued commands. The API calls it after an
// operator's change, ingest after an appliance's birth.
package downlink

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/syncproto"
)

// Publisher publishes a message to the broker (QoS 1).
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte, retain bool) error
}

// Store is what the sender reads and records.
type Store interface {
	DesiredMessage(ctx context.Context, site string) (*syncproto.Desired, error)
	AuthListMessage(ctx context.Context, site string, have int64) (*syncproto.AuthList, error)
	QueuedCommands(ctx context.Context, site string) ([]fleet.Command, error)
	MarkSent(ctx context.Context, id string) error
}

var _ Store = (*fleet.Store)(nil)

// Sender sends downstream messages.
type Sender struct {
	pub   Publisher
	store Store
	clock fleet.Clock
	log   *slog.Logger
}

// New returns a Sender; clock nil is the system clock.
func New(pub Publisher, store Store, clock fleet.Clock, log *slog.Logger) *Sender {
	if clock == nil {
		clock = fleet.SystemClock{}
	}
	return &Sender{pub: pub, store: store, clock: clock, log: log}
}

// Desired publishes site's desired configuration, retained, unless the
// appliance has it already (have is its version) or there is none.
func (s *Sender) Desired(ctx context.Context, site string, have int64) error {
	m, err := s.store.DesiredMessage(ctx, site)
	if err != nil || m == nil || m.Version <= have {
		return err
	}
	return s.send(ctx, site, m, true)
}

// AuthList publishes what an appliance holding version have of site's
// authorization list lacks, if anything.
func (s *Sender) AuthList(ctx context.Context, site string, have int64) error {
	m, err := s.store.AuthListMessage(ctx, site, have)
	if err != nil || m == nil {
		return err
	}
	return s.send(ctx, site, m, false)
}

// Queued publishes site's queued commands and marks them sent.
func (s *Sender) Queued(ctx context.Context, site string) error {
	cmds, err := s.store.QueuedCommands(ctx, site)
	if err != nil {
		return err
	}
	for _, c := range cmds {
		if err := s.send(ctx, site, c.Message(s.clock.Now()), false); err != nil {
			return err
		}
		if err := s.store.MarkSent(ctx, c.ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sender) send(ctx context.Context, site string, m syncproto.Message, retain bool) error {
	if m.Head().Time.IsZero() {
		m.Head().Time = s.clock.Now().UTC().Truncate(time.Millisecond)
	}
	topic, payload, err := syncproto.Encode(site, m)
	if err != nil {
		return fmt.Errorf("downlink: %w", err)
	}
	if err := s.pub.Publish(ctx, topic, payload, retain); err != nil {
		return fmt.Errorf("downlink: publish %s: %w", topic, err)
	}
	s.log.Debug("sent", "site", site, "kind", m.Kind(), "bytes", len(payload))
	return nil
}
