package csms_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
	"github.com/constellation-ev/constellation/appliance/ocpp/v16"
)

// received is one CALL the simulated charger got.
type received struct {
	action  string
	payload json.RawMessage
}

// chargerSim answers the CSMS's calls and hands every CALL it receives to
// the test over a channel. answers (fixed before dialling) script an
// action's behaviour; other calls take the next response queued with
// respond, so the test and the charger synchronise through channels only.
type chargerSim struct {
	got     chan received
	next    chan json.RawMessage
	answers map[string]func(ctx context.Context) (json.RawMessage, error)
}

var _ rpc.Handler = (*chargerSim)(nil)

func newChargerSim() *chargerSim {
	return &chargerSim{got: make(chan received, 64), next: make(chan json.RawMessage, 1),
		answers: map[string]func(context.Context) (json.RawMessage, error){}}
}

func (s *chargerSim) HandleCall(ctx context.Context, _ *rpc.Conn, action string, payload json.RawMessage) (json.RawMessage, error) {
	s.got <- received{action, append(json.RawMessage(nil), payload...)}
	if f := s.answers[action]; f != nil {
		return f(ctx)
	}
	select {
	case resp := <-s.next:
		return resp, nil
	default:
		return nil, ocppj.Errorf(ocppj.GenericError, "no scripted answer for %s", action)
	}
}

// answer scripts a fixed response for action; call it before dialling.
func (s *chargerSim) answer(action, resp string) {
	s.answers[action] = func(context.Context) (json.RawMessage, error) { return json.RawMessage(resp), nil }
}

// respond queues the response to the next unscripted call.
func (s *chargerSim) respond(resp string) { s.next <- json.RawMessage(resp) }

