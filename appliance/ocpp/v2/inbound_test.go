package v2_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/v201"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

type idTokenInfo struct {
	Status              string
	CacheExpiryDateTime *time.Time
	GroupIdToken        *struct{ IdToken, Type string }
}

// TestChargerToCSMS plays every charger-to-CSMS action the adapters handle,
// in 2.0.1 and in 2.1: each answer is checked against the version's
// official schema, and the domain state right after the CALLRESULT.
func TestChargerToCSMS(t *testing.T) {
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) { testChargerToCSMS(t, v) })
	}
}

func testChargerToCSMS(t *testing.T, v ocppj.Version) {
	e := newEnv(t, envOptions{})
	const id = "CS1"
	c := e.dial(t, id, v, nil)
	var txID int64

	steps := []struct {
		name, action, payload string
		check                 func(t *testing.T, resp json.RawMessage)
	}{
		{"boot", "BootNotification", `{"reason":"PowerUp","chargingStation":{"vendorName":"Acme","model":"Volt2","serialNumber":"SN-2","firmwareVersion":"2.0.0","modem":{"iccid":"89","imsi":"26"}}}`,
			func(t *testing.T, resp json.RawMessage) {
				r := decode[struct {
					Status      string
					CurrentTime time.Time
					Interval    int
				}](t, resp)
				if r.Status != "Accepted" || r.Interval != 120 || !r.CurrentTime.Equal(t0) {
					t.Errorf("answer %s, want Accepted, interval 120 (the domain's), time %v", resp, t0)
				}
				ch := e.charger(t, id)
				if ch.Vendor != "Acme" || ch.Model != "Volt2" || ch.SerialNumber != "SN-2" || ch.FirmwareVersion != "2.0.0" || !ch.LastBoot.Equal(t0) {
					t.Errorf("charger after boot: %+v", ch)
				}
				if !ch.Connected || ch.Protocol != string(v) {
					t.Errorf("charger connected=%t protocol=%q, want true %s", ch.Connected, ch.Protocol, v)
				}
			}},
		{"heartbeat", "Heartbeat", `{}`, func(t *testing.T, resp json.RawMessage) {
			if r := decode[struct{ CurrentTime time.Time }](t, resp); !r.CurrentTime.Equal(t0) {
				t.Errorf("heartbeat time %v, want %v", r.CurrentTime, t0)
			}
		}},
		{"authorize known", "Authorize", `{"idToken":{"idToken":"TAG1","type":"ISO14443"}}`, func(t *testing.T, resp json.RawMessage) {
			r := decode[struct{ IdTokenInfo idTokenInfo }](t, resp)
			if g := r.IdTokenInfo.GroupIdToken; r.IdTokenInfo.Status != "Accepted" || g == nil || g.IdToken != "GROUP" || g.Type != "Central" {
				t.Errorf("Authorize TAG1 = %s, want Accepted with group GROUP", resp)
			}
		}},
		{"authorize unknown", "Authorize", `{"idToken":{"idToken":"STRANGER","type":"ISO14443"}}`, func(t *testing.T, resp json.RawMessage) {
			if r := decode[struct{ IdTokenInfo idTokenInfo }](t, resp); r.IdTokenInfo.Status != "Invalid" || r.IdTokenInfo.GroupIdToken != nil {
				t.Errorf("Authorize of an unknown token under the strict policy = %s", resp)
			}
		}},
		{"status", "StatusNotification", `{"timestamp":"2025-06-01T11:59:00Z","connectorStatus":"Occupied","evseId":1,"connectorId":2}`,
			func(t *testing.T, _ json.RawMessage) {
				cs := e.charger(t, id).Connectors
				if len(cs) != 1 {
					t.Fatalf("connectors %+v", cs)
				}
				k := cs[0]
				if k.ID != 1 || k.EVSEConnectorID != 2 || k.Status != charging.StatusOccupied || !k.Timestamp.Equal(t0.Add(-time.Minute)) {
					t.Errorf("connector %+v, want EVSE 1 connector 2 Occupied", k)
				}
			}},
		{"transaction started", "TransactionEvent",
			`{"eventType":"Started","timestamp":"2025-06-01T12:00:00Z","triggerReason":"Authorized","seqNo":0,` +
				`"transactionInfo":{"transactionId":"TX-1","chargingState":"EVConnected"},"evse":{"id":1,"connectorId":2},` +
				`"idToken":{"idToken":"TAG1","type":"ISO14443"},` +
				`"meterValue":[{"timestamp":"2025-06-01T12:00:00Z","sampledValue":[{"value":1000,"context":"Transaction.Begin"}]}]}`,
			func(t *testing.T, resp json.RawMessage) {
				r := decode[struct{ IdTokenInfo *idTokenInfo }](t, resp)
				if r.IdTokenInfo == nil || r.IdTokenInfo.Status != "Accepted" {
					t.Errorf("Started answered %s, want idTokenInfo Accepted", resp)
				}
				tx, rs := e.session(t, id, "TX-1")
				txID = tx.ID
				if tx.ConnectorID != 1 || tx.EVSEConnectorID != 2 || tx.IDTag != "TAG1" || tx.MeterStartWh != 1000 ||
					!tx.StartTime.Equal(t0) || !tx.Active() || tx.Protocol != string(v) || tx.Authorization != charging.AuthAccepted {
					t.Errorf("session %+v", tx)
				}
				assertReadings(t, rs, []charging.MeterReading{{Timestamp: t0, Value: "1000", Measurand: "Energy.Active.Import.Register",
					Unit: "Wh", Context: "Transaction.Begin", Location: "Outlet", Format: "Raw"}})
			}},
		{"meter values", "MeterValues",
			`{"evseId":1,"meterValue":[{"timestamp":"2025-06-01T12:05:00Z","sampledValue":[{"value":1500.50},` +
				`{"value":7.2,"measurand":"Power.Active.Import","phase":"L1","context":"Sample.Clock","location":"Inlet","unitOfMeasure":{"unit":"kW"}},` +
				`{"value":25E-1,"unitOfMeasure":{"unit":"kWh","multiplier":3}}]}]}`,
			func(t *testing.T, _ json.RawMessage) {
				mv := e.lastReadings(t)
				if mv.ChargerID != id || mv.ConnectorID != 1 || mv.TransactionID != 0 {
					t.Errorf("meter values %+v, want EVSE 1 without a transaction", mv)
				}
				ts := t0.Add(5 * time.Minute)
				assertReadings(t, mv.Readings, []charging.MeterReading{
					// 2.x defaults stored explicitly; each value as written.
					{Timestamp: ts, Value: "1500.50", Measurand: "Energy.Active.Import.Register", Unit: "Wh", Context: "Sample.Periodic", Location: "Outlet", Format: "Raw"},
					{Timestamp: ts, Value: "7.2", Measurand: "Power.Active.Import", Phase: "L1", Unit: "kW", Context: "Sample.Clock", Location: "Inlet", Format: "Raw"},
					{Timestamp: ts, Value: "25E-1", Measurand: "Energy.Active.Import.Register", Unit: "kWh", Multiplier: 3, Context: "Sample.Periodic", Location: "Outlet", Format: "Raw"},
				})
			}},
		{"transaction updated", "TransactionEvent",
			`{"eventType":"Updated","timestamp":"2025-06-01T12:30:00Z","triggerReason":"MeterValuePeriodic","seqNo":1,` +
				`"transactionInfo":{"transactionId":"TX-1","chargingState":"Charging"},` +
				`"meterValue":[{"timestamp":"2025-06-01T12:30:00Z","sampledValue":[{"value":4000.25}]}]}`,
			func(t *testing.T, resp json.RawMessage) {
				if string(resp) != `{}` {
					t.Errorf("Updated without a token answered %s, want {}", resp)
				}
				tx, rs := e.session(t, id, "TX-1")
				if tx.ID != txID || !tx.Active() || tx.SeqNoGaps != 0 || tx.OutOfOrderEvents != 0 {
					t.Errorf("session %+v", tx)
				}
				if !slices.ContainsFunc(rs, func(r charging.MeterReading) bool { return r.Value == "4000.25" }) {
					t.Errorf("readings %+v lack the Updated event's", rs)
				}
			}},
		{"transaction ended", "TransactionEvent",
			`{"eventType":"Ended","timestamp":"2025-06-01T13:00:00Z","triggerReason":"EVCommunicationLost","seqNo":2,` +
				`"transactionInfo":{"transactionId":"TX-1","stoppedReason":"EVDisconnected","chargingState":"Idle"},` +
				`"idToken":{"idToken":"TAG1","type":"ISO14443"},"offline":false,` +
				`"meterValue":[{"timestamp":"2025-06-01T13:00:00Z","sampledValue":[{"value":9000,"context":"Transaction.End"}]}]}`,
			func(t *testing.T, resp json.RawMessage) {
				r := decode[struct{ IdTokenInfo *idTokenInfo }](t, resp)
				if r.IdTokenInfo == nil || r.IdTokenInfo.Status != "Accepted" {
					t.Errorf("Ended answered %s, want idTokenInfo Accepted", resp)
				}
				tx, _ := e.session(t, id, "TX-1")
				if tx.Active() || tx.MeterStopWh == nil || *tx.MeterStopWh != 9000 || tx.StopReason != "EVDisconnected" ||
					tx.StopIDTag != "TAG1" || !tx.StopTime.Equal(t0.Add(time.Hour)) {
					t.Errorf("ended session %+v", tx)
				}
			}},
		{"firmware status", "FirmwareStatusNotification", `{"status":"Downloading","requestId":1}`, func(t *testing.T, _ json.RawMessage) {
			if s := e.charger(t, id).FirmwareStatus; s != "Downloading" {
				t.Errorf("firmware status %q", s)
			}
		}},
		{"log status", "LogStatusNotification", `{"status":"Uploaded","requestId":2}`, func(t *testing.T, _ json.RawMessage) {
			if s := e.charger(t, id).DiagnosticsStatus; s != "Uploaded" {
				t.Errorf("diagnostics (log) status %q", s)
			}
		}},
		{"data transfer", "DataTransfer", `{"vendorId":"com.acme","messageId":"hello","data":{"x":[1,2]}}`, func(t *testing.T, resp json.RawMessage) {
			if string(resp) != `{"status":"UnknownVendorId"}` {
				t.Errorf("DataTransfer = %s", resp)
			}
		}},
		{"security event", "SecurityEventNotification", `{"type":"FirmwareUpdated","timestamp":"2025-06-01T12:00:00Z","techInfo":"from 1.9 to 2.0"}`,
			func(t *testing.T, resp json.RawMessage) {
				if string(resp) != `{}` {
					t.Errorf("SecurityEventNotification = %s", resp)
				}
				logs := e.logs.String()
				if !strings.Contains(logs, "level=INFO msg=\"security event\"") || !strings.Contains(logs, "type=FirmwareUpdated") ||
					!strings.Contains(logs, `techInfo="from 1.9 to 2.0"`) {
					t.Errorf("security event not logged at info with type and techInfo:\n%s", logs)
				}
			}},
		{"report", "NotifyReport",
			`{"requestId":1,"generatedAt":"2025-06-01T12:00:00Z","seqNo":0,"tbc":false,"reportData":[` +
				`{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"},` +
				`"variableAttribute":[{"value":"120","persistent":true},{"type":"MaxSet","value":"3600","mutability":"ReadOnly","constant":true}],` +
				`"variableCharacteristics":{"unit":"s","dataType":"integer","minLimit":1,"maxLimit":86400,"supportsMonitoring":false}},` +
				`{"component":{"name":"Connector","evse":{"id":1,"connectorId":2}},"variable":{"name":"ConnectorType"},` +
				`"variableAttribute":[{"value":"cType2","mutability":"ReadOnly"}],"variableCharacteristics":{"dataType":"string","supportsMonitoring":true}}]}`,
			func(t *testing.T, resp json.RawMessage) {
				if string(resp) != `{}` {
					t.Errorf("NotifyReport = %s", resp)
				}
				vs := e.variables(t, id)
				min, max := 1.0, 86400.0
				want := map[string]charging.VariableReport{
					"OCPPCommCtrlr/HeartbeatInterval": {Component: "OCPPCommCtrlr", Variable: "HeartbeatInterval", Value: "120",
						Mutability: "ReadWrite", Persistent: true, Unit: "s", DataType: "integer", MinLimit: &min, MaxLimit: &max},
					"OCPPCommCtrlr/HeartbeatInterval:MaxSet": {Component: "OCPPCommCtrlr", Variable: "HeartbeatInterval", AttributeType: "MaxSet", Value: "3600",
						Mutability: "ReadOnly", Constant: true, Unit: "s", DataType: "integer", MinLimit: &min, MaxLimit: &max},
					"Connector@1.2/ConnectorType": {Component: "Connector", EVSEID: 1, ConnectorID: 2, Variable: "ConnectorType", Value: "cType2",
						Mutability: "ReadOnly", DataType: "string", SupportsMonitoring: true},
				}
				assertVariables(t, vs, want)
				if cfg := e.charger(t, id).Configuration; cfg["OCPPCommCtrlr/HeartbeatInterval"].Value != "120" || !cfg["Connector@1.2/ConnectorType"].Readonly {
					t.Errorf("configuration view %+v", cfg)
				}
			}},
		{"event", "NotifyEvent",
			`{"generatedAt":"2025-06-01T12:10:00Z","seqNo":0,"eventData":[{"eventId":1,"timestamp":"2025-06-01T12:10:00Z","trigger":"Delta",` +
				`"actualValue":"300","component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"},"eventNotificationType":"HardWiredNotification"}]}`,
			func(t *testing.T, resp json.RawMessage) {
				if string(resp) != `{}` {
					t.Errorf("NotifyEvent = %s", resp)
				}
				got := e.variables(t, id)["OCPPCommCtrlr/HeartbeatInterval"]
				if got.Value != "300" || got.Mutability != "ReadWrite" || got.Unit != "s" || !got.Persistent {
					t.Errorf("variable after the event %+v, want value 300 with the report's metadata kept", got)
				}
				if len(e.variables(t, id)) != 3 {
					t.Errorf("an event replaced the device model: %+v", e.variables(t, id))
				}
			}},
	}
	covered := map[string]bool{}
	for _, s := range steps {
		covered[s.action] = true
		if !t.Run(s.name, func(t *testing.T) { s.check(t, call(t, c, s.action, s.payload)) }) {
			return // later steps build on this one
		}
	}
	for _, a := range []string{"Authorize", "BootNotification", "DataTransfer", "FirmwareStatusNotification", "Heartbeat",
		"LogStatusNotification", "MeterValues", "NotifyEvent", "NotifyReport", "SecurityEventNotification", "StatusNotification", "TransactionEvent"} {
		if !covered[a] {
			t.Errorf("%s is not covered", a)
		}
	}
}

