package sim

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/v16"
)

// TestCommands sends every 1.6 CSMS→charger command and checks the answer
// (decoded strictly), the state it leaves and the messages that follow.
func TestCommands(t *testing.T) {
	f := newFakeCSMS(t)
	// The scripted tag is refused, so the connectors stay idle.
	f.authorize = func(tag string) string {
		if tag == "TAG1" {
			return string(v16.AuthorizationInvalid)
		}
		return string(v16.AuthorizationAccepted)
	}
	o := testOptions(f, "CMD")
	o.Connectors = 2
	o.Sessions = 0
	o.Pause = time.Hour
	runStation(t, t.Context(), o)
	for range 2 { // both connectors tried the refused tag
		f.next(t, isAction("Authorize"))
	}

	cmd := func(action string, req any) any {
		t.Helper()
		resp, err := f.command(t, "CMD", action, req)
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		return resp
	}
	status := func(connector int, st v16.ChargePointStatus) {
		t.Helper()
		f.next(t, func(r rec) bool {
			s, ok := r.req.(*v16.StatusNotificationRequest)
			return ok && s.ConnectorId == connector && s.Status == st
		})
	}

	// Configuration.
	gc := cmd("GetConfiguration", &v16.GetConfigurationRequest{Key: []string{"HeartbeatInterval", "NoSuchKey"}}).(*v16.GetConfigurationResponse)
	if len(gc.ConfigurationKey) != 1 || gc.ConfigurationKey[0].Key != "HeartbeatInterval" || !slices.Equal(gc.UnknownKey, []string{"NoSuchKey"}) {
		t.Errorf("GetConfiguration = %+v", gc)
	}
	all := cmd("GetConfiguration", &v16.GetConfigurationRequest{}).(*v16.GetConfigurationResponse)
	if len(all.ConfigurationKey) < 20 {
		t.Errorf("GetConfiguration lists %d keys", len(all.ConfigurationKey))
	}
	for _, c := range []struct {
		key, value string
		want       v16.ConfigurationStatus
	}{
		{"MeterValueSampleInterval", "30", v16.ConfigurationAccepted},
		{"HeartbeatInterval", "abc", v16.ConfigurationRejected},
		{"NumberOfConnectors", "5", v16.ConfigurationRejected},
		{"LocalAuthorizeOffline", "maybe", v16.ConfigurationRejected},
		{"NoSuchKey", "1", v16.ConfigurationNotSupported},
	} {
		got := cmd("ChangeConfiguration", &v16.ChangeConfigurationRequest{Key: c.key, Value: c.value}).(*v16.ChangeConfigurationResponse)
		if got.Status != c.want {
			t.Errorf("ChangeConfiguration %s=%s: %s, want %s", c.key, c.value, got.Status, c.want)
		}
	}
	gc = cmd("GetConfiguration", &v16.GetConfigurationRequest{Key: []string{"MeterValueSampleInterval"}}).(*v16.GetConfigurationResponse)
	if len(gc.ConfigurationKey) != 1 || *gc.ConfigurationKey[0].Value != "30" {
		t.Errorf("MeterValueSampleInterval after change: %+v", gc)
	}
	cmd("ChangeConfiguration", &v16.ChangeConfigurationRequest{Key: "MeterValueSampleInterval", Value: "1"})

	// Availability.
	if got := cmd("ChangeAvailability", &v16.ChangeAvailabilityRequest{ConnectorId: 1, Type: v16.AvailabilityTypeInoperative}).(*v16.ChangeAvailabilityResponse); got.Status != v16.AvailabilityStatusAccepted {
		t.Errorf("ChangeAvailability: %s", got.Status)
	}
	status(1, v16.StatusUnavailable)
	if got := cmd("RemoteStartTransaction", &v16.RemoteStartTransactionRequest{ConnectorId: intp(1), IdTag: "R1"}).(*v16.RemoteStartTransactionResponse); got.Status != v16.RemoteStartStopRejected {
		t.Errorf("RemoteStart on an inoperative connector: %s", got.Status)
	}
	if got := cmd("ChangeAvailability", &v16.ChangeAvailabilityRequest{ConnectorId: 9, Type: v16.AvailabilityTypeInoperative}).(*v16.ChangeAvailabilityResponse); got.Status != v16.AvailabilityStatusRejected {
		t.Errorf("ChangeAvailability of connector 9: %s", got.Status)
	}
	cmd("ChangeAvailability", &v16.ChangeAvailabilityRequest{ConnectorId: 1, Type: v16.AvailabilityTypeOperative})
	status(1, v16.StatusAvailable)

	// Simple ones.
	if got := cmd("ClearCache", &v16.ClearCacheRequest{}).(*v16.ClearCacheResponse); got.Status != v16.ClearCacheAccepted {
		t.Errorf("ClearCache: %s", got.Status)
	}
	if got := cmd("DataTransfer", &v16.DataTransferRequest{VendorId: "acme"}).(*v16.DataTransferResponse); got.Status != v16.DataTransferUnknownVendorId {
		t.Errorf("DataTransfer: %s", got.Status)
	}
	if got := cmd("GetDiagnostics", &v16.GetDiagnosticsRequest{Location: "ftp://example.com/up"}).(*v16.GetDiagnosticsResponse); got.FileName == "" {
		t.Error("GetDiagnostics without fileName")
	}
	for _, want := range []v16.DiagnosticsStatus{v16.DiagnosticsUploading, v16.DiagnosticsUploaded} {
		r := f.next(t, isAction("DiagnosticsStatusNotification"))
		if got := r.req.(*v16.DiagnosticsStatusNotificationRequest).Status; got != want {
			t.Errorf("diagnostics status %s, want %s", got, want)
		}
	}
	if got := cmd("UnlockConnector", &v16.UnlockConnectorRequest{ConnectorId: 1}).(*v16.UnlockConnectorResponse); got.Status != v16.UnlockUnlocked {
		t.Errorf("UnlockConnector: %s", got.Status)
	}
	if got := cmd("UnlockConnector", &v16.UnlockConnectorRequest{ConnectorId: 0}).(*v16.UnlockConnectorResponse); got.Status != v16.UnlockNotSupported {
		t.Errorf("UnlockConnector 0: %s", got.Status)
	}

	// Local list.
	if got := cmd("GetLocalListVersion", &v16.GetLocalListVersionRequest{}).(*v16.GetLocalListVersionResponse); got.ListVersion != 0 {
		t.Errorf("initial list version %d", got.ListVersion)
	}
	list := []v16.AuthorizationData{{IdTag: "L1", IdTagInfo: &v16.IdTagInfo{Status: v16.AuthorizationAccepted}}}
	if got := cmd("SendLocalList", &v16.SendLocalListRequest{ListVersion: 5, UpdateType: v16.UpdateTypeFull, LocalAuthorizationList: list}).(*v16.SendLocalListResponse); got.Status != v16.UpdateStatusAccepted {
		t.Errorf("SendLocalList: %s", got.Status)
	}
	if got := cmd("GetLocalListVersion", &v16.GetLocalListVersionRequest{}).(*v16.GetLocalListVersionResponse); got.ListVersion != 5 {
		t.Errorf("list version %d, want 5", got.ListVersion)
	}
	if got := cmd("SendLocalList", &v16.SendLocalListRequest{ListVersion: 3, UpdateType: v16.UpdateTypeDifferential}).(*v16.SendLocalListResponse); got.Status != v16.UpdateStatusVersionMismatch {
		t.Errorf("older differential: %s", got.Status)
	}

	// Reservations.
	expiry := v16.DateTime{Time: time.Now().Add(time.Hour)}
	if got := cmd("ReserveNow", &v16.ReserveNowRequest{ConnectorId: 2, ExpiryDate: expiry, IdTag: "RES", ReservationId: 7}).(*v16.ReserveNowResponse); got.Status != v16.ReservationAccepted {
		t.Errorf("ReserveNow: %s", got.Status)
	}
	status(2, v16.StatusReserved)
	if got := cmd("ReserveNow", &v16.ReserveNowRequest{ConnectorId: 2, ExpiryDate: expiry, IdTag: "OTHER", ReservationId: 8}).(*v16.ReserveNowResponse); got.Status != v16.ReservationOccupied {
		t.Errorf("second ReserveNow: %s", got.Status)
	}
	if got := cmd("RemoteStartTransaction", &v16.RemoteStartTransactionRequest{ConnectorId: intp(2), IdTag: "OTHER"}).(*v16.RemoteStartTransactionResponse); got.Status != v16.RemoteStartStopRejected {
		t.Errorf("RemoteStart on a connector reserved for another tag: %s", got.Status)
	}
	if got := cmd("CancelReservation", &v16.CancelReservationRequest{ReservationId: 7}).(*v16.CancelReservationResponse); got.Status != v16.CancelReservationAccepted {
		t.Errorf("CancelReservation: %s", got.Status)
	}
	status(2, v16.StatusAvailable)
	if got := cmd("CancelReservation", &v16.CancelReservationRequest{ReservationId: 7}).(*v16.CancelReservationResponse); got.Status != v16.CancelReservationRejected {
		t.Errorf("second CancelReservation: %s", got.Status)
	}

	// Trigger messages.
	if got := cmd("TriggerMessage", &v16.TriggerMessageRequest{RequestedMessage: v16.TriggerStatusNotification, ConnectorId: intp(2)}).(*v16.TriggerMessageResponse); got.Status != v16.TriggerMessageAccepted {
		t.Errorf("TriggerMessage: %s", got.Status)
	}
	status(2, v16.StatusAvailable)
	cmd("TriggerMessage", &v16.TriggerMessageRequest{RequestedMessage: v16.TriggerHeartbeat})
	f.next(t, isAction("Heartbeat"))
	cmd("TriggerMessage", &v16.TriggerMessageRequest{RequestedMessage: v16.TriggerMeterValues, ConnectorId: intp(1)})
	if r := f.next(t, isAction("MeterValues")); r.req.(*v16.MeterValuesRequest).MeterValue[0].SampledValue[0].Context != v16.ContextTrigger {
		t.Errorf("triggered MeterValues: %s", r.raw)
	}
	if got := cmd("TriggerMessage", &v16.TriggerMessageRequest{RequestedMessage: v16.TriggerHeartbeat, ConnectorId: intp(7)}).(*v16.TriggerMessageResponse); got.Status != v16.TriggerMessageRejected {
		t.Errorf("TriggerMessage for connector 7: %s", got.Status)
	}

	// Firmware.
	cmd("UpdateFirmware", &v16.UpdateFirmwareRequest{Location: "https://example.com/fw.bin", RetrieveDate: v16.DateTime{Time: time.Now()}})
	for _, want := range []v16.FirmwareStatus{v16.FirmwareDownloading, v16.FirmwareDownloaded, v16.FirmwareInstalling, v16.FirmwareInstalled} {
		r := f.next(t, isAction("FirmwareStatusNotification"))
		if got := r.req.(*v16.FirmwareStatusNotificationRequest).Status; got != want {
			t.Errorf("firmware status %s, want %s", got, want)
		}
	}

	// Smart charging.
	profile := func(id int, purpose v16.ChargingProfilePurpose, limit float64) v16.ChargingProfile {
		return v16.ChargingProfile{ChargingProfileId: id, StackLevel: 1, ChargingProfilePurpose: purpose, ChargingProfileKind: v16.KindAbsolute,
			ChargingSchedule: v16.ChargingSchedule{ChargingRateUnit: v16.RateUnitA, ChargingSchedulePeriod: []v16.ChargingSchedulePeriod{{StartPeriod: 0, Limit: limit}}}}
	}
	if got := cmd("SetChargingProfile", &v16.SetChargingProfileRequest{ConnectorId: 0, CsChargingProfiles: profile(1, v16.PurposeChargePointMaxProfile, 10)}).(*v16.SetChargingProfileResponse); got.Status != v16.ChargingProfileAccepted {
		t.Errorf("SetChargingProfile: %s", got.Status)
	}
	if got := cmd("SetChargingProfile", &v16.SetChargingProfileRequest{ConnectorId: 1, CsChargingProfiles: profile(2, v16.PurposeTxProfile, 6)}).(*v16.SetChargingProfileResponse); got.Status != v16.ChargingProfileRejected {
		t.Errorf("TxProfile without a transaction: %s", got.Status)
	}
	cs := cmd("GetCompositeSchedule", &v16.GetCompositeScheduleRequest{ConnectorId: 1, Duration: 3600}).(*v16.GetCompositeScheduleResponse)
	if cs.Status != v16.CompositeScheduleAccepted || cs.ChargingSchedule == nil || cs.ChargingSchedule.ChargingSchedulePeriod[0].Limit != 10 {
		t.Errorf("GetCompositeSchedule = %+v", cs)
	}
	if got := cmd("ClearChargingProfile", &v16.ClearChargingProfileRequest{Id: intp(1)}).(*v16.ClearChargingProfileResponse); got.Status != v16.ClearChargingProfileAccepted {
		t.Errorf("ClearChargingProfile: %s", got.Status)
	}
	if got := cmd("ClearChargingProfile", &v16.ClearChargingProfileRequest{Id: intp(1)}).(*v16.ClearChargingProfileResponse); got.Status != v16.ClearChargingProfileUnknown {
		t.Errorf("second ClearChargingProfile: %s", got.Status)
	}

	// Remote start and stop; a TxProfile in the start limits the
	// transaction, another purpose is refused.
	limit := func(id int, purpose v16.ChargingProfilePurpose, a float64) *v16.ChargingProfile {
		return &v16.ChargingProfile{ChargingProfileId: id, ChargingProfilePurpose: purpose, ChargingProfileKind: v16.KindRelative,
			ChargingSchedule: v16.ChargingSchedule{ChargingRateUnit: v16.RateUnitA, ChargingSchedulePeriod: []v16.ChargingSchedulePeriod{{Limit: a}}}}
	}
	if got := cmd("RemoteStartTransaction", &v16.RemoteStartTransactionRequest{ConnectorId: intp(1), IdTag: "REMOTE",
		ChargingProfile: limit(5, v16.PurposeTxDefaultProfile, 6)}).(*v16.RemoteStartTransactionResponse); got.Status != v16.RemoteStartStopRejected {
		t.Errorf("RemoteStart with a TxDefaultProfile: %s", got.Status)
	}
	if got := cmd("RemoteStartTransaction", &v16.RemoteStartTransactionRequest{ConnectorId: intp(1), IdTag: "REMOTE",
		ChargingProfile: limit(6, v16.PurposeTxProfile, 10)}).(*v16.RemoteStartTransactionResponse); got.Status != v16.RemoteStartStopAccepted {
		t.Fatalf("RemoteStart: %s", got.Status)
	}
	start := f.next(t, isAction("StartTransaction"))
	if tag := start.req.(*v16.StartTransactionRequest).IdTag; tag != "REMOTE" {
		t.Errorf("started with tag %s", tag)
	}
	status(1, v16.StatusCharging)
	for _, sv := range f.next(t, isAction("MeterValues")).req.(*v16.MeterValuesRequest).MeterValue[0].SampledValue {
		if sv.Measurand == v16.MeasurandCurrentImport && sv.Value != "10.0" {
			t.Errorf("current %s A under the remote start's 10 A TxProfile", sv.Value)
		}
	}
	if got := cmd("RemoteStartTransaction", &v16.RemoteStartTransactionRequest{ConnectorId: intp(1), IdTag: "REMOTE"}).(*v16.RemoteStartTransactionResponse); got.Status != v16.RemoteStartStopRejected {
		t.Errorf("RemoteStart on a busy connector: %s", got.Status)
	}
	var startResp v16.StartTransactionResponse
	if err := json.Unmarshal(start.answer, &startResp); err != nil {
		t.Fatal(err)
	}
	if got := cmd("RemoteStopTransaction", &v16.RemoteStopTransactionRequest{TransactionId: startResp.TransactionId + 1000}).(*v16.RemoteStopTransactionResponse); got.Status != v16.RemoteStartStopRejected {
		t.Errorf("RemoteStop of an unknown transaction: %s", got.Status)
	}
	if got := cmd("RemoteStopTransaction", &v16.RemoteStopTransactionRequest{TransactionId: startResp.TransactionId}).(*v16.RemoteStopTransactionResponse); got.Status != v16.RemoteStartStopAccepted {
		t.Errorf("RemoteStop: %s", got.Status)
	}
	stop := f.next(t, isAction("StopTransaction")).req.(*v16.StopTransactionRequest)
	if stop.TransactionId != startResp.TransactionId || stop.Reason != v16.ReasonRemote {
		t.Errorf("StopTransaction %+v", stop)
	}
	status(1, v16.StatusAvailable)
	if got := cmd("ClearChargingProfile", &v16.ClearChargingProfileRequest{Id: intp(6)}).(*v16.ClearChargingProfileResponse); got.Status != v16.ClearChargingProfileUnknown {
		t.Errorf("the remote start's TxProfile outlived its transaction: ClearChargingProfile %s", got.Status)
	}

	// Invalid and unknown calls get the decoder's CALLERROR.
	for _, c := range []struct {
		action, payload string
		want            ocppj.ErrorCode
	}{
		{"ChangeAvailability", `{"connectorId":"one","type":"Operative"}`, ocppj.TypeConstraintViolation},
		{"ChangeAvailability", `{"type":"Operative"}`, ocppj.OccurrenceConstraintViolation},
		{"Reset", `{"type":"Sideways"}`, ocppj.PropertyConstraintViolation},
		{"Heartbeat", `{}`, ocppj.NotSupported},
		{"FlyToTheMoon", `{}`, ocppj.NotImplemented},
	} {
		conn, _ := f.srv.Conn("CMD")
		_, err := conn.Call(t.Context(), c.action, json.RawMessage(c.payload))
		if oe := asOCPPError(err); oe == nil || oe.Code != c.want {
			t.Errorf("%s %s: %v, want %s", c.action, c.payload, err, c.want)
		}
	}

	// Reset: accepted, then the station reconnects and boots again.
	if got := cmd("Reset", &v16.ResetRequest{Type: v16.ResetTypeSoft}).(*v16.ResetResponse); got.Status != v16.ResetStatusAccepted {
		t.Errorf("Reset: %s", got.Status)
	}
	f.next(t, isAction("BootNotification"))
	status(2, v16.StatusAvailable)
}