// TestCommands sends every 1.6 command through CSMS.Send: the charger gets
// a schema-valid CALL, Send returns its response, and the domain records
// the effects right when Send returns.
func TestCommands(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	sim := newChargerSim()
	expiry := t0.Add(time.Hour)
	config := func(t *testing.T) map[string]charging.ConfigValue {
		t.Helper()
		ch, err := e.svc.Charger(ctx, "CP1")
		if err != nil {
			t.Fatal(err)
		}
		return ch.Configuration
	}
	reservation := func(t *testing.T, id int) charging.Reservation {
		t.Helper()
		rs, err := e.svc.Reservations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.ID == id {
				return r
			}
		}
		t.Fatalf("reservation %d not recorded: %+v", id, rs)
		return charging.Reservation{}
	}
	noEffect := func(*testing.T) {}

	steps := []struct {
		name, action, payload, response string
		check                           func(t *testing.T)
	}{
		{"ChangeConfiguration accepted", "ChangeConfiguration", `{"key":"HeartbeatInterval","value":"60"}`, `{"status":"Accepted"}`,
			func(t *testing.T) {
				if v := config(t)["HeartbeatInterval"]; v.Value != "60" || v.Readonly {
					t.Errorf("configuration %+v", config(t))
				}
			}},
		{"ChangeConfiguration reboot required", "ChangeConfiguration", `{"key":"MeterValueSampleInterval","value":"30"}`, `{"status":"RebootRequired"}`,
			func(t *testing.T) {
				cfg := config(t)
				if cfg["MeterValueSampleInterval"].Value != "30" || cfg["HeartbeatInterval"].Value != "60" {
					t.Errorf("configuration %+v, want the new key merged in", cfg)
				}
			}},
		{"ChangeConfiguration rejected", "ChangeConfiguration", `{"key":"HeartbeatInterval","value":"1"}`, `{"status":"Rejected"}`,
			func(t *testing.T) {
				if v := config(t)["HeartbeatInterval"].Value; v != "60" {
					t.Errorf("rejected change recorded: %q", v)
				}
			}},
		{"GetConfiguration some keys", "GetConfiguration", `{"key":["NumberOfConnectors","Nope"]}`, `{"configurationKey":[{"key":"NumberOfConnectors","readonly":true,"value":"2"}],"unknownKey":["Nope"]}`,
			func(t *testing.T) {
				cfg := config(t)
				if v := cfg["NumberOfConnectors"]; v.Value != "2" || !v.Readonly || len(cfg) != 3 {
					t.Errorf("configuration %+v, want NumberOfConnectors merged in", cfg)
				}
			}},
		{"GetConfiguration all keys", "GetConfiguration", `{}`, `{"configurationKey":[{"key":"HeartbeatInterval","readonly":false,"value":"60"},{"key":"AuthorizationKey","readonly":false}]}`,
			func(t *testing.T) {
				want := map[string]charging.ConfigValue{"HeartbeatInterval": {Value: "60"}, "AuthorizationKey": {}}
				if cfg := config(t); len(cfg) != len(want) || cfg["HeartbeatInterval"] != want["HeartbeatInterval"] || cfg["AuthorizationKey"] != want["AuthorizationKey"] {
					t.Errorf("configuration %+v, want replaced by %+v", cfg, want)
				}
			}},
		{"ReserveNow accepted", "ReserveNow", `{"connectorId":1,"expiryDate":"2025-06-01T13:00:00Z","idTag":"TAG1","parentIdTag":"GROUP","reservationId":7}`, `{"status":"Accepted"}`,
			func(t *testing.T) {
				r := reservation(t, 7)
				if r.ChargerID != "CP1" || r.ConnectorID != 1 || r.IDTag != "TAG1" || r.ParentIDTag != "GROUP" || !r.Expiry.Equal(expiry) || r.Status != "Accepted" {
					t.Errorf("reservation %+v", r)
				}
			}},
		{"ReserveNow occupied", "ReserveNow", `{"connectorId":2,"expiryDate":"2025-06-01T13:00:00Z","idTag":"TAG1","reservationId":8}`, `{"status":"Occupied"}`,
			func(t *testing.T) {
				rs, err := e.svc.Reservations(ctx)
				if err != nil || len(rs) != 1 {
					t.Errorf("reservations %+v, %v; want only the accepted one", rs, err)
				}
			}},
		{"CancelReservation rejected", "CancelReservation", `{"reservationId":7}`, `{"status":"Rejected"}`,
			func(t *testing.T) {
				if r := reservation(t, 7); r.Status != "Accepted" {
					t.Errorf("rejected cancel recorded: %+v", r)
				}
			}},
		{"CancelReservation accepted", "CancelReservation", `{"reservationId":7}`, `{"status":"Accepted"}`,
			func(t *testing.T) {
				if r := reservation(t, 7); r.Status != "Cancelled" {
					t.Errorf("reservation %+v, want Cancelled", r)
				}
			}},
		{"CancelReservation unknown to the appliance", "CancelReservation", `{"reservationId":99}`, `{"status":"Accepted"}`, noEffect},
		{"ChangeAvailability", "ChangeAvailability", `{"connectorId":0,"type":"Inoperative"}`, `{"status":"Scheduled"}`, noEffect},
		{"ClearCache", "ClearCache", `{}`, `{"status":"Accepted"}`, noEffect},
		{"ClearChargingProfile", "ClearChargingProfile", `{"connectorId":1,"chargingProfilePurpose":"TxProfile"}`, `{"status":"Unknown"}`, noEffect},
		{"DataTransfer", "DataTransfer", `{"vendorId":"com.acme","messageId":"ping","data":"1"}`, `{"status":"Accepted","data":"pong"}`, noEffect},
		{"GetCompositeSchedule", "GetCompositeSchedule", `{"connectorId":1,"duration":3600,"chargingRateUnit":"A"}`,
			`{"status":"Accepted","connectorId":1,"scheduleStart":"2025-06-01T12:00:00Z","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":16.0}]}}`, noEffect},
		{"GetDiagnostics", "GetDiagnostics", `{"location":"ftp://logs.example.com/up/","retries":2,"startTime":"2025-06-01T00:00:00Z"}`, `{"fileName":"diag.zip"}`, noEffect},
		{"GetLocalListVersion", "GetLocalListVersion", `{}`, `{"listVersion":3}`, noEffect},
		{"RemoteStartTransaction", "RemoteStartTransaction", `{"connectorId":1,"idTag":"TAG1"}`, `{"status":"Accepted"}`, noEffect},
		{"RemoteStopTransaction", "RemoteStopTransaction", `{"transactionId":1}`, `{"status":"Rejected"}`, noEffect},
		{"Reset", "Reset", `{"type":"Soft"}`, `{"status":"Accepted"}`, noEffect},
		{"SendLocalList", "SendLocalList", `{"listVersion":4,"updateType":"Full","localAuthorizationList":[{"idTag":"TAG1","idTagInfo":{"status":"Accepted"}}]}`, `{"status":"Accepted"}`, noEffect},
		{"SetChargingProfile", "SetChargingProfile",
			`{"connectorId":1,"csChargingProfiles":{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxDefaultProfile","chargingProfileKind":"Absolute","chargingSchedule":{"chargingRateUnit":"W","chargingSchedulePeriod":[{"startPeriod":0,"limit":7400}]}}}`,
			`{"status":"Accepted"}`, noEffect},
		{"TriggerMessage", "TriggerMessage", `{"requestedMessage":"StatusNotification","connectorId":1}`, `{"status":"Accepted"}`, noEffect},
		{"UnlockConnector", "UnlockConnector", `{"connectorId":1}`, `{"status":"Unlocked"}`, noEffect},
		{"UpdateFirmware", "UpdateFirmware", `{"location":"https://fw.example.com/1.3.bin","retrieveDate":"2025-06-02T03:00:00Z"}`, `{}`, noEffect},
	}
	e.dial(t, "CP1", "", sim)

	covered := map[string]bool{}
	for _, s := range steps {
		covered[s.action] = true
		ok := t.Run(s.name, func(t *testing.T) {
			schematest.Validate(t, ocppj.V16, s.action, true, []byte(s.response)) // the script itself is valid
			sim.respond(s.response)
			resp, err := e.cs.Send(ctx, "CP1", s.action, json.RawMessage(s.payload))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := <-sim.got
			if got.action != s.action || string(got.payload) != s.payload {
				t.Errorf("charger received %s %s, want %s %s", got.action, got.payload, s.action, s.payload)
			}
			schematest.Validate(t, ocppj.V16, got.action, false, got.payload)
			if string(resp) != s.response {
				t.Errorf("Send returned %s, want the charger's %s", resp, s.response)
			}
			s.check(t)
		})
		if !ok {
			return // later steps build on this one
		}
	}
	for _, a := range v16.Actions {
		if a.Direction&v16.CSMSToCharger != 0 && !covered[a.Name] {
			t.Errorf("command %s is not covered", a.Name)
		}
	}
}