// TestUnsupportedActions: every other action of the registry is known, so
// it is answered NotSupported (NotImplemented is for unknown actions), and
// the CSMS's own actions sent by a charger likewise.
func TestUnsupportedActions(t *testing.T) {
	handled := map[string]bool{"Authorize": true, "BootNotification": true, "DataTransfer": true, "FirmwareStatusNotification": true,
		"Heartbeat": true, "LogStatusNotification": true, "MeterValues": true, "NotifyEvent": true, "NotifyReport": true,
		"SecurityEventNotification": true, "StatusNotification": true, "TransactionEvent": true,
		"OpenPeriodicEventStream": true, "ClosePeriodicEventStream": true}
	e := newEnv(t, envOptions{})
	for _, v := range versions {
		c := e.dial(t, "UNSUP-"+string(v), v, nil)
		var names []string
		if v == ocppj.V201 {
			for _, a := range v201.Actions {
				names = append(names, a.Name)
			}
		} else {
			for _, a := range v21.Actions {
				if a.Response != nil { // the SEND is covered by the hostile tests
					names = append(names, a.Name)
				}
			}
		}
		for _, name := range names {
			if handled[name] {
				continue
			}
			if oe := callError(t, c, name, `{}`); oe.Code != ocppj.NotSupported {
				t.Errorf("%s %s answered %s %q, want NotSupported", v, name, oe.Code, oe.Description)
			}
		}
		if oe := callError(t, c, "Teleport", `{}`); oe.Code != ocppj.NotImplemented {
			t.Errorf("%s unknown action answered %s, want NotImplemented", v, oe.Code)
		}
	}
}

