package v2_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
	"github.com/constellation-ev/constellation/appliance/ocpp/v201"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

// TestCommands sends every 2.x command through CSMS.Send, in 2.0.1 and in
// 2.1: the charger gets a schema-valid CALL, Send returns its response, and
// the domain records the effects by the time Send returns. Commands without
// a scripted step are sent with the official schema's minimal example and
// must pass through with validation only.
func TestCommands(t *testing.T) {
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) { testCommands(t, v) })
	}
}

func testCommands(t *testing.T, v ocppj.Version) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	const id = "CMD1"
	sim := newChargerSim()
	reservation := func(t *testing.T, rid int) charging.Reservation {
		t.Helper()
		rs, err := e.svc.Reservations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.ID == rid {
				return r
			}
		}
		t.Fatalf("reservation %d not recorded: %+v", rid, rs)
		return charging.Reservation{}
	}
	noEffect := func(*testing.T) {}
	value := func(t *testing.T, key string) (string, bool) {
		t.Helper()
		vr, ok := e.variables(t, id)[key]
		return vr.Value, ok
	}

	steps := []struct {
		name, action, payload, response string
		check                           func(t *testing.T)
	}{
		{"ReserveNow accepted", "ReserveNow",
			`{"id":7,"expiryDateTime":"2025-06-01T13:00:00Z","idToken":{"idToken":"TAG1","type":"ISO14443"},"evseId":1,"groupIdToken":{"idToken":"GROUP","type":"Central"}}`,
			`{"status":"Accepted"}`, func(t *testing.T) {
				r := reservation(t, 7)
				if r.ChargerID != id || r.ConnectorID != 1 || r.IDTag != "TAG1" || r.ParentIDTag != "GROUP" || !r.Expiry.Equal(t0.Add(time.Hour)) || r.Status != "Accepted" {
					t.Errorf("reservation %+v", r)
				}
			}},
		{"ReserveNow any EVSE", "ReserveNow", `{"id":8,"expiryDateTime":"2025-06-01T13:00:00Z","idToken":{"idToken":"TAG1","type":"ISO14443"}}`,
			`{"status":"Accepted"}`, func(t *testing.T) {
				if r := reservation(t, 8); r.ConnectorID != 0 || r.ParentIDTag != "" {
					t.Errorf("reservation without an EVSE %+v, want connector 0", r)
				}
			}},
		{"ReserveNow occupied", "ReserveNow", `{"id":9,"expiryDateTime":"2025-06-01T13:00:00Z","idToken":{"idToken":"TAG1","type":"ISO14443"},"evseId":2}`,
			`{"status":"Occupied"}`, func(t *testing.T) {
				if rs, err := e.svc.Reservations(ctx); err != nil || len(rs) != 2 {
					t.Errorf("reservations %+v, %v; want only the accepted ones", rs, err)
				}
			}},
		{"CancelReservation rejected", "CancelReservation", `{"reservationId":7}`, `{"status":"Rejected"}`, func(t *testing.T) {
			if r := reservation(t, 7); r.Status != "Accepted" {
				t.Errorf("rejected cancel recorded: %+v", r)
			}
		}},
		{"CancelReservation accepted", "CancelReservation", `{"reservationId":7}`, `{"status":"Accepted"}`, func(t *testing.T) {
			if r := reservation(t, 7); r.Status != "Cancelled" {
				t.Errorf("reservation %+v, want Cancelled", r)
			}
		}},
		{"CancelReservation unknown to the appliance", "CancelReservation", `{"reservationId":99}`, `{"status":"Accepted"}`, noEffect},
		{"ChangeAvailability", "ChangeAvailability", `{"operationalStatus":"Inoperative","evse":{"id":1}}`, `{"status":"Scheduled"}`, noEffect},
		{"ClearCache", "ClearCache", `{}`, `{"status":"Accepted"}`, noEffect},
		{"ClearChargingProfile", "ClearChargingProfile", `{"chargingProfileCriteria":{"evseId":1,"chargingProfilePurpose":"TxProfile"}}`, `{"status":"Unknown"}`, noEffect},
		{"DataTransfer", "DataTransfer", `{"vendorId":"com.acme","messageId":"ping","data":"1"}`, `{"status":"Accepted","data":{"pong":true}}`, noEffect},
		{"GetCompositeSchedule", "GetCompositeSchedule", `{"duration":3600,"evseId":1,"chargingRateUnit":"A"}`, `{"status":"Rejected"}`, noEffect},
		{"GetLocalListVersion", "GetLocalListVersion", `{}`, `{"versionNumber":3}`, noEffect},
		{"RequestStartTransaction", "RequestStartTransaction", `{"idToken":{"idToken":"TAG1","type":"ISO14443"},"remoteStartId":1,"evseId":1}`,
			`{"status":"Accepted","transactionId":"TX-9"}`, noEffect},
		{"RequestStopTransaction", "RequestStopTransaction", `{"transactionId":"TX-9"}`, `{"status":"Rejected"}`, noEffect},
		{"Reset", "Reset", `{"type":"OnIdle"}`, `{"status":"Scheduled"}`, noEffect},
		{"SendLocalList", "SendLocalList", `{"versionNumber":4,"updateType":"Full","localAuthorizationList":[{"idToken":{"idToken":"TAG1","type":"ISO14443"},"idTokenInfo":{"status":"Accepted"}}]}`,
			`{"status":"Accepted"}`, noEffect},
		{"SetChargingProfile", "SetChargingProfile",
			`{"evseId":1,"chargingProfile":{"id":1,"stackLevel":0,"chargingProfilePurpose":"TxDefaultProfile","chargingProfileKind":"Absolute",` +
				`"chargingSchedule":[{"id":1,"chargingRateUnit":"W","startSchedule":"2025-06-01T12:00:00Z","chargingSchedulePeriod":[{"startPeriod":0,"limit":7400}]}]}}`,
			`{"status":"Accepted"}`, noEffect},
		{"TriggerMessage", "TriggerMessage", `{"requestedMessage":"StatusNotification","evse":{"id":1,"connectorId":1}}`, `{"status":"Accepted"}`, noEffect},
		{"UnlockConnector", "UnlockConnector", `{"evseId":1,"connectorId":1}`, `{"status":"Unlocked"}`, noEffect},
		{"UpdateFirmware", "UpdateFirmware", `{"requestId":5,"firmware":{"location":"https://fw.example.com/2.1.bin","retrieveDateTime":"2025-06-02T03:00:00Z"}}`,
			`{"status":"Accepted"}`, noEffect},
		{"GetLog", "GetLog", `{"log":{"remoteLocation":"https://logs.example.com/up"},"logType":"DiagnosticsLog","requestId":3}`,
			`{"status":"Accepted","filename":"diag.zip"}`, noEffect},
		{"GetTransactionStatus", "GetTransactionStatus", `{"transactionId":"TX-9"}`, `{"messagesInQueue":false,"ongoingIndicator":true}`, noEffect},
		{"GetVariables", "GetVariables",
			`{"getVariableData":[{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}},` +
				`{"component":{"name":"EVSE","evse":{"id":1}},"variable":{"name":"Power"},"attributeType":"MaxSet"},` +
				`{"component":{"name":"Nope"},"variable":{"name":"Nope"}}]}`,
			`{"getVariableResult":[{"attributeStatus":"Accepted","attributeValue":"120","component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}},` +
				`{"attributeStatus":"Accepted","attributeType":"MaxSet","attributeValue":"22000","component":{"name":"EVSE","evse":{"id":1}},"variable":{"name":"Power"}},` +
				`{"attributeStatus":"UnknownComponent","component":{"name":"Nope"},"variable":{"name":"Nope"}}]}`,
			func(t *testing.T) {
				if got, _ := value(t, "OCPPCommCtrlr/HeartbeatInterval"); got != "120" {
					t.Errorf("HeartbeatInterval %q, want 120", got)
				}
				if got, _ := value(t, "EVSE@1/Power:MaxSet"); got != "22000" {
					t.Errorf("EVSE@1/Power:MaxSet %q, want 22000", got)
				}
				if _, ok := value(t, "Nope/Nope"); ok {
					t.Error("an unknown component's result was recorded")
				}
			}},
		{"SetVariables", "SetVariables",
			`{"setVariableData":[{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"},"attributeValue":"60"},` +
				`{"component":{"name":"TxCtrlr"},"variable":{"name":"EVConnectionTimeOut"},"attributeValue":"30"},` +
				`{"component":{"name":"AuthCtrlr"},"variable":{"name":"Enabled"},"attributeValue":"false"}]}`,
			`{"setVariableResult":[{"attributeStatus":"Accepted","component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}},` +
				`{"attributeStatus":"RebootRequired","component":{"name":"TxCtrlr"},"variable":{"name":"EVConnectionTimeOut"}},` +
				`{"attributeStatus":"Rejected","component":{"name":"AuthCtrlr"},"variable":{"name":"Enabled"}}]}`,
			func(t *testing.T) {
				if got, _ := value(t, "OCPPCommCtrlr/HeartbeatInterval"); got != "60" {
					t.Errorf("HeartbeatInterval %q, want the accepted 60", got)
				}
				if got, _ := value(t, "TxCtrlr/EVConnectionTimeOut"); got != "30" {
					t.Errorf("EVConnectionTimeOut %q, want 30 (set, effective after a reboot)", got)
				}
				if _, ok := value(t, "AuthCtrlr/Enabled"); ok {
					t.Error("a rejected value was recorded")
				}
			}},
		{"GetBaseReport", "GetBaseReport", `{"requestId":9,"reportBase":"FullInventory"}`, `{"status":"Accepted"}`, noEffect},
	}
	c := e.dial(t, id, v, sim)

	covered := map[string]bool{}
	for _, s := range steps {
		covered[s.action] = true
		ok := t.Run(s.name, func(t *testing.T) {
			schematest.Validate(t, v, s.action, true, []byte(s.response)) // the script itself is valid
			sim.respond(s.response)
			resp, err := e.cs.Send(ctx, id, s.action, json.RawMessage(s.payload))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := <-sim.got
			if got.action != s.action || string(got.payload) != s.payload {
				t.Errorf("charger received %s %s, want %s %s", got.action, got.payload, s.action, s.payload)
			}
			schematest.Validate(t, v, got.action, false, got.payload)
			if string(resp) != s.response {
				t.Errorf("Send returned %s, want the charger's %s", resp, s.response)
			}
			s.check(t)
		})
		if !ok {
			return // later steps build on this one
		}
	}

	// The base report asked for replaces the device model with its first
	// part; its later parts add.
	t.Run("NotifyReport of the base report", func(t *testing.T) {
		call(t, c, "NotifyReport", `{"requestId":9,"generatedAt":"2025-06-01T12:00:00Z","seqNo":0,"tbc":true,"reportData":[`+
			`{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"},"variableAttribute":[{"value":"60"}]}]}`)
		vs := e.variables(t, id)
		if len(vs) != 1 || vs["OCPPCommCtrlr/HeartbeatInterval"].Value != "60" {
			t.Errorf("after the first part: %+v, want only what it reported (the full report replaces)", vs)
		}
		call(t, c, "NotifyReport", `{"requestId":9,"generatedAt":"2025-06-01T12:00:00Z","seqNo":1,"tbc":false,"reportData":[`+
			`{"component":{"name":"TxCtrlr"},"variable":{"name":"EVConnectionTimeOut"},"variableAttribute":[{"value":"30"}]}]}`)
		if vs := e.variables(t, id); len(vs) != 2 {
			t.Errorf("after the second part: %+v, want both parts", vs)
		}
		// A first part sent again after the report ended (or another
		// report's) merges.
		call(t, c, "NotifyReport", `{"requestId":9,"generatedAt":"2025-06-01T12:00:00Z","seqNo":0,"tbc":false,"reportData":[`+
			`{"component":{"name":"SecurityCtrlr"},"variable":{"name":"Identity"},"variableAttribute":[{"value":"CMD1","mutability":"ReadOnly"}]}]}`)
		if vs := e.variables(t, id); len(vs) != 3 {
			t.Errorf("a report not asked for replaced the device model: %+v", vs)
		}
	})

	// Every other command the CSMS may send passes with validation only.
	var others []string
	if v == ocppj.V201 {
		for _, a := range v201.Actions {
			if a.Direction&v201.CSMSToCharger != 0 && !covered[a.Name] {
				others = append(others, a.Name)
			}
		}
	} else {
		for _, a := range v21.Actions {
			if a.Direction&v21.CSMSToCharger != 0 && !covered[a.Name] {
				others = append(others, a.Name)
			}
		}
	}
	for _, name := range others {
		t.Run(name, func(t *testing.T) {
			req := schematest.Example(t, v, name, false, false)
			resp := schematest.Example(t, v, name, true, false)
			sim.respond(string(resp))
			got, err := e.cs.Send(ctx, id, name, req)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if r := <-sim.got; r.action != name || string(r.payload) != string(req) {
				t.Errorf("charger received %s %s, want %s %s", r.action, r.payload, name, req)
			}
			if string(got) != string(resp) {
				t.Errorf("Send returned %s, want %s", got, resp)
			}
		})
	}
}

