package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	v21 "github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

// coverage2 is what TestOCPP2 must show of version v: every charger
// message and command of issue 3's list (2.1 adds periodic event streams:
// opening one, and the SEND of its data).
func coverage2(v ocppj.Version) coverage {
	c := coverage{
		messages: []string{"Authorize", "BootNotification", "DataTransfer", "FirmwareStatusNotification", "Heartbeat",
			"LogStatusNotification", "MeterValues", "SecurityEventNotification", "StatusNotification", "TransactionEvent",
			"NotifyReport", "NotifyEvent"},
		commands: []string{"CancelReservation", "ChangeAvailability", "ClearCache", "DataTransfer", "GetLocalListVersion",
			"ReserveNow", "Reset", "SendLocalList", "TriggerMessage", "UnlockConnector", "UpdateFirmware",
			"RequestStartTransaction", "RequestStopTransaction", "GetVariables", "SetVariables", "GetBaseReport", "GetLog",
			"GetTransactionStatus", "SetChargingProfile", "ClearChargingProfile", "GetCompositeSchedule"},
	}
	if v == ocppj.V21 {
		// The station streams only on a stream the appliance let it open.
		c.messages = append(c.messages, "OpenPeriodicEventStream")
		c.sends = []string{"NotifyPeriodicEventStream"}
	}
	return c
}

// TestOCPP2 drives, for OCPP 2.0.1 and 2.1, every action of issue 3's
// list through a real websocket round trip between a chargesim station
// and the appliance (commands through the local API, as OCPP requests and
// as version-neutral commands), checks the answers and their effects
// through the API (sessions with their meter readings, connector status,
// the device model, reservations), and validates every message on the
// wire against the version's official schemas.
func TestOCPP2(t *testing.T) {
	for _, v := range []ocppj.Version{ocppj.V201, ocppj.V21} {
		t.Run(string(v), func(t *testing.T) { testOCPP2(t, v) })
	}
}

