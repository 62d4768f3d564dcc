package station

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/screen"
	"github.com/constellation-ev/constellation/appliance/store"
)

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

// env is a Station on a real charging service, driven step by step (tap,
// refresh) on a manual clock; the commander and the screen record.
type env struct {
	svc   *charging.Service
	st    *Station
	now   time.Time
	cmd   *commander
	shown *recordingScreen
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "constellation.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	e := &env{now: t0, shown: &recordingScreen{}}
	clock := charging.NewFakeClock(t0)
	if e.svc, err = charging.NewService(context.Background(), db, charging.Config{Clock: clock}); err != nil {
		t.Fatal(err)
	}
	e.cmd = &commander{svc: e.svc, answer: "Accepted"}
	e.st, err = New(Options{Domain: e.svc, Screen: e.shown, SiteName: "Depot", PlugWait: time.Minute, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	for id, status := range map[string]charging.AuthStatus{"GOOD": charging.AuthAccepted, "BLOCKED": charging.AuthBlocked, "OLD": charging.AuthExpired} {
		if err := e.svc.PutToken(context.Background(), charging.IDToken{ID: id, Status: status}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// charger connects a charger whose connectors have the statuses given.
func (e *env) charger(t *testing.T, id charging.ChargerID, statuses ...charging.ConnectorStatus) {
	t.Helper()
	e.svc.ChargerConnected(context.Background(), id, "ocpp1.6")
	for i, s := range statuses {
		e.status(t, id, i+1, s)
	}
}

func (e *env) status(t *testing.T, id charging.ChargerID, connector int, s charging.ConnectorStatus) {
	t.Helper()
	if err := e.svc.UpdateConnectorStatus(context.Background(), charging.StatusUpdate{ChargerID: id, ConnectorID: connector, Status: s, ErrorCode: "NoError"}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) tap(token string) { e.st.tap(context.Background(), e.cmd, token, e.now) }
func (e *env) refresh()         { e.st.refresh(context.Background(), e.cmd) }

// wantSent checks the commands sent since the last check.
func (e *env) wantSent(t *testing.T, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(e.cmd.sent, want) {
		t.Fatalf("sent %v, want %v", e.cmd.sent, want)
	}
	e.cmd.sent = nil
}

func (e *env) lastTap(t *testing.T) charging.Tap {
	t.Helper()
	taps, err := e.svc.Taps(context.Background(), 1)
	if err != nil || len(taps) != 1 {
		t.Fatalf("taps: %+v, %v", taps, err)
	}
	return taps[0]
}

// commander answers commands as a charger does: an accepted remote start
// starts the session, an accepted remote stop stops it.
type commander struct {
	svc    *charging.Service
	answer string
	err    error
	sent   []string
}

func (c *commander) Execute(ctx context.Context, id charging.ChargerID, cmd charging.Command) (charging.CommandReply, error) {
	c.sent = append(c.sent, fmt.Sprintf("%s %s/%d %s %d", cmd.Kind, id, cmd.ConnectorID, cmd.IDTag, cmd.TransactionID))
	if c.err != nil {
		return charging.CommandReply{}, c.err
	}
	return charging.CommandReply{Kind: cmd.Kind, Status: c.answer}, nil
}

type recordingScreen struct {
	mu       sync.Mutex
	idle     screen.Idle
	events   []screen.Event
	charging []screen.Charging
}

func (r *recordingScreen) SetIdle(i screen.Idle) { r.mu.Lock(); r.idle = i; r.mu.Unlock() }
func (r *recordingScreen) Post(ev screen.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}
func (r *recordingScreen) UpdateCharging(c screen.Charging) {
	r.mu.Lock()
	r.charging = append(r.charging, c)
	r.mu.Unlock()
}

// take returns the events posted since the last take.
func (r *recordingScreen) take() []screen.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

func wantEvents(t *testing.T, got []screen.Event, want ...screen.Event) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("display got %#v\nwant %#v", got, want)
	}
}

// TestRefusedCards: each refusal shows and records its reason, and sends
// nothing to a charger.
func TestRefusedCards(t *testing.T) {
	e := newEnv(t)
	e.charger(t, "CP1", charging.StatusPreparing)
	for _, tc := range []struct {
		token  string
		reason screen.RefusalReason
	}{{"NOBODY", screen.RefusedUnknown}, {"BLOCKED", screen.RefusedBlocked}, {"OLD", screen.RefusedExpired}} {
		e.tap(tc.token)
		wantEvents(t, e.shown.take(), screen.CardRefused{Reason: tc.reason})
		if tap := e.lastTap(t); tap.Token != tc.token || tap.Result != charging.TapRefused || tap.Reason != string(tc.reason) {
			t.Errorf("recorded %+v", tap)
		}
	}
	if len(e.cmd.sent) != 0 {
		t.Errorf("sent %v", e.cmd.sent)
	}
	// Every connector busy or out of order: no free connector.
	e.status(t, "CP1", 1, charging.StatusUnavailable)
	e.tap("GOOD")
	wantEvents(t, e.shown.take(), screen.CardAccepted{}, screen.CardRefused{Reason: screen.RefusedNoFreeConnector})
}

// TestOnePluggedConnectorStartsThere: the one connector with a plugged
// vehicle gets the session; the display follows it from the charger's
// start to its stop, with its energy and power.
func TestOnePluggedConnectorStartsThere(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.charger(t, "CP1", charging.StatusAvailable, charging.StatusPreparing)
	e.tap("GOOD")
	e.wantSent(t, "remote-start CP1/2 GOOD 0")
	wantEvents(t, e.shown.take(), screen.CardAccepted{})
	if tap := e.lastTap(t); tap.Result != charging.TapStarted || tap.ChargerID != "CP1" || tap.ConnectorID != 2 {
		t.Errorf("recorded %+v", tap)
	}
	// The charger starts the session and meters it.
	tx, _, err := e.svc.StartTransaction(ctx, charging.StartRequest{ChargerID: "CP1", ConnectorID: 2, IDTag: "GOOD", MeterStartWh: 1000, Timestamp: t0})
	if err != nil {
		t.Fatal(err)
	}
	e.refresh()
	wantEvents(t, e.shown.take(), screen.ChargingStarted{Connector: "2"})
	err = e.svc.RecordMeterValues(ctx, charging.MeterValues{ChargerID: "CP1", ConnectorID: 2, TransactionID: tx.ID, Readings: []charging.MeterReading{
		{Timestamp: t0.Add(time.Minute), Value: "3.5", Unit: "kWh"},
		{Timestamp: t0.Add(time.Minute), Value: "7400", Measurand: "Power.Active.Import", Unit: "W"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.refresh()
	if got := e.shown.charging[len(e.shown.charging)-1]; got.Connector != "2" || got.EnergyKWh != 2.5 || got.PowerKW != 7.4 || !got.Started.Equal(t0) {
		t.Errorf("charging screen %+v, want 2.5 kWh at 7.4 kW", got)
	}
	// The same card again stops it; the display shows the end once the
	// charger reports it.
	e.tap("GOOD")
	if want := fmt.Sprintf("remote-stop CP1/0  %d", tx.ID); e.cmd.sent[len(e.cmd.sent)-1] != want {
		t.Fatalf("sent %v, want %s last", e.cmd.sent, want)
	}
	wantEvents(t, e.shown.take(), screen.CardAccepted{})
	if tap := e.lastTap(t); tap.Result != charging.TapStopped || tap.TransactionID != tx.ID {
		t.Errorf("recorded %+v", tap)
	}
	if _, _, err := e.svc.StopTransaction(ctx, charging.StopRequest{ChargerID: "CP1", TransactionID: tx.ID, MeterStopWh: 5000, Timestamp: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	wantEvents(t, e.shown.take(), screen.ChargingStopped{Connector: "2", EnergyKWh: 4, Duration: time.Hour})
	e.refresh()
	wantEvents(t, e.shown.take())
}

// TestWaitForThePlug: with nothing plugged the display asks for the plug
// at the free connectors, and the first one plugged gets the session; with
// several plugged, only one plugged after the tap does; without a plug in
// time, the tap ends refused.
func TestWaitForThePlug(t *testing.T) {
	e := newEnv(t)
	e.charger(t, "CP1", charging.StatusAvailable, charging.StatusAvailable)
	e.charger(t, "CP2", charging.StatusCharging)
	e.tap("GOOD")
	wantEvents(t, e.shown.take(), screen.CardAccepted{}, screen.PlugIn{Connectors: []string{"CP1/1", "CP1/2"}})
	e.refresh()
	if len(e.cmd.sent) != 0 {
		t.Fatalf("started before the plug: %v", e.cmd.sent)
	}
	e.status(t, "CP1", 2, charging.StatusPreparing)
	e.refresh()
	e.wantSent(t, "remote-start CP1/2 GOOD 0")

	// Two plugged: the one plugged again after the tap.
	e.status(t, "CP1", 1, charging.StatusPreparing)
	e.st.follow = nil
	e.tap("GOOD")
	wantEvents(t, e.shown.take(), screen.CardAccepted{}, screen.PlugIn{Connectors: []string{"CP1/1", "CP1/2"}})
	e.status(t, "CP1", 1, charging.StatusAvailable)
	e.refresh()
	e.status(t, "CP1", 1, charging.StatusPreparing)
	e.refresh()
	e.wantSent(t, "remote-start CP1/1 GOOD 0")

	// No plug within the wait.
	e.status(t, "CP1", 1, charging.StatusAvailable)
	e.status(t, "CP1", 2, charging.StatusAvailable)
	e.tap("GOOD")
	e.now = e.now.Add(2 * time.Minute)
	e.refresh()
	if tap := e.lastTap(t); tap.Result != charging.TapRefused || tap.Reason != "no_plug" || len(e.cmd.sent) != 0 {
		t.Errorf("recorded %+v, sent %v", tap, e.cmd.sent)
	}
}

// TestChargerSaysNo: a rejected or failed start shows a refusal and is
// recorded as such; nothing is followed.
func TestChargerSaysNo(t *testing.T) {
	e := newEnv(t)
	e.charger(t, "CP1", charging.StatusPreparing)
	e.cmd.answer = "Rejected"
	e.tap("GOOD")
	wantEvents(t, e.shown.take(), screen.CardAccepted{}, screen.CardRefused{Reason: screen.RefusedNoFreeConnector})
	if tap := e.lastTap(t); tap.Result != charging.TapRefused || tap.Reason != "rejected" {
		t.Errorf("recorded %+v", tap)
	}
	e.cmd.err = fmt.Errorf("csms: %w", charging.ErrNoAnswer)
	e.tap("GOOD")
	wantEvents(t, e.shown.take(), screen.CardAccepted{}, screen.CardRefused{Reason: screen.RefusedInvalid})
	if tap := e.lastTap(t); tap.Result != charging.TapFailed || !errors.Is(e.cmd.err, charging.ErrNoAnswer) || tap.Reason == "" {
		t.Errorf("recorded %+v", tap)
	}
	if e.st.follow != nil {
		t.Errorf("following %+v", e.st.follow)
	}
}

// TestIdleAndFaults: the idle screens count the connected chargers free
// and in use; a connector that becomes Faulted is shown once.
func TestIdleAndFaults(t *testing.T) {
	e := newEnv(t)
	e.charger(t, "CP1", charging.StatusAvailable)
	e.charger(t, "CP2", charging.StatusAvailable)
	if _, _, err := e.svc.StartTransaction(context.Background(), charging.StartRequest{ChargerID: "CP2", ConnectorID: 1, IDTag: "GOOD", Timestamp: t0}); err != nil {
		t.Fatal(err)
	}
	e.st.opts.Network = func() (string, screen.Uplink) { return "Depot-AP", screen.UplinkCellular }
	e.refresh()
	if want := (screen.Idle{Site: "Depot", SSID: "Depot-AP", Uplink: screen.UplinkCellular, Free: 1, InUse: 1, Total: 2}); e.shown.idle != want {
		t.Errorf("idle %+v, want %+v", e.shown.idle, want)
	}
	// A generated access point password is shown with its SSID, and not
	// while the access point is down.
	e.st.opts.WiFiPassword = "k7m2q9xw4hfp3ncr"
	e.refresh()
	if e.shown.idle.WiFiPassword != "k7m2q9xw4hfp3ncr" {
		t.Errorf("idle %+v: the generated password is not shown", e.shown.idle)
	}
	e.st.opts.Network = func() (string, screen.Uplink) { return "", screen.UplinkCellular }
	e.refresh()
	if e.shown.idle.WiFiPassword != "" {
		t.Errorf("idle %+v: a password shown for an access point that is down", e.shown.idle)
	}
	// Until the clock is synchronised the time is not shown.
	e.st.opts.ClockSynced = func() bool { return false }
	e.refresh()
	if !e.shown.idle.ClockUnsynced {
		t.Errorf("idle %+v: want the clock marked unsynchronised", e.shown.idle)
	}
	e.take()
	if err := e.svc.UpdateConnectorStatus(context.Background(), charging.StatusUpdate{ChargerID: "CP1", ConnectorID: 1, Status: charging.StatusFaulted, ErrorCode: "GroundFailure"}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.refresh()
	wantEvents(t, e.shown.take(), screen.Fault{Charger: "CP1", Connector: "CP1/1", Code: "GroundFailure"})
}

func (e *env) take() { e.shown.take() }
