package rfid

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock/clocktest"
	"github.com/constellation-ev/constellation/appliance/internal/device"
	"github.com/constellation-ev/constellation/appliance/internal/testlog"
)

var errBus = errors.New("spi: transfer failed")

// poll is one answer of a scripted device.
type poll struct {
	uid []byte
	err error
}

// scripted is a Device that answers from a script, for the cases a Sim
// does not make (flaky reads, bus errors).
type scripted struct {
	mu     sync.Mutex
	inits  []error // Init results in order; then nil
	polls  []poll  // Poll results in order; then no card
	nInit  int
	closed bool
}

func (s *scripted) Init(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nInit++
	if len(s.inits) == 0 {
		return nil
	}
	err := s.inits[0]
	s.inits = s.inits[1:]
	return err
}

func (s *scripted) Poll(context.Context) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.polls) == 0 {
		return nil, false, nil
	}
	p := s.polls[0]
	s.polls = s.polls[1:]
	return p.uid, p.uid != nil, p.err
}

func (s *scripted) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// harness runs a Reader's steps by hand on a fake clock.
type harness struct {
	t     *testing.T
	r     *Reader
	clock *clocktest.Clock
	logs  *testlog.Buffer
}

func newHarness(t *testing.T, dev Device, o Options) *harness {
	clock := clocktest.New(t0)
	logs := &testlog.Buffer{}
	o.Clock = clock
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.Buffer == 0 {
		o.Buffer = 100
	}
	return &harness{t: t, r: NewReader(dev, o), clock: clock, logs: logs}
}

// step runs one step, moves the clock by the wait it asks for, and returns that wait.
func (h *harness) step() time.Duration {
	h.t.Helper()
	wait := h.r.step(context.Background())
	h.clock.Advance(wait)
	return wait
}

// events returns the events emitted so far, as "tapped 04A23B1C".
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case ev := <-h.r.events:
			out = append(out, ev.Kind.String()+" "+ev.Token)
		default:
			return out
		}
	}
}

func (h *harness) wantEvents(want ...string) {
	h.t.Helper()
	got := h.events()
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		h.t.Fatalf("events = %q, want %q", got, want)
	}
}

func TestReaderOneTapPerPresentation(t *testing.T) {
	sim := NewSim(nil)
	h := newHarness(t, sim, Options{})
	h.step()
	h.wantEvents()
	if st := h.r.Status(); st.State != device.StateOK {
		t.Fatalf("state %s after a good init", st.State)
	}

	if err := sim.Place(uid4); err != nil {
		t.Fatal(err)
	}
	for range 20 { // held for 2 s: one tap
		if wait := h.step(); wait != defaultInterval {
			t.Fatalf("waits %s between polls, want %s", wait, defaultInterval)
		}
	}
	h.wantEvents("tapped 04A23B1C")

	sim.Remove()
	h.step()
	h.step()
	h.wantEvents() // two misses could be a flaky read
	h.step()
	h.wantEvents("removed 04A23B1C")

	if err := sim.Place(uid4); err != nil {
		t.Fatal(err)
	}
	h.step()
	h.wantEvents("tapped 04A23B1C") // presented again: a new tap
	if got := h.r.Status().Taps; got != 2 {
		t.Errorf("Taps = %d, want 2", got)
	}
}

func TestReaderEventContents(t *testing.T) {
	sim := NewSim(nil)
	h := newHarness(t, sim, Options{Format: Format{Separator: ":", Reversed: true}})
	if err := sim.Place(uid7); err != nil {
		t.Fatal(err)
	}
	at := h.clock.Now()
	h.step()
	ev := recv(t, h.r.Events())
	if ev.Kind != Tapped || !bytes.Equal(ev.UID, uid7) || ev.Token != "80:56:34:12:8A:5D:04" || !ev.At.Equal(at) {
		t.Fatalf("event %+v", ev)
	}
}

