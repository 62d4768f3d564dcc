package lcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock/clocktest"
	"github.com/constellation-ev/constellation/appliance/internal/device"
	"github.com/constellation-ev/constellation/appliance/internal/testlog"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

var t0 = time.Date(2025, 7, 14, 9, 30, 0, 0, time.UTC)

// runResilient runs r until the test ends and checks that Run returns.
func runResilient(t *testing.T, r *Resilient) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

func TestResilientMissingAtStart(t *testing.T) {
	sim, err := NewSim(16, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	present := false
	open := func() (Driver, error) {
		mu.Lock()
		defer mu.Unlock()
		if !present {
			return nil, fmt.Errorf("%w on i2c-1", ErrNotFound)
		}
		return sim, nil
	}
	clock := clocktest.New(t0)
	var logs testlog.Buffer
	r := NewResilient(open, 16, 2, ResilientOptions{BackoffMin: time.Second, BackoffMax: 4 * time.Second,
		Clock: clock, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if st := r.Status(); st.State != device.StateStarting {
		t.Fatalf("before Run: %+v", st)
	}
	if err := r.Show([]string{"Tap your card"}); err != nil {
		t.Fatalf("Show without a display = %v; want nil", err)
	}
	_, changed := sim.Watch()
	runResilient(t, r)

	// Exponential backoff, capped.
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		if got := clock.NextWait(); got != want {
			t.Fatalf("retry %d waits %v; want %v", i+1, got, want)
		}
		st := r.Status()
		if st.State != device.StateMissing || st.Failures != uint64(i+1) || !st.NextRetry.Equal(clock.Now().Add(want)) ||
			!strings.Contains(st.LastError, "lcd: no display found on i2c-1") || !st.Since.Equal(t0) {
			t.Fatalf("retry %d: status %+v", i+1, st)
		}
		if i < 3 {
			clock.Advance(want)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("a display that stays missing is logged at WARN %d times; want once:\n%s", n, logs.String())
	}

	// Plugged in: the next attempt opens it and draws the last frame.
	mu.Lock()
	present = true
	mu.Unlock()
	clock.Advance(4 * time.Second)
	<-changed
	if got := sim.Lines(); got[0] != "Tap your card   " {
		t.Errorf("redrawn frame %q", got)
	}
	st := r.Status()
	if st.State != device.StateOK || st.Recoveries != 1 || st.Failures != 4 || st.Display != (Info{Driver: DriverSim}) ||
		!st.NextRetry.IsZero() || !st.Since.Equal(clock.Now()) {
		t.Errorf("after recovery: %+v", st)
	}
	if !strings.Contains(logs.String(), `level=INFO msg="lcd display ready" display=sim`) {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}

	// Later frames go straight to the display.
	_, changed = sim.Watch()
	if err := r.Show([]string{"Card accepted"}); err != nil {
		t.Fatal(err)
	}
	<-changed
}

// signalling reports every Show of the display it wraps.
type signalling struct {
	Driver
	shown chan error
}

func (s signalling) Show(lines []string) error {
	err := s.Driver.Show(lines)
	s.shown <- err
	return err
}

func TestResilientBusErrorMidFrame(t *testing.T) {
	b := newBus(ops(
		pcfInit(0x27),
		[]i2ctest.IO{
			tx(0x27, pcfWrite(0x00, "Charging")),
			// Row 2 fails; the display is switched off and dropped.
			tx(0x27, pcfInstr(0x08)),
			tx(0x27, []byte{0x00}),
		},
		// A second later it is initialised again and the frame redrawn.
		pcfInit(0x27),
		[]i2ctest.IO{
			tx(0x27, pcfWrite(0x00, "Charging")),
			tx(0x27, pcfWrite(0x40, "12.34 kWh")),
		},
	))
	b.failAt = len(pcfInit(0x27)) + 2
	opened := make(chan struct{}, 2)
	shown := make(chan error, 2)
	open := func() (Driver, error) {
		d, err := NewPCF8574(b, 0x27, DriverOptions{Clock: &busClock{bus: b}})
		if err != nil {
			return nil, err
		}
		opened <- struct{}{}
		return signalling{d, shown}, nil
	}
	clock := clocktest.New(t0)
	r := NewResilient(open, 16, 2, ResilientOptions{Clock: clock})
	runResilient(t, r)
	<-opened

	frame := []string{"Charging", "12.34 kWh"}
	if err := r.Show(frame); err != nil {
		t.Fatalf("Show = %v; want nil", err)
	}
	if err := <-shown; !errors.Is(err, errNACK) {
		t.Fatalf("display's Show = %v; want the bus error", err)
	}
	st := r.Status()
	if st.State != device.StateFailing || st.Failures != 1 || st.Display != (Info{DriverPCF8574, 0x27}) ||
		!strings.HasPrefix(st.LastError, "lcd: pcf8574 at 0x27: write row 2: ") || !st.LastErrorAt.Equal(t0) {
		t.Fatalf("after the bus error: %+v", st)
	}

	if got := clock.NextWait(); got != time.Second {
		t.Fatalf("retry waits %v; want 1s", got)
	}
	clock.Advance(time.Second)
	<-opened
	if err := <-shown; err != nil {
		t.Fatalf("redraw: %v", err)
	}
	if st := r.Status(); st.State != device.StateOK || st.Recoveries != 1 {
		t.Fatalf("after recovery: %+v", st)
	}
	b.done(t)
}

func TestResilientStop(t *testing.T) {
	sim, err := NewSim(16, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	opened := make(chan struct{}, 1)
	r := NewResilient(func() (Driver, error) { opened <- struct{}{}; return sim, nil }, 16, 2,
		ResilientOptions{Clock: clocktest.New(t0)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	<-opened
	if err := r.Show([]string{"hello"}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if st := r.Status(); st.State != device.StateStopped {
		t.Errorf("after Run: %+v", st)
	}
	if got := sim.Lines(); !slices.Equal(got, []string{strings.Repeat(" ", 16), strings.Repeat(" ", 16)}) {
		t.Errorf("display not closed: %q", got)
	}
	if c, rows := r.Size(); c != 16 || rows != 2 {
		t.Errorf("Size() = %d, %d", c, rows)
	}
}

// TestStatusJSON: the shared health and the display's own fields are one
// flat object, as the local API documents it.
func TestStatusJSON(t *testing.T) {
	st := Status{Health: device.Health{State: device.StateOK, Since: t0}, Display: Info{DriverPCF8574, 0x27}, Recoveries: 1}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"state":"ok","since":"2025-07-14T09:30:00Z","failures":0,"display":{"driver":"pcf8574","address":39},"recoveries":1}`
	if string(b) != want {
		t.Errorf("JSON %s\nwant %s", b, want)
	}
}
