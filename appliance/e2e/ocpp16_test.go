package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/schematest"

	"github.com/constellation-ev/constellation/appliance/api"
	"github.com/constellation-ev/constellation/appliance/app"
	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	v16 "github.com/constellation-ev/constellation/appliance/ocpp/v16"
	"github.com/constellation-ev/constellation/tools/chargesim/sim"
)

// e2e16 is one appliance, run in-process, with one chargesim station
// connected to it through a recording proxy.
type e2e16 struct {
	api     *apiClient
	rec     *recorder
	proxy   *proxy
	station string
	sim     *sim.Station
}

func startE2E16(t *testing.T) *e2e16 {
	t.Helper()
	cfg := testConfig(t.TempDir())
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan app.Addrs, 1)
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(ctx, cfg, log, func(a app.Addrs) { ready <- a }) }()
	var addrs app.Addrs
	select {
	case addrs = <-ready:
	case err := <-runErr:
		cancel()
		t.Fatalf("app.Run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("app.Run: %v", err)
		}
	})

	e := &e2e16{api: newAPIClient(addrs.API), rec: newRecorder(), station: "E2E16-CP1"}
	e.proxy = newProxy(addrs.OCPP, e.rec)
	srv := httptest.NewServer(e.proxy)
	t.Cleanup(srv.Close)

	st, err := sim.NewStation(sim.Options{
		ID: e.station, URL: sim.StationURL("ws"+strings.TrimPrefix(srv.URL, "http")+"/ocpp", e.station),
		Connectors: 2, MeterInterval: 100 * time.Millisecond,
		// Sessions run until stopped by a command; between sessions a
		// connector waits for a remote start.
		SessionLength: time.Hour, Sessions: 0, Pause: time.Hour,
		Tags: []string{"TAG-A", "TAG-B"}, HeartbeatInterval: time.Hour,
		RetryInterval: 200 * time.Millisecond, CallTimeout: 20 * time.Second,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
		Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.sim = st
	sctx, scancel := context.WithCancel(context.Background())
	stDone := make(chan error, 1)
	go func() { stDone <- st.Run(sctx) }()
	t.Cleanup(func() {
		scancel()
		if err := <-stDone; err != nil {
			t.Errorf("station: %v", err)
		}
	})
	return e
}

// command sends an OCPP command through the local API and returns the
// station's response payload; the API must answer 200.
func (e *e2e16) command(t *testing.T, action, body string) json.RawMessage {
	t.Helper()
	var res api.CommandResult
	status, raw, err := e.api.do(t.Context(), http.MethodPost, "/api/v1/chargers/"+e.station+"/ocpp/"+action, []byte(body), &res)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	if status != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d: %s", action, body, status, raw)
	}
	if res.Action != action {
		t.Errorf("%s: answer names action %q", action, res.Action)
	}
	return res.Response
}

// expectStatus sends a command expected to be refused with status.
func (e *e2e16) expectStatus(t *testing.T, charger, action, body string, want int) {
	t.Helper()
	status, raw, err := e.api.do(t.Context(), http.MethodPost, "/api/v1/chargers/"+charger+"/ocpp/"+action, []byte(body), nil)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	if status != want {
		t.Errorf("%s to %s with %s: HTTP %d (%s), want %d", action, charger, body, status, raw, want)
	}
}

func (e *e2e16) charger(t *testing.T) charging.Charger {
	t.Helper()
	var c charging.Charger
	e.api.get(t, "/api/v1/chargers/"+e.station, &c)
	return c
}

func (e *e2e16) transaction(t *testing.T, id int) api.TransactionDetail {
	t.Helper()
	var d api.TransactionDetail
	e.api.get(t, fmt.Sprintf("/api/v1/transactions/%d", id), &d)
	return d
}

func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, raw, err)
	}
	return v
}

// status matches a StatusNotification request of connector with st.
func status(connector int, st v16.ChargePointStatus) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		var r v16.StatusNotificationRequest
		return json.Unmarshal(raw, &r) == nil && r.ConnectorId == connector && r.Status == st
	}
}

