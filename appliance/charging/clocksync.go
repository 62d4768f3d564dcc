package charging

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
	"github.com/constellation-ev/constellation/appliance/store"
)

// ClockSync says whether the appliance's clock is synchronised and how
// far off a time taken before was (*clock.Sync does). A Raspberry Pi has
// no real-time clock: until NTP has set it, the times the appliance
// records are marked, and corrected once it is (see [Service.CorrectTimes]).
type ClockSync interface {
	// Stamp is the time now, marked while the clock is unsynchronised.
	Stamp() clock.Stamp
	// Offset is what to add to a stamp's time of this process to make
	// it true; false while the clock is unsynchronised.
	Offset(clock.Stamp) (time.Duration, bool)
	// WhenSynced is closed once the clock is synchronised.
	WhenSynced() <-chan struct{}
}

var _ ClockSync = (*clock.Sync)(nil)

// correctBatch is the number of records corrected in one bbolt
// transaction.
const correctBatch = 256

// pendingTime is a record this run stored with a time taken before the
// clock was synchronised: a transaction's RecordedAt or a tap's At.
type pendingTime struct {
	bucket []byte // bkTransactions or bkTaps
	id     uint64
	st     clock.Stamp
}

// stamp is the time now, marked while the clock is unsynchronised.
func (s *Service) stamp() clock.Stamp {
	if s.clockSync == nil {
		return clock.Stamp{Time: s.clock.Now()}
	}
	return s.clockSync.Stamp()
}

// notePending remembers, once the record at id of bucket is committed
// with a time stamped st, to correct it when the clock is synchronised.
// Only this run can: st's monotonic time means nothing to another.
func (s *Service) notePending(bucket []byte, id int64, st clock.Stamp) {
	if !st.Unsynced {
		return
	}
	s.pendMu.Lock()
	s.pending = append(s.pending, pendingTime{bucket: bucket, id: uint64(id), st: st})
	s.pendMu.Unlock()
	select {
	case s.pendNotify <- struct{}{}:
	default:
	}
}

// CorrectTimes waits for the clock to be synchronised, then corrects the
// times this run recorded before it was (transactions' RecordedAt, taps'
// At) and clears their marks, durably, a batch per bbolt transaction; it
// goes on with records whose transactions commit later, until ctx ends.
// Records of an earlier run stay marked. Without a ClockSync it returns
// at once.
func (s *Service) CorrectTimes(ctx context.Context) {
	if s.clockSync == nil {
		return
	}
	select {
	case <-s.clockSync.WhenSynced():
	case <-ctx.Done():
		return
	}
	for {
		s.pendMu.Lock()
		todo := s.pending
		s.pending = nil
		s.pendMu.Unlock()
		for len(todo) > 0 {
			n := min(len(todo), correctBatch)
			if err := s.correct(ctx, todo[:n]); err != nil {
				s.log.ErrorContext(ctx, "correcting times recorded before the clock was synchronised: left marked", "records", n, "err", err)
			}
			todo = todo[n:]
		}
		select {
		case <-s.pendNotify:
		case <-ctx.Done():
			return
		}
	}
}

// correct corrects the records of batch in one transaction.
func (s *Service) correct(ctx context.Context, batch []pendingTime) error {
	return s.st.Update(ctx, func(tx *bbolt.Tx) error {
		for _, p := range batch {
			off, ok := s.clockSync.Offset(p.st)
			if !ok {
				return fmt.Errorf("the clock is not synchronised")
			}
			key := store.U64(p.id)
			v := tx.Bucket(p.bucket).Get(key)
			if v == nil {
				continue
			}
			switch string(p.bucket) {
			case string(bkTransactions):
				var t Transaction
				if err := json.Unmarshal(v, &t); err != nil {
					return fmt.Errorf("transaction %d: %w", p.id, err)
				}
				if !t.RecordedAtUnsynced {
					continue
				}
				t.RecordedAt, t.RecordedAtUnsynced = t.RecordedAt.Add(off), false
				if err := putTransaction(tx, t); err != nil {
					return err
				}
			case string(bkTaps):
				var t Tap
				if err := json.Unmarshal(v, &t); err != nil {
					return fmt.Errorf("tap %d: %w", p.id, err)
				}
				if !t.AtUnsynced {
					continue
				}
				t.At, t.AtUnsynced = t.At.Add(off), false
				if err := putJSON(tx.Bucket(bkTaps), key, t); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
