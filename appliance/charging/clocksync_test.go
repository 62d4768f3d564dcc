package charging

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
	"github.com/constellation-ev/constellation/appliance/internal/clock/clocktest"
	"github.com/constellation-ev/constellation/appliance/store"
)

// Times the appliance records of its own before its clock is
// synchronised are marked; once it is, this run's are corrected by the
// step NTP made, and an earlier run's stay marked. The charger's own
// times are left alone.
func TestUnsyncedTimesCorrected(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "timesync")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "synchronized")
	saved := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC) // timesyncd's saved time
	fake := clocktest.New(saved)
	path := filepath.Join(t.TempDir(), "constellation.db")
	open := func() (*store.DB, *Service, *clock.Sync) {
		db, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cs := clock.NewSync(clock.SyncOptions{Marker: marker, Clock: fake, Poll: time.Second})
		svc, err := NewService(ctx, db, Config{Clock: fake, ClockSync: cs,
			Policy: PolicyConfig{Default: AuthPolicy{Mode: PolicyOpen}}})
		if err != nil {
			t.Fatal(err)
		}
		return db, svc, cs
	}
	chargerTime := saved.Add(-time.Hour)

	// An earlier run records a session and stops before the sync.
	db, svc, _ := open()
	earlier, _, err := svc.StartTransaction(ctx, StartRequest{ChargerID: "CP1", ConnectorID: 1, IDTag: "A", Timestamp: chargerTime})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, svc, cs := open()
	defer db.Close()
	fake.Advance(time.Minute)
	started, _, err := svc.StartTransaction(ctx, StartRequest{ChargerID: "CP1", ConnectorID: 2, IDTag: "B", Timestamp: chargerTime})
	if err != nil {
		t.Fatal(err)
	}
	// A duplicate of the earlier run's start is not this run's to correct.
	if dup, _, err := svc.StartTransaction(ctx, StartRequest{ChargerID: "CP1", ConnectorID: 1, IDTag: "A", Timestamp: chargerTime}); err != nil || dup.ID != earlier.ID {
		t.Fatalf("duplicate start: %+v, %v", dup, err)
	}
	event, err := svc.TransactionEvent(ctx, TransactionEvent{ChargerID: "CP2", ChargerTxID: "x", Kind: EventStarted, Timestamp: chargerTime, EVSEID: 1})
	if err != nil {
		t.Fatal(err)
	}
	orphan, _, err := svc.StopTransaction(ctx, StopRequest{ChargerID: "CP3", TransactionID: 77, MeterStopWh: 10, Timestamp: chargerTime})
	if err != nil {
		t.Fatal(err)
	}
	tap, err := svc.RecordTap(ctx, Tap{Token: "CARD", Result: TapRefused, Reason: "unknown"})
	if err != nil {
		t.Fatal(err)
	}
	ids := []int64{earlier.ID, started.ID, event.Transaction.ID, orphan.ID}
	before := map[int64]Transaction{}
	for _, id := range ids {
		tx, _, err := svc.Transaction(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !tx.RecordedAtUnsynced || tx.RecordedAt.Before(saved) {
			t.Fatalf("transaction %d recorded unsynchronised: %+v, want marked", id, tx)
		}
		before[id] = tx
	}
	if !tap.AtUnsynced {
		t.Fatalf("tap %+v: want marked", tap)
	}

	const step = 50 * time.Hour
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	correcting := make(chan struct{})
	go func() { defer close(correcting); svc.CorrectTimes(cctx) }()
	watching := make(chan struct{})
	go func() { defer close(watching); cs.Run(cctx) }()
	if d := fake.NextWait(); d != time.Second {
		t.Fatalf("the clock watcher waits %s, want 1s", d)
	}
	fake.Step(step)
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fake.Advance(time.Second)
	<-watching

	deadline := time.Now().Add(2 * time.Minute)
	for {
		tx, _, err := svc.Transaction(ctx, orphan.ID)
		if err != nil {
			t.Fatal(err)
		}
		taps, err := svc.Taps(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !tx.RecordedAtUnsynced && !taps[0].AtUnsynced {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("times not corrected")
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not timing anything
	}
	for _, id := range ids {
		tx, _, err := svc.Transaction(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		was := before[id]
		if id == earlier.ID {
			if !tx.RecordedAtUnsynced || !tx.RecordedAt.Equal(was.RecordedAt) {
				t.Errorf("the earlier run's transaction %+v: want it unchanged and marked", tx)
			}
			continue
		}
		if tx.RecordedAtUnsynced || !tx.RecordedAt.Equal(was.RecordedAt.Add(step)) {
			t.Errorf("transaction %d: recorded at %s (marked %v), want %s", id, tx.RecordedAt, tx.RecordedAtUnsynced, was.RecordedAt.Add(step))
		}
		if !tx.StartTime.Equal(was.StartTime) {
			t.Errorf("transaction %d: start %s changed, want the charger's %s", id, tx.StartTime, was.StartTime)
		}
	}
	taps, err := svc.Taps(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !taps[0].At.Equal(tap.At.Add(step)) {
		t.Errorf("tap at %s, want %s", taps[0].At, tap.At.Add(step))
	}

	// After the sync nothing is marked.
	after, _, err := svc.StartTransaction(ctx, StartRequest{ChargerID: "CP1", ConnectorID: 3, IDTag: "C", Timestamp: fake.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if after.RecordedAtUnsynced || !after.RecordedAt.Equal(fake.Now()) {
		t.Errorf("transaction after the sync %+v", after)
	}
	cancel()
	<-correcting
}
