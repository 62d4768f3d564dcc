package v2_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

// TestHostileInput sends malformed and hostile frames from raw 2.0.1 and
// 2.1 connections. Each gets the CALLERROR the version spells (or, for what
// has no answer, none: the next frame is the probe's result); the
// connection stays usable; nothing stored changes; and a well-behaved
// charger with a session in progress is not affected.
func TestHostileInput(t *testing.T) {
	e := newEnv(t, envOptions{})
	good := e.dialRaw(t, "GOOD", ocppj.V21)
	good.call("BootNotification", `{"reason":"PowerUp","chargingStation":{"vendorName":"Acme","model":"X1"}}`)
	good.call("TransactionEvent", `{"eventType":"Started","timestamp":"2025-06-01T12:00:00Z","triggerReason":"Authorized","seqNo":0,`+
		`"transactionInfo":{"transactionId":"G-1"},"evse":{"id":1,"connectorId":1},"idToken":{"idToken":"TAG1","type":"ISO14443"}}`)

	const boot = `{"reason":"PowerUp","chargingStation":{"vendorName":"Evil","model":"X"}}`
	const status = `"timestamp":"2025-06-01T12:00:00Z","connectorStatus":"Available"`
	event := func(seqNo, extra string) string {
		return `{"eventType":"Updated","timestamp":"2025-06-01T12:00:00Z","triggerReason":"Trigger","seqNo":` + seqNo +
			`,"transactionInfo":{"transactionId":"E-1"}` + extra + `}`
	}
	all := versions
	only := func(v ocppj.Version) []ocppj.Version { return []ocppj.Version{v} }
	cases := []struct {
		name     string
		versions []ocppj.Version
		frame    string
		code     string // the CALLERROR code on the wire; "" means no answer at all
	}{
		// Message types.
		{"SEND of a CALL action", only(ocppj.V21), `[6,"h1","BootNotification",` + boot + `]`, ""},
		{"SEND of a CALL action that would store", only(ocppj.V21), `[6,"h2","TransactionEvent",` + event("0", "") + `]`, ""},
		{"SEND of an unknown action", only(ocppj.V21), `[6,"h3","Teleport",{}]`, ""},
		{"SEND of a periodic event stream", only(ocppj.V21), `[6,"h4","NotifyPeriodicEventStream",{"id":1,"pending":0,"basetime":"2025-06-01T12:00:00Z","data":[{"t":0,"v":"1"}]}]`, ""},
		{"malformed periodic event stream", only(ocppj.V21), `[6,"h5","NotifyPeriodicEventStream",{"id":"x"}]`, ""},
		{"periodic event stream as CALL", only(ocppj.V21), `[2,"h6","NotifyPeriodicEventStream",{"id":1,"pending":0,"basetime":"2025-06-01T12:00:00Z","data":[{"t":0,"v":"1"}]}]`, "RpcFrameworkError"},
		{"SEND on 2.0.1", only(ocppj.V201), `[6,"h7","BootNotification",` + boot + `]`, "MessageTypeNotSupported"},
		{"CALLRESULTERROR for an unknown id", only(ocppj.V21), `[5,"nobody-asked","InternalError","oops",{}]`, ""},
		{"CALLRESULTERROR on 2.0.1", only(ocppj.V201), `[5,"nobody-asked","InternalError","oops",{}]`, "MessageTypeNotSupported"},
		{"CALLRESULT for an unknown id", all, `[3,"nobody-asked",{}]`, ""},
		{"unknown message type", all, `[7,"h8","Heartbeat",{}]`, "MessageTypeNotSupported"},
		// Actions.
		{"unknown action", all, `[2,"h10","Teleport",{}]`, "NotImplemented"},
		{"CSMS action from a charger", all, `[2,"h11","Reset",{"type":"Immediate"}]`, "NotSupported"},
		{"charger action not supported", all, `[2,"h12","SignCertificate",{"csr":"x"}]`, "NotSupported"},
		{"1.6 action", all, `[2,"h13","StartTransaction",{"connectorId":1,"idTag":"T","meterStart":0,"timestamp":"2025-06-01T12:00:00Z"}]`, "NotImplemented"},
		// Payloads: the version's codes, 2.x spelling.
		{"unknown field", all, `[2,"h20","Heartbeat",{"extra":1}]`, "FormatViolation"},
		{"unknown nested field", all, `[2,"h21","BootNotification",{"reason":"PowerUp","chargingStation":{"vendorName":"Evil","model":"X","colour":"red"}}]`, "FormatViolation"},
		{"wrong type", all, `[2,"h22","StatusNotification",{` + status + `,"evseId":"1","connectorId":1}]`, "TypeConstraintViolation"},
		{"number as string", all, `[2,"h23","MeterValues",{"evseId":1,"meterValue":[{"timestamp":"2025-06-01T12:00:00Z","sampledValue":[{"value":"12"}]}]}]`, "TypeConstraintViolation"},
		{"missing required", all, `[2,"h24","StatusNotification",{"timestamp":"2025-06-01T12:00:00Z","evseId":1,"connectorId":1}]`, "OccurrenceConstraintViolation"},
		{"missing transactionInfo", all, `[2,"h25","TransactionEvent",{"eventType":"Started","timestamp":"2025-06-01T12:00:00Z","triggerReason":"Authorized","seqNo":0}]`, "OccurrenceConstraintViolation"},
		{"empty sampledValue", all, `[2,"h26","MeterValues",{"evseId":1,"meterValue":[{"timestamp":"2025-06-01T12:00:00Z","sampledValue":[]}]}]`, "OccurrenceConstraintViolation"},
		{"status not in enum", all, `[2,"h27","StatusNotification",{"timestamp":"2025-06-01T12:00:00Z","connectorStatus":"Sleeping","evseId":1,"connectorId":1}]`, "PropertyConstraintViolation"},
		{"over-long transactionId", all, `[2,"h28","TransactionEvent",{"eventType":"Started","timestamp":"2025-06-01T12:00:00Z","triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":"` + strings.Repeat("x", 37) + `"}}]`, "PropertyConstraintViolation"},
		{"bad timestamp", all, `[2,"h29","StatusNotification",{"timestamp":"yesterday","connectorStatus":"Available","evseId":1,"connectorId":1}]`, "PropertyConstraintViolation"},
		{"negative seqNo", all, `[2,"h30","TransactionEvent",` + event("-1", "") + `]`, "PropertyConstraintViolation"},
		{"negative evseId", all, `[2,"h31","StatusNotification",{` + status + `,"evseId":-1,"connectorId":1}]`, "PropertyConstraintViolation"},
		{"connector without an EVSE", all, `[2,"h32","StatusNotification",{` + status + `,"evseId":0,"connectorId":1}]`, "PropertyConstraintViolation"},
		{"negative energy register", all, `[2,"h33","MeterValues",{"evseId":1,"meterValue":[{"timestamp":"2025-06-01T12:00:00Z","sampledValue":[{"value":-3}]}]}]`, "PropertyConstraintViolation"},
		{"multiplier out of range", all, `[2,"h34","MeterValues",{"evseId":1,"meterValue":[{"timestamp":"2025-06-01T12:00:00Z","sampledValue":[{"value":3,"unitOfMeasure":{"multiplier":1000}}]}]}]`, "PropertyConstraintViolation"},
		{"unknown eventType", all, `[2,"h35","TransactionEvent",{"eventType":"Paused","timestamp":"2025-06-01T12:00:00Z","triggerReason":"Trigger","seqNo":0,"transactionInfo":{"transactionId":"E-1"}}]`, "PropertyConstraintViolation"},
		{"empty idToken in Authorize", all, `[2,"h36","Authorize",{"idToken":{"idToken":"","type":"NoAuthorization"}}]`, "PropertyConstraintViolation"},
		{"duplicate key", all, `[2,"h37","Heartbeat",{"customData":{"vendorId":"a"},"customData":{"vendorId":"b"}}]`, "FormatViolation"},
		{"payload not an object", all, `[2,"h38","Heartbeat",[]]`, "FormatViolation"},
		{"deeply nested vendor data", all, `[2,"h39","DataTransfer",{"vendorId":"v","data":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}]`, "FormatViolation"},
	}

	evil := map[ocppj.Version]*rawCharger{}
	for _, v := range versions {
		evil[v] = e.dialRaw(t, "EVIL-"+string(v), v)
		evil[v].call("BootNotification", `{"reason":"PowerUp","chargingStation":{"vendorName":"Acme","model":"X1"}}`)
	}
	before := e.snapshot(t)
	for _, tc := range cases {
		for _, v := range tc.versions {
			t.Run(string(v)+"/"+tc.name, func(t *testing.T) {
				c := evil[v]
				c.t = t
				c.send(tc.frame)
				if tc.code != "" {
					if f := c.next(); f.err != nil {
						t.Fatalf("connection lost: %v", f.err)
					} else {
						var arr []json.RawMessage
						if err := json.Unmarshal(f.data, &arr); err != nil || len(arr) < 3 {
							t.Fatalf("answer %s", f.data)
						}
						if code := errorCode(t, arr); code != tc.code {
							t.Fatalf("answer %s: code %q, want %q", f.data, code, tc.code)
						}
					}
				}
				c.probe() // no (other) answer, connection usable
				good.t = t
				good.probe()
			})
		}
	}
	for _, c := range evil {
		c.t = t
	}
	good.t = t
	if after := e.snapshot(t); after != before {
		t.Errorf("stored data changed:\nbefore %s\nafter  %s", before, after)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "SEND of an action that is not sent with SEND: dropped") {
		t.Errorf("a dropped SEND was not logged:\n%s", logs)
	}
	if !strings.Contains(logs, "level=DEBUG msg=\"periodic event stream data ignored\"") {
		t.Errorf("the periodic event stream was not taken (debug log):\n%s", logs)
	}
	if strings.Contains(logs, "handler failed") {
		t.Errorf("a hostile input was an internal error:\n%s", logs)
	}
}

