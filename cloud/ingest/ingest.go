// Package ingest applies what appliances publish upstream to the fleet
// store: each message is decoded and checked with syncproto, refused with
// a logged reason when malformed, of another major version or of another
// site than its sender's, and otherwise applied idempotently; records
// arriving together, from many appliances and the several one has in
// flight, are committed together (group commit) when the store applies
// batches. A birth brings the appliance up to date (desired
// configuration, authorization list, queued commands); a death of the
// current link session marks the site offline.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/constellation-ev/constellation/cloud/downlink"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/syncproto"
)

// ErrRefused wraps the reason a message was refused: it is bad input,
// and sending it again will not help.
var ErrRefused = errors.New("ingest: refused")

// Store is where records go.
type Store interface {
	Apply(ctx context.Context, m syncproto.Message) (bool, error)
	ApplyBirth(ctx context.Context, b *syncproto.Birth) (bool, error)
	ApplyDeath(ctx context.Context, d *syncproto.Death) (bool, error)
}

var _ Store = (*fleet.Store)(nil)

// Downlink brings a (re)born appliance up to date.
type Downlink interface {
	Desired(ctx context.Context, site string, have int64) error
	AuthList(ctx context.Context, site string, have int64) error
	Queued(ctx context.Context, site string) error
}

var _ Downlink = (*downlink.Sender)(nil)

// The watchtower's store takes the group commit path of New.
var _ fleet.Batcher = (*fleet.Store)(nil)

// Ingester applies upstream messages.
type Ingester struct {
	store Store
	down  Downlink
	log   *slog.Logger
	// enqueue queues a keyed record for a group commit when the store
	// applies batches (fleet.Batcher); nil: the store's Apply, one by one.
	enqueue func(ctx context.Context, m syncproto.Message) func() (bool, error)
}

// New returns an Ingester. A store that is also a fleet.Batcher gets
// concurrent records in shared transactions (fleet.GroupCommit): records
// of many sites, and the several a site has in flight (Begin), share a
// commit instead of each paying for one.
func New(store Store, down Downlink, log *slog.Logger) *Ingester {
	in := &Ingester{store: store, down: down, log: log}
	if b, ok := store.(fleet.Batcher); ok {
		in.enqueue = fleet.NewGroupCommit(b).Enqueue
	}
	return in
}

// Handle applies one message received on topic. sender is the site the
// broker authenticated the publisher as ("" when the broker does not say,
// as with an external broker whose ACL confines each appliance). The
// error wraps ErrRefused for bad input (logged here, nothing stored);
// any other error is the store's, and the message may be sent again.
func (in *Ingester) Handle(ctx context.Context, sender, topic string, payload []byte) error {
	return in.Begin(ctx, sender, topic, payload)()
}

// Begin starts handling a message as Handle does and returns the wait
// for Handle's outcome, which the caller must call once. The message is
// decoded and checked at once; a keyed record is queued for the store
// at once too, so the records of successive Begin calls are applied in
// their order while the caller goes on reading (a connection's records
// overlap, each still stored before its wait returns). A birth or a
// death is applied when its wait is called: called in order, after the
// waits of the records before it.
func (in *Ingester) Begin(ctx context.Context, sender, topic string, payload []byte) (wait func() error) {
	m, err := syncproto.Decode(topic, payload)
	if err == nil && m.Kind().Direction() != syncproto.Up {
		err = fmt.Errorf("%s is a downstream kind", m.Kind())
	}
	if err == nil && sender != "" && m.Head().Site != sender {
		err = fmt.Errorf("site %q's message from site %q's appliance", m.Head().Site, sender)
	}
	if err != nil {
		in.log.Warn("message refused", "sender", sender, "topic", clip(topic), "bytes", len(payload), "reason", err)
		err = fmt.Errorf("%w: %w", ErrRefused, err)
		return func() error { return err }
	}
	switch m := m.(type) {
	case *syncproto.Birth:
		return func() error { return in.birth(ctx, m) }
	case *syncproto.Death:
		return func() error { return in.death(ctx, m) }
	}
	applied := func() (bool, error) { return in.store.Apply(ctx, m) }
	if in.enqueue != nil {
		applied = in.enqueue(ctx, m)
	}
	return func() error {
		ok, err := applied()
		if err != nil {
			return err
		}
		// Checked first: the line's arguments cost allocations per
		// record even when debug lines are off.
		if in.log.Enabled(ctx, slog.LevelDebug) {
			in.log.Debug("record", "site", m.Head().Site, "kind", m.Kind(), "key", m.Head().Key, "applied", ok)
		}
		return nil
	}
}

// birth stores a birth and brings the site up to date.
func (in *Ingester) birth(ctx context.Context, m *syncproto.Birth) error {
	site := m.Site
	current, err := in.store.ApplyBirth(ctx, m)
	if err != nil {
		return err
	}
	if !current {
		in.log.Info("stale birth ignored", "site", site, "boot", m.Boot, "bdSeq", m.BdSeq)
		return nil
	}
	in.log.Info("site online", "site", site, "boot", m.Boot, "bdSeq", m.BdSeq, "backlog", m.Backlog)
	// The birth is stored: a failure to send is logged, and the
	// next birth tries again.
	for _, send := range []func() error{
		func() error { return in.down.Desired(ctx, site, m.DesiredVersion) },
		func() error { return in.down.AuthList(ctx, site, m.AuthListVersion) },
		func() error { return in.down.Queued(ctx, site) },
	} {
		if err := send(); err != nil {
			in.log.Error("bringing the site up to date", "site", site, "err", err)
		}
	}
	return nil
}

// death stores a death (the site goes offline if it is its current link
// session's).
func (in *Ingester) death(ctx context.Context, m *syncproto.Death) error {
	current, err := in.store.ApplyDeath(ctx, m)
	if err == nil {
		in.log.Info("site death", "site", m.Site, "boot", m.Boot, "bdSeq", m.BdSeq, "current", current)
	}
	return err
}

// clip bounds what a log line quotes of outside input.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
