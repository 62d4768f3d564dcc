package cloudsync

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/internal/clock"
	"github.com/constellation-ev/constellation/appliance/store"
	"github.com/constellation-ev/constellation/syncproto"
)

// ClockSync says whether the appliance's clock is synchronised and how
// far off a time taken before was (*clock.Sync does). A Raspberry Pi has
// no real-time clock: until NTP has set it, records are marked
// (syncproto.Header.Unsynced), and the ones still queued when the clock
// is set are corrected.
type ClockSync interface {
	// Stamp is the time now, marked while the clock is unsynchronised.
	Stamp() clock.Stamp
	// Offset is what to add to a stamp's time of this process to make
	// it true; false while the clock is unsynchronised.
	Offset(clock.Stamp) (time.Duration, bool)
	// WhenSynced is closed once the clock is synchronised.
	WhenSynced() <-chan struct{}
}

var (
	_ ClockSync = (*clock.Sync)(nil)

	bkUnsynced = []byte(store.BucketSyncUnsynced)
)

// correctBatch is the number of records corrected in one bbolt
// transaction: a crash leaves each record either marked or corrected,
// and one transaction never holds the writer for long.
const correctBatch = 256

// A record's times, besides its header's, are the appliance's (its clock
// took them, and a correction moves them) but for those the charger gave:
// a connector's time and a fault event's time taken from a status
// report's timestamp. chargerTimed marks such records in
// BucketSyncUnsynced.
const chargerTimed = 1

// stamp is the time for a record's header now.
func (o *outbox) stamp() clock.Stamp {
	if o.clockSync == nil {
		return clock.Stamp{Time: o.clock.Now()}
	}
	return o.clockSync.Stamp()
}

// chargerTimes reports whether the records of ch carry a time the
// charger gave (which a correction leaves alone) besides the
// appliance's.
func chargerTimes(ch charging.Change) bool {
	c, ok := ch.Record.(charging.Connector)
	return ok && !c.Timestamp.IsZero()
}

// noteUnsynced remembers, in tx, what correcting the record at seq
// needs: its stamp's monotonic time, and whether it carries charger
// times.
func noteUnsynced(tx *bbolt.Tx, seq uint64, st clock.Stamp, byCharger bool) error {
	v := binary.BigEndian.AppendUint64(nil, uint64(st.Mono))
	flags := byte(0)
	if byCharger {
		flags = chargerTimed
	}
	return tx.Bucket(bkUnsynced).Put(store.U64(seq), append(v, flags))
}

// forgetUnsynced empties BucketSyncUnsynced when the outbox opens: the
// monotonic times there are an earlier process's, which this one cannot
// relate to its own, so those records stay marked.
func forgetUnsynced(ctx context.Context, st Store) error {
	var found bool
	if err := st.View(func(tx *bbolt.Tx) error {
		k, _ := tx.Bucket(bkUnsynced).Cursor().First()
		found = k != nil
		return nil
	}); err != nil || !found {
		return err
	}
	return st.Update(ctx, func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(bkUnsynced); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bkUnsynced)
		return err
	})
}

// shift moves the appliance's times of m by d: its header's, a status's
// last seen, and, unless the charger gave them, an event's time and its
// connectors' times.
func shift(m syncproto.Message, d time.Duration, byCharger bool) {
	h := m.Head()
	h.Time = h.Time.Add(d)
	switch m := m.(type) {
	case *syncproto.Event:
		if !byCharger {
			m.At = m.At.Add(d)
		}
	case *syncproto.ChargerStatus:
		if !m.LastSeen.IsZero() {
			m.LastSeen = m.LastSeen.Add(d)
		}
		for i := range m.Connectors {
			if !byCharger && !m.Connectors[i].Time.IsZero() {
				m.Connectors[i].Time = m.Connectors[i].Time.Add(d)
			}
		}
	}
}

// correctTimes waits for the clock to be synchronised, then corrects the
// records queued before it was, and those whose transactions commit
// later, until ctx ends. Records sent before they were corrected stay
// marked at the cloud: the cloud applies a key once.
func (o *outbox) correctTimes(ctx context.Context) {
	if o.clockSync == nil {
		return
	}
	select {
	case <-o.clockSync.WhenSynced():
	case <-ctx.Done():
		return
	}
	for {
		for {
			n, err := o.correctSome(ctx)
			if err != nil {
				if ctx.Err() == nil {
					o.log.Error("correcting the times of queued records", "err", err)
				}
				break // tried again at the next record queued unsynchronised
			}
			if n < correctBatch {
				break
			}
		}
		select {
		case <-o.unsynced:
		case <-ctx.Done():
			return
		}
	}
}

// correctSome corrects up to correctBatch records in one transaction and
// returns how many entries of BucketSyncUnsynced it took.
func (o *outbox) correctSome(ctx context.Context) (int, error) {
	var n, corrected int
	err := o.st.Update(ctx, func(tx *bbolt.Tx) error {
		n, corrected = 0, 0 // the function may run again
		type entry struct {
			seq       uint64
			mono      time.Duration
			byCharger bool
		}
		var todo []entry
		c := tx.Bucket(bkUnsynced).Cursor()
		for k, v := c.First(); k != nil && len(todo) < correctBatch; k, v = c.Next() {
			seq, _ := store.ParseU64(k)
			e := entry{seq: seq}
			if len(v) == 9 {
				e.mono, e.byCharger = time.Duration(binary.BigEndian.Uint64(v)), v[8] == chargerTimed
			}
			todo = append(todo, e)
		}
		n = len(todo)
		counts := readCounters(tx)
		out, unsynced := tx.Bucket(bkOutbox), tx.Bucket(bkUnsynced)
		for _, e := range todo {
			if err := unsynced.Delete(store.U64(e.seq)); err != nil {
				return err
			}
			old := out.Get(store.U64(e.seq))
			if old == nil {
				continue // sent (or dropped) before the clock was set
			}
			m, err := decodeEntry(old)
			if err != nil || !m.Head().Unsynced {
				continue // the drain drops what cannot be read
			}
			off, ok := o.clockSync.Offset(clock.Stamp{Time: m.Head().Time, Mono: e.mono})
			if !ok {
				return fmt.Errorf("record %d: the clock is not synchronised", e.seq)
			}
			shift(m, off, e.byCharger)
			m.Head().Unsynced = false
			data, err := o.encode(m)
			if err != nil {
				continue // it encoded before; left marked rather than lost
			}
			counts.Bytes -= min(counts.Bytes, uint64(len(old)))
			counts.Bytes += uint64(len(data))
			if err := out.Put(store.U64(e.seq), data); err != nil {
				return err
			}
			corrected++
		}
		return counts.put(tx)
	})
	if err != nil {
		return 0, err
	}
	if corrected > 0 {
		o.log.Info("queued records' times corrected after the clock was synchronised", "records", corrected)
	}
	return n, nil
}
