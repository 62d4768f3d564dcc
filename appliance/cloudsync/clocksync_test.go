package cloudsync

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/internal/clock"
	"github.com/constellation-ev/constellation/appliance/internal/clock/clocktest"
	"github.com/constellation-ev/constellation/syncproto"
)

// saved is the time timesyncd restored at boot: days behind the real one.
var saved = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

// ntp is a system clock that NTP has not set yet: a fake clock and the
// marker of a timesyncd that has not synchronised.
type ntp struct {
	t      *testing.T
	fake   *clocktest.Clock
	marker string
}

func newNTP(t *testing.T) *ntp {
	dir := filepath.Join(t.TempDir(), "timesync")
	must(t, os.Mkdir(dir, 0o755))
	return &ntp{t: t, fake: clocktest.New(saved), marker: filepath.Join(dir, "synchronized")}
}

// process is the clock watcher of one run of the appliance.
func (n *ntp) process() *clock.Sync {
	return clock.NewSync(clock.SyncOptions{Marker: n.marker, Clock: n.fake, Poll: time.Second})
}

// synchronise sets the clock forward by step, as NTP does, leaves
// timesyncd's marker, and lets s notice it.
func (n *ntp) synchronise(s *clock.Sync, step time.Duration) {
	n.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	if d := n.fake.NextWait(); d != time.Second {
		n.t.Fatalf("the clock watcher waits %s, want its poll 1s", d)
	}
	n.fake.Step(step)
	must(n.t, os.WriteFile(n.marker, nil, 0o644))
	n.fake.Advance(time.Second)
	<-done
	if !s.Synced() {
		n.t.Fatal("the clock watcher did not notice the sync")
	}
}

// unsyncedEnv is an appliance whose clock is not synchronised yet.
func unsyncedEnv(t *testing.T, n *ntp) *env {
	return newEnv(t, "", func(o *Options) { o.Clock, o.ClockSync = n.fake, n.process() })
}

// reopenProcess restarts the appliance with a new clock watcher (a new
// process, whose monotonic clock is another).
func (e *env) reopenProcess(t *testing.T, n *ntp) {
	t.Helper()
	e.close(t)
	e.opts.ClockSync = n.process()
	e.open(t)
}

// waitQueued waits until cond holds of the records in the outbox.
func (e *env) waitQueued(t *testing.T, what string, cond func([]record) bool) []record {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		recs := e.queued(t)
		if cond(recs) {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not timing anything
	}
}

func noneMarked(recs []record) bool {
	for _, r := range recs {
		if r.msg.Head().Unsynced {
			return false
		}
	}
	return true
}

