// Package v16 defines the OCPP 1.6J message payloads: a Go type for the
// request and the response of every core-profile action (the security
// whitepaper extension is not covered yet), written from the official JSON
// schemas, with the schema constraints declared as struct tags for package
// payload to check, and a registry of actions.
//
// Go field names follow the schema property names (IdTag, not IDTag) so the
// mapping to the wire stays obvious. Optional values are pointers (numbers,
// objects, strings where "" is meaningful), omitempty strings and slices, or
// omitzero DateTimes, so encoding never emits a property the schema forbids.
package v16

import (
	"encoding/json"
	"reflect"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
)

// Direction says who sends an action's request.
type Direction uint8

// Directions.
const (
	ChargerToCSMS Direction = 1 << iota
	CSMSToCharger
	Both = ChargerToCSMS | CSMSToCharger
)

// Action describes one OCPP 1.6 action.
type Action struct {
	Name      string
	Direction Direction
	// Request and Response are the payload struct types.
	Request, Response reflect.Type
}

func action[Req, Resp any](name string, dir Direction) Action {
	return Action{Name: name, Direction: dir, Request: reflect.TypeFor[Req](), Response: reflect.TypeFor[Resp]()}
}

// Actions lists every supported action, charger-initiated first.
var Actions = []Action{
	action[AuthorizeRequest, AuthorizeResponse]("Authorize", ChargerToCSMS),
	action[BootNotificationRequest, BootNotificationResponse]("BootNotification", ChargerToCSMS),
	action[DataTransferRequest, DataTransferResponse]("DataTransfer", Both),
	action[DiagnosticsStatusNotificationRequest, DiagnosticsStatusNotificationResponse]("DiagnosticsStatusNotification", ChargerToCSMS),
	action[FirmwareStatusNotificationRequest, FirmwareStatusNotificationResponse]("FirmwareStatusNotification", ChargerToCSMS),
	action[HeartbeatRequest, HeartbeatResponse]("Heartbeat", ChargerToCSMS),
	action[MeterValuesRequest, MeterValuesResponse]("MeterValues", ChargerToCSMS),
	action[StartTransactionRequest, StartTransactionResponse]("StartTransaction", ChargerToCSMS),
	action[StatusNotificationRequest, StatusNotificationResponse]("StatusNotification", ChargerToCSMS),
	action[StopTransactionRequest, StopTransactionResponse]("StopTransaction", ChargerToCSMS),

	action[CancelReservationRequest, CancelReservationResponse]("CancelReservation", CSMSToCharger),
	action[ChangeAvailabilityRequest, ChangeAvailabilityResponse]("ChangeAvailability", CSMSToCharger),
	action[ChangeConfigurationRequest, ChangeConfigurationResponse]("ChangeConfiguration", CSMSToCharger),
	action[ClearCacheRequest, ClearCacheResponse]("ClearCache", CSMSToCharger),
	action[ClearChargingProfileRequest, ClearChargingProfileResponse]("ClearChargingProfile", CSMSToCharger),
	action[GetCompositeScheduleRequest, GetCompositeScheduleResponse]("GetCompositeSchedule", CSMSToCharger),
	action[GetConfigurationRequest, GetConfigurationResponse]("GetConfiguration", CSMSToCharger),
	action[GetDiagnosticsRequest, GetDiagnosticsResponse]("GetDiagnostics", CSMSToCharger),
	action[GetLocalListVersionRequest, GetLocalListVersionResponse]("GetLocalListVersion", CSMSToCharger),
	action[RemoteStartTransactionRequest, RemoteStartTransactionResponse]("RemoteStartTransaction", CSMSToCharger),
	action[RemoteStopTransactionRequest, RemoteStopTransactionResponse]("RemoteStopTransaction", CSMSToCharger),
	action[ReserveNowRequest, ReserveNowResponse]("ReserveNow", CSMSToCharger),
	action[ResetRequest, ResetResponse]("Reset", CSMSToCharger),
	action[SendLocalListRequest, SendLocalListResponse]("SendLocalList", CSMSToCharger),
	action[SetChargingProfileRequest, SetChargingProfileResponse]("SetChargingProfile", CSMSToCharger),
	action[TriggerMessageRequest, TriggerMessageResponse]("TriggerMessage", CSMSToCharger),
	action[UnlockConnectorRequest, UnlockConnectorResponse]("UnlockConnector", CSMSToCharger),
	action[UpdateFirmwareRequest, UpdateFirmwareResponse]("UpdateFirmware", CSMSToCharger),
}

var byName = func() map[string]*Action {
	m := make(map[string]*Action, len(Actions))
	for i := range Actions {
		m[Actions[i].Name] = &Actions[i]
	}
	return m
}()

// Lookup returns the action called name.
func Lookup(name string) (Action, bool) {
	a, ok := byName[name]
	if !ok {
		return Action{}, false
	}
	return *a, true
}

// NewRequest returns a pointer to a new zero request payload for action.
func NewRequest(action string) (any, bool) {
	a, ok := byName[action]
	if !ok {
		return nil, false
	}
	return reflect.New(a.Request).Interface(), true
}

// NewResponse returns a pointer to a new zero response payload for action.
func NewResponse(action string) (any, bool) {
	a, ok := byName[action]
	if !ok {
		return nil, false
	}
	return reflect.New(a.Response).Interface(), true
}

// DecodeRequest decodes the request payload of action. An unknown action is
// a NotImplemented error, as OCPP-J answers it.
func DecodeRequest(action string, data json.RawMessage, lenient bool) (any, []string, error) {
	v, ok := NewRequest(action)
	if !ok {
		return nil, nil, ocppj.Errorf(ocppj.NotImplemented, "unknown action %q", action)
	}
	w, err := payload.Decode(data, v, payload.Options{Version: ocppj.V16, Lenient: lenient})
	return v, w, err
}

// DecodeResponse decodes the response payload of action.
func DecodeResponse(action string, data json.RawMessage, lenient bool) (any, []string, error) {
	v, ok := NewResponse(action)
	if !ok {
		return nil, nil, ocppj.Errorf(ocppj.NotImplemented, "unknown action %q", action)
	}
	w, err := payload.Decode(data, v, payload.Options{Version: ocppj.V16, Lenient: lenient})
	return v, w, err
}
