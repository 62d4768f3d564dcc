package screen

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock/clocktest"
	"github.com/constellation-ev/constellation/appliance/internal/testlog"
	"github.com/constellation-ev/constellation/appliance/lcd"
)

var (
	t0   = time.Date(2025, 7, 14, 9, 30, 0, 0, time.UTC)
	site = Idle{Site: "Garaje Norte", SSID: "EVSE-7F3A", Free: 2, InUse: 1, Total: 3, Cloud: CloudConnected}
)

// Display checks.
var (
	_ Display = (*lcd.Sim)(nil)
	_ Display = (*lcd.Resilient)(nil)
)

// The first row of each idle screen of site on a 16x2 display, in rotation order.
const (
	siteRow     = "Garaje Norte"
	wifiRow     = "Wi-Fi"
	chargersRow = "Free      2 of 3"
	cloudRow    = "Cloud link"
	timeRow     = "Tap your card"
)

func newManager(t *testing.T) (*Manager, *clocktest.Clock, *lcd.Sim) {
	t.Helper()
	sim, err := lcd.NewSim(16, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := clocktest.New(t0)
	m, err := New(sim, Defaults(), Options{Clock: clock, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	m.SetIdle(site)
	return m, clock, sim
}

// step is a moment of a scenario: advance the clock, do something, check the first row.
type step struct {
	advance time.Duration
	do      func(m *Manager)
	want    string // first row
}

func play(t *testing.T, steps []step) {
	t.Helper()
	m, clock, _ := newManager(t)
	var elapsed time.Duration
	for i, s := range steps {
		clock.Advance(s.advance)
		elapsed += s.advance
		if s.do != nil {
			s.do(m)
		}
		if got := m.Lines()[0]; got != s.want {
			t.Fatalf("step %d (t0+%v): first row %q; want %q (all: %q)", i, elapsed, got, s.want, m.Lines())
		}
	}
}

func post(ev Event) func(*Manager) { return func(m *Manager) { m.Post(ev) } }

func TestManagerPriorities(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"idle screens rotate every 4s", []step{
			{0, nil, siteRow},
			{3999 * time.Millisecond, nil, siteRow},
			{time.Millisecond, nil, wifiRow},
			{4 * time.Second, nil, chargersRow},
			{4 * time.Second, nil, cloudRow},
			{4 * time.Second, nil, timeRow},
			{4 * time.Second, nil, siteRow},
		}},
		{"cloud screen skipped when the sync is off", []step{
			{0, func(m *Manager) { i := site; i.Cloud = CloudDisabled; m.SetIdle(i) }, siteRow},
			{8 * time.Second, nil, chargersRow},
			{4 * time.Second, nil, timeRow},
		}},
		{"an event interrupts for 5s, then the rotation goes on with the next screen", []step{
			{time.Second, post(CardRefused{RefusedBlocked}), "Card refused"},
			{4999 * time.Millisecond, nil, "Card refused"},
			{time.Millisecond, nil, wifiRow},
			{4 * time.Second, nil, chargersRow},
		}},
		{"a newer event replaces one of the same rank", []step{
			{0, post(CardAccepted{}), "Card accepted"},
			{time.Second, post(PlugIn{[]string{"2"}}), "Plug in cable"},
			{29 * time.Second, nil, "Plug in cable"}, // plug in waits 30s
			{time.Second, nil, wifiRow},
		}},
		{"a fault outranks events and stays 30s", []step{
			{0, post(CardAccepted{}), "Card accepted"},
			{time.Second, post(Fault{Charger: "CP-01", Code: "GroundFailure"}), "Fault      CP-01"},
			{time.Second, post(CardRefused{RefusedExpired}), "Fault      CP-01"},
			{28*time.Second + 999*time.Millisecond, nil, "Fault      CP-01"},
			{time.Millisecond, nil, wifiRow}, // the refusal ended under the fault
		}},
		{"an event posted under a fault shows when the fault ends, for what is left of its time", []step{
			{0, post(Fault{Charger: "CP-01", Code: "GroundFailure"}), "Fault      CP-01"},
			{10 * time.Second, post(PlugIn{[]string{"1", "2"}}), "Fault      CP-01"},
			{20 * time.Second, nil, "Plug in cable"},
			{9 * time.Second, nil, "Plug in cable"},
			{time.Second, nil, wifiRow},
		}},
		{"a newer fault replaces the older", []step{
			{0, post(Fault{Charger: "CP-01", Code: "GroundFailure"}), "Fault      CP-01"},
			{time.Second, post(Fault{Charger: "CP-02", Code: "OverVoltage"}), "Fault      CP-02"},
		}},
		{"the charging screen follows a session for a minute", []step{
			{0, post(ChargingStarted{"2"}), "Charging started"},
			{5 * time.Second, nil, "#2      0.00 kWh"},
			{0, func(m *Manager) { m.UpdateCharging(Charging{Connector: "2", EnergyKWh: 1.5, PowerKW: 7.4}) }, "#2      1.50 kWh"},
			{0, func(m *Manager) { m.UpdateCharging(Charging{Connector: "3", EnergyKWh: 9}) }, "#2      1.50 kWh"},
			{0, post(CardAccepted{}), "Card accepted"},
			{5 * time.Second, nil, "#2      1.50 kWh"},
			{50 * time.Second, nil, wifiRow},
		}},
		{"charging stopped ends the charging screen", []step{
			{0, post(ChargingStarted{"2"}), "Charging started"},
			{10 * time.Second, post(ChargingStopped{Connector: "3", EnergyKWh: 3}), "Charging stopped"},
			{5 * time.Second, nil, "#2      0.00 kWh"},
			{0, post(ChargingStopped{Connector: "2", EnergyKWh: 3}), "Charging stopped"},
			{5 * time.Second, nil, wifiRow},
		}},
		{"pointers to events are events; nil ones are ignored", []step{
			{0, post(&CardRefused{RefusedInvalid}), "Card refused"},
			{0, post((*Fault)(nil)), "Card refused"},
			{0, post(nil), "Card refused"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { play(t, tc.steps) })
	}
}

func TestManagerChargingLive(t *testing.T) {
	m, clock, _ := newManager(t)
	m.Post(ChargingStarted{"2"})
	clock.Advance(43 * time.Second)
	m.UpdateCharging(Charging{Connector: "2", EnergyKWh: 0.42, PowerKW: 11})
	if got, want := m.Lines(), []string{"#2      0.42 kWh", "11.0 kW  0:00:43"}; !slices.Equal(got, want) {
		t.Errorf("Lines() = %q; want %q", got, want)
	}
	started := t0.Add(-time.Hour)
	m.UpdateCharging(Charging{Connector: "2", Started: started, EnergyKWh: 5, PowerKW: 7})
	if got := m.Lines()[1]; got != "7.0 kW   1:00:43" {
		t.Errorf("with Started: %q", got)
	}
}

func TestManagerSpanishAndTimeZone(t *testing.T) {
	sim, err := lcd.NewSim(20, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	cfg.Language = "es"
	madrid := time.FixedZone("CEST", 2*3600)
	clock := clocktest.New(t0)
	m, err := New(sim, cfg, Options{Clock: clock, Location: madrid})
	if err != nil {
		t.Fatal(err)
	}
	i := site
	i.SSID, i.Cloud = "", CloudDisabled
	m.SetIdle(i)
	clock.Advance(8 * time.Second) // site, chargers, time
	if got, want := m.Lines(), []string{"Acerque tarjeta", "14/07/2025     11:30", "", ""}; !slices.Equal(got, want) {
		t.Errorf("Lines() = %q; want %q", got, want)
	}
}

func TestNewInvalid(t *testing.T) {
	sim, err := lcd.NewSim(16, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	cfg.Language = "fr"
	if _, err := New(sim, cfg, Options{}); err == nil || !strings.Contains(err.Error(), `language: "fr" is not en or es`) {
		t.Errorf("New with fr = %v", err)
	}
	if _, err := New(zeroDisplay{}, Defaults(), Options{}); err == nil {
		t.Error("New accepted a 0x0 display")
	}
}

type zeroDisplay struct{}

func (zeroDisplay) Size() (int, int)    { return 0, 0 }
func (zeroDisplay) Show([]string) error { return nil }

func TestManagerRun(t *testing.T) {
	m, clock, sim := newManager(t)
	var logs testlog.Buffer
	m.log = slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	_, changed := sim.Watch()
	go func() { done <- m.Run(ctx) }()

	// waitFrame waits for the display to change and checks its first row.
	waitFrame := func(want string) {
		t.Helper()
		<-changed
		var lines []string
		lines, changed = sim.Watch()
		if got := strings.TrimRight(lines[0], " "); got != want {
			t.Fatalf("display shows %q; want first row %q", lines, want)
		}
	}
	waitFrame(siteRow)
	if d := clock.NextWait(); d != 4*time.Second {
		t.Fatalf("Run waits %v for the next idle screen; want 4s", d)
	}
	clock.Advance(4 * time.Second)
	waitFrame(wifiRow)
	clock.NextWait()

	m.Post(Fault{Charger: "CP-01", Code: "GroundFailure"})
	waitFrame("Fault      CP-01")
	if d := clock.NextWait(); d != 30*time.Second {
		t.Fatalf("Run waits %v under a fault; want 30s", d)
	}

	// A failing display: logged once, and drawn again once it works.
	sim.SetError(errUnplugged)
	clock.Advance(30 * time.Second) // the fault ends: the chargers screen is not shown
	clock.NextWait()
	clock.Advance(4 * time.Second) // nor the cloud screen
	clock.NextWait()
	sim.SetError(nil)
	clock.Advance(4 * time.Second)
	waitFrame(timeRow)
	if n := strings.Count(logs.String(), "unplugged"); n != 1 {
		t.Errorf("display error logged %d times; want once:\n%s", n, logs.String())
	}
	// The time screen is redrawn every second while it shows.
	if d := clock.NextWait(); d != time.Second {
		t.Errorf("Run waits %v on the time screen; want 1s", d)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

var errUnplugged = errorString("unplugged")

type errorString string

func (e errorString) Error() string { return string(e) }
