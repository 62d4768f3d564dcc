package v2

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
	"github.com/constellation-ev/constellation/appliance/ocpp/v201"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
	"github.com/constellation-ev/constellation/appliance/store"
)

// The adapters over sockets are tested in the external test package; these
// tests drive Handle and the command hooks directly for cases a socket
// adds nothing to.

func newTestAdapter(t testing.TB, v ocppj.Version, d Domain) (*Adapter, *charging.Service) {
	t.Helper()
	var svc *charging.Service
	if d == nil {
		db, err := store.Open(filepath.Join(t.TempDir(), "db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		svc, err = charging.NewService(context.Background(), db, charging.Config{})
		if err != nil {
			t.Fatal(err)
		}
		d = svc
	}
	a, err := NewAdapter(v, Options{Domain: d})
	if err != nil {
		t.Fatal(err)
	}
	return a, svc
}

func TestNewAdapter(t *testing.T) {
	if _, err := NewAdapter(ocppj.V201, Options{}); err == nil {
		t.Error("NewAdapter without a Domain succeeded")
	}
	for _, v := range []ocppj.Version{ocppj.V16, "ocpp3.0", ""} {
		if _, err := NewAdapter(v, Options{Domain: &charging.Service{}}); err == nil {
			t.Errorf("NewAdapter(%q) succeeded", v)
		}
	}
	a, _ := newTestAdapter(t, ocppj.V21, nil)
	if a.Version() != ocppj.V21 {
		t.Errorf("Version %s", a.Version())
	}
}

// TestIdTokenInfoLimits: domain values a version cannot carry are left out,
// so the answer stays valid for that version.
func TestIdTokenInfoLimits(t *testing.T) {
	ctx := context.Background()
	parent := strings.Repeat("P", 37) // over 2.0.1's 36, within 2.1's 255
	for _, tc := range []struct {
		v         ocppj.Version
		wantGroup bool
	}{{ocppj.V201, false}, {ocppj.V21, true}} {
		a, svc := newTestAdapter(t, tc.v, nil)
		if err := svc.PutToken(ctx, charging.IDToken{ID: "T", Status: charging.AuthAccepted, ParentID: parent,
			Expiry: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		resp, err := a.Handle(ctx, "CP", "Authorize", json.RawMessage(`{"idToken":{"idToken":"T","type":"ISO14443"}}`))
		if err != nil {
			t.Fatal(err)
		}
		schematest.Validate(t, tc.v, "Authorize", true, resp)
		if !bytes.Contains(resp, []byte(`"cacheExpiryDateTime":"2999-01-01T00:00:00Z"`)) {
			t.Errorf("%s: %s lacks the token's expiry", tc.v, resp)
		}
		if got := bytes.Contains(resp, []byte(parent)); got != tc.wantGroup {
			t.Errorf("%s: %s; group id token included %t, want %t", tc.v, resp, got, tc.wantGroup)
		}
	}
}

// fakeDomain answers what the test says; the calls it does not override
// come from the embedded nil Domain and must not be made.
type fakeDomain struct {
	Domain
	boot charging.BootResult
	auth charging.Authorization
}

func (f *fakeDomain) Boot(context.Context, charging.ChargerID, charging.BootInfo) (charging.BootResult, error) {
	return f.boot, nil
}

func (f *fakeDomain) Authorize(context.Context, charging.ChargerID, string) (charging.Authorization, error) {
	return f.auth, nil
}

// TestAnswersTheVersionCannotCarry: a status the charger's version lacks is
// replaced by the one it has; an answer that cannot be made valid is an
// internal error, never sent and never an *ocppj.Error the charger would
// be blamed with.
func TestAnswersTheVersionCannotCarry(t *testing.T) {
	ctx := context.Background()
	for _, v := range []ocppj.Version{ocppj.V201, ocppj.V21} {
		d := &fakeDomain{auth: charging.Authorization{Status: "NotAtThisTime2"}, boot: charging.BootResult{Status: "Maybe", CurrentTime: time.Now()}}
		a, _ := newTestAdapter(t, v, d)
		resp, err := a.Handle(ctx, "CP", "Authorize", json.RawMessage(`{"idToken":{"idToken":"T","type":"ISO14443"}}`))
		if err != nil || !bytes.Contains(resp, []byte(`"status":"Invalid"`)) {
			t.Errorf("%s: unknown authorization status answered %s, %v; want Invalid", v, resp, err)
		}
		_, err = a.Handle(ctx, "CP", "BootNotification", json.RawMessage(`{"reason":"PowerUp","chargingStation":{"vendorName":"A","model":"M"}}`))
		var oe *ocppj.Error
		if err == nil || errors.As(err, &oe) {
			t.Errorf("%s: unknown registration status: %v, want an internal error", v, err)
		}
		// An answer built for 2.1 that 2.0.1 cannot carry is refused when encoded.
		_, err = a.encodeResponse("Authorize", &v21.AuthorizeResponse{IdTokenInfo: v21.IdTokenInfo{Status: v21.AuthorizationAccepted,
			GroupIdToken: &v21.IdToken{IdToken: strings.Repeat("G", 100), Type: "Central"}}})
		if got := err != nil; got != (v == ocppj.V201) {
			t.Errorf("%s: encoding a 100-character group id: %v", v, err)
		}
		if errors.As(err, &oe) {
			t.Errorf("%s: an invalid answer is an *ocppj.Error (%v): the charger would get its code", v, err)
		}
	}
}

// TestConvertInRefusesWhatCannotBeCarried: a 2.0.1 date-time whose UTC year
// leaves 0000-9999 cannot be converted; the charger is told so.
func TestConvertInRefusesWhatCannotBeCarried(t *testing.T) {
	a, _ := newTestAdapter(t, ocppj.V201, nil)
	_, err := a.Handle(context.Background(), "CP", "StatusNotification",
		json.RawMessage(`{"timestamp":"0000-01-01T00:30:00+01:00","connectorStatus":"Available","evseId":1,"connectorId":1}`))
	var oe *ocppj.Error
	if !errors.As(err, &oe) || oe.Code != ocppj.PropertyConstraintViolation {
		t.Errorf("a year-0 local time: %v, want PropertyConstraintViolation", err)
	}
}

func TestValueText(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		sent [][]string
		want string
	}{
		{1500.5, [][]string{{"1500.50"}}, "1500.50"},
		{2500, [][]string{{"2.5e3"}}, "2.5e3"},
		{1500.5, nil, "1500.5"},                // text not recovered
		{1500.5, [][]string{{"99"}}, "1500.5"}, // text of another value (a lenient payload's doppelganger)
		{1e21, [][]string{{}}, "1000000000000000000000"},
		{-0.25, [][]string{{"x"}}, "-0.25"},
	} {
		if got := valueText(tc.v, tc.sent, 0, 0); got != tc.want {
			t.Errorf("valueText(%v, %v) = %q, want %q", tc.v, tc.sent, got, tc.want)
		}
	}
}

// TestReportTracker: only the first part of a report asked for, before
// any other part arrived, replaces; tracking ends with the last part, when
// the charger declines, or when too many reports are pending.
func TestReportTracker(t *testing.T) {
	var r reportTracker
	if r.replaces("A", 1, 0) {
		t.Error("a report not asked for replaces")
	}
	r.requested("A", 1)
	if r.replaces("B", 1, 0) || r.replaces("A", 2, 0) || r.replaces("A", 1, 1) {
		t.Error("another charger's, another request's or a later part replaces")
	}
	if !r.replaces("A", 1, 0) {
		t.Error("the first part of the report asked for does not replace")
	}
	r.received("A", 1, true)
	if r.replaces("A", 1, 0) {
		t.Error("the first part replaces twice")
	}
	r.received("A", 1, false)
	if len(r.m) != 0 {
		t.Errorf("tracking not ended by the last part: %v", r.m)
	}

	r.requested("A", 2)
	r.received("A", 2, true) // a later part first
	if r.replaces("A", 2, 0) {
		t.Error("a first part arriving after another part replaces")
	}
	r.declined("A", 2)
	for i := range maxTrackedReports + 2 {
		r.requested("A", 10+i)
	}
	if n := len(r.m["A"]); n != maxTrackedReports {
		t.Errorf("%d reports tracked, want at most %d", n, maxTrackedReports)
	}
	if r.replaces("A", 10, 0) || !r.replaces("A", 10+maxTrackedReports+1, 0) {
		t.Error("not the oldest report was forgotten")
	}
}

// TestCheckCommandEveryAction: every command of each version's registry
// passes CheckCommand with the official minimal example, and no charger
// action does.
func TestCheckCommandEveryAction(t *testing.T) {
	for _, v := range []ocppj.Version{ocppj.V201, ocppj.V21} {
		a, _ := newTestAdapter(t, v, nil)
		for _, name := range registry(v) {
			act := a.lookup(name)
			err := a.CheckCommand(name, schematest.Example(t, v, name, false, false))
			var oe *ocppj.Error
			switch {
			case act.fromCSMS && err != nil:
				t.Errorf("%s %s: %v", v, name, err)
			case !act.fromCSMS && (!errors.As(err, &oe) || oe.Code != ocppj.NotSupported):
				t.Errorf("%s %s (a charger's action): %v, want NotSupported", v, name, err)
			}
		}
	}
}

// TestHandledAreChargerActions: every action Handle answers is a CALL
// chargers send, in both versions; only the periodic event stream's are
// 2.1's alone.
func TestHandledAreChargerActions(t *testing.T) {
	only21 := map[string]bool{"OpenPeriodicEventStream": true, "ClosePeriodicEventStream": true}
	for _, v := range []ocppj.Version{ocppj.V201, ocppj.V21} {
		a, _ := newTestAdapter(t, v, &fakeDomain{})
		for name := range handled {
			act := a.lookup(name)
			if v == ocppj.V201 && only21[name] {
				if act.known {
					t.Errorf("%s knows the 2.1 action %s", v, name)
				}
				continue
			}
			if !act.known || !act.fromCS || act.send {
				t.Errorf("%s: handled action %s is %+v", v, name, act)
			}
		}
	}
}

func registry(v ocppj.Version) []string {
	var names []string
	if v == ocppj.V201 {
		for _, a := range v201.Actions {
			names = append(names, a.Name)
		}
		return names
	}
	for _, a := range v21.Actions {
		names = append(names, a.Name)
	}
	return names
}
