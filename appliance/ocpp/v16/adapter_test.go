package v16

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
	"github.com/constellation-ev/constellation/appliance/store"
)

// The adapter over sockets is tested in package csms; these tests drive
// Handle and the command hooks directly for cases a socket adds nothing to.

func newTestAdapter(t testing.TB, lenient func(string) bool) (*Adapter, *charging.Service, *bytes.Buffer) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	svc, err := charging.NewService(context.Background(), db, charging.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer // Handle runs on the test goroutine only
	a, err := NewAdapter(AdapterOptions{Domain: svc, Lenient: lenient, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return a, svc, &logs
}

func TestNewAdapterNeedsDomain(t *testing.T) {
	if _, err := NewAdapter(AdapterOptions{}); err == nil {
		t.Error("NewAdapter without a Domain succeeded")
	}
}

// TestIdTagInfoLimits: domain values 1.6 cannot carry are left out, so the
// answer stays valid.
func TestIdTagInfoLimits(t *testing.T) {
	a, svc, _ := newTestAdapter(t, nil)
	ctx := context.Background()
	long := strings.Repeat("P", 21)
	if err := svc.PutToken(ctx, charging.IDToken{ID: "T", Status: charging.AuthAccepted, ParentID: long,
		Expiry: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	resp, err := a.Handle(ctx, "CP", "Authorize", json.RawMessage(`{"idTag":"T"}`))
	if err != nil {
		t.Fatal(err)
	}
	schematest.Validate(t, ocppj.V16, "Authorize", true, resp)
	if want := `{"idTagInfo":{"expiryDate":"2999-01-01T00:00:00Z","status":"Accepted"}}`; string(resp) != want {
		t.Errorf("Authorize = %s, want %s (parent id over 20 characters left out)", resp, want)
	}
}

// TestCommandAnsweredLenient: a charger's response is decoded with that
// charger's leniency; what cannot be accepted is an *ocppj.Error.
func TestCommandAnsweredLenient(t *testing.T) {
	a, svc, logs := newTestAdapter(t, func(id string) bool { return id == "LAX" })
	ctx := context.Background()
	req := json.RawMessage(`{}`)
	resp := json.RawMessage(`{"configurationKey":[{"key":"K","readonly":false,"value":"v"}],"vendorNote":"hi"}`)

	err := a.CommandAnswered(ctx, "STRICT", "GetConfiguration", req, resp)
	var oe *ocppj.Error
	if !errors.As(err, &oe) || oe.Code != ocppj.FormatViolation {
		t.Errorf("strict charger's response with an unknown field: %v, want FormatViolation", err)
	}
	if err := a.CommandAnswered(ctx, "LAX", "GetConfiguration", req, resp); err != nil {
		t.Fatalf("lenient charger: %v", err)
	}
	ch, err := svc.Charger(ctx, "LAX")
	if err != nil {
		t.Fatal(err)
	}
	if ch.Configuration["K"].Value != "v" {
		t.Errorf("configuration %+v", ch.Configuration)
	}
	if l := logs.String(); !strings.Contains(l, "charger=LAX") || !strings.Contains(l, "field=vendorNote") {
		t.Errorf("warning not logged with charger and field:\n%s", l)
	}
	if err := a.CommandAnswered(ctx, "LAX", "Heartbeat", req, json.RawMessage(`{"currentTime":"2025-01-01T00:00:00Z"}`)); err == nil {
		t.Error("CommandAnswered accepted a charger-to-CSMS action")
	}
}

func TestCheckCommand(t *testing.T) {
	a, _, _ := newTestAdapter(t, nil)
	for _, act := range Actions {
		err := a.CheckCommand(act.Name, json.RawMessage(examples[act.Name][0]))
		if act.Direction&CSMSToCharger != 0 {
			if err != nil {
				t.Errorf("CheckCommand(%s, example) = %v", act.Name, err)
			}
			continue
		}
		var oe *ocppj.Error
		if !errors.As(err, &oe) || oe.Code != ocppj.NotSupported {
			t.Errorf("CheckCommand(%s) = %v, want NotSupported", act.Name, err)
		}
	}
}