// TestPeriodicEventStream: a 2.1 charger may open and close a periodic
// event stream (Accepted), and the stream's SEND frames are taken without
// an answer; 2.0.1 has no such actions.
func TestPeriodicEventStream(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(t, "STREAM", ocppj.V21, nil)
	open := `{"constantStreamData":{"id":1,"params":{"interval":60,"values":10},"variableMonitoringId":5}}`
	if got := call(t, c, "OpenPeriodicEventStream", open); string(got) != `{"status":"Accepted"}` {
		t.Errorf("OpenPeriodicEventStream answered %s", got)
	}
	if err := c.Send(context.Background(), "NotifyPeriodicEventStream", json.RawMessage(`{"id":1,"pending":0,"basetime":"2025-06-01T12:00:00Z","data":[{"t":0,"v":"1"}]}`)); err != nil {
		t.Fatalf("NotifyPeriodicEventStream: %v", err)
	}
	if got := call(t, c, "ClosePeriodicEventStream", `{"id":1}`); string(got) != `{}` {
		t.Errorf("ClosePeriodicEventStream answered %s", got)
	}
	c201 := e.dial(t, "STREAM201", ocppj.V201, nil)
	if oe := callError(t, c201, "OpenPeriodicEventStream", open); oe.Code != ocppj.NotImplemented {
		t.Errorf("2.0.1 OpenPeriodicEventStream answered %s, want NotImplemented", oe.Code)
	}
}