func testOCPP2(t *testing.T, v ocppj.Version) {
	opts := stationOptions("E2E-"+string(v)+"-CP1", v)
	opts.NotifyEvents = true
	if v == ocppj.V21 {
		opts.EventStream = 200 * time.Millisecond
	}
	e := startSite(t).connect(t, opts)
	rec := e.rec

	// The station boots, reports its EVSEs and starts a session on each:
	// BootNotification, StatusNotification, NotifyEvent, Authorize,
	// TransactionEvent Started and Updated.
	boot := decode[v21.BootNotificationResponse](t, rec.result(t, 0, "BootNotification", nil).Msg.Payload)
	if boot.Status != v21.RegistrationAccepted || boot.Interval <= 0 {
		t.Errorf("BootNotification answered %+v", boot)
	}
	rec.result(t, 0, "Authorize", nil)
	started := func(since, evse int) string {
		t.Helper()
		f := rec.result(t, since, "TransactionEvent", txEvent(v21.TransactionEventStarted, "", evse))
		return decode[v21.TransactionEventRequest](t, f.Request).TransactionInfo.TransactionId
	}
	tx1, tx2 := started(0, 1), started(0, 2)
	rec.result(t, 0, "TransactionEvent", txEvent(v21.TransactionEventUpdated, tx1, 0))
	rec.result(t, 0, "StatusNotification", status2(1, v21.ConnectorOccupied))
	rec.result(t, 0, "StatusNotification", status2(2, v21.ConnectorOccupied))
	rec.result(t, 0, "NotifyEvent", nil)
	if v == ocppj.V21 {
		// The station opens a periodic event stream and sends its data
		// with SEND, which gets no answer (checked with the frames below).
		rec.result(t, 0, "OpenPeriodicEventStream", nil)
		rec.waitFor(t, 0, "a NotifyPeriodicEventStream SEND", func(f frame) bool {
			return !f.FromCSMS && f.Msg.Type == ocppj.Send && f.Action == "NotifyPeriodicEventStream"
		})
	}

	c := e.charger(t)
	if !c.Connected || c.Vendor != "Constellation" || c.Model != "chargesim" || c.SerialNumber != e.id || c.Protocol != string(v) {
		t.Errorf("charger after boot: %+v", c)
	}
	for _, evse := range []int{1, 2} {
		if st := connectorStatus(c, evse); st != charging.StatusOccupied {
			t.Errorf("EVSE %d status %q, want Occupied", evse, st)
		}
	}
	var tags []string
	for _, id := range []string{tx1, tx2} {
		tx := e.session(t, id)
		tags = append(tags, tx.IDTag)
		if !tx.Active() || tx.Protocol != string(v) || tx.EVSEConnectorID != 1 || tx.Authorization != charging.AuthAccepted {
			t.Errorf("running session %s: %+v", id, tx)
		}
	}
	slices.Sort(tags)
	if !slices.Equal(tags, []string{"TAG-A", "TAG-B"}) {
		t.Errorf("the running sessions have tags %v, want TAG-A and TAG-B", tags)
	}
	if tx := e.session(t, tx1); tx.ConnectorID != 1 || len(e.transaction(t, tx.ID).Readings) == 0 {
		t.Errorf("session %s on EVSE %d with no readings after an acknowledged Updated", tx1, tx.ConnectorID)
	}

	// The device model: a full base report replaces it; GetVariables and
	// SetVariables, raw and as the neutral get- and set-configuration,
	// record what the station answered.
	m := rec.mark()
	if r := decode[v21.GetBaseReportResponse](t, e.command(t, "GetBaseReport", `{"requestId":1,"reportBase":"FullInventory"}`)); r.Status != v21.GenericDeviceModelAccepted {
		t.Errorf("GetBaseReport: %s", r.Status)
	}
	reported := e.report(t, m, 1)
	vars := e.variables(t)
	if len(vars) != len(reported) || len(reported) < 50 {
		t.Errorf("device model has %d attributes after a full report of %d", len(vars), len(reported))
	}
	for key, want := range reported {
		got, ok := vars[key]
		if !ok || got.Value != want.Value || got.Mutability != want.Mutability || got.DataType != want.DataType || got.Unit != want.Unit {
			t.Errorf("reported %s %+v, recorded %+v", key, want, got.VariableReport)
		}
	}
	if hb := vars["OCPPCommCtrlr/HeartbeatInterval"]; hb.Value != "3600" || hb.Mutability != charging.MutabilityReadWrite || hb.Unit != "s" {
		t.Errorf("OCPPCommCtrlr/HeartbeatInterval recorded as %+v", hb.VariableReport)
	}
	if ct := vars["Connector@2.1/ConnectorType"]; ct.Value != "cType2" || ct.EVSEID != 2 || ct.ConnectorID != 1 {
		t.Errorf("Connector@2.1/ConnectorType recorded as %+v", ct.VariableReport)
	}

	gv := decode[v21.GetVariablesResponse](t, e.command(t, "GetVariables", `{"getVariableData":[
		{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}},
		{"component":{"name":"NoSuchCtrlr"},"variable":{"name":"Nothing"}}]}`))
	if len(gv.GetVariableResult) != 2 || gv.GetVariableResult[0].AttributeStatus != v21.GetVariableAccepted ||
		gv.GetVariableResult[0].AttributeValue != "3600" || gv.GetVariableResult[1].AttributeStatus != v21.GetVariableUnknownComponent {
		t.Errorf("GetVariables: %+v", gv)
	}
	sv := decode[v21.SetVariablesResponse](t, e.command(t, "SetVariables", `{"setVariableData":[
		{"component":{"name":"TxCtrlr"},"variable":{"name":"EVConnectionTimeOut"},"attributeValue":"90"},
		{"component":{"name":"ChargingStation"},"variable":{"name":"SupplyPhases"},"attributeValue":"1"}]}`))
	if len(sv.SetVariableResult) != 2 || sv.SetVariableResult[0].AttributeStatus != v21.SetVariableAccepted ||
		sv.SetVariableResult[1].AttributeStatus != v21.SetVariableRejected {
		t.Errorf("SetVariables: %+v", sv)
	}
	c = e.charger(t)
	if got := c.Configuration["TxCtrlr/EVConnectionTimeOut"]; got.Value != "90" || got.Readonly {
		t.Errorf("TxCtrlr/EVConnectionTimeOut recorded as %+v after an accepted SetVariables, want 90", got)
	}
	if got := c.Configuration["ChargingStation/SupplyPhases"]; got.Value != "3" || !got.Readonly {
		t.Errorf("ChargingStation/SupplyPhases recorded as %+v after a rejected SetVariables, want 3, read-only", got)
	}
	if got := e.variables(t)["TxCtrlr/EVConnectionTimeOut"]; got.Value != "90" || got.Unit != "s" {
		t.Errorf("device model TxCtrlr/EVConnectionTimeOut %+v after an accepted SetVariables", got.VariableReport)
	}

	getConf := e.neutral(t, "get-configuration", `{"keys":["OCPPCommCtrlr/HeartbeatInterval","NoSuchCtrlr/Nothing"]}`)
	if getConf.Action != "GetVariables" || getConf.Configuration["OCPPCommCtrlr/HeartbeatInterval"].Value != "3600" ||
		!slices.Equal(getConf.UnknownKeys, []string{"NoSuchCtrlr/Nothing"}) {
		t.Errorf("get-configuration of two keys: %+v", getConf)
	}
	if r := e.neutral(t, "set-configuration", `{"key":"AuthCacheCtrlr/LifeTime","value":"7200"}`); r.Action != "SetVariables" || r.Status != "Accepted" {
		t.Errorf("set-configuration: %+v", r)
	}
	if r := e.neutral(t, "set-configuration", `{"key":"SecurityCtrlr/Identity","value":"someone-else"}`); r.Status != "Rejected" {
		t.Errorf("set-configuration of a read-only key: %+v", r)
	}
	c = e.charger(t)
	if got := c.Configuration["AuthCacheCtrlr/LifeTime"].Value; got != "7200" {
		t.Errorf("AuthCacheCtrlr/LifeTime %q after an accepted set-configuration, want 7200", got)
	}
	if got := c.Configuration["SecurityCtrlr/Identity"].Value; got != e.id {
		t.Errorf("SecurityCtrlr/Identity %q after a rejected set-configuration, want %s", got, e.id)
	}
	m = rec.mark()
	if r := e.neutral(t, "get-configuration", `{}`); r.Action != "GetBaseReport" || r.Status != "Accepted" {
		t.Errorf("get-configuration of everything: %+v", r)
	}
	confReport := e.report(t, m, -1)
	c = e.charger(t)
	for key, want := range confReport {
		if got := c.Configuration[key]; got.Value != want.Value {
			t.Errorf("configuration report says %s = %q, recorded %+v", key, want.Value, got)
		}
	}
	if got := confReport["AuthCacheCtrlr/LifeTime"].Value; got != "7200" {
		t.Errorf("AuthCacheCtrlr/LifeTime %q in the configuration report, want 7200", got)
	}

	// Smart charging: a TxProfile limits the running session, which shows
	// in the composite schedule and in the meter values it reports.
	profile := fmt.Sprintf(`{"evseId":1,"chargingProfile":{"id":11,"stackLevel":0,"chargingProfilePurpose":"TxProfile",
		"chargingProfileKind":"Relative","transactionId":%q,
		"chargingSchedule":[{"id":1,"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":8}]}]}}`, tx1)
	if r := decode[v21.SetChargingProfileResponse](t, e.command(t, "SetChargingProfile", profile)); r.Status != v21.ChargingProfileAccepted {
		t.Errorf("SetChargingProfile: %s", r.Status)
	}
	cs := decode[v21.GetCompositeScheduleResponse](t, e.command(t, "GetCompositeSchedule", `{"duration":600,"evseId":1,"chargingRateUnit":"A"}`))
	if cs.Status != v21.GenericAccepted || cs.Schedule == nil || len(cs.Schedule.ChargingSchedulePeriod) == 0 ||
		cs.Schedule.ChargingSchedulePeriod[0].Limit == nil || *cs.Schedule.ChargingSchedulePeriod[0].Limit != 8 {
		t.Errorf("GetCompositeSchedule: %+v", cs)
	}
	m = rec.mark()
	if r := decode[v21.TriggerMessageResponse](t, e.command(t, "TriggerMessage", `{"requestedMessage":"TransactionEvent","evse":{"id":1}}`)); r.Status != v21.TriggerMessageAccepted {
		t.Errorf("TriggerMessage TransactionEvent: %s", r.Status)
	}
	rec.result(t, m, "TransactionEvent", func(raw json.RawMessage) bool {
		r := decode[v21.TransactionEventRequest](t, raw)
		return r.TransactionInfo.TransactionId == tx1 && r.TriggerReason == v21.TriggerReasonTrigger
	})
	if got := e.values(t, tx1, v21.ReadingContextTrigger, v21.MeasurandCurrentImport); len(got) != 3 || slices.ContainsFunc(got, func(a float64) bool { return a != 8 }) {
		t.Errorf("session %s: triggered current readings %v under an 8 A profile, want one per phase", tx1, got)
	}
	if r := decode[v21.ClearChargingProfileResponse](t, e.command(t, "ClearChargingProfile", `{"chargingProfileId":11}`)); r.Status != v21.ClearChargingProfileAccepted {
		t.Errorf("ClearChargingProfile: %s", r.Status)
	}
	if r := decode[v21.ClearChargingProfileResponse](t, e.command(t, "ClearChargingProfile", `{"chargingProfileId":11}`)); r.Status != v21.ClearChargingProfileUnknown {
		t.Errorf("second ClearChargingProfile: %s", r.Status)
	}

	// A remote stop ends the first session.
	txStatus := func(id string) v21.GetTransactionStatusResponse {
		t.Helper()
		return decode[v21.GetTransactionStatusResponse](t, e.command(t, "GetTransactionStatus", fmt.Sprintf(`{"transactionId":%q}`, id)))
	}
	if r := txStatus(tx1); r.OngoingIndicator == nil || !*r.OngoingIndicator {
		t.Errorf("GetTransactionStatus of a running session: %+v", r)
	}
	m = rec.mark()
	if r := decode[v21.RequestStopTransactionResponse](t, e.command(t, "RequestStopTransaction", fmt.Sprintf(`{"transactionId":%q}`, tx1))); r.Status != v21.RequestStartStopAccepted {
		t.Errorf("RequestStopTransaction: %s", r.Status)
	}
	e.ended(t, m, tx1, "", 1, v21.ReasonRemote)
	if r := txStatus(tx1); r.OngoingIndicator == nil || *r.OngoingIndicator || r.MessagesInQueue {
		t.Errorf("GetTransactionStatus of an ended session: %+v", r)
	}
	if r := decode[v21.RequestStopTransactionResponse](t, e.command(t, "RequestStopTransaction", fmt.Sprintf(`{"transactionId":%q}`, tx1))); r.Status != v21.RequestStartStopRejected {
		t.Errorf("RequestStopTransaction of an ended session: %s", r.Status)
	}

	// EVSE 1 is free: unlocking, availability, reservations.
	if r := decode[v21.UnlockConnectorResponse](t, e.command(t, "UnlockConnector", `{"evseId":1,"connectorId":1}`)); r.Status != v21.UnlockUnlocked {
		t.Errorf("UnlockConnector: %s", r.Status)
	}
	if r := decode[v21.UnlockConnectorResponse](t, e.command(t, "UnlockConnector", `{"evseId":2,"connectorId":1}`)); r.Status != v21.UnlockOngoingAuthorizedTransaction {
		t.Errorf("UnlockConnector during a session: %s", r.Status)
	}
	availability := func(op v21.OperationalStatus, want v21.ConnectorStatus) {
		t.Helper()
		m := rec.mark()
		body := fmt.Sprintf(`{"operationalStatus":%q,"evse":{"id":1}}`, op)
		if r := decode[v21.ChangeAvailabilityResponse](t, e.command(t, "ChangeAvailability", body)); r.Status != v21.ChangeAvailabilityAccepted {
			t.Errorf("ChangeAvailability %s: %s", op, r.Status)
		}
		rec.result(t, m, "StatusNotification", status2(1, want))
		if st := connectorStatus(e.charger(t), 1); st != charging.ConnectorStatus(want) {
			t.Errorf("EVSE 1 %q after ChangeAvailability %s", st, op)
		}
	}
	availability(v21.OperationalInoperative, v21.ConnectorUnavailable)
	availability(v21.OperationalOperative, v21.ConnectorAvailable)

	m = rec.mark()
	expiry := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	reserve := `{"id":7,"expiryDateTime":"` + expiry + `","idToken":{"idToken":"RES-1","type":"ISO14443"},"evseId":1}`
	if r := decode[v21.ReserveNowResponse](t, e.command(t, "ReserveNow", reserve)); r.Status != v21.ReserveNowAccepted {
		t.Errorf("ReserveNow: %s", r.Status)
	}
	if r := e.reservation(t, 7); r.Status != "Accepted" || r.ConnectorID != 1 || r.IDTag != "RES-1" || string(r.ChargerID) != e.id ||
		r.Expiry.Format(time.RFC3339) != expiry {
		t.Errorf("reservation 7 after ReserveNow: %+v", r)
	}
	rec.result(t, m, "StatusNotification", status2(1, v21.ConnectorReserved))
	if st := connectorStatus(e.charger(t), 1); st != charging.StatusReserved {
		t.Errorf("EVSE 1 %q after ReserveNow", st)
	}
	m = rec.mark()
	if r := decode[v21.CancelReservationResponse](t, e.command(t, "CancelReservation", `{"reservationId":7}`)); r.Status != v21.CancelReservationAccepted {
		t.Errorf("CancelReservation: %s", r.Status)
	}
	if r := e.reservation(t, 7); r.Status != "Cancelled" {
		t.Errorf("reservation 7 after CancelReservation: %+v", r)
	}
	rec.result(t, m, "StatusNotification", status2(1, v21.ConnectorAvailable))
	if r := decode[v21.CancelReservationResponse](t, e.command(t, "CancelReservation", `{"reservationId":7}`)); r.Status != v21.CancelReservationRejected {
		t.Errorf("second CancelReservation: %s", r.Status)
	}

	// Local authorization list and cache.
	if r := decode[v21.GetLocalListVersionResponse](t, e.command(t, "GetLocalListVersion", ``)); r.VersionNumber != 0 {
		t.Errorf("GetLocalListVersion before any list: %d", r.VersionNumber)
	}
	if r := decode[v21.SendLocalListResponse](t, e.command(t, "SendLocalList", `{"versionNumber":3,"updateType":"Full",
		"localAuthorizationList":[{"idToken":{"idToken":"LOCAL-1","type":"ISO14443"},"idTokenInfo":{"status":"Accepted"}}]}`)); r.Status != v21.SendLocalListAccepted {
		t.Errorf("SendLocalList: %s", r.Status)
	}
	if r := decode[v21.GetLocalListVersionResponse](t, e.command(t, "GetLocalListVersion", `{}`)); r.VersionNumber != 3 {
		t.Errorf("GetLocalListVersion after SendLocalList version 3: %d", r.VersionNumber)
	}
	if r := decode[v21.ClearCacheResponse](t, e.command(t, "ClearCache", `{}`)); r.Status != v21.ClearCacheAccepted {
		t.Errorf("ClearCache: %s", r.Status)
	}

	// DataTransfer both ways: the appliance has no vendor extensions.
	if r := decode[v21.DataTransferResponse](t, e.command(t, "DataTransfer", `{"vendorId":"com.example.e2e","messageId":"ping","data":"x"}`)); r.Status != v21.DataTransferUnknownVendorId {
		t.Errorf("DataTransfer to the station: %s", r.Status)
	}
	if status, err := e.sim.DataTransfer(t.Context(), "com.example.e2e", "hello", "{}"); err != nil || status != string(v21.DataTransferUnknownVendorId) {
		t.Errorf("DataTransfer from the station: %q, %v; want UnknownVendorId", status, err)
	}

	// TriggerMessage for what a 2.x station sends on request.
	trigger := func(msg v21.MessageTrigger, evse int, action string, match func(json.RawMessage) bool) frame {
		t.Helper()
		m := rec.mark()
		body := fmt.Sprintf(`{"requestedMessage":%q}`, msg)
		if evse > 0 {
			body = fmt.Sprintf(`{"requestedMessage":%q,"evse":{"id":%d}}`, msg, evse)
		}
		if r := decode[v21.TriggerMessageResponse](t, e.command(t, "TriggerMessage", body)); r.Status != v21.TriggerMessageAccepted {
			t.Errorf("TriggerMessage %s: %s", msg, r.Status)
		}
		return rec.result(t, m, action, match)
	}
	if hb := decode[v21.HeartbeatResponse](t, trigger(v21.MessageTriggerHeartbeat, 0, "Heartbeat", nil).Msg.Payload); hb.CurrentTime.IsZero() {
		t.Error("Heartbeat answered without currentTime")
	}
	trigger(v21.MessageTriggerStatusNotification, 1, "StatusNotification", status2(1, v21.ConnectorAvailable))
	mv := decode[v21.MeterValuesRequest](t, trigger(v21.MessageTriggerMeterValues, 1, "MeterValues", nil).Request)
	if mv.EvseId != 1 || len(mv.MeterValue) == 0 {
		t.Errorf("triggered MeterValues: %+v", mv)
	}
	trigger(v21.MessageTriggerFirmwareStatusNotification, 0, "FirmwareStatusNotification", nil)
	trigger(v21.MessageTriggerLogStatusNotification, 0, "LogStatusNotification", nil)
	if c := e.charger(t); c.DiagnosticsStatus != string(v21.UploadLogIdle) || c.FirmwareStatus != string(v21.FirmwareIdle) {
		t.Errorf("charger after triggered status notifications: log %q, firmware %q", c.DiagnosticsStatus, c.FirmwareStatus)
	}

	// Log upload and firmware update, each reported by progress
	// notifications.
	m = rec.mark()
	if r := decode[v21.GetLogResponse](t, e.command(t, "GetLog", `{"logType":"DiagnosticsLog","requestId":5,"log":{"remoteLocation":"ftp://example.com/logs"}}`)); r.Status != v21.LogAccepted || r.Filename == "" {
		t.Errorf("GetLog: %+v", r)
	}
	rec.result(t, m, "LogStatusNotification", func(raw json.RawMessage) bool {
		return decode[v21.LogStatusNotificationRequest](t, raw).Status == v21.UploadLogUploaded
	})
	if c := e.charger(t); c.DiagnosticsStatus != string(v21.UploadLogUploaded) {
		t.Errorf("log status %q after the upload", c.DiagnosticsStatus)
	}
	m = rec.mark()
	update := `{"requestId":6,"firmware":{"location":"https://example.com/fw.bin","retrieveDateTime":"` + time.Now().UTC().Format(time.RFC3339) + `"}}`
	if r := decode[v21.UpdateFirmwareResponse](t, e.command(t, "UpdateFirmware", update)); r.Status != v21.UpdateFirmwareAccepted {
		t.Errorf("UpdateFirmware: %s", r.Status)
	}
	rec.result(t, m, "FirmwareStatusNotification", func(raw json.RawMessage) bool {
		return decode[v21.FirmwareStatusNotificationRequest](t, raw).Status == v21.FirmwareInstalled
	})
	if c := e.charger(t); c.FirmwareStatus != string(v21.FirmwareInstalled) {
		t.Errorf("firmware status %q after the update", c.FirmwareStatus)
	}

	// Remote starts, as an OCPP request and as the neutral remote-start,
	// each lead to a session with the token on the EVSE asked for. The
	// first is for the token that reserved the EVSE, which uses the
	// reservation, and carries a TxProfile that limits the session; the
	// neutral remote-stop ends it.
	if r := decode[v21.ReserveNowResponse](t, e.command(t, "ReserveNow",
		`{"id":8,"expiryDateTime":"`+expiry+`","idToken":{"idToken":"REMOTE-RAW","type":"Central"},"evseId":1}`)); r.Status != v21.ReserveNowAccepted {
		t.Errorf("ReserveNow for the remote start: %s", r.Status)
	}
	m = rec.mark()
	if r := decode[v21.RequestStartTransactionResponse](t, e.command(t, "RequestStartTransaction",
		`{"evseId":1,"remoteStartId":41,"idToken":{"idToken":"REMOTE-RAW","type":"Central"},
		"chargingProfile":{"id":12,"stackLevel":0,"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Relative",
		"chargingSchedule":[{"id":2,"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":10}]}]}}`)); r.Status != v21.RequestStartStopAccepted {
		t.Errorf("RequestStartTransaction: %s", r.Status)
	}
	txR := started(m, 1)
	if r := decode[v21.TransactionEventRequest](t, rec.result(t, m, "TransactionEvent", txEvent(v21.TransactionEventStarted, txR, 1)).Request); r.TransactionInfo.RemoteStartId == nil ||
		*r.TransactionInfo.RemoteStartId != 41 || r.TriggerReason != v21.TriggerReasonRemoteStart {
		t.Errorf("the remotely started session's Started: %+v", r)
	}
	if tx := e.session(t, txR); !tx.Active() || tx.ConnectorID != 1 || tx.EVSEConnectorID != 1 || tx.IDTag != "REMOTE-RAW" ||
		tx.ReservationID == nil || *tx.ReservationID != 8 {
		t.Errorf("session %s after RequestStartTransaction: %+v", txR, tx)
	}
	if r := e.reservation(t, 8); r.Status != "Used" {
		t.Errorf("reservation 8 after the session of its token started: %+v", r)
	}
	rec.result(t, m, "TransactionEvent", txEvent(v21.TransactionEventUpdated, txR, 0))
	if got := e.values(t, txR, v21.ReadingContextSamplePeriodic, v21.MeasurandCurrentImport); len(got) == 0 || slices.ContainsFunc(got, func(a float64) bool { return a != 10 }) {
		t.Errorf("session %s: current readings %v under the remote start's 10 A TxProfile", txR, got)
	}
	m = rec.mark()
	if r := e.neutral(t, "remote-stop", fmt.Sprintf(`{"transactionId":%d}`, e.session(t, txR).ID)); r.Action != "RequestStopTransaction" || r.Status != "Accepted" {
		t.Errorf("remote-stop: %+v", r)
	}
	e.ended(t, m, txR, "REMOTE-RAW", 1, v21.ReasonRemote)

	m = rec.mark()
	if r := e.neutral(t, "remote-start", `{"connectorId":1,"idTag":"REMOTE-1"}`); r.Action != "RequestStartTransaction" || r.Status != "Accepted" {
		t.Errorf("remote-start: %+v", r)
	}
	txN := started(m, 1)
	if tx := e.session(t, txN); !tx.Active() || tx.ConnectorID != 1 || tx.EVSEConnectorID != 1 || tx.IDTag != "REMOTE-1" ||
		tx.Protocol != string(v) || tx.Authorization != charging.AuthAccepted {
		t.Errorf("session %s after remote-start: %+v", txN, tx)
	}
	rec.result(t, m, "TransactionEvent", txEvent(v21.TransactionEventUpdated, txN, 0))

	// Resets: an EVSE alone is refused; the neutral hard reset (Immediate)
	// ends both sessions and the station boots again, reporting why.
	if r := decode[v21.ResetResponse](t, e.command(t, "Reset", `{"type":"Immediate","evseId":1}`)); r.Status != v21.ResetRejected {
		t.Errorf("Reset of EVSE 1: %s", r.Status)
	}
	m = rec.mark()
	if r := e.neutral(t, "reset", `{"type":"Hard"}`); r.Action != "Reset" || r.Status != "Accepted" {
		t.Errorf("reset: %+v", r)
	}
	e.ended(t, m, txN, "REMOTE-1", 1, v21.ReasonImmediateReset)
	e.ended(t, m, tx2, "", 2, v21.ReasonImmediateReset)
	rec.result(t, m, "BootNotification", func(raw json.RawMessage) bool {
		return decode[v21.BootNotificationRequest](t, raw).Reason == v21.BootReasonRemoteReset
	})
	rec.result(t, m, "SecurityEventNotification", nil)
	rec.result(t, m, "StatusNotification", status2(2, v21.ConnectorAvailable))
	if c := e.charger(t); !c.Connected || connectorStatus(c, 2) != charging.StatusAvailable {
		t.Errorf("charger after its reboot: connected %t, EVSE 2 %q", c.Connected, connectorStatus(c, 2))
	}
	if active := e.transactions(t, true); len(active) != 0 {
		t.Errorf("sessions still active after the reset: %+v", active)
	}

	// Refusals: nothing is sent.
	before := len(rec.all())
	expectRefused(t, e.api, "/api/v1/chargers/"+e.id+"/commands/reset", `{"type":"Sideways"}`, http.StatusBadRequest)
	e.expectStatus(t, e.id, "BootNotification", `{}`, http.StatusBadRequest)
	e.expectStatus(t, e.id, "RemoteStartTransaction", `{"idTag":"X"}`, http.StatusBadRequest)
	e.expectStatus(t, e.id, "Reset", `{"type":"Soft"}`, http.StatusBadRequest)
	e.expectStatus(t, "E2E2-NOPE", "Reset", `{"type":"Immediate"}`, http.StatusConflict)
	for _, f := range rec.all()[before:] {
		if f.FromCSMS && f.Msg.Type == ocppj.Call {
			t.Errorf("a refused command was sent: %s", f.Raw)
		}
	}

	frames := rec.all()
	checkCoverage(t, frames, coverage2(v))
	t.Run("schemas", func(t *testing.T) { validateFrames(t, v, frames) })
}