// TestSendErrors: commands that are not valid for the charger's version
// are refused before they are sent, with the version's error codes, and an
// answer that is not valid is the charger's error.
func TestSendErrors(t *testing.T) {
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, envOptions{})
			ctx := context.Background()
			sim := newChargerSim()
			e.dial(t, "ERR1", v, sim)
			for _, tc := range []struct {
				action, payload string
				code            ocppj.ErrorCode
			}{
				{"Reset", `{"type":"Sideways"}`, ocppj.PropertyConstraintViolation},
				{"Reset", `{}`, ocppj.OccurrenceConstraintViolation},
				{"Reset", `{"type":"Immediate","extra":1}`, ocppj.FormatViolation},
				{"Reset", `{"type":5}`, ocppj.TypeConstraintViolation},
				{"Heartbeat", `{}`, ocppj.NotSupported},
				{"RemoteStartTransaction", `{"idTag":"TAG1"}`, ocppj.NotImplemented}, // 1.6's name
				{"Teleport", `{}`, ocppj.NotImplemented},
			} {
				_, err := e.cs.Send(ctx, "ERR1", tc.action, json.RawMessage(tc.payload))
				var oe *ocppj.Error
				if !errors.Is(err, charging.ErrInvalidCommand) || !errors.As(err, &oe) || oe.Code != tc.code {
					t.Errorf("%s %s: %v, want ErrInvalidCommand with %s", tc.action, tc.payload, err, tc.code)
				}
			}
			// 2.1-only commands are unknown to a 2.0.1 charger.
			if v == ocppj.V201 {
				_, err := e.cs.Send(ctx, "ERR1", "GetTariffs", json.RawMessage(`{"evseId":1}`))
				if !errors.Is(err, charging.ErrInvalidCommand) {
					t.Errorf("GetTariffs to 2.0.1: %v, want ErrInvalidCommand", err)
				}
			}
			sim.respond(`{"status":"Maybe"}`)
			_, err := e.cs.Send(ctx, "ERR1", "UnlockConnector", json.RawMessage(`{"evseId":1,"connectorId":1}`))
			var oe *ocppj.Error
			if !errors.Is(err, charging.ErrChargerError) || !errors.As(err, &oe) || oe.Code != ocppj.PropertyConstraintViolation {
				t.Errorf("invalid answer: %v, want ErrChargerError with PropertyConstraintViolation", err)
			}
			if got := <-sim.got; got.action != "UnlockConnector" {
				t.Errorf("the first command the charger got is %s: refused commands must not be sent", got.action)
			}
		})
	}
}