// Records queued before the clock is synchronised are marked; once it
// is, the ones still queued have their times, the appliance's only,
// moved by the step NTP made, and lose the mark.
func TestUnsyncedRecordsCorrected(t *testing.T) {
	n := newNTP(t)
	e := unsyncedEnv(t, n)
	chargerTime := saved.Add(-time.Hour) // a charger's own clock: left alone
	_, err := e.svc.Boot(ctx, "CP1", charging.BootInfo{Vendor: "ACME"})
	must(t, err)
	n.fake.Advance(time.Minute)
	must(t, e.svc.UpdateConnectorStatus(ctx, charging.StatusUpdate{ChargerID: "CP1", ConnectorID: 1, Status: charging.StatusFaulted,
		ErrorCode: "GroundFailure", Timestamp: chargerTime}))
	must(t, e.svc.UpdateConnectorStatus(ctx, charging.StatusUpdate{ChargerID: "CP1", ConnectorID: 2, Status: charging.StatusAvailable}))
	tx, _, err := e.svc.StartTransaction(ctx, charging.StartRequest{ChargerID: "CP1", ConnectorID: 1, IDTag: "T", Timestamp: chargerTime})
	must(t, err)
	must(t, e.svc.RecordDiagnosticsStatus(ctx, "CP1", "Uploaded"))
	// More than one correction's batch.
	must(t, e.db.Update(ctx, func(btx *bbolt.Tx) error {
		for range correctBatch + 10 {
			if err := e.client.outbox.append(btx, &syncproto.Event{Event: syncproto.EventNetwork, At: n.fake.Now(), Code: "none"}, false); err != nil {
				return err
			}
		}
		return nil
	}))
	before := e.queued(t)
	for _, r := range before {
		if h := r.msg.Head(); !h.Unsynced || h.Time.Before(saved) || h.Time.After(saved.Add(time.Minute)) {
			t.Fatalf("record %s queued unsynchronised: header %+v, want marked with the unsynchronised time", h.Key, h)
		}
	}
	if st, err := e.client.Status(); err != nil || !st.ClockUnsynced {
		t.Errorf("status %+v, %v: want clockUnsynced", st, err)
	}

	const step = 4*24*time.Hour + 90*time.Second
	n.synchronise(e.opts.ClockSync.(*clock.Sync), step)
	e.run(t)
	after := e.waitQueued(t, "the records corrected", noneMarked)
	if len(after) != len(before) {
		t.Fatalf("%d records after the correction, want %d", len(after), len(before))
	}
	for i, r := range after {
		was, is := before[i].msg, r.msg
		if got, want := is.Head().Time, was.Head().Time.Add(step); !got.Equal(want) {
			t.Errorf("record %s: ts %s, want %s (moved by the step)", is.Head().Key, got, want)
		}
		switch m := is.(type) {
		case *syncproto.Event:
			want := was.(*syncproto.Event).At.Add(step)
			if m.Event == syncproto.EventFault {
				want = chargerTime // the status report's timestamp
			}
			if !m.At.Equal(want) {
				t.Errorf("%s event at %s, want %s", m.Event, m.At, want)
			}
		case *syncproto.ChargerStatus:
			if want := was.(*syncproto.ChargerStatus).LastSeen.Add(step); !m.LastSeen.Equal(want) {
				t.Errorf("status lastSeen %s, want %s", m.LastSeen, want)
			}
			for j, c := range m.Connectors {
				want := was.(*syncproto.ChargerStatus).Connectors[j].Time.Add(step)
				if c.ID == 1 {
					want = chargerTime
				}
				if !c.Time.Equal(want) {
					t.Errorf("connector %d at %s, want %s", c.ID, c.Time, want)
				}
			}
		case *syncproto.Transaction:
			if m.ID != tx.ID || !m.Start.Equal(chargerTime) {
				t.Errorf("transaction %+v: want its start as the charger sent it", m)
			}
		}
	}
	if st, err := e.client.Status(); err != nil || st.ClockUnsynced || st.Backlog != uint64(len(after)) {
		t.Errorf("status %+v, %v: want a synchronised clock and the same backlog", st, err)
	}
	// Counted bytes follow the records' new sizes.
	var size uint64
	must(t, e.db.View(func(btx *bbolt.Tx) error {
		return btx.Bucket(bkOutbox).ForEach(func(_, v []byte) error { size += uint64(len(v)); return nil })
	}))
	if c, _ := e.client.outbox.counters(); c.Bytes != size {
		t.Errorf("outbox counts %d bytes, holds %d", c.Bytes, size)
	}

	// Records queued from now on are not marked.
	must(t, e.svc.RecordDiagnosticsStatus(ctx, "CP1", "Idle"))
	last := e.queued(t)
	if h := last[len(last)-1].msg.Head(); h.Unsynced || !h.Time.Equal(n.fake.Now()) {
		t.Errorf("record after the sync: header %+v", h)
	}
}

// A record queued unsynchronised by an earlier run of the appliance
// cannot be corrected (its monotonic time was another process's): it
// stays marked, while the new run's records are corrected.
func TestUnsyncedRecordsOfAnEarlierRunStayMarked(t *testing.T) {
	n := newNTP(t)
	e := unsyncedEnv(t, n)
	must(t, e.svc.RecordDiagnosticsStatus(ctx, "CP1", "Uploading"))
	e.reopenProcess(t, n)
	n.fake.Advance(time.Minute)
	must(t, e.svc.RecordDiagnosticsStatus(ctx, "CP1", "Uploaded"))
	before := e.queued(t)
	if len(before) != 2 || !before[0].msg.Head().Unsynced || !before[1].msg.Head().Unsynced {
		t.Fatalf("records before the sync %+v: want two, marked", before)
	}

	const step = 36 * time.Hour
	n.synchronise(e.opts.ClockSync.(*clock.Sync), step)
	e.run(t)
	after := e.waitQueued(t, "the new run's record corrected", func(recs []record) bool {
		return len(recs) == 2 && !recs[1].msg.Head().Unsynced
	})
	if old := after[0].msg.(*syncproto.Event); !old.Unsynced || !old.Time.Equal(before[0].msg.Head().Time) ||
		!old.At.Equal(before[0].msg.(*syncproto.Event).At) {
		t.Errorf("the earlier run's record %+v: want it unchanged and marked", old)
	}
	if got, want := after[1].msg.(*syncproto.Event).At, before[1].msg.(*syncproto.Event).At.Add(step); !got.Equal(want) {
		t.Errorf("the new run's record at %s, want %s", got, want)
	}
}
