package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/api"
	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	v16 "github.com/constellation-ev/constellation/appliance/ocpp/v16"
)

// startE2E16 runs an appliance with one 1.6 station connected to it.
func startE2E16(t *testing.T) *station {
	t.Helper()
	return startSite(t).connect(t, stationOptions("E2E16-CP1", ocppj.V16))
}

// status matches a StatusNotification request of connector with st.
func status(connector int, st v16.ChargePointStatus) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		var r v16.StatusNotificationRequest
		return json.Unmarshal(raw, &r) == nil && r.ConnectorId == connector && r.Status == st
	}
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
	e.api.get(t, "/api/v1/transactions?active=true&charger="+e.id, &active)
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
	if d := e.transaction(t, int64(tx1)); len(d.Readings) == 0 {
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
	for _, r := range e.transaction(t, int64(tx1)).Readings {
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
		d := e.transaction(t, int64(tx))
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
	m = rec.mark()
	expiry := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if r := decode[v16.ReserveNowResponse](t, e.command(t, "ReserveNow", `{"connectorId":2,"expiryDate":"`+expiry+`","idTag":"RES-1","reservationId":7}`)); r.Status != v16.ReservationAccepted {
		t.Errorf("ReserveNow: %s", r.Status)
	}
	if r := e.reservation(t, 7); r.Status != "Accepted" || r.ConnectorID != 2 || r.IDTag != "RES-1" || string(r.ChargerID) != e.id {
		t.Errorf("reservation 7 after ReserveNow: %+v", r)
	}
	rec.result(t, m, "StatusNotification", status(2, v16.StatusReserved))
	m = rec.mark()
	if r := decode[v16.CancelReservationResponse](t, e.command(t, "CancelReservation", `{"reservationId":7}`)); r.Status != v16.CancelReservationAccepted {
		t.Errorf("CancelReservation: %s", r.Status)
	}
	if r := e.reservation(t, 7); r.Status != "Cancelled" {
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
	if d := e.transaction(t, int64(txR)); !d.Transaction.Active() || d.Transaction.ConnectorID != 1 || d.Transaction.IDTag != "REMOTE-1" ||
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
	e.expectStatus(t, e.id, "Reset", `{"type":"Sideways"}`, http.StatusBadRequest)
	e.expectStatus(t, e.id, "BootNotification", `{}`, http.StatusBadRequest)
	e.expectStatus(t, "E2E16-NOPE", "Reset", `{"type":"Soft"}`, http.StatusConflict)
	if n := resets(); n != before {
		t.Errorf("refused commands sent %d Reset CALLs", n-before)
	}

	frames := rec.all()
	checkCoverage(t, frames, coverage16(t))
	t.Run("schemas", func(t *testing.T) { validateFrames(t, ocppj.V16, frames) })
}

// coverage16 is every OCPP 1.6 action, in the direction it is sent.
func coverage16(t *testing.T) coverage {
	t.Helper()
	var c coverage
	for _, a := range v16.Actions {
		if a.Direction&v16.CSMSToCharger != 0 {
			c.commands = append(c.commands, a.Name)
		}
		if a.Direction&v16.ChargerToCSMS != 0 {
			c.messages = append(c.messages, a.Name)
		}
	}
	if len(c.commands) != 19 || len(c.messages) != 10 {
		t.Errorf("v16.Actions lists %d commands and %d charger messages; OCPP 1.6 core has 19 and 10", len(c.commands), len(c.messages))
	}
	return c
}

// TestSchemaCheck keeps the schema check of TestOCPP16 honest: it must
// refuse what the official schema refuses.
func TestSchemaCheck(t *testing.T) {
	if err := checkSchema(t, ocppj.V16, "DataTransfer", true, []byte(`{"status":"UnknownVendorId"}`)); err != nil {
		t.Errorf("valid DataTransfer response refused: %v", err)
	}
	for _, bad := range []string{`{"status":"Bogus"}`, `{}`, `{"status":"Accepted","extra":1}`, `{`} {
		if checkSchema(t, ocppj.V16, "DataTransfer", true, []byte(bad)) == nil {
			t.Errorf("invalid DataTransfer response %s accepted", bad)
		}
	}
	if checkSchema(t, ocppj.V16, "Heartbeat", true, []byte(`{"currentTime":"yesterday"}`)) == nil {
		t.Error("Heartbeat response with a date-time that is not one accepted")
	}
}
