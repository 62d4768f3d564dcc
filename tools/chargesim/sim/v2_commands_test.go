package sim

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	v21 "github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

// v2Cmd is a test's handle on a 2.x station under command.
type v2Cmd struct {
	t  *testing.T
	f  *fakeCSMS
	st *Station
	id string
}

// newV2Cmd starts a station with two idle EVSEs: the scripted tag is
// refused, so sessions start only when a test asks for one.
func newV2Cmd(t *testing.T, v ocppj.Version, id string, tune func(*Options)) *v2Cmd {
	f := newFakeCSMSVersion(t, v)
	f.authorize = func(tag string) string {
		if tag == "TAG1" {
			return string(v21.AuthorizationInvalid)
		}
		return string(v21.AuthorizationAccepted)
	}
	o := testOptions2(f, id)
	o.Connectors = 2
	o.Sessions = 0
	o.Pause = time.Hour
	if tune != nil {
		tune(&o)
	}
	st, _ := runStation(t, t.Context(), o)
	for range 2 { // both EVSEs tried the refused tag
		f.next(t, isAction("Authorize"))
	}
	return &v2Cmd{t: t, f: f, st: st, id: id}
}

// cmd sends a command and returns the answer as the 2.1 type.
func (c *v2Cmd) cmd(action string, req any) any {
	c.t.Helper()
	resp, err := c.f.command2(c.t, c.id, action, req)
	if err != nil {
		c.t.Fatalf("%s: %v", action, err)
	}
	return resp
}

// remoteStart asks for a session on an EVSE until it is accepted (an
// EVSE is busy while the refused scripted tag's Authorize is answered).
func (c *v2Cmd) remoteStart(evse int, tag string, remoteStartID int) {
	c.t.Helper()
	c.remoteStartWith(&v21.RequestStartTransactionRequest{EvseId: ptr(evse), IdToken: v21.IdToken{IdToken: tag, Type: tokenCentral}, RemoteStartId: remoteStartID})
}

