package csms_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
)

// translation is how one version carries a neutral command: the request
// the charger must receive (request ids left out: they are checked apart),
// the answer the charger gives, and the reply Execute must return.
type translation struct {
	action, payload, response string
	status                    string
	configuration             map[string]charging.ConfigValue
	unknown                   []string
	fileName                  string
}

func value(s string) *string { return &s }

func limit(w int) *int { return &w }

// TestExecuteEveryVersion sends every version-neutral command to a 1.6, a
// 2.0.1 and a 2.1 charger over real websockets: each charger receives its
// version's request (schema-valid), and Execute answers the same shape.
func TestExecuteEveryVersion(t *testing.T) {
	expiry := t0.Add(time.Hour)
	since := t0.Add(-24 * time.Hour)
	steps := []struct {
		cmd charging.Command
		v16 translation
		v2  translation // 2.0.1 and 2.1 alike
	}{
		{charging.Command{Kind: charging.RemoteStart, ConnectorID: 2, IDTag: "TAG1"},
			translation{"RemoteStartTransaction", `{"connectorId":2,"idTag":"TAG1"}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""},
			translation{"RequestStartTransaction", `{"evseId":2,"idToken":{"idToken":"TAG1","type":"ISO14443"}}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""}},
		{charging.Command{Kind: charging.RemoteStart, IDTag: "TAG1", IDTagType: "Central"},
			translation{"RemoteStartTransaction", `{"idTag":"TAG1"}`, `{"status":"Rejected"}`, "Rejected", nil, nil, ""},
			translation{"RequestStartTransaction", `{"idToken":{"idToken":"TAG1","type":"Central"}}`, `{"status":"Rejected"}`, "Rejected", nil, nil, ""}},
		{charging.Command{Kind: charging.Reset, ResetType: "Soft"},
			translation{"Reset", `{"type":"Soft"}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""},
			translation{"Reset", `{"type":"OnIdle"}`, `{"status":"Scheduled"}`, "Scheduled", nil, nil, ""}},
		{charging.Command{Kind: charging.Reset, ResetType: "Hard"},
			translation{"Reset", `{"type":"Hard"}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""},
			translation{"Reset", `{"type":"Immediate"}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""}},
		{charging.Command{Kind: charging.Unlock, ConnectorID: 1},
			translation{"UnlockConnector", `{"connectorId":1}`, `{"status":"Unlocked"}`, "Unlocked", nil, nil, ""},
			translation{"UnlockConnector", `{"evseId":1,"connectorId":1}`, `{"status":"Unlocked"}`, "Unlocked", nil, nil, ""}},
		{charging.Command{Kind: charging.ChangeAvailability, Availability: "Inoperative"},
			translation{"ChangeAvailability", `{"connectorId":0,"type":"Inoperative"}`, `{"status":"Scheduled"}`, "Scheduled", nil, nil, ""},
			translation{"ChangeAvailability", `{"operationalStatus":"Inoperative"}`, `{"status":"Scheduled"}`, "Scheduled", nil, nil, ""}},
		{charging.Command{Kind: charging.ChangeAvailability, ConnectorID: 2, Availability: "Operative"},
			translation{"ChangeAvailability", `{"connectorId":2,"type":"Operative"}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""},
			translation{"ChangeAvailability", `{"evse":{"id":2},"operationalStatus":"Operative"}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""}},
		{charging.Command{Kind: charging.ClearCache},
			translation{"ClearCache", `{}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""},
			translation{"ClearCache", `{}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""}},
		{charging.Command{Kind: charging.SetConfiguration, Key: "OCPPCommCtrlr/HeartbeatInterval", Value: value("60")},
			translation{"ChangeConfiguration", `{"key":"OCPPCommCtrlr/HeartbeatInterval","value":"60"}`, `{"status":"NotSupported"}`, "NotSupported", nil, nil, ""},
			translation{"SetVariables", `{"setVariableData":[{"attributeValue":"60","component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}}]}`,
				`{"setVariableResult":[{"attributeStatus":"RebootRequired","component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}}]}`, "RebootRequired", nil, nil, ""}},
		{charging.Command{Kind: charging.GetConfiguration, Keys: []string{"OCPPCommCtrlr/HeartbeatInterval", "EVSE@1/Power:MaxSet"}},
			translation{"GetConfiguration", `{"key":["OCPPCommCtrlr/HeartbeatInterval","EVSE@1/Power:MaxSet"]}`,
				`{"configurationKey":[{"key":"OCPPCommCtrlr/HeartbeatInterval","readonly":false,"value":"60"}],"unknownKey":["EVSE@1/Power:MaxSet"]}`,
				"Accepted", map[string]charging.ConfigValue{"OCPPCommCtrlr/HeartbeatInterval": {Value: "60"}}, []string{"EVSE@1/Power:MaxSet"}, ""},
			translation{"GetVariables", `{"getVariableData":[{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}},{"attributeType":"MaxSet","component":{"evse":{"id":1},"name":"EVSE"},"variable":{"name":"Power"}}]}`,
				`{"getVariableResult":[{"attributeStatus":"Accepted","attributeValue":"60","component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}},{"attributeStatus":"UnknownVariable","attributeType":"MaxSet","component":{"name":"EVSE","evse":{"id":1}},"variable":{"name":"Power"}}]}`,
				"Accepted", map[string]charging.ConfigValue{"OCPPCommCtrlr/HeartbeatInterval": {Value: "60"}}, []string{"EVSE@1/Power:MaxSet"}, ""}},
		{charging.Command{Kind: charging.GetConfiguration},
			translation{"GetConfiguration", `{}`, `{"configurationKey":[{"key":"HeartbeatInterval","readonly":true,"value":"60"}]}`,
				"Accepted", map[string]charging.ConfigValue{"HeartbeatInterval": {Value: "60", Readonly: true}}, nil, ""},
			translation{"GetBaseReport", `{"reportBase":"ConfigurationInventory"}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""}},
		{charging.Command{Kind: charging.UploadDiagnostics, Location: "ftp://logs.example.com/up/", Since: since},
			translation{"GetDiagnostics", `{"location":"ftp://logs.example.com/up/","startTime":"2025-05-31T12:00:00Z"}`, `{"fileName":"diag.zip"}`, "Accepted", nil, nil, "diag.zip"},
			translation{"GetLog", `{"log":{"remoteLocation":"ftp://logs.example.com/up/","oldestTimestamp":"2025-05-31T12:00:00Z"},"logType":"DiagnosticsLog"}`,
				`{"status":"Accepted","filename":"diag.zip"}`, "Accepted", nil, nil, "diag.zip"}},
		{charging.Command{Kind: charging.TriggerMessage, Message: "DiagnosticsStatusNotification", ConnectorID: 1},
			translation{"TriggerMessage", `{"requestedMessage":"DiagnosticsStatusNotification","connectorId":1}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""},
			translation{"TriggerMessage", `{"evse":{"id":1},"requestedMessage":"LogStatusNotification"}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""}},
		{charging.Command{Kind: charging.Reserve, ConnectorID: 1, IDTag: "TAG1", ParentIDTag: "GROUP", Expiry: expiry, ReservationID: 7},
			translation{"ReserveNow", `{"connectorId":1,"expiryDate":"2025-06-01T13:00:00Z","idTag":"TAG1","parentIdTag":"GROUP","reservationId":7}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""},
			translation{"ReserveNow", `{"id":7,"expiryDateTime":"2025-06-01T13:00:00Z","idToken":{"idToken":"TAG1","type":"ISO14443"},"evseId":1,"groupIdToken":{"idToken":"GROUP","type":"ISO14443"}}`,
				`{"status":"Accepted"}`, "Accepted", nil, nil, ""}},
		{charging.Command{Kind: charging.CancelReservation, ReservationID: 7},
			translation{"CancelReservation", `{"reservationId":7}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""},
			translation{"CancelReservation", `{"reservationId":7}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""}},
		{charging.Command{Kind: charging.UpdateFirmware, Location: "https://fw.example.com/1.3.bin"},
			translation{"UpdateFirmware", `{"location":"https://fw.example.com/1.3.bin","retrieveDate":"2025-06-01T12:00:00Z"}`, `{}`, "Accepted", nil, nil, ""},
			translation{"UpdateFirmware", `{"firmware":{"location":"https://fw.example.com/1.3.bin","retrieveDateTime":"2025-06-01T12:00:00Z"}}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""}},
		{charging.Command{Kind: charging.GetLocalListVersion},
			translation{"GetLocalListVersion", `{}`, `{"listVersion":7}`, "Accepted", nil, nil, ""},
			translation{"GetLocalListVersion", `{}`, `{"versionNumber":7}`, "Accepted", nil, nil, ""}},
		// A token longer than a 1.6 idTag is left out of a 1.6 list.
		{charging.Command{Kind: charging.SendLocalList, ListVersion: 8, Entries: []charging.LocalListEntry{
			{IDTag: "TAG1", Status: charging.AuthAccepted, Expiry: expiry, ParentIDTag: "GROUP"},
			{IDTag: "TAG2", Status: charging.AuthBlocked},
			{IDTag: "TAG-LONGER-THAN-TWENTY-CHARACTERS", Status: charging.AuthAccepted}}},
			translation{"SendLocalList", `{"listVersion":8,"updateType":"Full","localAuthorizationList":[` +
				`{"idTag":"TAG1","idTagInfo":{"status":"Accepted","expiryDate":"2025-06-01T13:00:00Z","parentIdTag":"GROUP"}},` +
				`{"idTag":"TAG2","idTagInfo":{"status":"Blocked"}}]}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""},
			translation{"SendLocalList", `{"versionNumber":8,"updateType":"Full","localAuthorizationList":[` +
				`{"idToken":{"idToken":"TAG1","type":"ISO14443"},"idTokenInfo":{"status":"Accepted","cacheExpiryDateTime":"2025-06-01T13:00:00Z","groupIdToken":{"idToken":"GROUP","type":"Central"}}},` +
				`{"idToken":{"idToken":"TAG2","type":"ISO14443"},"idTokenInfo":{"status":"Blocked"}},` +
				`{"idToken":{"idToken":"TAG-LONGER-THAN-TWENTY-CHARACTERS","type":"ISO14443"},"idTokenInfo":{"status":"Accepted"}}]}`,
				`{"status":"Accepted"}`, "Accepted", nil, nil, ""}},
		{charging.Command{Kind: charging.SendLocalList, ListVersion: 9, UpdateType: charging.UpdateDifferential,
			Entries: []charging.LocalListEntry{{IDTag: "TAG2"}}},
			translation{"SendLocalList", `{"listVersion":9,"updateType":"Differential","localAuthorizationList":[{"idTag":"TAG2"}]}`,
				`{"status":"VersionMismatch"}`, "VersionMismatch", nil, nil, ""},
			translation{"SendLocalList", `{"versionNumber":9,"updateType":"Differential","localAuthorizationList":[{"idToken":{"idToken":"TAG2","type":"ISO14443"}}]}`,
				`{"status":"VersionMismatch"}`, "VersionMismatch", nil, nil, ""}},
		{charging.Command{Kind: charging.SetPowerLimit, LimitW: limit(11000)},
			translation{"SetChargingProfile", `{"connectorId":0,"csChargingProfiles":{"chargingProfileId":1000,"stackLevel":0,` +
				`"chargingProfilePurpose":"ChargePointMaxProfile","chargingProfileKind":"Absolute","chargingSchedule":{` +
				`"startSchedule":"2025-06-01T00:00:00Z","chargingRateUnit":"W","chargingSchedulePeriod":[{"startPeriod":0,"limit":11000}]}}}`,
				`{"status":"Accepted"}`, "Accepted", nil, nil, ""},
			translation{"SetChargingProfile", `{"evseId":0,"chargingProfile":{"id":1000,"stackLevel":0,` +
				`"chargingProfilePurpose":"ChargingStationMaxProfile","chargingProfileKind":"Absolute","chargingSchedule":[{"id":1,` +
				`"startSchedule":"2025-06-01T00:00:00Z","chargingRateUnit":"W","chargingSchedulePeriod":[{"startPeriod":0,"limit":11000}]}]}}`,
				`{"status":"Rejected"}`, "Rejected", nil, nil, ""}},
		{charging.Command{Kind: charging.SetPowerLimit, LimitW: limit(0)},
			translation{"SetChargingProfile", `{"connectorId":0,"csChargingProfiles":{"chargingProfileId":1000,"stackLevel":0,` +
				`"chargingProfilePurpose":"ChargePointMaxProfile","chargingProfileKind":"Absolute","chargingSchedule":{` +
				`"startSchedule":"2025-06-01T00:00:00Z","chargingRateUnit":"W","chargingSchedulePeriod":[{"startPeriod":0,"limit":0}]}}}`,
				`{"status":"NotSupported"}`, "NotSupported", nil, nil, ""},
			translation{"SetChargingProfile", `{"evseId":0,"chargingProfile":{"id":1000,"stackLevel":0,` +
				`"chargingProfilePurpose":"ChargingStationMaxProfile","chargingProfileKind":"Absolute","chargingSchedule":[{"id":1,` +
				`"startSchedule":"2025-06-01T00:00:00Z","chargingRateUnit":"W","chargingSchedulePeriod":[{"startPeriod":0,"limit":0}]}]}}`,
				`{"status":"Accepted"}`, "Accepted", nil, nil, ""}},
		{charging.Command{Kind: charging.ClearPowerLimit},
			translation{"ClearChargingProfile", `{"id":1000,"connectorId":0,"chargingProfilePurpose":"ChargePointMaxProfile","stackLevel":0}`,
				`{"status":"Unknown"}`, "Unknown", nil, nil, ""},
			translation{"ClearChargingProfile", `{"chargingProfileId":1000}`, `{"status":"Accepted"}`, "Accepted", nil, nil, ""}},
	}
	kinds := map[charging.CommandKind]bool{charging.RemoteStop: true} // TestExecuteRemoteStop
	for _, s := range steps {
		kinds[s.cmd.Kind] = true
	}
	if len(kinds) != len(charging.CommandKinds) {
		t.Errorf("the table covers %d of %d command kinds", len(kinds), len(charging.CommandKinds))
	}

	for _, v := range []ocppj.Version{ocppj.V16, ocppj.V201, ocppj.V21} {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, envOptions{now: func() time.Time { return t0 }})
			sim := newChargerSim()
			e.dial(t, "CP1", v, sim)
			ids := map[float64]bool{}
			for _, s := range steps {
				want := s.v2
				if v == ocppj.V16 {
					want = s.v16
				}
				sim.respond(want.response)
				reply, err := e.cs.Execute(context.Background(), "CP1", s.cmd)
				if err != nil {
					t.Errorf("%s: Execute: %v", s.cmd.Kind, err)
					<-sim.got
					continue
				}
				got := <-sim.got
				schematest.Validate(t, v, got.action, false, got.payload)
				payload := decode[map[string]any](t, got.payload)
				for _, key := range []string{"remoteStartId", "requestId"} {
					if id, ok := payload[key].(float64); ok {
						if id < 1 || ids[id] {
							t.Errorf("%s: %s %v is not a fresh id", s.cmd.Kind, key, id)
						}
						ids[id] = true
						delete(payload, key)
					}
				}
				if got.action != want.action || !reflect.DeepEqual(payload, decode[map[string]any](t, []byte(want.payload))) {
					t.Errorf("%s: charger received %s %s, want %s %s (request ids aside)", s.cmd.Kind, got.action, got.payload, want.action, want.payload)
				}
				if reply.Kind != s.cmd.Kind || reply.Action != want.action || reply.Status != want.status || reply.FileName != want.fileName ||
					string(reply.Response) != want.response || !maps.Equal(reply.Configuration, want.configuration) ||
					!reflect.DeepEqual(reply.UnknownKeys, want.unknown) {
					t.Errorf("%s: reply %+v, want %+v", s.cmd.Kind, reply, want)
				}
				if wantVersion := s.cmd.Kind == charging.GetLocalListVersion; (reply.ListVersion != nil) != wantVersion ||
					wantVersion && *reply.ListVersion != 7 {
					t.Errorf("%s: reply's listVersion %v, want 7 for get-local-list-version only", s.cmd.Kind, reply.ListVersion)
				}
			}
		})
	}
}

