// Package ingest applies what appliances publish upstream to the fleet
// store: each message is decoded and checked with syncproto, refused with
// a logged reason when malformed, of another major version or of another
// site than its sender's, and otherwise applied idempotently; records
// arriving together from many appliances are committed together (group
// commit) when the store applies batches. A birth brings the appliance
// up to date (desired configuration, authorization list, queued
// commands); a death of the current link session marks the site offline.
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
	// apply applies a keyed record: through a group commit when the
	// store applies batches (fleet.Batcher), else the store's Apply.
	apply func(ctx context.Context, m syncproto.Message) (bool, error)
}

// New returns an Ingester. A store that is also a fleet.Batcher gets
// concurrent records in shared transactions (fleet.GroupCommit): the
// embedded broker hands over each site's messages one at a time, so only
// batching across sites keeps a commit per record from bounding the
// fleet's throughput.
func New(store Store, down Downlink, log *slog.Logger) *Ingester {
	in := &Ingester{store: store, down: down, log: log, apply: store.Apply}
	if b, ok := store.(fleet.Batcher); ok {
		in.apply = fleet.NewGroupCommit(b).Apply
	}
	return in
}

// Handle applies one message received on topic. sender is the site the
// broker authenticated the publisher as ("" when the broker does not say,
// as with an external broker whose ACL confines each appliance). The
// error wraps ErrRefused for bad input (logged here, nothing stored);
// any other error is the store's, and the message may be sent again.
func (in *Ingester) Handle(ctx context.Context, sender, topic string, payload []byte) error {
	m, err := syncproto.Decode(topic, payload)
	if err == nil && m.Kind().Direction() != syncproto.Up {
		err = fmt.Errorf("%s is a downstream kind", m.Kind())
	}
	if err == nil && sender != "" && m.Head().Site != sender {
		err = fmt.Errorf("site %q's message from site %q's appliance", m.Head().Site, sender)
	}
	if err != nil {
		in.log.Warn("message refused", "sender", sender, "topic", clip(topic), "bytes", len(payload), "reason", err)
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	site := m.Head().Site
	switch m := m.(type) {
	case *syncproto.Birth:
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
	case *syncproto.Death:
		current, err := in.store.ApplyDeath(ctx, m)
		if err == nil {
			in.log.Info("site death", "site", site, "boot", m.Boot, "bdSeq", m.BdSeq, "current", current)
		}
		return err
	}
	applied, err := in.apply(ctx, m)
	if err != nil {
		return err
	}
	in.log.Debug("record", "site", site, "kind", m.Kind(), "key", m.Head().Key, "applied", applied)
	return nil
}

// clip bounds what a log line quotes of outside input.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