func connectorStatus(c charging.Charger, id int) charging.ConnectorStatus {
	for _, cn := range c.Connectors {
		if cn.ID == id {
			return cn.Status
		}
	}
	return ""
}

// TestOCPP16 drives every OCPP 1.6 action through a real websocket round
// trip between a chargesim station and the appliance (commands through the
// local API), checks the answers and their effects through the API, and
// validates every message on the wire against the official schemas.
func TestOCPP16(t *testing.T) {
	e := startE2E16(t)
	rec := e.rec

	// The station boots and starts a session on each connector:
	// BootNotification, StatusNotification, Authorize, StartTransaction,
	// MeterValues.
	boot := decode[v16.BootNotificationResponse](t, rec.result(t, 0, "BootNotification", nil).Msg.Payload)
	if boot.Status != v16.RegistrationAccepted || boot.Interval <= 0 {
		t.Errorf("BootNotification answered %+v", boot)
	}
	rec.result(t, 0, "Authorize", nil)
	txOn := func(connector int) int {
		f := rec.result(t, 0, "StartTransaction", func(raw json.RawMessage) bool {
			return decode[v16.StartTransactionRequest](t, raw).ConnectorId == connector
		})
		r := decode[v16.StartTransactionResponse](t, f.Msg.Payload)
		if r.IdTagInfo.Status != v16.AuthorizationAccepted || r.TransactionId <= 0 {
			t.Fatalf("StartTransaction on connector %d answered %+v", connector, r)
		}
		return r.TransactionId
	}
	tx1, tx2 := txOn(1), txOn(2)
	if tx1 == tx2 {
		t.Fatalf("both sessions got transaction id %d", tx1)
	}
	rec.result(t, 0, "MeterValues", func(raw json.RawMessage) bool {
		r := decode[v16.MeterValuesRequest](t, raw)
		return r.TransactionId != nil && *r.TransactionId == tx1
	})
	rec.result(t, 0, "StatusNotification", status(1, v16.StatusCharging))
	rec.result(t, 0, "StatusNotification", status(2, v16.StatusCharging))

	c := e.charger(t)
	if !c.Connected || c.Vendor != "Constellation" || c.Model != "chargesim" || c.Protocol != string(ocppj.V16) {
		t.Errorf("charger after boot: %+v", c)
	}
	for _, id := range []int{1, 2} {
		if st := connectorStatus(c, id); st != charging.StatusCharging {
			t.Errorf("connector %d status %q, want Charging", id, st)
		}
	}
	var active api.TransactionList
	e.api.get(t, "/api/v1/transactions?active=true&charger="+e.station, &active)
	// The connectors start concurrently and take the round-robin tags in
	// either order.
	var sessions, tags []string
	for _, tx := range active.Transactions {
		sessions = append(sessions, fmt.Sprintf("%d:%d", tx.ID, tx.ConnectorID))
		tags = append(tags, tx.IDTag)
	}
	slices.Sort(sessions)
	slices.Sort(tags)
	want := []string{fmt.Sprintf("%d:1", tx1), fmt.Sprintf("%d:2", tx2)}
	slices.Sort(want)
	if !slices.Equal(sessions, want) || !slices.Equal(tags, []string{"TAG-A", "TAG-B"}) {
		t.Errorf("active transactions %v with tags %v, want %v with TAG-A and TAG-B", sessions, tags, want)
	}
	if d := e.transaction(t, tx1); len(d.Readings) == 0 {
		t.Errorf("transaction %d has no readings after an acknowledged MeterValues", tx1)
	}

	// Configuration: GetConfiguration records what the charger reports,
	// ChangeConfiguration the key it accepted.
	gc := decode[v16.GetConfigurationResponse](t, e.command(t, "GetConfiguration", `{}`))
	if len(gc.ConfigurationKey) < 20 || len(gc.UnknownKey) != 0 {
		t.Errorf("GetConfiguration: %d keys, unknown %v", len(gc.ConfigurationKey), gc.UnknownKey)
	}
	c = e.charger(t)
	if len(c.Configuration) != len(gc.ConfigurationKey) || c.Configuration["HeartbeatInterval"].Value != "3600" ||
		!c.Configuration["NumberOfConnectors"].Readonly {
		t.Errorf("recorded configuration %v after GetConfiguration", c.Configuration)
	}
	gc = decode[v16.GetConfigurationResponse](t, e.command(t, "GetConfiguration", `{"key":["NumberOfConnectors","NoSuchKey"]}`))
	if len(gc.ConfigurationKey) != 1 || *gc.ConfigurationKey[0].Value != "2" || !slices.Equal(gc.UnknownKey, []string{"NoSuchKey"}) {
		t.Errorf("GetConfiguration of two keys: %+v", gc)
	}
	if r := decode[v16.ChangeConfigurationResponse](t, e.command(t, "ChangeConfiguration", `{"key":"ConnectionTimeOut","value":"90"}`)); r.Status != v16.ConfigurationAccepted {
		t.Errorf("ChangeConfiguration: %s", r.Status)
	}
	if r := decode[v16.ChangeConfigurationResponse](t, e.command(t, "ChangeConfiguration", `{"key":"NumberOfConnectors","value":"5"}`)); r.Status != v16.ConfigurationRejected {
		t.Errorf("ChangeConfiguration of a read-only key: %s", r.Status)
	}
	c = e.charger(t)
	if got := c.Configuration["ConnectionTimeOut"].Value; got != "90" {
		t.Errorf("recorded ConnectionTimeOut %q after an accepted change, want 90", got)
	}
	if got := c.Configuration["NumberOfConnectors"].Value; got != "2" {
		t.Errorf("recorded NumberOfConnectors %q after a rejected change, want 2", got)
	}

	// Smart charging: a TxProfile limits the running session, which shows
	// in the composite schedule and in the meter values it reports.
	profile := fmt.Sprintf(`{"connectorId":1,"csChargingProfiles":{"chargingProfileId":11,"transactionId":%d,"stackLevel":0,
		"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Relative",
		"chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":8}]}}}`, tx1)
	if r := decode[v16.SetChargingProfileResponse](t, e.command(t, "SetChargingProfile", profile)); r.Status != v16.ChargingProfileAccepted {
		t.Errorf("SetChargingProfile: %s", r.Status)
	}
	cs := decode[v16.GetCompositeScheduleResponse](t, e.command(t, "GetCompositeSchedule", `{"connectorId":1,"duration":600,"chargingRateUnit":"A"}`))
	if cs.Status != v16.CompositeScheduleAccepted || cs.ChargingSchedule == nil || len(cs.ChargingSchedule.ChargingSchedulePeriod) == 0 ||
		cs.ChargingSchedule.ChargingSchedulePeriod[0].Limit != 8 {
		t.Errorf("GetCompositeSchedule: %+v", cs)
	}
	m := rec.mark()
	if r := decode[v16.TriggerMessageResponse](t, e.command(t, "TriggerMessage", `{"requestedMessage":"MeterValues","connectorId":1}`)); r.Status != v16.TriggerMessageAccepted {
		t.Errorf("TriggerMessage MeterValues: %s", r.Status)
	}
	trig := decode[v16.MeterValuesRequest](t, rec.result(t, m, "MeterValues", func(raw json.RawMessage) bool {
		r := decode[v16.MeterValuesRequest](t, raw)
		return len(r.MeterValue) > 0 && len(r.MeterValue[0].SampledValue) > 0 && r.MeterValue[0].SampledValue[0].Context == v16.ContextTrigger
	}).Request)
	if trig.TransactionId == nil || *trig.TransactionId != tx1 {
		t.Errorf("triggered MeterValues names transaction %v, want %d", trig.TransactionId, tx1)
	}
	limited := false
	for _, r := range e.transaction(t, tx1).Readings {
		if r.Context == string(v16.ContextTrigger) && r.Measurand == string(v16.MeasurandCurrentImport) {
			limited = true
			if r.Value != "8.0" {
				t.Errorf("triggered current reading %q under an 8 A profile", r.Value)
			}
		}
	}
	if !limited {
		t.Errorf("the triggered MeterValues of transaction %d is not among its readings", tx1)
	}
	if r := decode[v16.ClearChargingProfileResponse](t, e.command(t, "ClearChargingProfile", `{"id":11}`)); r.Status != v16.ClearChargingProfileAccepted {
		t.Errorf("ClearChargingProfile: %s", r.Status)
	}
	if r := decode[v16.ClearChargingProfileResponse](t, e.command(t, "ClearChargingProfile", `{"id":11}`)); r.Status != v16.ClearChargingProfileUnknown {
		t.Errorf("second ClearChargingProfile: %s", r.Status)
	}

	// Stopping: remotely, and by unlocking the connector.
	stopped := func(since, tx int, reason v16.Reason) {
		t.Helper()
		f := rec.result(t, since, "StopTransaction", func(raw json.RawMessage) bool {
			return decode[v16.StopTransactionRequest](t, raw).TransactionId == tx
		})
		req := decode[v16.StopTransactionRequest](t, f.Request)
		d := e.transaction(t, tx)
		if d.Transaction.Active() || d.Transaction.StopReason != string(reason) || d.Transaction.MeterStopWh == nil ||
			*d.Transaction.MeterStopWh != int64(req.MeterStop) {
			t.Errorf("transaction %d after a %s stop (meterStop %d): %+v", tx, reason, req.MeterStop, d.Transaction)
		}
	}
	m = rec.mark()
	if r := decode[v16.RemoteStopTransactionResponse](t, e.command(t, "RemoteStopTransaction", fmt.Sprintf(`{"transactionId":%d}`, tx1))); r.Status != v16.RemoteStartStopAccepted {
		t.Errorf("RemoteStopTransaction: %s", r.Status)
	}
	stopped(m, tx1, v16.ReasonRemote)
	if r := decode[v16.RemoteStopTransactionResponse](t, e.command(t, "RemoteStopTransaction", fmt.Sprintf(`{"transactionId":%d}`, tx1))); r.Status != v16.RemoteStartStopRejected {
		t.Errorf("RemoteStopTransaction of a stopped transaction: %s", r.Status)
	}
	m = rec.mark()
	if r := decode[v16.UnlockConnectorResponse](t, e.command(t, "UnlockConnector", `{"connectorId":2}`)); r.Status != v16.UnlockUnlocked {
		t.Errorf("UnlockConnector: %s", r.Status)
	}
	stopped(m, tx2, v16.ReasonUnlockCommand)

	// Availability.
	m = rec.mark()
	if r := decode[v16.ChangeAvailabilityResponse](t, e.command(t, "ChangeAvailability", `{"connectorId":2,"type":"Inoperative"}`)); r.Status != v16.AvailabilityStatusAccepted {
		t.Errorf("ChangeAvailability Inoperative: %s", r.Status)
	}
	rec.result(t, m, "StatusNotification", status(2, v16.StatusUnavailable))
	if st := connectorStatus(e.charger(t), 2); st != charging.StatusUnavailable {
		t.Errorf("connector 2 %q after ChangeAvailability Inoperative", st)
	}
	m = rec.mark()
	if r := decode[v16.ChangeAvailabilityResponse](t, e.command(t, "ChangeAvailability", `{"connectorId":2,"type":"Operative"}`)); r.Status != v16.AvailabilityStatusAccepted {
		t.Errorf("ChangeAvailability Operative: %s", r.Status)
	}
	rec.result(t, m, "StatusNotification", status(2, v16.StatusAvailable))
	if st := connectorStatus(e.charger(t), 2); st != charging.StatusAvailable {
		t.Errorf("connector 2 %q after ChangeAvailability Operative", st)
	}

	// Reservations.
	reservation := func(id int) charging.Reservation {
		t.Helper()
		var l api.ReservationList
		e.api.get(t, "/api/v1/reservations", &l)
		for _, r := range l.Reservations {
			if r.ID == id {
				return r
			}
		}
		return charging.Reservation{}
	}
	m = rec.mark()
	expiry := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if r := decode[v16.ReserveNowResponse](t, e.command(t, "ReserveNow", `{"connectorId":2,"expiryDate":"`+expiry+`","idTag":"RES-1","reservationId":7}`)); r.Status != v16.ReservationAccepted {
		t.Errorf("ReserveNow: %s", r.Status)
	}
	if r := reservation(7); r.Status != "Accepted" || r.ConnectorID != 2 || r.IDTag != "RES-1" || string(r.ChargerID) != e.station {
		t.Errorf("reservation 7 after ReserveNow: %+v", r)
	}
	rec.result(t, m, "StatusNotification", status(2, v16.StatusReserved))
	m = rec.mark()
	if r := decode[v16.CancelReservationResponse](t, e.command(t, "CancelReservation", `{"reservationId":7}`)); r.Status != v16.CancelReservationAccepted {
		t.Errorf("CancelReservation: %s", r.Status)
	}
	if r := reservation(7); r.Status != "Cancelled" {
		t.Errorf("reservation 7 after CancelReservation: %+v", r)
	}
	rec.result(t, m, "StatusNotification", status(2, v16.StatusAvailable))
	if r := decode[v16.CancelReservationResponse](t, e.command(t, "CancelReservation", `{"reservationId":7}`)); r.Status != v16.CancelReservationRejected {
		t.Errorf("second CancelReservation: %s", r.Status)
	}

	// Local authorization list and cache.
	if r := decode[v16.GetLocalListVersionResponse](t, e.command(t, "GetLocalListVersion", ``)); r.ListVersion != 0 {
		t.Errorf("GetLocalListVersion before any list: %d", r.ListVersion)
	}
	if r := decode[v16.SendLocalListResponse](t, e.command(t, "SendLocalList",
		`{"listVersion":3,"updateType":"Full","localAuthorizationList":[{"idTag":"LOCAL-1","idTagInfo":{"status":"Accepted"}}]}`)); r.Status != v16.UpdateStatusAccepted {
		t.Errorf("SendLocalList: %s", r.Status)
	}
	if r := decode[v16.GetLocalListVersionResponse](t, e.command(t, "GetLocalListVersion", `{}`)); r.ListVersion != 3 {
		t.Errorf("GetLocalListVersion after SendLocalList version 3: %d", r.ListVersion)
	}
	if r := decode[v16.ClearCacheResponse](t, e.command(t, "ClearCache", `{}`)); r.Status != v16.ClearCacheAccepted {
		t.Errorf("ClearCache: %s", r.Status)
	}

	// DataTransfer both ways: the appliance has no vendor extensions.
	if r := decode[v16.DataTransferResponse](t, e.command(t, "DataTransfer", `{"vendorId":"com.example.e2e","messageId":"ping","data":"x"}`)); r.Status != v16.DataTransferUnknownVendorId {
		t.Errorf("DataTransfer to the charger: %s", r.Status)
	}
	if status, err := e.sim.DataTransfer(t.Context(), "com.example.e2e", "hello", "{}"); err != nil || status != string(v16.DataTransferUnknownVendorId) {
		t.Errorf("DataTransfer from the charger: %q, %v; want UnknownVendorId", status, err)
	}

	// TriggerMessage for everything a 1.6 charger can be asked to send.
	trigger := func(msg string, connector int, action string, match func(json.RawMessage) bool) frame {
		t.Helper()
		m := rec.mark()
		body := `{"requestedMessage":"` + msg + `"}`
		if connector > 0 {
			body = fmt.Sprintf(`{"requestedMessage":%q,"connectorId":%d}`, msg, connector)
		}
		if r := decode[v16.TriggerMessageResponse](t, e.command(t, "TriggerMessage", body)); r.Status != v16.TriggerMessageAccepted {
			t.Errorf("TriggerMessage %s: %s", msg, r.Status)
		}
		return rec.result(t, m, action, match)
	}
	hb := decode[v16.HeartbeatResponse](t, trigger("Heartbeat", 0, "Heartbeat", nil).Msg.Payload)
	if hb.CurrentTime.IsZero() {
		t.Error("Heartbeat answered without currentTime")
	}
	trigger("StatusNotification", 1, "StatusNotification", status(1, v16.StatusAvailable))
	trigger("BootNotification", 0, "BootNotification", nil)
	trigger("DiagnosticsStatusNotification", 0, "DiagnosticsStatusNotification", nil)
	trigger("FirmwareStatusNotification", 0, "FirmwareStatusNotification", nil)
	if c := e.charger(t); c.DiagnosticsStatus != string(v16.DiagnosticsIdle) || c.FirmwareStatus != string(v16.FirmwareIdle) {
		t.Errorf("charger after triggered status notifications: diagnostics %q, firmware %q", c.DiagnosticsStatus, c.FirmwareStatus)
	}

	// Diagnostics upload and firmware update, each reported by progress
	// notifications.
	m = rec.mark()
	if r := decode[v16.GetDiagnosticsResponse](t, e.command(t, "GetDiagnostics", `{"location":"ftp://example.com/diagnostics"}`)); r.FileName == "" {
		t.Error("GetDiagnostics answered no fileName")
	}
	rec.result(t, m, "DiagnosticsStatusNotification", func(raw json.RawMessage) bool {
		return decode[v16.DiagnosticsStatusNotificationRequest](t, raw).Status == v16.DiagnosticsUploaded
	})
	if c := e.charger(t); c.DiagnosticsStatus != string(v16.DiagnosticsUploaded) {
		t.Errorf("diagnostics status %q after the upload", c.DiagnosticsStatus)
	}
	m = rec.mark()
	retrieve := time.Now().UTC().Format(time.RFC3339)
	if r := e.command(t, "UpdateFirmware", `{"location":"https://example.com/fw.bin","retrieveDate":"`+retrieve+`"}`); string(r) != "{}" {
		t.Errorf("UpdateFirmware answered %s", r)
	}
	rec.result(t, m, "FirmwareStatusNotification", func(raw json.RawMessage) bool {
		return decode[v16.FirmwareStatusNotificationRequest](t, raw).Status == v16.FirmwareInstalled
	})
	if c := e.charger(t); c.FirmwareStatus != string(v16.FirmwareInstalled) {
		t.Errorf("firmware status %q after the update", c.FirmwareStatus)
	}

	// A remote start leads to a transaction; a reset stops it and the
	// charger boots again.
	m = rec.mark()
	if r := decode[v16.RemoteStartTransactionResponse](t, e.command(t, "RemoteStartTransaction", `{"connectorId":1,"idTag":"REMOTE-1"}`)); r.Status != v16.RemoteStartStopAccepted {
		t.Errorf("RemoteStartTransaction: %s", r.Status)
	}
	f := rec.result(t, m, "StartTransaction", func(raw json.RawMessage) bool {
		return decode[v16.StartTransactionRequest](t, raw).IdTag == "REMOTE-1"
	})
	txR := decode[v16.StartTransactionResponse](t, f.Msg.Payload).TransactionId
	if d := e.transaction(t, txR); !d.Transaction.Active() || d.Transaction.ConnectorID != 1 || d.Transaction.IDTag != "REMOTE-1" ||
		d.Transaction.Authorization != charging.AuthAccepted {
		t.Errorf("remotely started transaction %d: %+v", txR, d.Transaction)
	}
	m = rec.mark()
	if r := decode[v16.ResetResponse](t, e.command(t, "Reset", `{"type":"Soft"}`)); r.Status != v16.ResetStatusAccepted {
		t.Errorf("Reset: %s", r.Status)
	}
	stopped(m, txR, v16.ReasonSoftReset)
	rec.result(t, m, "BootNotification", nil)
	rec.result(t, m, "StatusNotification", status(0, v16.StatusAvailable))
	if c := e.charger(t); !c.Connected {
		t.Error("charger not connected after its reboot")
	}

	// Refusals: nothing is sent.
	resets := func() int {
		n := 0
		for _, f := range rec.all() {
			if f.FromCSMS && f.Msg.Type == ocppj.Call && f.Action == "Reset" {
				n++
			}
		}
		return n
	}
	before := resets()
	e.expectStatus(t, e.station, "Reset", `{"type":"Sideways"}`, http.StatusBadRequest)
	e.expectStatus(t, e.station, "BootNotification", `{}`, http.StatusBadRequest)
	e.expectStatus(t, "E2E16-NOPE", "Reset", `{"type":"Soft"}`, http.StatusConflict)
	if n := resets(); n != before {
		t.Errorf("refused commands sent %d Reset CALLs", n-before)
	}

	frames := rec.all()
	checkCoverage(t, frames)
	t.Run("schemas", func(t *testing.T) { validateFrames(t, frames) })
}

