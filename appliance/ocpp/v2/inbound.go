package v2

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/v201"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

// handled lists the charger-to-CSMS actions dispatch answers; the registry's
// others are NotSupported.
var handled = map[string]bool{
	"Authorize": true, "BootNotification": true, "DataTransfer": true, "FirmwareStatusNotification": true,
	"Heartbeat": true, "LogStatusNotification": true, "MeterValues": true, "NotifyEvent": true,
	"NotifyReport": true, "SecurityEventNotification": true, "StatusNotification": true, "TransactionEvent": true,
	"OpenPeriodicEventStream": true, "ClosePeriodicEventStream": true,
}

// dispatch performs one charger request (a 2.1 struct) on the domain and
// builds the answer as a 2.1 struct. data is the payload as sent, for the
// meter values' text.
func (a *Adapter) dispatch(ctx context.Context, id charging.ChargerID, req any, data json.RawMessage) (any, error) {
	switch r := req.(type) {
	case *v21.AuthorizeRequest:
		auth, err := a.domain.Authorize(ctx, id, r.IdToken.IdToken)
		if err != nil {
			return nil, err
		}
		return &v21.AuthorizeResponse{IdTokenInfo: a.idTokenInfo(ctx, id, auth)}, nil
	case *v21.BootNotificationRequest:
		return a.boot(ctx, id, r)
	case *v21.DataTransferRequest:
		a.log.DebugContext(ctx, "data transfer without vendor extension", "charger", id, "vendorId", r.VendorId, "messageId", r.MessageId)
		return &v21.DataTransferResponse{Status: v21.DataTransferUnknownVendorId}, nil
	case *v21.FirmwareStatusNotificationRequest:
		return &v21.FirmwareStatusNotificationResponse{}, a.domain.RecordFirmwareStatus(ctx, id, string(r.Status))
	case *v21.HeartbeatRequest:
		return &v21.HeartbeatResponse{CurrentTime: payload.NewDateTime(a.domain.Heartbeat(ctx, id))}, nil
	case *v21.LogStatusNotificationRequest:
		return &v21.LogStatusNotificationResponse{}, a.domain.RecordDiagnosticsStatus(ctx, id, string(r.Status))
	case *v21.MeterValuesRequest:
		return &v21.MeterValuesResponse{}, a.domain.RecordMeterValues(ctx, charging.MeterValues{
			ChargerID: id, ConnectorID: r.EvseId, Readings: readings(r.MeterValue, sentValues(data))})
	case *v21.NotifyEventRequest:
		return &v21.NotifyEventResponse{}, a.notifyEvent(ctx, id, r)
	case *v21.NotifyReportRequest:
		return &v21.NotifyReportResponse{}, a.notifyReport(ctx, id, r)
	case *v21.SecurityEventNotificationRequest:
		a.log.InfoContext(ctx, "security event", "charger", id, "type", r.Type, "techInfo", r.TechInfo, "timestamp", r.Timestamp.Time)
		return &v21.SecurityEventNotificationResponse{}, nil
	case *v21.StatusNotificationRequest:
		return &v21.StatusNotificationResponse{}, a.domain.UpdateConnectorStatus(ctx, charging.StatusUpdate{
			ChargerID: id, ConnectorID: r.EvseId, EVSEConnectorID: r.ConnectorId,
			Status: charging.ConnectorStatus(r.ConnectorStatus), Timestamp: r.Timestamp.Time,
		})
	case *v21.TransactionEventRequest:
		return a.transactionEvent(ctx, id, r, data)
	case *v21.OpenPeriodicEventStreamRequest:
		// Accepted so that the charger streams; the stream's
		// NotifyPeriodicEventStream data is ignored (see handleSend).
		a.log.InfoContext(ctx, "periodic event stream opened", "charger", id, "stream", r.ConstantStreamData.Id)
		return &v21.OpenPeriodicEventStreamResponse{Status: v21.GenericAccepted}, nil
	case *v21.ClosePeriodicEventStreamRequest:
		a.log.InfoContext(ctx, "periodic event stream closed", "charger", id, "stream", r.Id)
		return &v21.ClosePeriodicEventStreamResponse{}, nil
	}
	// Handle lets only the actions in handled through.
	return nil, fmt.Errorf("v2: no handler for %T", req)
}