func TestReaderDebounce(t *testing.T) {
	cardErr := fmt.Errorf("%w: collision", ErrCard)
	tests := []struct {
		name   string
		misses int
		polls  []poll
		want   []string
	}{
		{
			name:  "flaky misses are not removals",
			polls: []poll{{uid: uid4}, {}, {}, {uid: uid4}, {}, {uid: uid4}, {}, {}, {uid: uid4}},
			want:  []string{"tapped 04A23B1C"},
		},
		{
			name:  "three misses in a row are",
			polls: []poll{{uid: uid4}, {}, {}, {}, {uid: uid4}},
			want:  []string{"tapped 04A23B1C", "removed 04A23B1C", "tapped 04A23B1C"},
		},
		{
			name:   "configurable misses",
			misses: 1,
			polls:  []poll{{uid: uid4}, {}, {uid: uid4}},
			want:   []string{"tapped 04A23B1C", "removed 04A23B1C", "tapped 04A23B1C"},
		},
		{
			name:  "another card is a removal then a tap",
			polls: []poll{{uid: uid4}, {uid: uid10}, {uid: uid10}},
			want:  []string{"tapped 04A23B1C", "removed 04A23B1C", "tapped 08112233445566778899"},
		},
		{
			name:  "unreadable cards count as misses",
			polls: []poll{{err: cardErr}, {uid: uid4}, {err: cardErr}, {err: cardErr}, {uid: uid4}, {err: cardErr}, {err: cardErr}, {err: cardErr}},
			want:  []string{"tapped 04A23B1C", "removed 04A23B1C"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := &scripted{polls: tt.polls}
			h := newHarness(t, dev, Options{RemovalMisses: tt.misses})
			for range tt.polls {
				h.step()
			}
			h.wantEvents(tt.want...)
			if st := h.r.Status(); st.State != device.StateOK || st.Failures != 0 {
				t.Errorf("status %+v: card trouble is not a device failure", st)
			}
			if dev.nInit != 1 {
				t.Errorf("Init called %d times, want 1", dev.nInit)
			}
		})
	}
}

func TestReaderMissingAtStart(t *testing.T) {
	sim := NewSim(nil)
	sim.Unplug()
	h := newHarness(t, sim, Options{BackoffMin: time.Second, BackoffMax: 10 * time.Second})
	start := h.clock.Now()

	var waits []time.Duration
	for range 6 {
		waits = append(waits, h.step())
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Fatalf("backoff %v, want %v", waits, want)
	}
	st := h.r.Status()
	if st.State != device.StateMissing || !st.Since.Equal(start) || st.Failures != 6 || !strings.Contains(st.LastError, "init: rfid sim: rfid: no reader") {
		t.Fatalf("status %+v, want missing since the start with 6 failures", st)
	}
	if !st.NextRetry.Equal(h.clock.Now()) {
		t.Errorf("NextRetry %s, want %s", st.NextRetry, h.clock.Now())
	}
	if n := strings.Count(h.logs.String(), "level=WARN msg=\"RFID reader missing\""); n != 1 {
		t.Errorf("logged the missing reader %d times at WARN, want once:\n%s", n, h.logs)
	}

	sim.Plug()
	if err := sim.Place(uid4); err != nil {
		t.Fatal(err)
	}
	plugged := h.clock.Now()
	h.step()
	h.wantEvents("tapped 04A23B1C")
	st = h.r.Status()
	if st.State != device.StateOK || !st.Since.Equal(plugged) || !st.NextRetry.IsZero() {
		t.Fatalf("status %+v, want ok since %s", st, plugged)
	}
	if !strings.Contains(h.logs.String(), `msg="RFID reader ok" was=missing`) {
		t.Errorf("recovery not logged:\n%s", h.logs)
	}
}

