package csms_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
)

// TestChargerToCSMS plays a charging session of a 1.6 charger. Every
// answer is checked against the official schema, and the domain state is
// read right after each CALLRESULT arrives: the CSMS answers only after
// the change is committed.
func TestChargerToCSMS(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	c := e.dial(t, "CP1", "", nil)
	charger := func(t *testing.T) charging.Charger {
		t.Helper()
		ch, err := e.svc.Charger(ctx, "CP1")
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	var txID int

	steps := []struct {
		action, payload string
		check           func(t *testing.T, resp json.RawMessage)
	}{
		{"BootNotification", `{"chargePointVendor":"Acme","chargePointModel":"Volt","chargeBoxSerialNumber":"SN-1","firmwareVersion":"1.2.3"}`,
			func(t *testing.T, resp json.RawMessage) {
				r := decode[struct {
					Status      string
					CurrentTime time.Time
					Interval    int
				}](t, resp)
				if r.Status != "Accepted" || r.Interval != 120 || !r.CurrentTime.Equal(t0) {
					t.Errorf("answer %s, want Accepted, interval 120 (the domain's), time %v", resp, t0)
				}
				ch := charger(t)
				if ch.Vendor != "Acme" || ch.Model != "Volt" || ch.SerialNumber != "SN-1" || ch.FirmwareVersion != "1.2.3" || !ch.LastBoot.Equal(t0) {
					t.Errorf("charger after boot: %+v", ch)
				}
				if !ch.Connected || ch.Protocol != "ocpp1.6" {
					t.Errorf("charger connected=%t protocol=%q, want true ocpp1.6", ch.Connected, ch.Protocol)
				}
			}},
		{"Heartbeat", `{}`, func(t *testing.T, resp json.RawMessage) {
			if r := decode[struct{ CurrentTime time.Time }](t, resp); !r.CurrentTime.Equal(t0) {
				t.Errorf("heartbeat time %v, want %v", r.CurrentTime, t0)
			}
		}},
		{"Authorize", `{"idTag":"TAG1"}`, func(t *testing.T, resp json.RawMessage) {
			if string(resp) != `{"idTagInfo":{"parentIdTag":"GROUP","status":"Accepted"}}` {
				t.Errorf("Authorize TAG1 = %s", resp)
			}
		}},
		{"Authorize", `{"idTag":"STRANGER"}`, func(t *testing.T, resp json.RawMessage) {
			if string(resp) != `{"idTagInfo":{"status":"Invalid"}}` {
				t.Errorf("Authorize of an unknown tag under the strict policy = %s", resp)
			}
		}},
		{"StatusNotification", `{"connectorId":1,"errorCode":"NoError","status":"Preparing","info":"plugged","timestamp":"2025-06-01T11:59:00Z","vendorId":"Acme","vendorErrorCode":"E0"}`,
			func(t *testing.T, _ json.RawMessage) {
				ch := charger(t)
				if len(ch.Connectors) != 1 {
					t.Fatalf("connectors %+v", ch.Connectors)
				}
				k := ch.Connectors[0]
				if k.ID != 1 || k.Status != charging.StatusPreparing || k.ErrorCode != "NoError" || k.Info != "plugged" ||
					k.VendorID != "Acme" || k.VendorErrorCode != "E0" || !k.Timestamp.Equal(t0.Add(-time.Minute)) {
					t.Errorf("connector %+v", k)
				}
			}},
		{"StartTransaction", `{"connectorId":1,"idTag":"TAG1","meterStart":1000,"timestamp":"2025-06-01T12:00:00Z"}`,
			func(t *testing.T, resp json.RawMessage) {
				r := decode[struct {
					TransactionId int
					IdTagInfo     struct{ Status string }
				}](t, resp)
				txID = r.TransactionId
				if r.IdTagInfo.Status != "Accepted" || txID <= 0 {
					t.Fatalf("StartTransaction = %s", resp)
				}
				tx, _, err := e.svc.Transaction(ctx, int64(txID))
				if err != nil {
					t.Fatal(err)
				}
				if tx.ChargerID != "CP1" || tx.ConnectorID != 1 || tx.IDTag != "TAG1" || tx.MeterStartWh != 1000 || !tx.Active() || !tx.StartTime.Equal(t0) {
					t.Errorf("transaction %+v", tx)
				}
			}},
		{"MeterValues", `{"connectorId":1,"transactionId":1,"meterValue":[{"timestamp":"2025-06-01T12:05:00Z","sampledValue":[{"value":"1500.5"},{"value":"7.2","measurand":"Power.Active.Import","unit":"kW","phase":"L1","context":"Sample.Clock","location":"Inlet","format":"Raw"}]}]}`,
			func(t *testing.T, _ json.RawMessage) {
				_, rs, err := e.svc.Transaction(ctx, int64(txID))
				if err != nil {
					t.Fatal(err)
				}
				ts := t0.Add(5 * time.Minute)
				want := []charging.MeterReading{
					// 1.6 defaults stored explicitly; the value as sent.
					{Timestamp: ts, Value: "1500.5", Measurand: "Energy.Active.Import.Register", Unit: "Wh", Context: "Sample.Periodic", Location: "Outlet", Format: "Raw"},
					{Timestamp: ts, Value: "7.2", Measurand: "Power.Active.Import", Phase: "L1", Unit: "kW", Context: "Sample.Clock", Location: "Inlet", Format: "Raw"},
				}
				assertReadings(t, rs, want)
			}},
		{"StopTransaction", `{"transactionId":1,"idTag":"TAG1","meterStop":9000,"timestamp":"2025-06-01T13:00:00Z","reason":"EVDisconnected","transactionData":[{"timestamp":"2025-06-01T13:00:00Z","sampledValue":[{"value":"9000","context":"Transaction.End"}]}]}`,
			func(t *testing.T, resp json.RawMessage) {
				if string(resp) != `{"idTagInfo":{"parentIdTag":"GROUP","status":"Accepted"}}` {
					t.Errorf("StopTransaction = %s", resp)
				}
				tx, rs, err := e.svc.Transaction(ctx, int64(txID))
				if err != nil {
					t.Fatal(err)
				}
				if tx.Active() || tx.MeterStopWh == nil || *tx.MeterStopWh != 9000 || tx.StopReason != "EVDisconnected" || tx.StopIDTag != "TAG1" || !tx.StopTime.Equal(t0.Add(time.Hour)) {
					t.Errorf("stopped transaction %+v", tx)
				}
				if len(rs) != 3 {
					t.Fatalf("readings %+v, want the 2 meter values and the stop's transactionData", rs)
				}
				assertReadings(t, rs[2:], []charging.MeterReading{{Timestamp: t0.Add(time.Hour), Value: "9000",
					Measurand: "Energy.Active.Import.Register", Unit: "Wh", Context: "Transaction.End", Location: "Outlet", Format: "Raw"}})
			}},
		{"StopTransaction", `{"transactionId":1,"meterStop":9000,"timestamp":"2025-06-01T13:00:00Z"}`,
			func(t *testing.T, resp json.RawMessage) {
				if string(resp) != `{}` {
					t.Errorf("StopTransaction without idTag = %s, want no idTagInfo", resp)
				}
			}},
		{"FirmwareStatusNotification", `{"status":"Downloading"}`, func(t *testing.T, _ json.RawMessage) {
			if s := charger(t).FirmwareStatus; s != "Downloading" {
				t.Errorf("firmware status %q", s)
			}
		}},
		{"DiagnosticsStatusNotification", `{"status":"Uploaded"}`, func(t *testing.T, _ json.RawMessage) {
			if s := charger(t).DiagnosticsStatus; s != "Uploaded" {
				t.Errorf("diagnostics status %q", s)
			}
		}},
		{"DataTransfer", `{"vendorId":"com.acme","messageId":"hello","data":"x"}`, func(t *testing.T, resp json.RawMessage) {
			if string(resp) != `{"status":"UnknownVendorId"}` {
				t.Errorf("DataTransfer = %s", resp)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.action, func(t *testing.T) { s.check(t, call(t, c, s.action, s.payload)) }) {
			return // later steps build on this one
		}
	}

}

func assertReadings(t *testing.T, got, want []charging.MeterReading) {
	t.Helper()
	if len(got) < len(want) {
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

// TestCallErrors: what a 1.6 charger is told when the CSMS cannot do what it asks.
func TestCallErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(t, "CP1", "", nil)
	tests := []struct {
		name, action, payload string
		code                  ocppj.ErrorCode
		desc                  string // must appear in the description
	}{
		{"CSMS-to-charger action", "Reset", `{"type":"Soft"}`, ocppj.NotSupported, "Reset"},
		{"security extension", "SecurityEventNotification", `{"type":"x","timestamp":"2025-06-01T12:00:00Z"}`, ocppj.NotSupported, "security"},
		{"security extension command", "SignCertificate", `{"csr":"x"}`, ocppj.NotSupported, "SignCertificate"},
		{"unknown action", "Teleport", `{}`, ocppj.NotImplemented, "Teleport"},
		{"malformed payload", "StatusNotification", `{"connectorId":1,"errorCode":"NoError"}`, ocppj.OccurrenceConstraintViolation, "status"},
		{"negative meterStart", "StartTransaction", `{"connectorId":1,"idTag":"TAG1","meterStart":-5,"timestamp":"2025-06-01T12:00:00Z"}`, ocppj.PropertyConstraintViolation, "meterStart"},
		{"negative meterStop", "StopTransaction", `{"transactionId":1,"meterStop":-1,"timestamp":"2025-06-01T12:00:00Z"}`, ocppj.PropertyConstraintViolation, "meterStop"},
		{"negative energy register", "MeterValues", `{"connectorId":1,"meterValue":[{"timestamp":"2025-06-01T12:00:00Z","sampledValue":[{"value":"-3"}]}]}`, ocppj.PropertyConstraintViolation, "meterValue[0].value"},
		{"value not a number", "MeterValues", `{"connectorId":1,"meterValue":[{"timestamp":"2025-06-01T12:00:00Z","sampledValue":[{"value":"lots"}]}]}`, ocppj.PropertyConstraintViolation, "meterValue[0].value"},
		{"empty idTag", "Authorize", `{"idTag":""}`, ocppj.PropertyConstraintViolation, "idTag"},
		{"negative connector", "StatusNotification", `{"connectorId":-1,"errorCode":"NoError","status":"Available"}`, ocppj.PropertyConstraintViolation, "connectorId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oe := callError(t, c, tc.action, tc.payload)
			if oe.Code != tc.code || !strings.Contains(oe.Description, tc.desc) {
				t.Errorf("%s answered %s %q, want %s mentioning %q", tc.action, oe.Code, oe.Description, tc.code, tc.desc)
			}
		})
	}
	// Nothing refused was stored.
	txs, err := e.svc.Transactions(context.Background(), charging.TransactionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) != 0 {
		t.Errorf("refused calls stored transactions: %+v", txs)
	}
	ch, err := e.svc.Charger(context.Background(), "CP1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Connectors) != 0 {
		t.Errorf("refused calls stored connectors: %+v", ch.Connectors)
	}
}

// TestInternalError: a domain failure that is not the charger's fault is
// answered InternalError with a generic description, and logged.
func TestInternalError(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(t, "CP1", "", nil)
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	oe := callError(t, c, "StatusNotification", `{"connectorId":1,"errorCode":"NoError","status":"Available"}`)
	if oe.Code != ocppj.InternalError || oe.Description != "internal error" {
		t.Errorf("answer %s %q, want InternalError with a generic description", oe.Code, oe.Description)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "store: closed") || !strings.Contains(logs, "charger=CP1") {
		t.Errorf("the failure was not logged with its cause and charger:\n%s", logs)
	}
}

// TestLenient: leniency is per charger, and what it accepts is logged with
// the charger and the field.
func TestLenient(t *testing.T) {
	e := newEnv(t, envOptions{lenient: func(id string) bool { return id == "LAX" }})
	boot := `{"chargePointVendor":"A Very Long Vendor Name GmbH","chargePointModel":"M"}`

	strict := e.dial(t, "STRICT", "", nil)
	if oe := callError(t, strict, "BootNotification", boot); oe.Code != ocppj.PropertyConstraintViolation || !strings.Contains(oe.Description, "chargePointVendor") {
		t.Errorf("strict charger: %s %q, want PropertyConstraintViolation on chargePointVendor", oe.Code, oe.Description)
	}

	lax := e.dial(t, "LAX", "", nil)
	resp, err := lax.Call(context.Background(), "BootNotification", json.RawMessage(boot))
	if err != nil {
		t.Fatalf("lenient charger: %v", err)
	}
	if r := decode[struct{ Status string }](t, resp); r.Status != "Accepted" {
		t.Errorf("lenient boot answered %s", resp)
	}
	ch, err := e.svc.Charger(context.Background(), "LAX")
	if err != nil {
		t.Fatal(err)
	}
	if ch.Vendor != "A Very Long Vendor Name GmbH" {
		t.Errorf("vendor %q, want it kept as sent", ch.Vendor)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "charger=LAX") || !strings.Contains(logs, "field=chargePointVendor") {
		t.Errorf("the accepted quirk was not logged with charger and field:\n%s", logs)
	}
}

// TestDefaultVersions: by default every version is served, the most
// recent the charger offers first; a charger offering only 1.6 gets 1.6.
func TestDefaultVersions(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct {
		offer []ocppj.Version
		want  ocppj.Version
	}{
		{ocppj.Versions, ocppj.V21},
		{[]ocppj.Version{ocppj.V16, ocppj.V201}, ocppj.V201},
		{[]ocppj.Version{ocppj.V201}, ocppj.V201},
		{[]ocppj.Version{ocppj.V21}, ocppj.V21},
		{[]ocppj.Version{ocppj.V16}, ocppj.V16},
	} {
		c, err := rpc.Dial(context.Background(), e.url+"CPV", rpc.DialOptions{Versions: tc.offer})
		if err != nil {
			t.Fatalf("offering %v: %v", tc.offer, err)
		}
		if c.Version() != tc.want {
			t.Errorf("offering %v negotiated %s, want %s", tc.offer, c.Version(), tc.want)
		}
		// Each version is served by its adapter.
		if _, err := c.Call(context.Background(), "Heartbeat", json.RawMessage(`{}`)); err != nil {
			t.Errorf("%s Heartbeat: %v", c.Version(), err)
		}
		c.Close(1000, "")
		<-c.Done()
	}
}

// TestVersionsRestricted: a charger offering only versions that are not
// enabled is refused at the handshake.
func TestVersionsRestricted(t *testing.T) {
	e := newEnv(t, envOptions{versions: []ocppj.Version{ocppj.V16}})
	_, err := rpc.Dial(context.Background(), e.url+"CP201", rpc.DialOptions{Versions: []ocppj.Version{ocppj.V201, ocppj.V21}})
	var he *rpc.HandshakeError
	if !errors.As(err, &he) {
		t.Errorf("a 2.x-only charger: %v, want the handshake refused (only 1.6 enabled)", err)
	}
	call(t, e.dial(t, "CP16", "", nil), "Heartbeat", `{}`)
}

// TestLifecycle: connections and their end reach the domain; Shutdown
// ends Ready and closes every connection.
func TestLifecycle(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	c := e.dial(t, "CP1", "", nil)
	if ch, err := e.svc.Charger(ctx, "CP1"); err != nil || !ch.Connected {
		t.Fatalf("after connecting: %+v, %v", ch, err)
	}
	if !e.cs.Ready() {
		t.Error("not Ready before Shutdown")
	}
	// Shutdown returns after every Disconnected was delivered.
	if err := e.cs.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if e.cs.Ready() {
		t.Error("Ready after Shutdown")
	}
	<-c.Done()
	if ch, err := e.svc.Charger(ctx, "CP1"); err != nil || ch.Connected {
		t.Errorf("after Shutdown: %+v, %v; want disconnected", ch, err)
	}
	if _, err := e.cs.Send(ctx, "CP1", "ClearCache", nil); !errors.Is(err, charging.ErrNotConnected) {
		t.Errorf("Send after Shutdown: %v, want ErrNotConnected", err)
	}
	_, err := rpc.Dial(ctx, e.url+"CP2", rpc.DialOptions{Versions: []ocppj.Version{ocppj.V16}})
	if he := (*rpc.HandshakeError)(nil); !errors.As(err, &he) || he.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Shutdown: %v, want HTTP 503", err)
	}
}

// TestLateDisconnect: the end of a charger's old connection, reported
// after its new connection is up, does not mark the charger disconnected.
func TestLateDisconnect(t *testing.T) {
	e := newEnv(t, envOptions{})
	// Two connections of charger X, from a plain rpc server as their peer.
	peer := httptest.NewServer(rpc.NewServer(rpc.ServerOptions{PingInterval: -1}))
	t.Cleanup(peer.Close)
	url := "ws" + strings.TrimPrefix(peer.URL, "http") + "/ocpp/X"
	conns := make([]*rpc.Conn, 2)
	for i := range conns {
		c, err := rpc.Dial(context.Background(), url, rpc.DialOptions{Versions: []ocppj.Version{ocppj.V16}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(1000, "") })
		conns[i] = c
	}
	old, cur := conns[0], conns[1]
	connected := func() bool {
		ch, err := e.svc.Charger(context.Background(), "X")
		if err != nil {
			t.Fatal(err)
		}
		return ch.Connected
	}

	e.cs.Connected(old)
	e.cs.Connected(cur)
	e.cs.Disconnected(old, rpc.ErrClosed)
	if !connected() {
		t.Error("the old connection's late end marked the charger disconnected")
	}
	e.cs.Disconnected(cur, rpc.ErrClosed)
	if connected() {
		t.Error("the current connection's end did not mark the charger disconnected")
	}
}

// TestChargerAddresses: each connected charger with the address it
// connects from; a charger that left is not listed.
func TestChargerAddresses(t *testing.T) {
	e := newEnv(t, envOptions{})
	c1 := e.dial(t, "CP1", ocppj.V16, nil)
	e.dial(t, "CP2", ocppj.V201, nil)
	local := netip.MustParseAddr("127.0.0.1")
	if got := e.cs.ChargerAddresses(); !maps.Equal(got, map[charging.ChargerID]netip.Addr{"CP1": local, "CP2": local}) {
		t.Fatalf("addresses %v", got)
	}
	c1.Close(1000, "bye")
	<-c1.Done()
	deadline := time.Now().Add(5 * time.Second)
	for len(e.cs.ChargerAddresses()) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("addresses %v after CP1 left", e.cs.ChargerAddresses())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