func (a *Adapter) boot(ctx context.Context, id charging.ChargerID, r *v21.BootNotificationRequest) (any, error) {
	cs := r.ChargingStation
	a.log.DebugContext(ctx, "boot", "charger", id, "reason", r.Reason)
	res, err := a.domain.Boot(ctx, id, charging.BootInfo{Vendor: cs.VendorName, Model: cs.Model,
		SerialNumber: cs.SerialNumber, FirmwareVersion: cs.FirmwareVersion})
	if err != nil {
		return nil, err
	}
	status := v21.RegistrationStatus(res.Status)
	if !a.inEnum(string(status), v201.RegistrationStatus("").Values(), v21.RegistrationStatus("").Values()) {
		return nil, fmt.Errorf("v2: domain gave registration status %q, which %s lacks", res.Status, a.version)
	}
	return &v21.BootNotificationResponse{Status: status, CurrentTime: payload.NewDateTime(res.CurrentTime),
		Interval: int(res.Interval / time.Second)}, nil
}

// inEnum reports whether s is one of the values the adapter's version
// allows: values201 for 2.0.1, values21 for 2.1.
func (a *Adapter) inEnum(s string, values201, values21 []string) bool {
	if a.version == ocppj.V201 {
		return slices.Contains(values201, s)
	}
	return slices.Contains(values21, s)
}

// idTokenType is the type of the group id token an answer carries: the
// domain's parent id is assigned centrally, by the operator or the cloud.
const idTokenType = "Central"

// maxIDTokenLength is the longest idToken of the adapter's version.
func (a *Adapter) maxIDTokenLength() int {
	if a.version == ocppj.V201 {
		return 36
	}
	return 255
}

// idTokenInfo writes a domain authorization as 2.x IdTokenInfo for the
// adapter's version. Values the version cannot carry are replaced (a status
// it lacks becomes Invalid) or left out (a parent id over its idToken
// length), and logged, rather than sent malformed.
func (a *Adapter) idTokenInfo(ctx context.Context, id charging.ChargerID, auth charging.Authorization) v21.IdTokenInfo {
	info := v21.IdTokenInfo{Status: v21.AuthorizationStatus(auth.Status)}
	if !a.inEnum(string(info.Status), v201.AuthorizationStatus("").Values(), v21.AuthorizationStatus("").Values()) {
		a.log.WarnContext(ctx, "authorization status has no equivalent in the charger's version; answering Invalid",
			"charger", id, "status", auth.Status, "version", a.version)
		info.Status = v21.AuthorizationInvalid
	}
	if y := auth.Expiry.Year(); !auth.Expiry.IsZero() && y >= 0 && y <= 9999 {
		info.CacheExpiryDateTime = payload.NewDateTime(auth.Expiry)
	}
	if auth.ParentID != "" {
		if utf8.RuneCountInString(auth.ParentID) <= a.maxIDTokenLength() {
			info.GroupIdToken = &v21.IdToken{IdToken: auth.ParentID, Type: idTokenType}
		} else {
			a.log.WarnContext(ctx, "parent id tag longer than the charger's version allows; left out", "charger", id, "version", a.version)
		}
	}
	return info
}

func (a *Adapter) transactionEvent(ctx context.Context, id charging.ChargerID, r *v21.TransactionEventRequest, data json.RawMessage) (any, error) {
	ti := r.TransactionInfo
	ev := charging.TransactionEvent{
		ChargerID: id, ChargerTxID: ti.TransactionId, Protocol: string(a.version),
		Kind: charging.TransactionEventKind(r.EventType), SeqNo: r.SeqNo, Timestamp: r.Timestamp.Time,
		TriggerReason: string(r.TriggerReason), StoppedReason: string(ti.StoppedReason),
		ReservationID: r.ReservationId, Readings: readings(r.MeterValue, sentValues(data)),
	}
	if r.Offline != nil {
		ev.Offline = *r.Offline
	}
	if r.Evse != nil {
		ev.EVSEID = r.Evse.Id
		if r.Evse.ConnectorId != nil {
			ev.ConnectorID = *r.Evse.ConnectorId
		}
	}
	if r.IdToken != nil {
		ev.IDToken = r.IdToken.IdToken // "" (NoAuthorization): no token
	}
	if ti.ChargingState != "" {
		a.log.DebugContext(ctx, "charging state", "charger", id, "chargerTransaction", ti.TransactionId,
			"seqNo", r.SeqNo, "chargingState", ti.ChargingState)
	}
	res, err := a.domain.TransactionEvent(ctx, ev)
	if err != nil {
		return nil, err
	}
	resp := &v21.TransactionEventResponse{}
	if res.Authorization != nil {
		info := a.idTokenInfo(ctx, id, *res.Authorization)
		resp.IdTokenInfo = &info
	}
	return resp, nil
}