func TestReaderFailingMidway(t *testing.T) {
	dev := &scripted{
		polls: []poll{
			{uid: uid4},
			{err: fmt.Errorf("mfrc522: read register 0x04: %w", errBus)},
			{err: errBus}, // after a re-init that worked: backoff grows
			{uid: uid4},   // same card still there: no new tap
			{uid: uid4},
		},
		inits: []error{nil, nil, fmt.Errorf("mfrc522: soft reset: %w", errBus), nil},
	}
	h := newHarness(t, dev, Options{BackoffMin: time.Second, BackoffMax: time.Minute})
	h.step()
	h.wantEvents("tapped 04A23B1C")

	if wait := h.step(); wait != time.Second {
		t.Fatalf("first retry after %s, want 1s", wait)
	}
	st := h.r.Status()
	if st.State != device.StateFailing || !strings.Contains(st.LastError, "poll: mfrc522: read register 0x04: spi: transfer failed") {
		t.Fatalf("status %+v, want failing with the bus error", st)
	}
	if wait := h.step(); wait != 2*time.Second { // Init ok, Poll fails again
		t.Fatalf("second retry after %s, want 2s", wait)
	}
	if wait := h.step(); wait != 4*time.Second { // Init fails
		t.Fatalf("third retry after %s, want 4s", wait)
	}
	if !strings.Contains(h.r.Status().LastError, "init: mfrc522: soft reset") {
		t.Errorf("LastError %q", h.r.Status().LastError)
	}
	if wait := h.step(); wait != defaultInterval { // back
		t.Fatalf("after recovery waits %s, want the poll interval", wait)
	}
	h.step()
	h.wantEvents() // the card held through the failure is not tapped twice
	st = h.r.Status()
	if st.State != device.StateOK || st.Failures != 3 || st.Taps != 1 {
		t.Fatalf("status %+v, want ok after 3 failures and 1 tap", st)
	}
	if dev.nInit != 4 {
		t.Errorf("Init called %d times, want 4", dev.nInit)
	}

	// A failure after the recovery starts the backoff from the bottom again.
	dev.polls = []poll{{err: errBus}}
	if wait := h.step(); wait != time.Second {
		t.Fatalf("retry after a fresh failure in %s, want 1s", wait)
	}
}

func TestReaderSlowConsumerLosesNothing(t *testing.T) {
	dev := &scripted{polls: []poll{{uid: uid4}, {uid: uid7}, {uid: uid10}}}
	h := newHarness(t, dev, Options{Buffer: 1, RemovalMisses: 1})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 3 {
			h.r.step(context.Background()) // blocks while the buffer is full
		}
	}()
	var got []string
	for range 5 {
		ev := recv(t, h.r.Events())
		got = append(got, ev.Kind.String()+" "+ev.Token)
	}
	recv(t, done)
	want := "tapped 04A23B1C, removed 04A23B1C, tapped 045D8A12345680, removed 045D8A12345680, tapped 08112233445566778899"
	if strings.Join(got, ", ") != want {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func TestReaderRun(t *testing.T) {
	clock := clocktest.New(t0)
	sim := NewSim(clock)
	r := NewReader(sim, Options{Clock: clock})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- r.Run(ctx) }()

	wait := clock.NextWait() // first poll done, nothing there
	if err := sim.Tap(uid4); err != nil {
		t.Fatal(err)
	}
	for ev := range 2 {
		var got Event
		// A tap lasts TapDuration: polls until then see it, then three miss it.
		for got.Kind == 0 {
			clock.Advance(wait)
			// Once Run waits again, the poll is done and its event sent.
			wait = clock.NextWait()
			select {
			case got = <-r.Events():
			default:
			}
		}
		if want := []EventKind{Tapped, Removed}[ev]; got.Kind != want || got.Token != "04A23B1C" {
			t.Fatalf("event %d: %+v, want %s 04A23B1C", ev, got, want)
		}
	}
	if st := r.Status(); st.Taps != 1 || st.State != device.StateOK {
		t.Fatalf("status %+v", st)
	}

	cancel()
	if err := recv(t, ran); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if _, open := <-r.Events(); open {
		t.Fatal("Events still open after Run returned")
	}
	if st := r.Status(); st.State != device.StateStopped {
		t.Fatalf("state %s after Run, want stopped", st.State)
	}
}

func TestReaderRunClosesDevice(t *testing.T) {
	dev := &scripted{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewReader(dev, Options{Clock: clocktest.New(t0)}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !dev.closed {
		t.Fatal("device not closed")
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{Tapped: "tapped", Removed: "removed", 0: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", k, got, want)
		}
	}
}

// TestStatusJSON: the shared health and the reader's counters are one
// flat object, as the local API documents it.
func TestStatusJSON(t *testing.T) {
	st := Status{Health: device.Health{State: device.StateFailing, Since: t0, LastError: "poll: bus", LastErrorAt: t0,
		NextRetry: t0.Add(time.Second), Failures: 2}, CardPresent: true, Taps: 3, CardErrors: 1}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"state":"failing","since":"2026-03-01T12:00:00Z","lastError":"poll: bus","lastErrorAt":"2026-03-01T12:00:00Z",` +
		`"nextRetry":"2026-03-01T12:00:01Z","failures":2,"cardPresent":true,"taps":3,"cardErrors":1}`
	if string(b) != want {
		t.Errorf("JSON %s\nwant %s", b, want)
	}
}