// checkCoverage fails unless every 1.6 action made a round trip: each
// command was sent by the appliance, each charger message answered by it,
// and nothing was answered with a CALLERROR.
func checkCoverage(t *testing.T, frames []frame) {
	t.Helper()
	sent, answered := map[string]int{}, map[string]int{}
	for _, f := range frames {
		switch {
		case f.Msg.Type == ocppj.CallError:
			t.Errorf("CALLERROR (from the appliance: %t) to %s: %s", f.FromCSMS, f.Action, f.Raw)
		case !f.FromCSMS:
		case f.Msg.Type == ocppj.Call:
			sent[f.Action]++
		case f.Msg.Type == ocppj.CallResult:
			answered[f.Action]++
		}
	}
	commands, messages := 0, 0
	for _, a := range v16.Actions {
		if a.Direction&v16.CSMSToCharger != 0 {
			commands++
			if sent[a.Name] == 0 {
				t.Errorf("command %s was never sent to the station", a.Name)
			}
		}
		if a.Direction&v16.ChargerToCSMS != 0 {
			messages++
			if answered[a.Name] == 0 {
				t.Errorf("charger message %s was never answered by the appliance", a.Name)
			}
		}
	}
	if commands != 19 || messages != 10 {
		t.Errorf("v16.Actions lists %d commands and %d charger messages; OCPP 1.6 core has 19 and 10", commands, messages)
	}
	t.Logf("round trips: commands sent %v; charger messages answered %v", sent, answered)
}

