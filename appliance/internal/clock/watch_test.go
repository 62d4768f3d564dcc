package clock_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
	"github.com/constellation-ev/constellation/appliance/internal/clock/clocktest"
)

// timesyncd returns the marker of a timesyncd that has not synchronised
// yet (its directory exists, the marker does not) and a function that
// synchronises it.
func timesyncd(t *testing.T) (marker string, synchronise func()) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "timesync")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	marker = filepath.Join(dir, "synchronized")
	return marker, func() {
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// A stamp taken before the sync is marked, and corrected by exactly the
// step NTP made once the sync is noticed; one taken after is not marked.
func TestSyncCorrectsByTheStep(t *testing.T) {
	marker, synchronise := timesyncd(t)
	saved := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) // timesyncd's saved time, days behind
	fake := clocktest.New(saved)
	s := clock.NewSync(clock.SyncOptions{Marker: marker, Clock: fake, Poll: 2 * time.Second})
	if s.Synced() {
		t.Fatal("synced without the marker")
	}
	fake.Advance(time.Minute)
	before := s.Stamp()
	if !before.Unsynced || !before.Time.Equal(saved.Add(time.Minute)) {
		t.Fatalf("stamp before the sync = %+v, want unsynced at %s", before, saved.Add(time.Minute))
	}
	if _, ok := s.Correct(before); ok {
		t.Fatal("Correct succeeded before the sync")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	if d := fake.NextWait(); d != 2*time.Second {
		t.Fatalf("Run waits %s between looks, want the poll, 2s", d)
	}
	fake.Advance(2 * time.Second) // a look without the marker
	if d := fake.NextWait(); d != 2*time.Second {
		t.Fatalf("Run waits %s, want 2s", d)
	}
	const step = 3*24*time.Hour + 7*time.Second
	fake.Step(step) // NTP sets the clock, then timesyncd leaves the marker
	synchronise()
	fake.Advance(2 * time.Second)
	<-s.WhenSynced()
	<-done
	if !s.Synced() {
		t.Fatal("not synced after the marker")
	}

	got, ok := s.Correct(before)
	if want := before.Time.Add(step); !ok || !got.Equal(want) {
		t.Errorf("Correct = %s, %v; want %s (the step)", got, ok, want)
	}
	if off, _ := s.Offset(before); off != step {
		t.Errorf("Offset = %s, want %s", off, step)
	}
	after := s.Stamp()
	if after.Unsynced {
		t.Errorf("stamp after the sync is marked: %+v", after)
	}
	if off, ok := s.Offset(after); !ok || off != 0 {
		t.Errorf("Offset of a synced stamp = %s, %v; want 0", off, ok)
	}
}

// Without timesyncd, or with its marker there at the start, the clock is
// synchronised from the start and Run returns at once.
func TestSyncSynchronisedFromTheStart(t *testing.T) {
	marker, synchronise := timesyncd(t)
	synchronise()
	for name, m := range map[string]string{"marker": marker, "no timesyncd": filepath.Join(t.TempDir(), "none", "synchronized")} {
		fake := clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		s := clock.NewSync(clock.SyncOptions{Marker: m, Clock: fake})
		if !s.Synced() || s.Stamp().Unsynced {
			t.Errorf("%s: not synchronised from the start", name)
		}
		select {
		case <-s.WhenSynced():
		default:
			t.Errorf("%s: WhenSynced not closed", name)
		}
		s.Run(context.Background()) // returns at once
	}
}

// Run ends with its context, the clock still unsynchronised.
func TestSyncRunEndsWithContext(t *testing.T) {
	marker, _ := timesyncd(t)
	fake := clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := clock.NewSync(clock.SyncOptions{Marker: marker, Clock: fake})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	if d := fake.NextWait(); d != clock.DefaultSyncPoll {
		t.Fatalf("Run waits %s, want DefaultSyncPoll", d)
	}
	cancel()
	<-done
	if s.Synced() {
		t.Error("synced without the marker")
	}
}

// The system clock's monotonic time moves forward with the wall time, and
// a stamp of the system clock taken after the sync needs no correction.
func TestSyncSystemClock(t *testing.T) {
	marker, synchronise := timesyncd(t)
	s := clock.NewSync(clock.SyncOptions{Marker: marker})
	st := s.Stamp()
	_, mono := clock.System{}.Read()
	if mono < st.Mono {
		t.Errorf("monotonic time went back: %s then %s", st.Mono, mono)
	}
	synchronise()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Run(ctx) // the marker is there: returns at once
	if off, ok := s.Offset(st); !ok || off < -time.Second || off > time.Second {
		t.Errorf("Offset of a system stamp = %s, %v; want about 0 (the clock was not set)", off, ok)
	}
}