// TestLenientUnknownFields: unknown fields are a FormatViolation for a
// strict charger and accepted, with a logged warning, for a lenient one.
func TestLenientUnknownFields(t *testing.T) {
	e := newEnv(t, envOptions{lenient: func(id string) bool { return strings.HasPrefix(id, "LAX") }})
	const boot = `{"reason":"PowerUp","chargingStation":{"vendorName":"Acme","model":"X","colour":"red"},"firmware":"1"}`
	for _, v := range versions {
		strict := e.dialRaw(t, "STRICT-"+string(v), v)
		if code := errorCode(t, strict.call("BootNotification", boot)); code != "FormatViolation" {
			t.Errorf("%s strict: %s, want FormatViolation", v, code)
		}
		lax := e.dialRaw(t, "LAX-"+string(v), v)
		if ans := lax.call("BootNotification", boot); string(ans[0]) != "3" {
			t.Errorf("%s lenient: answered %s", v, ans)
		}
		if ch := e.charger(t, charging.ChargerID("LAX-"+string(v))); ch.Vendor != "Acme" {
			t.Errorf("%s lenient boot not recorded: %+v", v, ch)
		}
	}
	if logs := e.logs.String(); !strings.Contains(logs, "charger=LAX-ocpp2.0.1") || !strings.Contains(logs, "chargingStation.colour") {
		t.Errorf("the accepted quirk was not logged with charger and field:\n%s", logs)
	}
}