// txEvent matches a TransactionEvent request of type typ, of charger
// transaction id (any when "") on EVSE evse (any when 0).
func txEvent(typ v21.TransactionEvent, id string, evse int) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		var r v21.TransactionEventRequest
		return json.Unmarshal(raw, &r) == nil && r.EventType == typ && (id == "" || r.TransactionInfo.TransactionId == id) &&
			(evse == 0 || r.Evse != nil && r.Evse.Id == evse)
	}
}

// status2 matches a 2.x StatusNotification request of EVSE evse with st.
func status2(evse int, st v21.ConnectorStatus) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		var r v21.StatusNotificationRequest
		return json.Unmarshal(raw, &r) == nil && r.EvseId == evse && r.ConnectorStatus == st
	}
}

// session is the appliance's record of the station's session with
// charger transaction id id; there must be exactly one.
func (c *station) session(t *testing.T, id string) charging.Transaction {
	t.Helper()
	var found []charging.Transaction
	for _, tx := range c.transactions(t, false) {
		if tx.ChargerTxID == id {
			found = append(found, tx)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d sessions of %s with charger transaction id %s: %+v", len(found), c.id, id, found)
	}
	return found[0]
}

// report waits for the NotifyReport parts of request requestID (-1: the
// first report to come) sent after since, up to the last, and returns the
// attributes they reported by configuration key.
func (c *station) report(t *testing.T, since, requestID int) map[string]charging.VariableReport {
	t.Helper()
	out := map[string]charging.VariableReport{}
	for seq := 0; ; seq++ {
		f := c.rec.result(t, since, "NotifyReport", func(raw json.RawMessage) bool {
			r := decode[v21.NotifyReportRequest](t, raw)
			return (requestID < 0 || r.RequestId == requestID) && r.SeqNo == seq
		})
		r := decode[v21.NotifyReportRequest](t, f.Request)
		requestID = r.RequestId
		for _, d := range r.ReportData {
			for _, a := range d.VariableAttribute {
				v := charging.VariableReport{Component: d.Component.Name, ComponentInstance: d.Component.Instance,
					Variable: d.Variable.Name, VariableInstance: d.Variable.Instance, AttributeType: string(a.Type),
					Value: a.Value, Mutability: string(a.Mutability)}
				if v.Mutability == "" {
					v.Mutability = charging.MutabilityReadWrite
				}
				if e := d.Component.Evse; e != nil {
					v.EVSEID = e.Id
					if e.ConnectorId != nil {
						v.ConnectorID = *e.ConnectorId
					}
				}
				if ch := d.VariableCharacteristics; ch != nil {
					v.DataType, v.Unit = string(ch.DataType), ch.Unit
				}
				out[charging.ConfigKey(v)] = v
			}
		}
		if r.Tbc == nil || !*r.Tbc {
			return out
		}
	}
}

// ended waits for the acknowledged TransactionEvent Ended of charger
// transaction id (sent after since) and checks the appliance's record of
// the session against every TransactionEvent of it the station got
// acknowledged: EVSE and connector, token (tag, when given), start and
// stop times, meter start and stop (the Transaction.Begin and
// Transaction.End registers), stop reason, version tag, no sequence
// anomalies, and every meter value stored once as a reading.
func (c *station) ended(t *testing.T, since int, id, tag string, evse int, reason v21.Reason) charging.Transaction {
	t.Helper()
	c.rec.result(t, since, "TransactionEvent", txEvent(v21.TransactionEventEnded, id, 0))
	var events []v21.TransactionEventRequest
	for _, f := range c.rec.all() {
		if f.Station == c.id && f.FromCSMS && f.Msg.Type == ocppj.CallResult && f.Action == "TransactionEvent" {
			if r := decode[v21.TransactionEventRequest](t, f.Request); r.TransactionInfo.TransactionId == id {
				events = append(events, r)
			}
		}
	}
	first, last := events[0], events[len(events)-1]
	if first.EventType != v21.TransactionEventStarted || last.EventType != v21.TransactionEventEnded {
		t.Fatalf("session %s: events from %s to %s", id, first.EventType, last.EventType)
	}
	if tag == "" {
		tag = first.IdToken.IdToken
	}
	tx := c.session(t, id)
	want := tx
	want.ChargerID, want.ChargerTxID, want.Protocol, want.ReservationID = charging.ChargerID(c.id), id, string(c.version), first.ReservationId
	want.ConnectorID, want.EVSEConnectorID, want.IDTag = evse, 1, tag
	want.StartTime, want.StopTime = first.Timestamp.Time, last.Timestamp.Time
	want.MeterStartWh = registerWh(t, first, v21.ReadingContextTransactionBegin)
	stop := registerWh(t, last, v21.ReadingContextTransactionEnd)
	want.MeterStopWh = &stop
	want.StopReason, want.StopIDTag = string(reason), ""
	if last.IdToken != nil {
		want.StopIDTag = last.IdToken.IdToken
	}
	want.Authorization = charging.AuthAccepted
	want.StartedImplicitly, want.Offline, want.SeqNoGaps, want.MissingSeqNos, want.OutOfOrderEvents = false, false, 0, nil, 0
	if diff := fieldDiff(want, tx); diff != "" {
		t.Errorf("session %s (%d events) recorded differently from what the station sent:\n%s", id, len(events), diff)
	}

	sent := map[readingKey]int{}
	for _, ev := range events {
		for _, mv := range ev.MeterValue {
			for _, sv := range mv.SampledValue {
				unit := ""
				if sv.UnitOfMeasure != nil {
					unit = sv.UnitOfMeasure.Unit
				}
				sent[readingKey{mv.Timestamp.UnixMilli(), string(sv.Measurand), string(sv.Phase), string(sv.Context), unit, canonical(strconv.FormatFloat(sv.Value, 'f', -1, 64))}]++
			}
		}
	}
	stored := map[readingKey]int{}
	for _, r := range c.transaction(t, tx.ID).Readings {
		stored[readingKey{r.Timestamp.UnixMilli(), r.Measurand, r.Phase, r.Context, r.Unit, canonical(r.Value)}]++
	}
	if !maps.Equal(sent, stored) {
		t.Errorf("session %s: the readings stored differ from the meter values sent:\nsent   %v\nstored %v", id, sent, stored)
	}
	return tx
}

// values returns the stored readings of the station's session with
// charger transaction id id taken in context ctxt of measurand, as numbers.
func (c *station) values(t *testing.T, id string, ctxt v21.ReadingContext, measurand v21.Measurand) []float64 {
	t.Helper()
	var out []float64
	for _, r := range c.transaction(t, c.session(t, id).ID).Readings {
		if r.Context == string(ctxt) && r.Measurand == string(measurand) {
			f, err := strconv.ParseFloat(r.Value, 64)
			if err != nil {
				t.Errorf("session %s: reading %+v is not a number", id, r)
			}
			out = append(out, f)
		}
	}
	return out
}

// registerWh is the energy register of an event's meter values at context
// ctxt, in Wh.
func registerWh(t *testing.T, ev v21.TransactionEventRequest, ctxt v21.ReadingContext) int64 {
	t.Helper()
	for _, mv := range ev.MeterValue {
		for _, sv := range mv.SampledValue {
			if sv.Measurand == v21.MeasurandEnergyActiveImportRegister && sv.Context == ctxt && sv.Phase == "" {
				return int64(sv.Value)
			}
		}
	}
	t.Fatalf("TransactionEvent %s seqNo %d has no %s register", ev.EventType, ev.SeqNo, ctxt)
	return 0
}