// validateFrames checks every frame on the wire against the official 1.6
// schemas: CALLs by their action, CALLRESULTs by the action of the CALL
// they answer; the appliance's frames and, as a check on chargesim, the
// station's.
func validateFrames(t *testing.T, frames []frame) {
	schematest.Dir(t)
	checked := map[bool]int{}
	for _, f := range frames {
		who := "station"
		if f.FromCSMS {
			who = "appliance"
		}
		switch f.Msg.Type {
		case ocppj.Call, ocppj.CallResult:
		case ocppj.CallError:
			continue // reported by checkCoverage
		default:
			t.Errorf("%s sent a frame that does not parse: %s", who, f.Raw)
			continue
		}
		if f.Action == "" {
			t.Errorf("%s answered a CALL nobody sent: %s", who, f.Raw)
			continue
		}
		response := f.Msg.Type == ocppj.CallResult
		if err := checkSchema(t, f.Action, response, f.Msg.Payload); err != nil {
			kind := "request"
			if response {
				kind = "response"
			}
			t.Errorf("%s's %s %s does not match the official schema: %v\nframe: %s", who, f.Action, kind, err, f.Raw)
		}
		checked[f.FromCSMS]++
	}
	if checked[true] == 0 {
		t.Error("no frame from the appliance was checked")
	}
	t.Logf("validated %d frames from the appliance and %d from the station", checked[true], checked[false])
}

// TestSchemaCheck keeps the schema check of TestOCPP16 honest: it must
// refuse what the official schema refuses.
func TestSchemaCheck(t *testing.T) {
	if err := checkSchema(t, "DataTransfer", true, []byte(`{"status":"UnknownVendorId"}`)); err != nil {
		t.Errorf("valid DataTransfer response refused: %v", err)
	}
	for _, bad := range []string{`{"status":"Bogus"}`, `{}`, `{"status":"Accepted","extra":1}`, `{`} {
		if checkSchema(t, "DataTransfer", true, []byte(bad)) == nil {
			t.Errorf("invalid DataTransfer response %s accepted", bad)
		}
	}
	if checkSchema(t, "Heartbeat", true, []byte(`{"currentTime":"yesterday"}`)) == nil {
		t.Error("Heartbeat response with a date-time that is not one accepted")
	}
}