// TestTransactionEventTolerance: what the 2.x session rules accept rather
// than refuse (a charger that is refused retries forever, and what it
// reports happened): each is applied and recorded on the session.
func TestTransactionEventTolerance(t *testing.T) {
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, envOptions{})
			c := e.dialRaw(t, "TOL", v)
			ev := func(kind, txID string, seqNo int, extra string) string {
				return fmt.Sprintf(`{"eventType":%q,"timestamp":"2025-06-01T12:%02d:00Z","triggerReason":"Trigger","seqNo":%d,"transactionInfo":{"transactionId":%q}%s}`,
					kind, seqNo, seqNo, txID, extra)
			}
			ok := func(action, payload string) {
				t.Helper()
				if ans := c.call(action, payload); string(ans[0]) != "3" {
					t.Fatalf("%s %s answered %s", action, payload, ans)
				}
			}

			t.Run("wrong seqNo order", func(t *testing.T) {
				c.t = t
				ok("TransactionEvent", ev("Started", "ORD", 0, `,"evse":{"id":1}`))
				ok("TransactionEvent", ev("Updated", "ORD", 2, ""))
				tx, _ := e.session(t, "TOL", "ORD")
				if tx.SeqNoGaps != 1 || !slices.Equal(tx.MissingSeqNos, []int{1}) {
					t.Errorf("after 0, 2: gaps %d missing %v, want 1 [1]", tx.SeqNoGaps, tx.MissingSeqNos)
				}
				ok("TransactionEvent", ev("Updated", "ORD", 1, ""))
				tx, _ = e.session(t, "TOL", "ORD")
				if tx.SeqNoGaps != 0 || len(tx.MissingSeqNos) != 0 || tx.OutOfOrderEvents != 1 || !tx.Active() {
					t.Errorf("after 0, 2, 1: %+v, want no gap, one out-of-order event", tx)
				}
				before := e.snapshot(t)
				ok("TransactionEvent", ev("Updated", "ORD", 1, "")) // a retransmission under a new message id
				if e.snapshot(t) != before {
					t.Error("a repeated seqNo changed the stored data")
				}
			})
			t.Run("Ended before Started", func(t *testing.T) {
				c.t = t
				ok("TransactionEvent", ev("Ended", "EBS", 1, `,"meterValue":[{"timestamp":"2025-06-01T12:01:00Z","sampledValue":[{"value":5000,"context":"Transaction.End"}]}]`))
				tx, _ := e.session(t, "TOL", "EBS")
				if !tx.StartedImplicitly || tx.Active() || tx.MeterStopWh == nil || *tx.MeterStopWh != 5000 {
					t.Errorf("after Ended alone: %+v, want an implicitly started, stopped session", tx)
				}
				ok("TransactionEvent", ev("Started", "EBS", 0, `,"meterValue":[{"timestamp":"2025-06-01T12:00:00Z","sampledValue":[{"value":1000,"context":"Transaction.Begin"}]}]`))
				tx, _ = e.session(t, "TOL", "EBS")
				if tx.StartedImplicitly || tx.Active() || tx.MeterStartWh != 1000 || !tx.StartTime.Equal(t0) {
					t.Errorf("after the late Started: %+v, want its start filled in, still stopped", tx)
				}
			})
			t.Run("unknown transactionId in Updated", func(t *testing.T) {
				c.t = t
				ok("TransactionEvent", ev("Updated", "NEVER-STARTED", 5, `,"evse":{"id":2}`))
				tx, _ := e.session(t, "TOL", "NEVER-STARTED")
				if !tx.StartedImplicitly || !tx.Active() || tx.ConnectorID != 2 {
					t.Errorf("session %+v, want an implicitly started active session on EVSE 2", tx)
				}
			})
			t.Run("unknown EVSE", func(t *testing.T) {
				c.t = t
				ok("StatusNotification", `{"timestamp":"2025-06-01T12:00:00Z","connectorStatus":"Faulted","evseId":99,"connectorId":1}`)
				ok("TransactionEvent", ev("Started", "FAR", 0, `,"evse":{"id":99,"connectorId":1}`))
				cs := e.charger(t, "TOL").Connectors
				if !slices.ContainsFunc(cs, func(k charging.Connector) bool { return k.ID == 99 && k.EVSEConnectorID == 1 }) {
					t.Errorf("connectors %+v, want EVSE 99 recorded as reported", cs)
				}
				if tx, _ := e.session(t, "TOL", "FAR"); tx.ConnectorID != 99 {
					t.Errorf("session %+v, want EVSE 99", tx)
				}
			})
			t.Run("token without id (NoAuthorization)", func(t *testing.T) {
				c.t = t
				ans := c.call("TransactionEvent", ev("Started", "FREE", 0, `,"idToken":{"idToken":"","type":"NoAuthorization"}`))
				if string(ans[0]) != "3" || string(ans[2]) != `{}` {
					t.Fatalf("answered %s, want {} (no token to answer)", ans)
				}
				if tx, _ := e.session(t, "TOL", "FREE"); tx.IDTag != "" {
					t.Errorf("session %+v, want no id tag", tx)
				}
			})
		})
	}
}

