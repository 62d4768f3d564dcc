package v2

import (
	"context"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	v21 "github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

// CommandRequest translates a version-neutral command (it passed
// charging.Command.Validate and has its defaults) into the action and
// request that carry it in the adapter's version. The request is built as
// 2.1 and uses only what 2.0.1 has too; the CSMS encodes it and
// CheckCommand validates it for the version. An error says why the
// command has no form in this version. ctx and id are those of the
// charger it goes to, for the log.
func (a *Adapter) CommandRequest(ctx context.Context, id charging.ChargerID, cmd charging.Command) (string, any, error) {
	idToken := v21.IdToken{IdToken: cmd.IDTag, Type: cmd.IDTagType}
	switch cmd.Kind {
	case charging.RemoteStart:
		r := &v21.RequestStartTransactionRequest{IdToken: idToken, RemoteStartId: cmd.RequestID}
		if cmd.ConnectorID > 0 {
			r.EvseId = &cmd.ConnectorID
		}
		return "RequestStartTransaction", r, nil
	case charging.RemoteStop:
		if cmd.ChargerTxID == "" {
			return "", nil, fmt.Errorf("transaction %d has no 2.x transaction id", cmd.TransactionID)
		}
		return "RequestStopTransaction", &v21.RequestStopTransactionRequest{TransactionId: cmd.ChargerTxID}, nil
	case charging.Reset:
		t := v21.ResetOnIdle
		if cmd.ResetType == charging.ResetHard {
			t = v21.ResetImmediate
		}
		return "Reset", &v21.ResetRequest{Type: t}, nil
	case charging.Unlock:
		return "UnlockConnector", &v21.UnlockConnectorRequest{EvseId: cmd.ConnectorID, ConnectorId: cmd.EVSEConnectorID}, nil
	case charging.ChangeAvailability:
		return "ChangeAvailability", &v21.ChangeAvailabilityRequest{Evse: evse(cmd.ConnectorID),
			OperationalStatus: v21.OperationalStatus(cmd.Availability)}, nil
	case charging.ClearCache:
		return "ClearCache", &v21.ClearCacheRequest{}, nil
	case charging.GetConfiguration:
		if len(cmd.Keys) == 0 {
			return "GetBaseReport", &v21.GetBaseReportRequest{RequestId: cmd.RequestID, ReportBase: v21.ReportBaseConfigurationInventory}, nil
		}
		r := &v21.GetVariablesRequest{}
		for i, k := range cmd.Keys {
			v, err := charging.ParseConfigKey(k)
			if err != nil {
				return "", nil, fmt.Errorf("keys[%d]: %w", i, err)
			}
			c, vr := componentOf(v)
			r.GetVariableData = append(r.GetVariableData, v21.GetVariableData{AttributeType: v21.Attribute(v.AttributeType), Component: c, Variable: vr})
		}
		return "GetVariables", r, nil
	case charging.SetConfiguration:
		v, err := charging.ParseConfigKey(cmd.Key)
		if err != nil {
			return "", nil, fmt.Errorf("key: %w", err)
		}
		c, vr := componentOf(v)
		return "SetVariables", &v21.SetVariablesRequest{SetVariableData: []v21.SetVariableData{{
			AttributeType: v21.Attribute(v.AttributeType), AttributeValue: *cmd.Value, Component: c, Variable: vr,
		}}}, nil
	case charging.UploadDiagnostics:
		return "GetLog", &v21.GetLogRequest{LogType: v21.LogDiagnosticsLog, RequestId: cmd.RequestID, Log: v21.LogParameters{
			RemoteLocation: cmd.Location, OldestTimestamp: payload.NewDateTime(cmd.Since), LatestTimestamp: payload.NewDateTime(cmd.Until),
		}}, nil
	case charging.TriggerMessage:
		msg := v21.MessageTrigger(cmd.Message)
		if cmd.Message == "DiagnosticsStatusNotification" {
			msg = v21.MessageTriggerLogStatusNotification
		}
		return "TriggerMessage", &v21.TriggerMessageRequest{RequestedMessage: msg, Evse: evse(cmd.ConnectorID)}, nil
	case charging.Reserve:
		r := &v21.ReserveNowRequest{Id: cmd.ReservationID, ExpiryDateTime: payload.NewDateTime(cmd.Expiry), IdToken: idToken}
		if cmd.ConnectorID > 0 {
			r.EvseId = &cmd.ConnectorID
		}
		if cmd.ParentIDTag != "" {
			r.GroupIdToken = &v21.IdToken{IdToken: cmd.ParentIDTag, Type: cmd.IDTagType}
		}
		return "ReserveNow", r, nil
	case charging.CancelReservation:
		return "CancelReservation", &v21.CancelReservationRequest{ReservationId: cmd.ReservationID}, nil
	case charging.UpdateFirmware:
		return "UpdateFirmware", &v21.UpdateFirmwareRequest{RequestId: cmd.RequestID, Firmware: v21.Firmware{
			Location: cmd.Location, RetrieveDateTime: payload.NewDateTime(cmd.RetrieveAt),
		}}, nil
	case charging.GetLocalListVersion:
		return "GetLocalListVersion", &v21.GetLocalListVersionRequest{}, nil
	case charging.SendLocalList:
		return "SendLocalList", a.localList(ctx, id, cmd), nil
	case charging.SetPowerLimit:
		limit := float64(*cmd.LimitW)
		return "SetChargingProfile", &v21.SetChargingProfileRequest{EvseId: 0, ChargingProfile: v21.ChargingProfile{
			Id: charging.PowerLimitProfileID, StackLevel: charging.PowerLimitStackLevel,
			ChargingProfilePurpose: v21.ChargingProfilePurposeChargingStationMaxProfile,
			ChargingProfileKind:    v21.ChargingProfileKindAbsolute,
			ChargingSchedule: []v21.ChargingSchedule{{Id: 1, StartSchedule: payload.NewDateTime(cmd.ScheduleStart),
				ChargingRateUnit:       v21.ChargingRateUnitW,
				ChargingSchedulePeriod: []v21.ChargingSchedulePeriod{{StartPeriod: 0, Limit: &limit}}}},
		}}, nil
	case charging.ClearPowerLimit:
		id := charging.PowerLimitProfileID
		return "ClearChargingProfile", &v21.ClearChargingProfileRequest{ChargingProfileId: &id}, nil
	}
	return "", nil, fmt.Errorf("unknown command")
}

// localList is the SendLocalList request of cmd. A token longer than the
// version's idToken cannot be in its list: it is left out and logged, so
// that the rest of the list still reaches the charger.
func (a *Adapter) localList(ctx context.Context, id charging.ChargerID, cmd charging.Command) *v21.SendLocalListRequest {
	r := &v21.SendLocalListRequest{VersionNumber: cmd.ListVersion, UpdateType: v21.Update(cmd.UpdateType)}
	for _, e := range cmd.Entries {
		if utf8.RuneCountInString(e.IDTag) > a.maxIDTokenLength() {
			a.log.WarnContext(ctx, "token longer than the version's idToken; left out of the local list",
				"charger", id, "version", a.version, "length", len(e.IDTag))
			continue
		}
		d := v21.AuthorizationData{IdToken: v21.IdToken{IdToken: e.IDTag, Type: charging.DefaultIDTagType}}
		if e.Status != "" {
			info := a.idTokenInfo(ctx, id, charging.Authorization{Status: e.Status, Expiry: e.Expiry, ParentID: e.ParentIDTag})
			d.IdTokenInfo = &info
		}
		r.LocalAuthorizationList = append(r.LocalAuthorizationList, d)
	}
	return r
}

// evse is the EVSE a command names by connector id; none (the whole
// charger) for 0.
func evse(id int) *v21.EVSE {
	if id == 0 {
		return nil
	}
	return &v21.EVSE{Id: id}
}

// componentOf is the inverse of variableOf.
func componentOf(v charging.VariableReport) (v21.Component, v21.Variable) {
	c := v21.Component{Name: v.Component, Instance: v.ComponentInstance}
	if v.EVSEID > 0 {
		c.Evse = &v21.EVSE{Id: v.EVSEID}
		if v.ConnectorID > 0 {
			c.Evse.ConnectorId = &v.ConnectorID
		}
	}
	return c, v21.Variable{Name: v.Variable, Instance: v.VariableInstance}
}

// CommandDetails completes the version-neutral reply to cmd from the
// charger's answer (it passed CommandAnswered): the values and unknown
// keys of a GetVariables answer, the status of SetVariables' one result,
// GetLocalListVersion's version.
func (a *Adapter) CommandDetails(cmd charging.Command, action string, response json.RawMessage, reply *charging.CommandReply) error {
	if action != "GetVariables" && action != "SetVariables" && action != "GetLocalListVersion" {
		return nil
	}
	resp, _, err := a.decode(action, response, true, true)
	if err != nil {
		return err
	}
	switch r := resp.(type) {
	case *v21.GetVariablesResponse:
		reply.Configuration = map[string]charging.ConfigValue{}
		for _, res := range r.GetVariableResult {
			v := variableOf(res.Component, res.Variable)
			v.AttributeType = string(orDefault(res.AttributeType, v21.AttributeActual))
			if res.AttributeStatus != v21.GetVariableAccepted {
				reply.UnknownKeys = append(reply.UnknownKeys, charging.ConfigKey(v))
				continue
			}
			reply.Configuration[charging.ConfigKey(v)] = charging.ConfigValue{Value: res.AttributeValue}
		}
	case *v21.SetVariablesResponse:
		if len(r.SetVariableResult) > 0 {
			reply.Status = string(r.SetVariableResult[0].AttributeStatus)
		}
	case *v21.GetLocalListVersionResponse:
		reply.ListVersion = &r.VersionNumber
	}
	return nil
}