// TestExecuteRemoteStop stops a session by the appliance's transaction id:
// a 1.6 charger gets that id, a 2.x charger its own; a transaction that is
// not an active session of the charger is refused before anything is sent.
func TestExecuteRemoteStop(t *testing.T) {
	ctx := context.Background()
	for _, v := range []ocppj.Version{ocppj.V16, ocppj.V201, ocppj.V21} {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, envOptions{})
			sim := newChargerSim()
			c := e.dial(t, "CP1", v, sim)
			var start string
			if v == ocppj.V16 {
				start = string(call(t, c, "StartTransaction", `{"connectorId":1,"idTag":"TAG1","meterStart":0,"timestamp":"2025-06-01T12:00:00Z"}`))
			} else {
				_, err := c.Call(ctx, "TransactionEvent", json.RawMessage(`{"eventType":"Started","timestamp":"2025-06-01T12:00:00Z","triggerReason":"Authorized","seqNo":0,`+
					`"transactionInfo":{"transactionId":"TX-A"},"evse":{"id":1,"connectorId":1},"idToken":{"idToken":"TAG1","type":"ISO14443"}}`))
				if err != nil {
					t.Fatal(err)
				}
			}
			txs, err := e.svc.Transactions(ctx, charging.TransactionFilter{ChargerID: "CP1", ActiveOnly: true})
			if err != nil || len(txs) != 1 {
				t.Fatalf("active transactions %+v, %v (start answer %s)", txs, err, start)
			}
			id := txs[0].ID

			for _, bad := range []int64{id + 1000} {
				_, err := e.cs.Execute(ctx, "CP1", charging.Command{Kind: charging.RemoteStop, TransactionID: bad})
				if !errors.Is(err, charging.ErrInvalidCommand) || !strings.Contains(err.Error(), "not an active session") {
					t.Errorf("stop of transaction %d: %v, want ErrInvalidCommand", bad, err)
				}
			}
			sim.respond(`{"status":"Accepted"}`)
			reply, err := e.cs.Execute(ctx, "CP1", charging.Command{Kind: charging.RemoteStop, TransactionID: id})
			if err != nil {
				t.Fatal(err)
			}
			got := <-sim.got
			want := map[ocppj.Version]string{
				ocppj.V16:  `{"transactionId":` + jsonNumber(id) + `}`,
				ocppj.V201: `{"transactionId":"TX-A"}`,
				ocppj.V21:  `{"transactionId":"TX-A"}`,
			}[v]
			if string(got.payload) != want || reply.Status != "Accepted" {
				t.Errorf("charger received %s %s, reply %+v; want %s", got.action, got.payload, reply, want)
			}
			schematest.Validate(t, v, got.action, false, got.payload)
		})
	}
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestExecuteRefusals: a command that is not valid, or has no form in the
// charger's version, is refused with ErrInvalidCommand naming the field,
// and nothing reaches the charger.
func TestExecuteRefusals(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	sim16, sim201 := newChargerSim(), newChargerSim()
	e.dial(t, "CP16", ocppj.V16, sim16)
	e.dial(t, "CP201", ocppj.V201, sim201)
	for _, c := range []struct {
		charger charging.ChargerID
		cmd     charging.Command
		want    string
	}{
		{"CP16", charging.Command{Kind: "launch"}, `unknown command "launch"`},
		{"CP16", charging.Command{Kind: charging.RemoteStart}, "idTag: required"},
		{"CP16", charging.Command{Kind: charging.ClearCache, ConnectorID: 1}, "connectorId: not used by this command"},
		{"CP16", charging.Command{Kind: charging.Reset, ResetType: "Immediate"}, `type: "Immediate" is not Soft or Hard`},
		{"CP16", charging.Command{Kind: charging.Unlock}, "connectorId: required"},
		{"CP16", charging.Command{Kind: charging.Unlock, ConnectorID: 1, EVSEConnectorID: 2}, "1.6 connectors have no sub-connectors"},
		{"CP16", charging.Command{Kind: charging.RemoteStart, IDTag: strings.Repeat("A", 21)}, "idTag"},
		{"CP16", charging.Command{Kind: charging.TriggerMessage, Message: "TransactionEvent"}, `1.6 cannot trigger "TransactionEvent"`},
		{"CP16", charging.Command{Kind: charging.ChangeAvailability, ConnectorID: -1, Availability: "Operative"}, "connectorId: -1 is not between"},
		{"CP201", charging.Command{Kind: charging.SetConfiguration, Key: "HeartbeatInterval", Value: value("60")}, "no / between component and variable"},
		{"CP201", charging.Command{Kind: charging.RemoteStart, IDTag: "T", IDTagType: "Card"}, "type"},
		{"CP201", charging.Command{Kind: charging.TriggerMessage, Message: "Nope"}, "requestedMessage"},
		{"CP201", charging.Command{Kind: charging.UploadDiagnostics, Location: "x", Since: t0, Until: t0.Add(-time.Hour)}, "until: before since"},
	} {
		_, err := e.cs.Execute(ctx, c.charger, c.cmd)
		if !errors.Is(err, charging.ErrInvalidCommand) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %+v: %v, want ErrInvalidCommand with %q", c.charger, c.cmd, err, c.want)
		}
	}
	if _, err := e.cs.Execute(ctx, "CP9", charging.Command{Kind: charging.ClearCache}); !errors.Is(err, charging.ErrNotConnected) {
		t.Errorf("command to an absent charger: %v", err)
	}
	for _, sim := range []*chargerSim{sim16, sim201} {
		select {
		case got := <-sim.got:
			t.Errorf("a refused command reached the charger: %s %s", got.action, got.payload)
		default:
		}
	}
}
