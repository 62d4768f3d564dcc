package v2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

// checkCommand returns nil when the CSMS may send action to a charger of
// the adapter's version, else the *ocppj.Error saying why not.
func (a *Adapter) checkCommand(name string) error {
	act := a.lookup(name)
	switch {
	case !act.known:
		return ocppj.Errorf(ocppj.NotImplemented, "unknown action %q", name)
	case !act.fromCSMS:
		return ocppj.Errorf(ocppj.NotSupported, "%s is not sent by a CSMS", name)
	}
	return nil
}

// CheckCommand checks a command before it is sent: the action must be one
// the CSMS sends in the adapter's version, and the payload must decode
// strictly for that version and carry over to the 2.1 types the adapter
// records answers from. The error is an *ocppj.Error: NotImplemented for an
// unknown action, NotSupported for one only chargers send, or the
// payload's violation.
func (a *Adapter) CheckCommand(name string, data json.RawMessage) error {
	if err := a.checkCommand(name); err != nil {
		return err
	}
	_, _, err := a.decode(name, data, false, false)
	return err
}

// CommandSending is told that a command that passed CheckCommand is about
// to be sent to charger chargerID, before the charger can act on it: a
// FullInventory GetBaseReport is remembered, so that the first part of the
// report answering it replaces the stored device model.
func (a *Adapter) CommandSending(ctx context.Context, chargerID, name string, data json.RawMessage) {
	if name != "GetBaseReport" {
		return
	}
	req, _, err := a.decode(name, data, false, false)
	if err != nil {
		a.log.WarnContext(ctx, "command sent without passing CheckCommand", "charger", chargerID, "action", name, "err", err)
		return
	}
	if r := req.(*v21.GetBaseReportRequest); r.ReportBase == v21.ReportBaseFullInventory {
		a.reports.requested(chargerID, r.RequestId)
	}
}

// CommandAnswered decodes a charger's answer to a command (leniently when
// the charger is configured so) and records its domain effects (see the
// package documentation). An answer that does not decode, or that the
// domain refuses as invalid, is an error wrapping an *ocppj.Error; any other
// error is a failure to record. request is the command as sent (it passed
// CheckCommand).
func (a *Adapter) CommandAnswered(ctx context.Context, chargerID, name string, request, response json.RawMessage) error {
	if err := a.checkCommand(name); err != nil {
		return err
	}
	resp, warnings, err := a.decode(name, response, true, a.lenient(chargerID))
	a.logWarnings(ctx, chargerID, name, "response", warnings)
	if err != nil {
		return fmt.Errorf("v2: %s response: %w", name, err)
	}
	req, _, err := a.decode(name, request, false, false)
	if err != nil {
		return fmt.Errorf("v2: %s request as sent: %w", name, err)
	}
	if err := a.record(ctx, charging.ChargerID(chargerID), req, resp); err != nil {
		return a.domainError(name, err)
	}
	return nil
}

// record stores the domain effects of an answered command; req and resp
// are 2.1 structs.
func (a *Adapter) record(ctx context.Context, id charging.ChargerID, req, resp any) error {
	switch r := req.(type) {
	case *v21.CancelReservationRequest:
		if resp.(*v21.CancelReservationResponse).Status != v21.CancelReservationAccepted {
			return nil
		}
		err := a.domain.CancelReservation(ctx, id, r.ReservationId)
		if errors.Is(err, charging.ErrNotFound) {
			a.log.InfoContext(ctx, "charger cancelled a reservation the appliance did not record", "charger", id, "reservationId", r.ReservationId)
			return nil
		}
		return err
	case *v21.ReserveNowRequest:
		if resp.(*v21.ReserveNowResponse).Status != v21.ReserveNowAccepted {
			return nil
		}
		res := charging.Reservation{ID: r.Id, ChargerID: id, IDTag: r.IdToken.IdToken, Expiry: r.ExpiryDateTime.Time, Status: "Accepted"}
		if r.EvseId != nil {
			res.ConnectorID = *r.EvseId
		}
		if r.GroupIdToken != nil {
			res.ParentIDTag = r.GroupIdToken.IdToken
		}
		return a.domain.RecordReservation(ctx, res)
	case *v21.GetVariablesRequest:
		var vars []charging.VariableReport
		for _, res := range resp.(*v21.GetVariablesResponse).GetVariableResult {
			if res.AttributeStatus != v21.GetVariableAccepted {
				continue
			}
			v := variableOf(res.Component, res.Variable)
			v.AttributeType, v.Value = string(orDefault(res.AttributeType, v21.AttributeActual)), res.AttributeValue
			vars = append(vars, v)
		}
		return a.recordValues(ctx, id, vars)
	case *v21.SetVariablesRequest:
		return a.recordSet(ctx, id, r, resp.(*v21.SetVariablesResponse))
	case *v21.GetBaseReportRequest:
		if resp.(*v21.GetBaseReportResponse).Status != v21.GenericDeviceModelAccepted {
			a.reports.declined(string(id), r.RequestId)
		}
	}
	return nil
}

// recordSet records the values a SetVariables answer says were set
// (Accepted, or RebootRequired: set, effective after a reboot, as a 1.6
// ChangeConfiguration is recorded). The answer does not repeat the values;
// they are found in the request by component, variable and attribute type.
func (a *Adapter) recordSet(ctx context.Context, id charging.ChargerID, req *v21.SetVariablesRequest, resp *v21.SetVariablesResponse) error {
	asked := make(map[string]string, len(req.SetVariableData))
	for _, d := range req.SetVariableData {
		v := variableOf(d.Component, d.Variable)
		v.AttributeType = string(d.AttributeType)
		asked[charging.ConfigKey(v)] = d.AttributeValue
	}
	var vars []charging.VariableReport
	for _, res := range resp.SetVariableResult {
		if res.AttributeStatus != v21.SetVariableAccepted && res.AttributeStatus != v21.SetVariableRebootRequired {
			continue
		}
		v := variableOf(res.Component, res.Variable)
		v.AttributeType = string(orDefault(res.AttributeType, v21.AttributeActual))
		value, ok := asked[charging.ConfigKey(v)]
		if !ok {
			a.log.WarnContext(ctx, "charger answered SetVariables for a variable not asked about; ignored", "charger", id, "variable", charging.ConfigKey(v))
			continue
		}
		v.Value = value
		vars = append(vars, v)
	}
	return a.recordValues(ctx, id, vars)
}

// recordValues merges value-only reports into the device model.
func (a *Adapter) recordValues(ctx context.Context, id charging.ChargerID, vars []charging.VariableReport) error {
	if len(vars) == 0 {
		return nil
	}
	return a.domain.RecordVariables(ctx, id, vars, false)
}