// TestSendErrors: every way a command can fail is told apart by the
// charging sentinel it wraps.
func TestSendErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	sim := newChargerSim()
	sim.answer("ClearCache", `{"status":"Accepted"}`)
	sim.answer("UnlockConnector", `{"status":"Maybe"}`)
	sim.answers["Reset"] = func(context.Context) (json.RawMessage, error) {
		return nil, ocppj.Errorf(ocppj.NotSupported, "resets are disabled")
	}
	blocked := make(chan struct{})
	sim.answers["GetLocalListVersion"] = func(context.Context) (json.RawMessage, error) {
		<-blocked
		return json.RawMessage(`{"listVersion":1}`), nil
	}
	release := make(chan struct{})
	sim.answers["TriggerMessage"] = func(ctx context.Context) (json.RawMessage, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return json.RawMessage(`{"status":"Accepted"}`), nil
	}
	e.dial(t, "CP1", "", sim)

	t.Run("not connected", func(t *testing.T) {
		_, err := e.cs.Send(ctx, "NOBODY", "ClearCache", nil)
		assertSendError(t, err, charging.ErrNotConnected, "")
	})
	t.Run("invalid command", func(t *testing.T) {
		tests := []struct {
			action, payload string
			code            ocppj.ErrorCode
		}{
			{"Reset", `{"type":"Sideways"}`, ocppj.PropertyConstraintViolation},
			{"Reset", `{}`, ocppj.OccurrenceConstraintViolation},
			{"Reset", `{"type":"Soft","extra":1}`, ocppj.FormatViolation},
			{"Reset", `[]`, ocppj.FormatViolation},
			{"Heartbeat", `{}`, ocppj.NotSupported},
			{"InstallCertificate", `{"certificateType":"CentralSystemRootCertificate","certificate":"x"}`, ocppj.NotSupported},
			{"Teleport", `{}`, ocppj.NotImplemented},
		}
		for _, tc := range tests {
			_, err := e.cs.Send(ctx, "CP1", tc.action, json.RawMessage(tc.payload))
			assertSendError(t, err, charging.ErrInvalidCommand, tc.code)
		}
		// Nothing was sent: the next CALL the charger sees is a valid one.
		if _, err := e.cs.Send(ctx, "CP1", "ClearCache", nil); err != nil {
			t.Fatal(err)
		}
		if got := <-sim.got; got.action != "ClearCache" || string(got.payload) != `{}` {
			t.Errorf("charger received %s %s, want ClearCache {} (invalid commands must not be sent)", got.action, got.payload)
		}
	})
	t.Run("charger CALLERROR", func(t *testing.T) {
		_, err := e.cs.Send(ctx, "CP1", "Reset", json.RawMessage(`{"type":"Hard"}`))
		assertSendError(t, err, charging.ErrChargerError, ocppj.NotSupported)
		if err == nil || !strings.Contains(err.Error(), "resets are disabled") {
			t.Errorf("error %v does not carry the charger's description", err)
		}
		<-sim.got
	})
	t.Run("invalid response", func(t *testing.T) {
		_, err := e.cs.Send(ctx, "CP1", "UnlockConnector", json.RawMessage(`{"connectorId":1}`))
		assertSendError(t, err, charging.ErrChargerError, ocppj.PropertyConstraintViolation)
		<-sim.got
	})
	t.Run("timeout", func(t *testing.T) {
		// Drop timers registered so far (the CSMS's earlier calls).
		for len(e.clock.timers) > 0 {
			<-e.clock.timers
		}
		errc := make(chan error, 1)
		go func() {
			_, err := e.cs.Send(ctx, "CP1", "TriggerMessage", json.RawMessage(`{"requestedMessage":"Heartbeat"}`))
			errc <- err
		}()
		<-sim.got                 // the charger has the CALL and sits on it
		(<-e.clock.timers).fire() // the call timeout expires
		assertSendError(t, <-errc, charging.ErrNoAnswer, "")
		close(release)
	})
	t.Run("caller deadline", func(t *testing.T) {
		dctx, cancel := context.WithDeadline(ctx, time.Now())
		defer cancel()
		_, err := e.cs.Send(dctx, "CP1", "GetLocalListVersion", nil)
		close(blocked)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v does not wrap the context's", err)
		}
		assertSendError(t, err, charging.ErrNoAnswer, "")
	})
}

// assertSendError checks that err wraps sentinel and, when code is set, an
// *ocppj.Error with that code.
func assertSendError(t *testing.T, err, sentinel error, code ocppj.ErrorCode) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Errorf("error %v, want it to wrap %q", err, sentinel)
		return
	}
	if code == "" {
		return
	}
	var oe *ocppj.Error
	if !errors.As(err, &oe) || oe.Code != code {
		t.Errorf("error %v, want it to wrap an *ocppj.Error %s", err, code)
	}
}