// TestOversizedReport: a NotifyReport over the frame limit closes the
// connection with 1009 and stores nothing; a large one within it is
// stored whole.
func TestOversizedReport(t *testing.T) {
	const limit = 64 << 10
	e := newEnv(t, envOptions{maxFrameSize: limit})
	report := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"requestId":1,"generatedAt":"2025-06-01T12:00:00Z","seqNo":0,"reportData":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"component":{"name":"Comp%d"},"variable":{"name":"Var"},"variableAttribute":[{"value":"%s","mutability":"ReadOnly"}],"variableCharacteristics":{"dataType":"string","supportsMonitoring":false}}`,
				i, strings.Repeat("v", 100))
		}
		b.WriteString(`]}`)
		return b.String()
	}
	for _, v := range versions {
		t.Run(string(v), func(t *testing.T) {
			big := report(200) // about 57 KiB
			if len(big) > limit-100 || len(big) < limit/2 {
				t.Fatalf("test report is %d bytes; adjust it to just under the limit", len(big))
			}
			ok := e.dialRaw(t, "BIGOK-"+string(v), v)
			if ans := ok.call("NotifyReport", big); string(ans[0]) != "3" {
				t.Fatalf("large report answered %s", ans)
			}
			if vs := e.variables(t, charging.ChargerID("BIGOK-"+string(v))); len(vs) != 200 {
				t.Errorf("large report stored %d attributes, want 200", len(vs))
			}

			tooBig := e.dialRaw(t, "BIGBAD-"+string(v), v)
			tooBig.ws.WriteMessage(websocket.TextMessage, []byte(`[2,"b1","NotifyReport",`+report(300)+`]`)) // may fail once the CSMS closes
			for {
				f := tooBig.next()
				if f.err == nil {
					continue
				}
				if !websocket.IsCloseError(f.err, websocket.CloseMessageTooBig) {
					t.Fatalf("connection ended with %v, want close code 1009", f.err)
				}
				break
			}
			if _, err := e.svc.Variables(context.Background(), charging.ChargerID("BIGBAD-"+string(v))); err == nil {
				t.Error("the oversized report stored a device model")
			}
		})
	}
}
