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

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/registry"
)

// Action describes one OCPP 1.6 action.
type Action = registry.Action

// Direction says who sends an action's request.
type Direction = registry.Direction

// Directions.
const (
	ChargerToCSMS = registry.ChargerToCSMS
	CSMSToCharger = registry.CSMSToCharger
	Both          = registry.Both
)

// Actions lists every supported action, charger-initiated first.
var Actions = []Action{
	registry.Call[AuthorizeRequest, AuthorizeResponse]("Authorize", ChargerToCSMS),
	registry.Call[BootNotificationRequest, BootNotificationResponse]("BootNotification", ChargerToCSMS),
	registry.Call[DataTransferRequest, DataTransferResponse]("DataTransfer", Both),
	registry.Call[DiagnosticsStatusNotificationRequest, DiagnosticsStatusNotificationResponse]("DiagnosticsStatusNotification", ChargerToCSMS),
	registry.Call[FirmwareStatusNotificationRequest, FirmwareStatusNotificationResponse]("FirmwareStatusNotification", ChargerToCSMS),
	registry.Call[HeartbeatRequest, HeartbeatResponse]("Heartbeat", ChargerToCSMS),
	registry.Call[MeterValuesRequest, MeterValuesResponse]("MeterValues", ChargerToCSMS),
	registry.Call[StartTransactionRequest, StartTransactionResponse]("StartTransaction", ChargerToCSMS),
	registry.Call[StatusNotificationRequest, StatusNotificationResponse]("StatusNotification", ChargerToCSMS),
	registry.Call[StopTransactionRequest, StopTransactionResponse]("StopTransaction", ChargerToCSMS),

	registry.Call[CancelReservationRequest, CancelReservationResponse]("CancelReservation", CSMSToCharger),
	registry.Call[ChangeAvailabilityRequest, ChangeAvailabilityResponse]("ChangeAvailability", CSMSToCharger),
	registry.Call[ChangeConfigurationRequest, ChangeConfigurationResponse]("ChangeConfiguration", CSMSToCharger),
	registry.Call[ClearCacheRequest, ClearCacheResponse]("ClearCache", CSMSToCharger),
	registry.Call[ClearChargingProfileRequest, ClearChargingProfileResponse]("ClearChargingProfile", CSMSToCharger),
	registry.Call[GetCompositeScheduleRequest, GetCompositeScheduleResponse]("GetCompositeSchedule", CSMSToCharger),
	registry.Call[GetConfigurationRequest, GetConfigurationResponse]("GetConfiguration", CSMSToCharger),
	registry.Call[GetDiagnosticsRequest, GetDiagnosticsResponse]("GetDiagnostics", CSMSToCharger),
	registry.Call[GetLocalListVersionRequest, GetLocalListVersionResponse]("GetLocalListVersion", CSMSToCharger),
	registry.Call[RemoteStartTransactionRequest, RemoteStartTransactionResponse]("RemoteStartTransaction", CSMSToCharger),
	registry.Call[RemoteStopTransactionRequest, RemoteStopTransactionResponse]("RemoteStopTransaction", CSMSToCharger),
	registry.Call[ReserveNowRequest, ReserveNowResponse]("ReserveNow", CSMSToCharger),
	registry.Call[ResetRequest, ResetResponse]("Reset", CSMSToCharger),
	registry.Call[SendLocalListRequest, SendLocalListResponse]("SendLocalList", CSMSToCharger),
	registry.Call[SetChargingProfileRequest, SetChargingProfileResponse]("SetChargingProfile", CSMSToCharger),
	registry.Call[TriggerMessageRequest, TriggerMessageResponse]("TriggerMessage", CSMSToCharger),
	registry.Call[UnlockConnectorRequest, UnlockConnectorResponse]("UnlockConnector", CSMSToCharger),
	registry.Call[UpdateFirmwareRequest, UpdateFirmwareResponse]("UpdateFirmware", CSMSToCharger),
}

var actions = registry.New(ocppj.V16, Actions)

// Lookup returns the action called name.
func Lookup(name string) (Action, bool) { return actions.Lookup(name) }

// NewRequest returns a pointer to a new zero request payload for action.
func NewRequest(action string) (any, bool) { return actions.NewRequest(action) }

// NewResponse returns a pointer to a new zero response payload for action.
func NewResponse(action string) (any, bool) { return actions.NewResponse(action) }

// DecodeRequest decodes the request payload of action. An unknown action is
// a NotImplemented error, as OCPP-J answers it.
func DecodeRequest(action string, data json.RawMessage, lenient bool) (any, []string, error) {
	return actions.DecodeRequest(action, data, lenient)
}

// DecodeResponse decodes the response payload of action. An unknown action
// is a NotImplemented error.
func DecodeResponse(action string, data json.RawMessage, lenient bool) (any, []string, error) {
	return actions.DecodeResponse(action, data, lenient)
}
