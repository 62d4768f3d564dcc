package charging

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/store"
)

// TapResult is what came of a card tapped on the appliance's own reader.
type TapResult string

// Tap results.
const (
	// TapStarted: a session was asked for (RemoteStart accepted).
	TapStarted TapResult = "started"
	// TapStopped: the card's session was asked to stop (RemoteStop accepted).
	TapStopped TapResult = "stopped"
	// TapRefused: nothing was started; Reason says why.
	TapRefused TapResult = "refused"
	// TapFailed: the charger did not answer the command, or refused it
	// with an error; Reason says what happened.
	TapFailed TapResult = "failed"
)

// Tap is a card tapped on the appliance's own reader and what came of it.
type Tap struct {
	// ID is assigned by RecordTap: taps are numbered in the order recorded.
	ID int64     `json:"id"`
	At time.Time `json:"at"`
	// AtUnsynced: At was taken before the appliance's clock was
	// synchronised and may be behind; corrected as a transaction's
	// RecordedAt is (see [Transaction]).
	AtUnsynced bool   `json:"atUnsynced,omitempty"`
	Token      string `json:"token"`
	// Result is what came of the tap; Reason details a refusal or a
	// failure (unknown, blocked, expired, invalid, no_free_connector,
	// no_plug, rejected, or the error).
	Result TapResult `json:"result"`
	Reason string    `json:"reason,omitempty"`
	// ChargerID and ConnectorID are where the session was started or
	// stopped; TransactionID the session stopped.
	ChargerID     ChargerID `json:"chargerId,omitempty"`
	ConnectorID   int       `json:"connectorId,omitempty"`
	TransactionID int64     `json:"transactionId,omitempty"`
}

var bkTaps = []byte(store.BucketTaps)

// RecordTap stores a tap (the sync sends it to the cloud as a "tap"
// event) and returns it with its ID. Change kind: tap.
func (s *Service) RecordTap(ctx context.Context, t Tap) (Tap, error) {
	if err := validateIDTag("token", t.Token); err != nil {
		return Tap{}, err
	}
	if err := validateText("reason", t.Reason, 255, false); err != nil {
		return Tap{}, err
	}
	// The tap's time is the caller's (the same clock's, moments ago):
	// the stamp now says whether it was synchronised, and corrects it.
	now := s.stamp()
	if t.At.IsZero() {
		t.At = now.Time
	}
	t.AtUnsynced = now.Unsynced
	err := s.apply(ctx, ChangeTap, t.ChargerID, func(tx *bbolt.Tx) (any, error) {
		b := tx.Bucket(bkTaps)
		seq, err := b.NextSequence()
		if err != nil {
			return nil, err
		}
		t.ID = int64(seq)
		return t, putJSON(b, store.U64(seq), t)
	})
	if err != nil {
		return Tap{}, fmt.Errorf("charging: record tap: %w", err)
	}
	s.notePending(bkTaps, t.ID, now)
	return t, nil
}

// Taps lists the last limit taps (all when limit is 0 or less), newest
// first.
func (s *Service) Taps(_ context.Context, limit int) ([]Tap, error) {
	var out []Tap
	err := s.st.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bkTaps).Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var t Tap
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("tap %x: %w", k, err)
			}
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("charging: list taps: %w", err)
	}
	return out, nil
}