func assertReadings(t *testing.T, got, want []charging.MeterReading) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("readings %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Timestamp.Equal(w.Timestamp) {
			t.Errorf("reading %d timestamp %v, want %v", i, g.Timestamp, w.Timestamp)
		}
		g.Timestamp, w.Timestamp = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("reading %d = %+v, want %+v", i, g, w)
		}
	}
}

func assertVariables(t *testing.T, got, want map[string]charging.VariableReport) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("device model has %d attributes, want %d: %+v", len(got), len(want), got)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("attribute %s missing", k)
			continue
		}
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) {
			t.Errorf("attribute %s = %s, want %s", k, gj, wj)
		}
	}
}

// TestSessionSameAs16: a 2.0.1 session reported with TransactionEvents
// over the socket is stored as the same transaction, with the same
// readings, as a 1.6 session of the same energy (same charger, card, times
// and meter), apart from the ids and the protocol tag.
func TestSessionSameAs16(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	const id = "SAME"

	c16 := e.dial(t, id, ocppj.V16, nil)
	start := decode[struct{ TransactionId int64 }](t, call(t, c16, "StartTransaction",
		`{"connectorId":1,"idTag":"TAG1","meterStart":1000,"timestamp":"2025-06-01T12:00:00Z"}`))
	call(t, c16, "MeterValues", `{"connectorId":1,"transactionId":`+itoa(start.TransactionId)+`,"meterValue":[{"timestamp":"2025-06-01T12:05:00Z","sampledValue":[`+
		`{"value":"1500.5"},{"value":"7.2","measurand":"Power.Active.Import","unit":"kW","phase":"L1","context":"Sample.Clock","location":"Inlet"}]}]}`)
	call(t, c16, "StopTransaction", `{"transactionId":`+itoa(start.TransactionId)+`,"idTag":"TAG1","meterStop":9000,"timestamp":"2025-06-01T13:00:00Z",`+
		`"reason":"EVDisconnected","transactionData":[{"timestamp":"2025-06-01T13:00:00Z","sampledValue":[{"value":"9000","context":"Transaction.End"}]}]}`)
	c16.Close(1000, "switching to 2.0.1")
	<-c16.Done()

	c2 := e.dial(t, id, ocppj.V201, nil)
	call(t, c2, "TransactionEvent", `{"eventType":"Started","timestamp":"2025-06-01T12:00:00Z","triggerReason":"Authorized","seqNo":0,`+
		`"transactionInfo":{"transactionId":"S-1"},"evse":{"id":1},"idToken":{"idToken":"TAG1","type":"ISO14443"},`+
		`"meterValue":[{"timestamp":"2025-06-01T12:00:00Z","sampledValue":[{"value":1000,"context":"Transaction.Begin"}]}]}`)
	call(t, c2, "TransactionEvent", `{"eventType":"Updated","timestamp":"2025-06-01T12:05:00Z","triggerReason":"MeterValuePeriodic","seqNo":1,`+
		`"transactionInfo":{"transactionId":"S-1"},"meterValue":[{"timestamp":"2025-06-01T12:05:00Z","sampledValue":[`+
		`{"value":1500.5},{"value":7.2,"measurand":"Power.Active.Import","unitOfMeasure":{"unit":"kW"},"phase":"L1","context":"Sample.Clock","location":"Inlet"}]}]}`)
	call(t, c2, "TransactionEvent", `{"eventType":"Ended","timestamp":"2025-06-01T13:00:00Z","triggerReason":"EVDeparted","seqNo":2,`+
		`"transactionInfo":{"transactionId":"S-1","stoppedReason":"EVDisconnected"},"idToken":{"idToken":"TAG1","type":"ISO14443"},`+
		`"meterValue":[{"timestamp":"2025-06-01T13:00:00Z","sampledValue":[{"value":9000,"context":"Transaction.End"}]}]}`)

	tx16, rs16, err := e.svc.Transaction(ctx, start.TransactionId)
	if err != nil {
		t.Fatal(err)
	}
	tx2, rs2 := e.session(t, id, "S-1")
	if tx16.ID == tx2.ID || tx2.ChargerTxID != "S-1" || tx16.Protocol != "ocpp1.6" || tx2.Protocol != "ocpp2.0.1" {
		t.Errorf("ids and protocols: 1.6 %d %q %s, 2.0.1 %d %q %s", tx16.ID, tx16.ChargerTxID, tx16.Protocol, tx2.ID, tx2.ChargerTxID, tx2.Protocol)
	}
	norm := func(tx charging.Transaction) string {
		tx.ID, tx.ChargerTxID, tx.Protocol = 0, "", ""
		b, _ := json.Marshal(tx)
		return string(b)
	}
	if a, b := norm(tx16), norm(tx2); a != b {
		t.Errorf("sessions differ:\n1.6   %s\n2.0.1 %s", a, b)
	}
	// The 2.0.1 Started event carries its start meter as a reading; 1.6's
	// StartTransaction carries it as meterStart only.
	begin := slices.IndexFunc(rs2, func(r charging.MeterReading) bool { return r.Context == "Transaction.Begin" })
	if begin < 0 {
		t.Fatalf("2.0.1 readings %+v lack the Transaction.Begin reading", rs2)
	}
	rs2 = slices.Delete(rs2, begin, begin+1)
	sortReadings(rs16)
	sortReadings(rs2)
	assertReadings(t, rs2, rs16)
}

func sortReadings(rs []charging.MeterReading) {
	slices.SortFunc(rs, func(a, b charging.MeterReading) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
