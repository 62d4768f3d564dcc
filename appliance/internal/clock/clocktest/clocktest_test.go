package clocktest

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fired reports whether ch has a value now, and which.
func fired(ch <-chan time.Time) (time.Time, bool) {
	select {
	case at := <-ch:
		return at, true
	default:
		return time.Time{}, false
	}
}

func TestAdvanceFiresWhatIsDue(t *testing.T) {
	c := New(t0)
	first, second := c.After(time.Second), c.After(3*time.Second)
	if _, ok := fired(first); ok {
		t.Fatal("a wait ended before Advance")
	}
	c.Advance(time.Second)
	if at, ok := fired(first); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("after 1s: fired %v at %s, want at %s", ok, at, t0.Add(time.Second))
	}
	if _, ok := fired(second); ok {
		t.Fatal("the 3s wait ended after 1s")
	}
	c.Advance(5 * time.Second)
	if at, ok := fired(second); !ok || !at.Equal(t0.Add(6*time.Second)) {
		t.Fatalf("after 6s: fired %v at %s", ok, at)
	}
	if !c.Now().Equal(t0.Add(6 * time.Second)) {
		t.Errorf("Now() = %s", c.Now())
	}
}

func TestZeroWaitEndsAtOnce(t *testing.T) {
	c := New(t0)
	for _, d := range []time.Duration{0, -time.Second} {
		if at, ok := fired(c.After(d)); !ok || !at.Equal(t0) {
			t.Errorf("After(%s): fired %v at %s, want at once at %s", d, ok, at, t0)
		}
	}
}

func TestInstant(t *testing.T) {
	c := NewInstant(t0)
	for _, d := range []time.Duration{time.Millisecond, 0, 5 * time.Millisecond} {
		if _, ok := fired(c.After(d)); !ok {
			t.Fatalf("After(%s) of an instant clock did not end at once", d)
		}
	}
	if want := t0.Add(6 * time.Millisecond); !c.Now().Equal(want) {
		t.Errorf("Now() = %s, want %s: the waits move the time", c.Now(), want)
	}
	if got := c.TakeWaits(); !slices.Equal(got, []time.Duration{time.Millisecond, 0, 5 * time.Millisecond}) {
		t.Errorf("TakeWaits() = %v", got)
	}
}

func TestNextWait(t *testing.T) {
	c := New(t0)
	c.After(time.Second) // before NextWait: kept for it
	if d := c.NextWait(); d != time.Second {
		t.Fatalf("NextWait() = %s, want 1s", d)
	}
	got := make(chan time.Duration)
	go func() { got <- c.NextWait() }() // blocks until the next After
	c.After(2 * time.Second)
	if d := <-got; d != 2*time.Second {
		t.Fatalf("NextWait() = %s, want 2s", d)
	}
	if waits := c.TakeWaits(); len(waits) != 0 {
		t.Errorf("TakeWaits() = %v after NextWait took them all", waits)
	}
}

// TestRunUntil: the waits are fired until done holds; a done that never
// holds is reported, not waited for forever.
func TestRunUntil(t *testing.T) {
	c := New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	fired := make(chan struct{})
	go func() {
		<-c.After(time.Hour)
		<-c.After(time.Minute)
		close(fired)
	}()
	ok := c.RunUntil(10*time.Second, func() bool {
		select {
		case <-fired:
			return true
		default:
			return false
		}
	})
	if !ok || c.Now() != time.Date(2026, 1, 1, 1, 1, 0, 0, time.UTC) {
		t.Errorf("RunUntil: %v at %v", ok, c.Now())
	}
	if c.RunUntil(20*time.Millisecond, func() bool { return false }) {
		t.Error("a done that never holds")
	}
}

func TestStepSetsTheWallClockOnly(t *testing.T) {
	c := New(t0)
	wait := c.After(time.Second)
	c.Step(time.Hour)
	if _, ok := fired(wait); ok {
		t.Fatal("a wait ended when the wall clock was set")
	}
	wall, mono := c.Read()
	if !wall.Equal(t0.Add(time.Hour)) || mono != 0 {
		t.Fatalf("after Step: Read = %s, %s; want %s, 0", wall, mono, t0.Add(time.Hour))
	}
	c.Advance(time.Second)
	if _, ok := fired(wait); !ok {
		t.Fatal("the wait did not end after 1s of monotonic time")
	}
	if wall, mono := c.Read(); !wall.Equal(t0.Add(time.Hour+time.Second)) || mono != time.Second {
		t.Fatalf("after Advance: Read = %s, %s", wall, mono)
	}
}