// readings flattens 2.x meter values into domain readings with every
// default explicit (see the package documentation). sent holds the values
// as the charger wrote them (see sentValues); a value whose text is
// missing or does not match the decoded number is written from the number.
func readings(mvs []v21.MeterValue, sent [][]string) []charging.MeterReading {
	n := 0
	for _, mv := range mvs {
		n += len(mv.SampledValue)
	}
	if n == 0 {
		return nil
	}
	out := make([]charging.MeterReading, 0, n)
	for i, mv := range mvs {
		for j, sv := range mv.SampledValue {
			r := charging.MeterReading{
				Timestamp: mv.Timestamp.Time,
				Value:     valueText(sv.Value, sent, i, j),
				Measurand: string(sv.Measurand),
				Phase:     string(sv.Phase),
				Context:   string(sv.Context),
				Location:  string(sv.Location),
			}
			if u := sv.UnitOfMeasure; u != nil {
				r.Unit = u.Unit
				if u.Multiplier != nil {
					r.Multiplier = *u.Multiplier
				}
			}
			out = append(out, r.WithDefaults())
		}
	}
	return out
}

// valueText is sampled value j of meter value i as the charger wrote it,
// when sent has it and it reads as v; otherwise v's shortest decimal form.
func valueText(v float64, sent [][]string, i, j int) string {
	if i < len(sent) && j < len(sent[i]) {
		if f, err := strconv.ParseFloat(sent[i][j], 64); err == nil && f == v {
			return sent[i][j]
		}
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// sentValues reads the sampled values of data's meterValue array as the
// charger wrote them (JSON number text), in order; nil if data cannot be
// read so. The payload was validated before, so this only recovers text
// the decoder turned into float64.
func sentValues(data json.RawMessage) [][]string {
	var p struct {
		MeterValue []struct {
			SampledValue []struct {
				Value json.Number `json:"value"`
			} `json:"sampledValue"`
		} `json:"meterValue"`
	}
	if json.Unmarshal(data, &p) != nil {
		return nil
	}
	out := make([][]string, len(p.MeterValue))
	for i, mv := range p.MeterValue {
		out[i] = make([]string, len(mv.SampledValue))
		for j, sv := range mv.SampledValue {
			out[i][j] = string(sv.Value)
		}
	}
	return out
}

// variableOf is the identity of a device model variable.
func variableOf(c v21.Component, v v21.Variable) charging.VariableReport {
	r := charging.VariableReport{Component: c.Name, ComponentInstance: c.Instance, Variable: v.Name, VariableInstance: v.Instance}
	if c.Evse != nil {
		r.EVSEID = c.Evse.Id
		if c.Evse.ConnectorId != nil {
			r.ConnectorID = *c.Evse.ConnectorId
		}
	}
	return r
}

// notifyReport records one part of a device model report.
func (a *Adapter) notifyReport(ctx context.Context, id charging.ChargerID, r *v21.NotifyReportRequest) error {
	var vars []charging.VariableReport
	for _, rd := range r.ReportData {
		base := variableOf(rd.Component, rd.Variable)
		if c := rd.VariableCharacteristics; c != nil {
			base.Unit, base.DataType, base.MinLimit, base.MaxLimit = c.Unit, string(c.DataType), c.MinLimit, c.MaxLimit
			base.ValuesList, base.SupportsMonitoring = c.ValuesList, c.SupportsMonitoring
		}
		for _, at := range rd.VariableAttribute {
			v := base
			v.AttributeType = string(orDefault(at.Type, v21.AttributeActual))
			v.Mutability = string(orDefault(at.Mutability, v21.MutabilityReadWrite))
			v.Value = at.Value
			v.Persistent = at.Persistent != nil && *at.Persistent
			v.Constant = at.Constant != nil && *at.Constant
			vars = append(vars, v)
		}
	}
	tbc := r.Tbc != nil && *r.Tbc
	replace := a.reports.replaces(string(id), r.RequestId, r.SeqNo) && len(vars) > 0
	a.log.DebugContext(ctx, "device model report", "charger", id, "requestId", r.RequestId, "seqNo", r.SeqNo,
		"tbc", tbc, "attributes", len(vars), "replace", replace)
	if len(vars) > 0 {
		if err := a.domain.RecordVariables(ctx, id, vars, replace); err != nil {
			return err
		}
	}
	a.reports.received(string(id), r.RequestId, tbc)
	return nil
}

// notifyEvent records each event's actual value as its variable's.
func (a *Adapter) notifyEvent(ctx context.Context, id charging.ChargerID, r *v21.NotifyEventRequest) error {
	vars := make([]charging.VariableReport, 0, len(r.EventData))
	for _, ed := range r.EventData {
		v := variableOf(ed.Component, ed.Variable)
		v.Value = ed.ActualValue
		vars = append(vars, v)
		a.log.DebugContext(ctx, "device model event", "charger", id, "eventId", ed.EventId, "trigger", ed.Trigger,
			"component", v.Component, "variable", v.Variable, "type", ed.EventNotificationType)
	}
	return a.domain.RecordVariables(ctx, id, vars, false)
}

func orDefault[T ~string](v, def T) T {
	if v == "" {
		return def
	}
	return v
}