// remoteStartWith sends req until it is accepted.
func (c *v2Cmd) remoteStartWith(req *v21.RequestStartTransactionRequest) {
	c.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		got := c.cmd("RequestStartTransaction", req).(*v21.RequestStartTransactionResponse)
		if got.Status == v21.RequestStartStopAccepted {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("RequestStartTransaction: %s", got.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// status waits for a StatusNotification of an EVSE's connector.
func (c *v2Cmd) status(evse int, st v21.ConnectorStatus) {
	c.t.Helper()
	c.f.next(c.t, func(r rec) bool {
		s, ok := r.req21.(*v21.StatusNotificationRequest)
		return ok && s.EvseId == evse && s.ConnectorId == 1 && s.ConnectorStatus == st
	})
}

func comp(name string, evse, conn int) v21.Component {
	c := v21.Component{Name: name}
	if evse > 0 {
		c.Evse = &v21.EVSE{Id: evse}
		if conn > 0 {
			c.Evse.ConnectorId = ptr(conn)
		}
	}
	return c
}

func getVar(c v21.Component, name, inst string) v21.GetVariableData {
	return v21.GetVariableData{Component: c, Variable: v21.Variable{Name: name, Instance: inst}}
}

func setVar(c v21.Component, name, value string) v21.SetVariableData {
	return v21.SetVariableData{Component: c, Variable: v21.Variable{Name: name}, AttributeValue: value}
}

// getValue reads one variable and fails unless it is Accepted.
func (c *v2Cmd) getValue(cp v21.Component, name, inst string) string {
	c.t.Helper()
	res := c.cmd("GetVariables", &v21.GetVariablesRequest{GetVariableData: []v21.GetVariableData{getVar(cp, name, inst)}}).(*v21.GetVariablesResponse)
	if r := res.GetVariableResult[0]; r.AttributeStatus != v21.GetVariableAccepted {
		c.t.Fatalf("GetVariables %s.%s: %s", cp.Name, name, r.AttributeStatus)
	}
	return res.GetVariableResult[0].AttributeValue
}

func profile(id int, purpose v21.ChargingProfilePurpose, unit v21.ChargingRateUnit, limit float64, txID string) v21.ChargingProfile {
	return v21.ChargingProfile{
		Id: id, StackLevel: 1, ChargingProfilePurpose: purpose, ChargingProfileKind: v21.ChargingProfileKindAbsolute, TransactionId: txID,
		ChargingSchedule: []v21.ChargingSchedule{{Id: id, ChargingRateUnit: unit, StartSchedule: payload.NewDateTime(time.Now()),
			ChargingSchedulePeriod: []v21.ChargingSchedulePeriod{{StartPeriod: 0, Limit: ptr(limit)}}}},
	}
}

// TestV2Commands sends every simulated 2.x CSMS→charger command and checks
// the answer (schema-valid, decoded strictly), the state it leaves and the
// messages that follow (checked against the schema by the fake CSMS).
func TestV2Commands(t *testing.T) {
	forV2(t, func(t *testing.T, v ocppj.Version) {
		c := newV2Cmd(t, v, "CMD", nil)
		ocpp := comp("OCPPCommCtrlr", 0, 0)

		// Device model: GetVariables.
		gv := c.cmd("GetVariables", &v21.GetVariablesRequest{GetVariableData: []v21.GetVariableData{
			getVar(ocpp, "HeartbeatInterval", ""),
			getVar(comp("NoSuchCtrlr", 0, 0), "Enabled", ""),
			getVar(ocpp, "NoSuchVariable", ""),
			{Component: ocpp, Variable: v21.Variable{Name: "HeartbeatInterval"}, AttributeType: v21.AttributeTarget},
			getVar(comp("SecurityCtrlr", 0, 0), "BasicAuthPassword", ""),
			getVar(comp("EVSE", 1, 0), "AvailabilityState", ""),
			getVar(comp("Connector", 2, 1), "ConnectorType", ""),
			getVar(comp("EVSE", 3, 0), "AvailabilityState", ""),
			getVar(comp("DeviceDataCtrlr", 0, 0), "ItemsPerMessage", "GetReport"),
		}}).(*v21.GetVariablesResponse)
		want := []v21.GetVariableStatus{v21.GetVariableAccepted, v21.GetVariableUnknownComponent, v21.GetVariableUnknownVariable,
			v21.GetVariableNotSupportedAttributeType, v21.GetVariableRejected, v21.GetVariableAccepted, v21.GetVariableAccepted,
			v21.GetVariableUnknownComponent, v21.GetVariableAccepted}
		values := []string{"3600", "", "", "", "", "Available", "cType2", "", "20"}
		for i, r := range gv.GetVariableResult {
			if r.AttributeStatus != want[i] || r.AttributeValue != values[i] {
				t.Errorf("GetVariables item %d (%s.%s): %s %q, want %s %q", i, r.Component.Name, r.Variable.Name, r.AttributeStatus, r.AttributeValue, want[i], values[i])
			}
		}

		// SetVariables, and its effects.
		sv := c.cmd("SetVariables", &v21.SetVariablesRequest{SetVariableData: []v21.SetVariableData{
			setVar(comp("SampledDataCtrlr", 0, 0), "TxUpdatedInterval", "30"),
			setVar(ocpp, "HeartbeatInterval", "abc"),
			setVar(comp("LocalAuthListCtrlr", 0, 0), "ItemsPerMessage", "5"),
			setVar(comp("AuthCtrlr", 0, 0), "LocalAuthorizeOffline", "maybe"),
			setVar(comp("NoSuchCtrlr", 0, 0), "Enabled", "true"),
			setVar(comp("TxCtrlr", 0, 0), "TxStartPoint", "Bogus"),
			setVar(comp("SampledDataCtrlr", 0, 0), "TxUpdatedMeasurands", "Energy.Active.Import.Register,Voltage"),
			setVar(comp("SecurityCtrlr", 0, 0), "BasicAuthPassword", "0123456789abcdefXYZ"),
			setVar(comp("SecurityCtrlr", 0, 0), "BasicAuthPassword", "short"),
		}}).(*v21.SetVariablesResponse)
		wantSet := []v21.SetVariableStatus{v21.SetVariableAccepted, v21.SetVariableRejected, v21.SetVariableRejected, v21.SetVariableRejected,
			v21.SetVariableUnknownComponent, v21.SetVariableRejected, v21.SetVariableAccepted, v21.SetVariableAccepted, v21.SetVariableRejected}
		for i, r := range sv.SetVariableResult {
			if r.AttributeStatus != wantSet[i] {
				t.Errorf("SetVariables item %d (%s.%s): %s, want %s", i, r.Component.Name, r.Variable.Name, r.AttributeStatus, wantSet[i])
			}
		}
		if got := c.getValue(comp("SampledDataCtrlr", 0, 0), "TxUpdatedInterval", ""); got != "30" {
			t.Errorf("TxUpdatedInterval after set: %q", got)
		}

		// Availability.
		if got := c.cmd("ChangeAvailability", &v21.ChangeAvailabilityRequest{Evse: &v21.EVSE{Id: 1}, OperationalStatus: v21.OperationalInoperative}).(*v21.ChangeAvailabilityResponse); got.Status != v21.ChangeAvailabilityAccepted {
			t.Errorf("ChangeAvailability: %s", got.Status)
		}
		c.status(1, v21.ConnectorUnavailable)
		if got := c.getValue(comp("Connector", 1, 1), "AvailabilityState", ""); got != "Unavailable" {
			t.Errorf("Connector AvailabilityState %q", got)
		}
		if got := c.cmd("RequestStartTransaction", &v21.RequestStartTransactionRequest{EvseId: ptr(1), IdToken: v21.IdToken{IdToken: "R1", Type: tokenCentral}, RemoteStartId: 1}).(*v21.RequestStartTransactionResponse); got.Status != v21.RequestStartStopRejected {
			t.Errorf("RequestStartTransaction on an inoperative EVSE: %s", got.Status)
		}
		for _, e := range []*v21.EVSE{{Id: 9}, {Id: 1, ConnectorId: ptr(2)}} {
			if got := c.cmd("ChangeAvailability", &v21.ChangeAvailabilityRequest{Evse: e, OperationalStatus: v21.OperationalInoperative}).(*v21.ChangeAvailabilityResponse); got.Status != v21.ChangeAvailabilityRejected {
				t.Errorf("ChangeAvailability of %+v: %s", e, got.Status)
			}
		}
		c.cmd("ChangeAvailability", &v21.ChangeAvailabilityRequest{Evse: &v21.EVSE{Id: 1, ConnectorId: ptr(1)}, OperationalStatus: v21.OperationalOperative})
		c.status(1, v21.ConnectorAvailable)

		// Simple ones.
		if got := c.cmd("ClearCache", &v21.ClearCacheRequest{}).(*v21.ClearCacheResponse); got.Status != v21.ClearCacheAccepted {
			t.Errorf("ClearCache: %s", got.Status)
		}
		if got := c.cmd("DataTransfer", &v21.DataTransferRequest{VendorId: "acme", Data: json.RawMessage(`{"a":1}`)}).(*v21.DataTransferResponse); got.Status != v21.DataTransferUnknownVendorId {
			t.Errorf("DataTransfer: %s", got.Status)
		}
		for _, u := range []struct {
			evse, conn int
			want       v21.UnlockStatus
		}{{1, 1, v21.UnlockUnlocked}, {0, 0, v21.UnlockUnknownConnector}, {1, 2, v21.UnlockUnknownConnector}, {3, 1, v21.UnlockUnknownConnector}} {
			if got := c.cmd("UnlockConnector", &v21.UnlockConnectorRequest{EvseId: u.evse, ConnectorId: u.conn}).(*v21.UnlockConnectorResponse); got.Status != u.want {
				t.Errorf("UnlockConnector %d/%d: %s, want %s", u.evse, u.conn, got.Status, u.want)
			}
		}

		// A DataTransfer from the station carries its data as a JSON string.
		if status, err := c.st.DataTransfer(t.Context(), "com.example", "hello", "world"); err != nil || status != string(v21.DataTransferRejected) {
			t.Errorf("Station.DataTransfer: %q %v", status, err)
		}
		if dt := c.f.next(t, isAction("DataTransfer")).req21.(*v21.DataTransferRequest); dt.VendorId != "com.example" || dt.MessageId != "hello" || string(dt.Data) != `"world"` {
			t.Errorf("DataTransfer sent %+v", dt)
		}

		// Logs.
		gl := c.cmd("GetLog", &v21.GetLogRequest{LogType: v21.LogDiagnosticsLog, RequestId: 11, Log: v21.LogParameters{RemoteLocation: "https://example.com/up"}}).(*v21.GetLogResponse)
		if gl.Status != v21.LogAccepted || gl.Filename == "" {
			t.Errorf("GetLog: %+v", gl)
		}
		for _, want := range []v21.UploadLogStatus{v21.UploadLogUploading, v21.UploadLogUploaded} {
			r := c.f.next(t, isAction("LogStatusNotification")).req21.(*v21.LogStatusNotificationRequest)
			if r.Status != want || r.RequestId == nil || *r.RequestId != 11 {
				t.Errorf("LogStatusNotification %+v, want %s for request 11", r, want)
			}
		}

		// Local list.
		if got := c.cmd("GetLocalListVersion", &v21.GetLocalListVersionRequest{}).(*v21.GetLocalListVersionResponse); got.VersionNumber != 0 {
			t.Errorf("initial list version %d", got.VersionNumber)
		}
		list := []v21.AuthorizationData{{IdToken: v21.IdToken{IdToken: "L1", Type: tokenISO14443}, IdTokenInfo: &v21.IdTokenInfo{Status: v21.AuthorizationAccepted}}}
		if got := c.cmd("SendLocalList", &v21.SendLocalListRequest{VersionNumber: 5, UpdateType: v21.UpdateFull, LocalAuthorizationList: list}).(*v21.SendLocalListResponse); got.Status != v21.SendLocalListAccepted {
			t.Errorf("SendLocalList: %s", got.Status)
		}
		if got := c.cmd("GetLocalListVersion", &v21.GetLocalListVersionRequest{}).(*v21.GetLocalListVersionResponse); got.VersionNumber != 5 {
			t.Errorf("list version %d, want 5", got.VersionNumber)
		}
		if got := c.cmd("SendLocalList", &v21.SendLocalListRequest{VersionNumber: 3, UpdateType: v21.UpdateDifferential}).(*v21.SendLocalListResponse); got.Status != v21.SendLocalListVersionMismatch {
			t.Errorf("older differential: %s", got.Status)
		}
		if got := c.getValue(comp("LocalAuthListCtrlr", 0, 0), "Entries", ""); got != "1" {
			t.Errorf("LocalAuthListCtrlr.Entries %q", got)
		}

		// Reservations.
		expiry := payload.NewDateTime(time.Now().Add(time.Hour))
		res := func(id int, evse *int, tag string) v21.ReserveNowStatus {
			return c.cmd("ReserveNow", &v21.ReserveNowRequest{Id: id, EvseId: evse, ExpiryDateTime: expiry, IdToken: v21.IdToken{IdToken: tag, Type: tokenISO14443}}).(*v21.ReserveNowResponse).Status
		}
		if got := res(7, ptr(2), "RES"); got != v21.ReserveNowAccepted {
			t.Errorf("ReserveNow: %s", got)
		}
		c.status(2, v21.ConnectorReserved)
		if got := res(8, ptr(2), "OTHER"); got != v21.ReserveNowOccupied {
			t.Errorf("second ReserveNow: %s", got)
		}
		if got := c.cmd("RequestStartTransaction", &v21.RequestStartTransactionRequest{EvseId: ptr(2), IdToken: v21.IdToken{IdToken: "OTHER", Type: tokenCentral}, RemoteStartId: 2}).(*v21.RequestStartTransactionResponse); got.Status != v21.RequestStartStopRejected {
			t.Errorf("RequestStartTransaction on an EVSE reserved for another token: %s", got.Status)
		}
		if got := c.cmd("CancelReservation", &v21.CancelReservationRequest{ReservationId: 7}).(*v21.CancelReservationResponse); got.Status != v21.CancelReservationAccepted {
			t.Errorf("CancelReservation: %s", got.Status)
		}
		c.status(2, v21.ConnectorAvailable)
		if got := c.cmd("CancelReservation", &v21.CancelReservationRequest{ReservationId: 7}).(*v21.CancelReservationResponse); got.Status != v21.CancelReservationRejected {
			t.Errorf("second CancelReservation: %s", got.Status)
		}
		if got := res(9, nil, "ANY"); got != v21.ReserveNowAccepted { // any EVSE: the first
			t.Errorf("ReserveNow without an EVSE: %s", got)
		}
		c.status(1, v21.ConnectorReserved)
		c.cmd("CancelReservation", &v21.CancelReservationRequest{ReservationId: 9})
		c.status(1, v21.ConnectorAvailable)

		// Trigger messages.
		trig := func(msg v21.MessageTrigger, evse *v21.EVSE) v21.TriggerMessageStatus {
			return c.cmd("TriggerMessage", &v21.TriggerMessageRequest{RequestedMessage: msg, Evse: evse}).(*v21.TriggerMessageResponse).Status
		}
		if got := trig(v21.MessageTriggerStatusNotification, &v21.EVSE{Id: 2, ConnectorId: ptr(1)}); got != v21.TriggerMessageAccepted {
			t.Errorf("TriggerMessage StatusNotification: %s", got)
		}
		c.status(2, v21.ConnectorAvailable)
		trig(v21.MessageTriggerHeartbeat, nil)
		c.f.next(t, isAction("Heartbeat"))
		trig(v21.MessageTriggerMeterValues, &v21.EVSE{Id: 1})
		mv := c.f.next(t, isAction("MeterValues")).req21.(*v21.MeterValuesRequest)
		if s := sampled(mv.MeterValue); mv.EvseId != 1 || s[string(v21.MeasurandEnergyActiveImportRegister)].Context != v21.ReadingContextTrigger {
			t.Errorf("triggered MeterValues %+v", mv)
		}
		trig(v21.MessageTriggerLogStatusNotification, nil)
		if r := c.f.next(t, isAction("LogStatusNotification")).req21.(*v21.LogStatusNotificationRequest); r.Status != v21.UploadLogUploaded || r.RequestId == nil || *r.RequestId != 11 {
			t.Errorf("triggered LogStatusNotification %+v", r)
		}
		trig(v21.MessageTriggerFirmwareStatusNotification, nil)
		if r := c.f.next(t, isAction("FirmwareStatusNotification")).req21.(*v21.FirmwareStatusNotificationRequest); r.Status != v21.FirmwareIdle || r.RequestId != nil {
			t.Errorf("triggered FirmwareStatusNotification %+v", r)
		}
		for _, tc := range []struct {
			msg  v21.MessageTrigger
			evse *v21.EVSE
			want v21.TriggerMessageStatus
		}{
			{v21.MessageTriggerBootNotification, nil, v21.TriggerMessageRejected},       // already accepted
			{v21.MessageTriggerTransactionEvent, nil, v21.TriggerMessageRejected},       // no transaction
			{v21.MessageTriggerHeartbeat, &v21.EVSE{Id: 7}, v21.TriggerMessageRejected}, // no such EVSE
			{v21.MessageTriggerSignChargingStationCertificate, nil, v21.TriggerMessageNotImplemented},
		} {
			if got := trig(tc.msg, tc.evse); got != tc.want {
				t.Errorf("TriggerMessage %s: %s, want %s", tc.msg, got, tc.want)
			}
		}

		// Firmware.
		if got := c.cmd("UpdateFirmware", &v21.UpdateFirmwareRequest{RequestId: 42, Firmware: v21.Firmware{Location: "https://example.com/fw.bin", RetrieveDateTime: payload.NewDateTime(time.Now())}}).(*v21.UpdateFirmwareResponse); got.Status != v21.UpdateFirmwareAccepted {
			t.Errorf("UpdateFirmware: %s", got.Status)
		}
		for _, want := range []v21.FirmwareStatus{v21.FirmwareDownloading, v21.FirmwareDownloaded, v21.FirmwareInstalling, v21.FirmwareInstalled} {
			r := c.f.next(t, isAction("FirmwareStatusNotification")).req21.(*v21.FirmwareStatusNotificationRequest)
			if r.Status != want || r.RequestId == nil || *r.RequestId != 42 {
				t.Errorf("firmware status %+v, want %s for request 42", r, want)
			}
		}

		// Smart charging.
		setProf := func(evse int, p v21.ChargingProfile) v21.ChargingProfileStatus {
			return c.cmd("SetChargingProfile", &v21.SetChargingProfileRequest{EvseId: evse, ChargingProfile: p}).(*v21.SetChargingProfileResponse).Status
		}
		if got := setProf(0, profile(1, v21.ChargingProfilePurposeChargingStationMaxProfile, v21.ChargingRateUnitA, 10, "")); got != v21.ChargingProfileAccepted {
			t.Errorf("SetChargingProfile: %s", got)
		}
		if got := setProf(1, profile(2, v21.ChargingProfilePurposeTxProfile, v21.ChargingRateUnitA, 6, "no-such-tx")); got != v21.ChargingProfileRejected {
			t.Errorf("TxProfile without a transaction: %s", got)
		}
		if got := setProf(0, profile(3, v21.ChargingProfilePurposeChargingStationExternalConstraints, v21.ChargingRateUnitA, 6, "")); got != v21.ChargingProfileRejected {
			t.Errorf("ChargingStationExternalConstraints from the CSMS: %s", got)
		}
		for unit, want := range map[v21.ChargingRateUnit]float64{v21.ChargingRateUnitA: 10, v21.ChargingRateUnitW: 6900} {
			cs := c.cmd("GetCompositeSchedule", &v21.GetCompositeScheduleRequest{EvseId: 1, Duration: 3600, ChargingRateUnit: unit}).(*v21.GetCompositeScheduleResponse)
			if cs.Status != v21.GenericAccepted || cs.Schedule == nil || cs.Schedule.ChargingRateUnit != unit || *cs.Schedule.ChargingSchedulePeriod[0].Limit != want {
				t.Errorf("GetCompositeSchedule %s = %+v", unit, cs.Schedule)
			}
		}
		if got := c.cmd("GetCompositeSchedule", &v21.GetCompositeScheduleRequest{EvseId: 5, Duration: 60}).(*v21.GetCompositeScheduleResponse); got.Status != v21.GenericRejected {
			t.Errorf("GetCompositeSchedule of EVSE 5: %s", got.Status)
		}
		if got := c.getValue(comp("SmartChargingCtrlr", 0, 0), "Entries", "ChargingProfiles"); got != "1" {
			t.Errorf("SmartChargingCtrlr.Entries %q", got)
		}
		if got := c.cmd("ClearChargingProfile", &v21.ClearChargingProfileRequest{ChargingProfileId: ptr(1)}).(*v21.ClearChargingProfileResponse); got.Status != v21.ClearChargingProfileAccepted {
			t.Errorf("ClearChargingProfile: %s", got.Status)
		}
		if got := c.cmd("ClearChargingProfile", &v21.ClearChargingProfileRequest{ChargingProfileCriteria: &v21.ClearChargingProfile{EvseId: ptr(0)}}).(*v21.ClearChargingProfileResponse); got.Status != v21.ClearChargingProfileUnknown {
			t.Errorf("second ClearChargingProfile: %s", got.Status)
		}

		// Device model report, in parts.
		for _, base := range []v21.ReportBase{v21.ReportBaseFullInventory, v21.ReportBaseConfigurationInventory, v21.ReportBaseSummaryInventory} {
			if got := c.cmd("GetBaseReport", &v21.GetBaseReportRequest{RequestId: 3, ReportBase: base}).(*v21.GetBaseReportResponse); got.Status != v21.GenericDeviceModelAccepted {
				t.Fatalf("GetBaseReport %s: %s", base, got.Status)
			}
			var data []v21.ReportData
			for seq := 0; ; seq++ {
				r := c.f.next(t, isAction("NotifyReport")).req21.(*v21.NotifyReportRequest)
				if r.RequestId != 3 || r.SeqNo != seq || len(r.ReportData) > 20 {
					t.Fatalf("NotifyReport %d of %s: requestId %d seqNo %d, %d items", seq, base, r.RequestId, r.SeqNo, len(r.ReportData))
				}
				data = append(data, r.ReportData...)
				if r.Tbc == nil || !*r.Tbc {
					break
				}
			}
			find := func(comp, name string) *v21.ReportData {
				i := slices.IndexFunc(data, func(d v21.ReportData) bool { return d.Component.Name == comp && d.Variable.Name == name })
				if i < 0 {
					return nil
				}
				return &data[i]
			}
			switch base {
			case v21.ReportBaseFullInventory:
				hb := find("OCPPCommCtrlr", "HeartbeatInterval")
				pw := find("SecurityCtrlr", "BasicAuthPassword")
				if len(data) <= 40 || hb == nil || hb.VariableAttribute[0].Value != "3600" || hb.VariableAttribute[0].Mutability != v21.MutabilityReadWrite ||
					hb.VariableCharacteristics.DataType != v21.DataInteger || pw == nil || pw.VariableAttribute[0].Value != "" {
					t.Errorf("full report: %d items, HeartbeatInterval %+v, BasicAuthPassword %+v", len(data), hb, pw)
				}
				if find("Connector", "ConnectorType") == nil || find("EVSE", "Power") == nil {
					t.Error("full report lacks the EVSE and Connector components")
				}
			case v21.ReportBaseConfigurationInventory:
				for _, d := range data {
					if d.VariableAttribute[0].Mutability == v21.MutabilityReadOnly {
						t.Errorf("configuration report has read-only %s.%s", d.Component.Name, d.Variable.Name)
					}
				}
			case v21.ReportBaseSummaryInventory:
				if len(data) != 1+2*2 {
					t.Errorf("summary report has %d items", len(data))
				}
			}
		}

		// Remote start, status and stop.
		c.remoteStart(1, "REMOTE", 77)
		c.status(1, v21.ConnectorOccupied)
		start := txEvent(c.f.next(t, isEvent(v21.TransactionEventStarted)))
		if start.TriggerReason != v21.TriggerReasonRemoteStart || start.TransactionInfo.RemoteStartId == nil || *start.TransactionInfo.RemoteStartId != 77 ||
			start.IdToken == nil || start.IdToken.IdToken != "REMOTE" || start.IdToken.Type != tokenCentral || start.Evse.Id != 1 {
			t.Errorf("remote Started %+v", start)
		}
		txID := start.TransactionInfo.TransactionId
		if got := c.cmd("RequestStartTransaction", &v21.RequestStartTransactionRequest{EvseId: ptr(1), IdToken: v21.IdToken{IdToken: "REMOTE", Type: tokenCentral}, RemoteStartId: 78}).(*v21.RequestStartTransactionResponse); got.Status != v21.RequestStartStopRejected {
			t.Errorf("RequestStartTransaction on a busy EVSE: %s", got.Status)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			ts := c.cmd("GetTransactionStatus", &v21.GetTransactionStatusRequest{TransactionId: txID}).(*v21.GetTransactionStatusResponse)
			if ts.OngoingIndicator == nil || !*ts.OngoingIndicator {
				t.Fatalf("GetTransactionStatus of the running transaction: %+v", ts)
			}
			if !ts.MessagesInQueue {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the transaction's messages stay queued")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if ts := c.cmd("GetTransactionStatus", &v21.GetTransactionStatusRequest{TransactionId: "unknown"}).(*v21.GetTransactionStatusResponse); ts.OngoingIndicator == nil || *ts.OngoingIndicator || ts.MessagesInQueue {
			t.Errorf("GetTransactionStatus of an unknown transaction: %+v", ts)
		}
		if got := setProf(1, profile(4, v21.ChargingProfilePurposeTxProfile, v21.ChargingRateUnitA, 6, txID)); got != v21.ChargingProfileAccepted {
			t.Errorf("TxProfile of the running transaction: %s", got)
		}
		trig(v21.MessageTriggerTransactionEvent, &v21.EVSE{Id: 1})
		if ev := txEvent(c.f.next(t, isEvent(v21.TransactionEventUpdated))); ev.TriggerReason != v21.TriggerReasonTrigger || ev.TransactionInfo.TransactionId != txID {
			t.Errorf("triggered TransactionEvent %+v", ev)
		} else if s := sampled(ev.MeterValue); len(s) != 2 || s[string(v21.MeasurandVoltage)+string(v21.PhaseL1N)].Value != nominalVoltage {
			// TxUpdatedMeasurands was set to energy and voltage.
			t.Errorf("triggered TransactionEvent measurands %+v", ev.MeterValue)
		}
		if got := c.cmd("UnlockConnector", &v21.UnlockConnectorRequest{EvseId: 1, ConnectorId: 1}).(*v21.UnlockConnectorResponse); got.Status != v21.UnlockOngoingAuthorizedTransaction {
			t.Errorf("UnlockConnector during a transaction: %s", got.Status)
		}
		if got := c.cmd("RequestStopTransaction", &v21.RequestStopTransactionRequest{TransactionId: "unknown"}).(*v21.RequestStopTransactionResponse); got.Status != v21.RequestStartStopRejected {
			t.Errorf("RequestStopTransaction of an unknown transaction: %s", got.Status)
		}
		if got := c.cmd("RequestStopTransaction", &v21.RequestStopTransactionRequest{TransactionId: txID}).(*v21.RequestStopTransactionResponse); got.Status != v21.RequestStartStopAccepted {
			t.Errorf("RequestStopTransaction: %s", got.Status)
		}
		if got := c.cmd("RequestStopTransaction", &v21.RequestStopTransactionRequest{TransactionId: txID}).(*v21.RequestStopTransactionResponse); got.Status != v21.RequestStartStopRejected {
			t.Errorf("second RequestStopTransaction: %s", got.Status)
		}
		end := txEvent(c.f.next(t, isEvent(v21.TransactionEventEnded)))
		if end.TransactionInfo.TransactionId != txID || end.TransactionInfo.StoppedReason != v21.ReasonRemote || end.TriggerReason != v21.TriggerReasonRemoteStop {
			t.Errorf("Ended %+v", end)
		}
		c.status(1, v21.ConnectorAvailable)
		if got := c.getValue(comp("SmartChargingCtrlr", 0, 0), "Entries", "ChargingProfiles"); got != "0" {
			t.Errorf("the TxProfile outlived its transaction: %s profiles", got)
		}

		// Invalid, unknown and unsupported calls get CALLERRORs.
		conn, _ := c.f.srv.Conn("CMD")
		for _, tc := range []struct {
			action, payload string
			want            ocppj.ErrorCode
		}{
			{"ChangeAvailability", `{"operationalStatus":7}`, ocppj.TypeConstraintViolation},
			{"ChangeAvailability", `{}`, ocppj.OccurrenceConstraintViolation},
			{"ChangeAvailability", `{"operationalStatus":"Sideways"}`, ocppj.PropertyConstraintViolation},
			{"Heartbeat", `{}`, ocppj.NotSupported},
			{"FlyToTheMoon", `{}`, ocppj.NotImplemented},
			{"ClearDisplayMessage", `{"id":1}`, ocppj.NotSupported},
			{"CustomerInformation", `{"requestId":1,"report":true,"clear":false}`, ocppj.NotSupported},
		} {
			_, err := conn.Call(t.Context(), tc.action, json.RawMessage(tc.payload))
			if oe := asOCPPError(err); oe == nil || oe.Code != tc.want {
				t.Errorf("%s %s: %v, want %s", tc.action, tc.payload, err, tc.want)
			}
		}

		// HeartbeatInterval takes effect at once.
		c.cmd("SetVariables", &v21.SetVariablesRequest{SetVariableData: []v21.SetVariableData{setVar(ocpp, "HeartbeatInterval", "1")}})
		// Two heartbeats come within next's 30 s only at the new interval.
		c.f.drain()
		c.f.next(t, isAction("Heartbeat"))
		c.f.next(t, isAction("Heartbeat"))
	})
}

// TestV2Reset: an immediate reset ends the running transaction and
// reboots; the boot says why and a security event follows. OnIdle waits
// for the transaction to end.
func TestV2Reset(t *testing.T) {
	forV2(t, func(t *testing.T, v ocppj.Version) {
		c := newV2Cmd(t, v, "RST", nil)
		remote := func(id int) string {
			c.t.Helper()
			c.remoteStart(1, "REMOTE", id)
			return txEvent(c.f.next(t, isEvent(v21.TransactionEventStarted))).TransactionInfo.TransactionId
		}
		afterReboot := func() {
			t.Helper()
			boot := c.f.next(t, isAction("BootNotification")).req21.(*v21.BootNotificationRequest)
			if boot.Reason != v21.BootReasonRemoteReset {
				t.Errorf("boot reason %s, want RemoteReset", boot.Reason)
			}
			c.status(2, v21.ConnectorAvailable)
			ev := c.f.next(t, isAction("SecurityEventNotification")).req21.(*v21.SecurityEventNotificationRequest)
			if ev.Type != "ResetOrReboot" || !strings.Contains(ev.TechInfo, "Reset") {
				t.Errorf("security event %+v", ev)
			}
		}

		if got := c.cmd("Reset", &v21.ResetRequest{Type: v21.ResetImmediate, EvseId: ptr(1)}).(*v21.ResetResponse); got.Status != v21.ResetRejected {
			t.Errorf("Reset of EVSE 1: %s", got.Status)
		}

		// OnIdle during a transaction: scheduled until it ends.
		txID := remote(1)
		if got := c.cmd("Reset", &v21.ResetRequest{Type: v21.ResetOnIdle}).(*v21.ResetResponse); got.Status != v21.ResetScheduled {
			t.Errorf("Reset OnIdle during a transaction: %s", got.Status)
		}
		c.cmd("RequestStopTransaction", &v21.RequestStopTransactionRequest{TransactionId: txID})
		if end := txEvent(c.f.next(t, isEvent(v21.TransactionEventEnded))); end.TransactionInfo.StoppedReason != v21.ReasonRemote {
			t.Errorf("Ended %+v", end)
		}
		afterReboot()

		// Immediate: the transaction ends with the reset.
		txID = remote(2)
		if got := c.cmd("Reset", &v21.ResetRequest{Type: v21.ResetImmediate}).(*v21.ResetResponse); got.Status != v21.ResetAccepted {
			t.Errorf("Reset Immediate: %s", got.Status)
		}
		end := txEvent(c.f.next(t, isEvent(v21.TransactionEventEnded)))
		if end.TransactionInfo.TransactionId != txID || end.TransactionInfo.StoppedReason != v21.ReasonImmediateReset || end.TriggerReason != v21.TriggerReasonResetCommand {
			t.Errorf("Ended by reset %+v", end)
		}
		afterReboot()
	})
}

// TestV2TransactionStatusQueued: GetTransactionStatus reports a
// transaction message the CSMS has not acknowledged yet.
func TestV2TransactionStatusQueued(t *testing.T) {
	forV2(t, func(t *testing.T, v ocppj.Version) {
		c := newV2Cmd(t, v, "TXS", func(o *Options) { o.RetryInterval = time.Hour })
		// The first Started is refused once, then waits an hour to be re-sent.
		refused := make(chan string, 1)
		c.f.mu.Lock()
		c.f.intercept = func(_ *rpc.Conn, r rec) (any, error, bool) {
			if m := txEvent(r); m != nil && m.EventType == v21.TransactionEventStarted {
				select {
				case refused <- m.TransactionInfo.TransactionId:
					return nil, ocppj.Errorf(ocppj.InternalError, "not now"), true
				default:
				}
			}
			return nil, nil, false
		}
		c.f.mu.Unlock()
		c.remoteStart(2, "Q", 5)
		txID := <-refused
		// Until the station has the CALLERROR, the message is in flight
		// (queued too); afterwards it waits in the queue.
		ts := c.cmd("GetTransactionStatus", &v21.GetTransactionStatusRequest{TransactionId: txID}).(*v21.GetTransactionStatusResponse)
		if ts.OngoingIndicator == nil || !*ts.OngoingIndicator || !ts.MessagesInQueue {
			t.Errorf("GetTransactionStatus of a queued transaction: %+v", ts)
		}
		if ts := c.cmd("GetTransactionStatus", &v21.GetTransactionStatusRequest{}).(*v21.GetTransactionStatusResponse); !ts.MessagesInQueue || ts.OngoingIndicator != nil {
			t.Errorf("GetTransactionStatus without an id: %+v", ts)
		}
	})
}

// TestV2RemoteStartProfile: a TxProfile in RequestStartTransaction limits
// the transaction it starts, and ends with it; another purpose is refused.
func TestV2RemoteStartProfile(t *testing.T) {
	forV2(t, func(t *testing.T, v ocppj.Version) {
		c := newV2Cmd(t, v, "RSP", nil)
		start := func(id int, prof v21.ChargingProfile) *v21.RequestStartTransactionRequest {
			return &v21.RequestStartTransactionRequest{EvseId: ptr(1), IdToken: v21.IdToken{IdToken: "REMOTE", Type: tokenCentral},
				RemoteStartId: id, ChargingProfile: &prof}
		}
		if got := c.cmd("RequestStartTransaction", start(1, profile(5, v21.ChargingProfilePurposeTxDefaultProfile, v21.ChargingRateUnitA, 6, ""))).(*v21.RequestStartTransactionResponse); got.Status != v21.RequestStartStopRejected {
			t.Errorf("RequestStartTransaction with a TxDefaultProfile: %s", got.Status)
		}
		c.remoteStartWith(start(2, profile(6, v21.ChargingProfilePurposeTxProfile, v21.ChargingRateUnitA, 10, "")))
		up := txEvent(c.f.next(t, func(r rec) bool {
			m := txEvent(r)
			return m != nil && m.TriggerReason == v21.TriggerReasonMeterValuePeriodic
		}))
		for key, sv := range sampled(up.MeterValue) {
			if sv.Measurand == v21.MeasurandCurrentImport && sv.Value != 10 {
				t.Errorf("%s %v A under a 10 A TxProfile", key, sv.Value)
			}
		}
		cs := c.cmd("GetCompositeSchedule", &v21.GetCompositeScheduleRequest{EvseId: 1, Duration: 60, ChargingRateUnit: v21.ChargingRateUnitA}).(*v21.GetCompositeScheduleResponse)
		if cs.Schedule == nil || *cs.Schedule.ChargingSchedulePeriod[0].Limit != 10 {
			t.Errorf("composite schedule during the session: %+v", cs.Schedule)
		}
		stop := c.cmd("RequestStopTransaction", &v21.RequestStopTransactionRequest{TransactionId: up.TransactionInfo.TransactionId}).(*v21.RequestStopTransactionResponse)
		if stop.Status != v21.RequestStartStopAccepted {
			t.Fatalf("RequestStopTransaction: %s", stop.Status)
		}
		c.f.next(t, isEvent(v21.TransactionEventEnded))
		c.status(1, v21.ConnectorAvailable)
		if got := c.cmd("ClearChargingProfile", &v21.ClearChargingProfileRequest{ChargingProfileId: ptr(6)}).(*v21.ClearChargingProfileResponse); got.Status != v21.ClearChargingProfileUnknown {
			t.Errorf("the remote start's TxProfile outlived its transaction: ClearChargingProfile %s", got.Status)
		}
	})
}
