package v16

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
)

// CommandRequest translates a version-neutral command (it passed
// charging.Command.Validate and has its defaults) into the 1.6 action and
// request that carry it; the CSMS encodes the request and CheckCommand
// validates it. An error says why the command has no 1.6 form. ctx and id
// are those of the charger it goes to, for the log.
func (a *Adapter) CommandRequest(ctx context.Context, id charging.ChargerID, cmd charging.Command) (string, any, error) {
	switch cmd.Kind {
	case charging.RemoteStart: // 1.6 id tags have no type: IDTagType is not sent
		r := &RemoteStartTransactionRequest{IdTag: cmd.IDTag}
		if cmd.ConnectorID > 0 {
			r.ConnectorId = &cmd.ConnectorID
		}
		return "RemoteStartTransaction", r, nil
	case charging.RemoteStop:
		id := int(cmd.TransactionID)
		if cmd.ChargerTxID != "" { // an orphan: the id the charger made up
			n, err := strconv.Atoi(cmd.ChargerTxID)
			if err != nil {
				return "", nil, fmt.Errorf("transaction %d has the charger id %q, not a 1.6 id", cmd.TransactionID, cmd.ChargerTxID)
			}
			id = n
		}
		return "RemoteStopTransaction", &RemoteStopTransactionRequest{TransactionId: id}, nil
	case charging.Reset:
		return "Reset", &ResetRequest{Type: ResetType(cmd.ResetType)}, nil
	case charging.Unlock:
		if cmd.EVSEConnectorID > 1 {
			return "", nil, fmt.Errorf("evseConnectorId: 1.6 connectors have no sub-connectors")
		}
		return "UnlockConnector", &UnlockConnectorRequest{ConnectorId: cmd.ConnectorID}, nil
	case charging.ChangeAvailability:
		return "ChangeAvailability", &ChangeAvailabilityRequest{ConnectorId: cmd.ConnectorID, Type: AvailabilityType(cmd.Availability)}, nil
	case charging.ClearCache:
		return "ClearCache", &ClearCacheRequest{}, nil
	case charging.GetConfiguration:
		return "GetConfiguration", &GetConfigurationRequest{Key: cmd.Keys}, nil
	case charging.SetConfiguration:
		return "ChangeConfiguration", &ChangeConfigurationRequest{Key: cmd.Key, Value: *cmd.Value}, nil
	case charging.UploadDiagnostics:
		return "GetDiagnostics", &GetDiagnosticsRequest{Location: cmd.Location,
			StartTime: payload.NewDateTime(cmd.Since), StopTime: payload.NewDateTime(cmd.Until)}, nil
	case charging.TriggerMessage:
		msg := MessageTrigger(cmd.Message)
		if msg == "LogStatusNotification" {
			msg = TriggerDiagnosticsStatusNotification
		}
		if !slices.Contains(msg.Values(), string(msg)) {
			return "", nil, fmt.Errorf("message: 1.6 cannot trigger %q", cmd.Message)
		}
		r := &TriggerMessageRequest{RequestedMessage: msg}
		if cmd.ConnectorID > 0 {
			r.ConnectorId = &cmd.ConnectorID
		}
		return "TriggerMessage", r, nil
	case charging.Reserve:
		return "ReserveNow", &ReserveNowRequest{ConnectorId: cmd.ConnectorID, ExpiryDate: payload.NewDateTime(cmd.Expiry),
			IdTag: cmd.IDTag, ParentIdTag: cmd.ParentIDTag, ReservationId: cmd.ReservationID}, nil
	case charging.CancelReservation:
		return "CancelReservation", &CancelReservationRequest{ReservationId: cmd.ReservationID}, nil
	case charging.UpdateFirmware:
		return "UpdateFirmware", &UpdateFirmwareRequest{Location: cmd.Location, RetrieveDate: payload.NewDateTime(cmd.RetrieveAt)}, nil
	case charging.GetLocalListVersion:
		return "GetLocalListVersion", &GetLocalListVersionRequest{}, nil
	case charging.SendLocalList:
		return "SendLocalList", a.localList(ctx, id, cmd), nil
	case charging.SetPowerLimit:
		return "SetChargingProfile", &SetChargingProfileRequest{ConnectorId: 0, CsChargingProfiles: ChargingProfile{
			ChargingProfileId: charging.PowerLimitProfileID, StackLevel: charging.PowerLimitStackLevel,
			ChargingProfilePurpose: PurposeChargePointMaxProfile, ChargingProfileKind: KindAbsolute,
			ChargingSchedule: ChargingSchedule{StartSchedule: payload.NewDateTime(cmd.ScheduleStart), ChargingRateUnit: RateUnitW,
				ChargingSchedulePeriod: []ChargingSchedulePeriod{{StartPeriod: 0, Limit: float64(*cmd.LimitW)}}},
		}}, nil
	case charging.ClearPowerLimit:
		id, connector, level := charging.PowerLimitProfileID, 0, charging.PowerLimitStackLevel
		return "ClearChargingProfile", &ClearChargingProfileRequest{Id: &id, ConnectorId: &connector,
			ChargingProfilePurpose: PurposeChargePointMaxProfile, StackLevel: &level}, nil
	}
	return "", nil, fmt.Errorf("unknown command")
}

// localList is the SendLocalList request of cmd. A token longer than a
// 1.6 idTag cannot be in a 1.6 list: it is left out and logged, so that
// the rest of the list still reaches the charger.
func (a *Adapter) localList(ctx context.Context, id charging.ChargerID, cmd charging.Command) *SendLocalListRequest {
	r := &SendLocalListRequest{ListVersion: cmd.ListVersion, UpdateType: UpdateType(cmd.UpdateType)}
	for _, e := range cmd.Entries {
		if utf8.RuneCountInString(e.IDTag) > 20 {
			a.log.WarnContext(ctx, "token longer than a 1.6 idTag; left out of the local list", "charger", id, "length", len(e.IDTag))
			continue
		}
		d := AuthorizationData{IdTag: e.IDTag}
		if e.Status != "" {
			info := a.idTagInfo(ctx, id, charging.Authorization{Status: e.Status, Expiry: e.Expiry, ParentID: e.ParentIDTag})
			d.IdTagInfo = &info
		}
		r.LocalAuthorizationList = append(r.LocalAuthorizationList, d)
	}
	return r
}

// CommandDetails completes the version-neutral reply to cmd from the
// charger's answer (it passed CommandAnswered): the values and unknown
// keys of a GetConfiguration answer, GetLocalListVersion's version.
func (a *Adapter) CommandDetails(cmd charging.Command, action string, response json.RawMessage, reply *charging.CommandReply) error {
	if action != "GetConfiguration" && action != "GetLocalListVersion" {
		return nil
	}
	v, _, err := DecodeResponse(action, response, true)
	if err != nil {
		return err
	}
	if r, ok := v.(*GetLocalListVersionResponse); ok {
		reply.ListVersion = &r.ListVersion
		return nil
	}
	r := v.(*GetConfigurationResponse)
	reply.Configuration = make(map[string]charging.ConfigValue, len(r.ConfigurationKey))
	for _, kv := range r.ConfigurationKey {
		reply.Configuration[kv.Key] = configValue(kv)
	}
	reply.UnknownKeys = r.UnknownKey
	return nil
}
