package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/v201"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

// HandleCall answers a CSMS command: decoded strictly with the version's
// own package, applied to the simulated station, answered with a
// schema-valid payload of that version, with follow-up messages sent
// afterwards. An action the version does not know is NotImplemented; one
// it knows that a CSMS does not send, or that the simulator does not
// support, is NotSupported.
func (p *v2Proto) HandleCall(ctx context.Context, _ *rpc.Conn, action string, raw json.RawMessage) (json.RawMessage, error) {
	req, err := p.decodeCommand(action, raw)
	if err != nil {
		return nil, err
	}
	resp, after := p.command(req)
	if resp == nil {
		return nil, ocppj.Errorf(ocppj.NotSupported, "%s is not supported by the simulated charging station", action)
	}
	out, err := p.encodeAnswer(action, resp)
	if err != nil {
		return nil, fmt.Errorf("sim: answer to %s: %w", action, err)
	}
	if after != nil {
		rpc.AfterAnswer(ctx, after)
	}
	return out, nil
}

// decodeCommand decodes a CSMS request strictly with the version's
// package and returns it as the 2.1 type.
func (p *v2Proto) decodeCommand(action string, raw json.RawMessage) (any, error) {
	notSent := ocppj.Errorf(ocppj.NotSupported, "%s is sent by charging stations", action)
	if p.version == ocppj.V21 {
		req, _, err := v21.DecodeRequest(action, raw, false)
		if err != nil {
			return nil, err
		}
		if a, _ := v21.Lookup(action); a.Direction&v21.CSMSToCharger == 0 {
			return nil, notSent
		}
		return req, nil
	}
	req, _, err := v201.DecodeRequest(action, raw, false)
	if err != nil {
		return nil, err
	}
	if a, _ := v201.Lookup(action); a.Direction&v201.CSMSToCharger == 0 {
		return nil, notSent
	}
	out, ok := v21.NewRequest(action)
	if !ok {
		return nil, ocppj.Errorf(ocppj.NotSupported, "%s is not supported by the simulated charging station", action)
	}
	b, err := json.Marshal(req)
	if err == nil {
		err = json.Unmarshal(b, out)
	}
	if err != nil {
		return nil, fmt.Errorf("sim: %s: reading the 2.0.1 request as 2.1: %w", action, err)
	}
	return out, nil
}

// encodeAnswer validates and encodes a 2.1 answer in the station's version.
func (p *v2Proto) encodeAnswer(action string, resp any) (json.RawMessage, error) {
	raw, err := payload.Marshal(resp)
	if err != nil || p.version == ocppj.V21 {
		return raw, err
	}
	v, _, err := v201.DecodeResponse(action, raw, false)
	if err != nil {
		return nil, fmt.Errorf("not valid in OCPP 2.0.1: %w", err)
	}
	return payload.Marshal(v)
}

// v2Purpose is the neutral purpose of a 2.x charging profile.
func v2Purpose(p v21.ChargingProfilePurpose) purpose {
	switch p {
	case v21.ChargingProfilePurposeChargingStationMaxProfile:
		return purposeStationMax
	case v21.ChargingProfilePurposeTxDefaultProfile:
		return purposeTxDefault
	case v21.ChargingProfilePurposeTxProfile:
		return purposeTx
	}
	return purposeOther
}

// evseConnector checks an EVSE (and optional connector) reference: the
// EVSE number, or false when there is no such EVSE or connector. EVSE 0
// is the whole station and has no connector.
func (p *v2Proto) evseConnector(e *v21.EVSE) (int, bool) {
	if e == nil {
		return 0, true
	}
	if e.Id < 0 || e.Id >= len(p.connectors) {
		return 0, false
	}
	if e.ConnectorId != nil && (e.Id == 0 || *e.ConnectorId != 1) {
		return 0, false
	}
	return e.Id, true
}

// command applies a decoded command and returns the answer and an
// optional follow-up to run once it is answered; nil for a command the
// simulator does not support.
func (p *v2Proto) command(req any) (resp any, after func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.connectors) - 1
	switch r := req.(type) {
	case *v21.CancelReservationRequest:
		if ok, after := p.cancelReservationLocked(r.ReservationId); ok {
			return &v21.CancelReservationResponse{Status: v21.CancelReservationAccepted}, after
		}
		return &v21.CancelReservationResponse{Status: v21.CancelReservationRejected}, nil

	case *v21.ChangeAvailabilityRequest:
		id, ok := p.evseConnector(r.Evse)
		if !ok {
			return &v21.ChangeAvailabilityResponse{Status: v21.ChangeAvailabilityRejected, StatusInfo: &v21.StatusInfo{ReasonCode: "UnknownEvse"}}, nil
		}
		scheduled, after := p.changeAvailabilityLocked(id, r.OperationalStatus == v21.OperationalOperative)
		status := v21.ChangeAvailabilityAccepted
		if scheduled {
			status = v21.ChangeAvailabilityScheduled
		}
		return &v21.ChangeAvailabilityResponse{Status: status}, after

	case *v21.ClearCacheRequest:
		if !p.setting(settingAuthCache) {
			return &v21.ClearCacheResponse{Status: v21.ClearCacheRejected}, nil
		}
		clear(p.authCache)
		return &v21.ClearCacheResponse{Status: v21.ClearCacheAccepted}, nil

	case *v21.DataTransferRequest:
		return &v21.DataTransferResponse{Status: v21.DataTransferUnknownVendorId}, nil

	case *v21.GetLocalListVersionRequest:
		return &v21.GetLocalListVersionResponse{VersionNumber: p.localVersion}, nil

	case *v21.SendLocalListRequest:
		if !p.setting(settingLocalList) {
			return &v21.SendLocalListResponse{Status: v21.SendLocalListFailed, StatusInfo: &v21.StatusInfo{ReasonCode: "Disabled"}}, nil
		}
		entries := make([]listEntry, 0, len(r.LocalAuthorizationList))
		for _, e := range r.LocalAuthorizationList {
			le := listEntry{id: e.IdToken.IdToken}
			if e.IdTokenInfo != nil {
				le.status = string(e.IdTokenInfo.Status)
			}
			entries = append(entries, le)
		}
		status := v21.SendLocalListAccepted
		switch p.sendLocalListLocked(r.UpdateType == v21.UpdateFull, r.VersionNumber, entries) {
		case listFailed:
			status = v21.SendLocalListFailed
		case listVersionMismatch:
			status = v21.SendLocalListVersionMismatch
		}
		return &v21.SendLocalListResponse{Status: status}, nil

	case *v21.ReserveNowRequest:
		return p.reserveNowLocked(r)

	case *v21.ResetRequest:
		if r.EvseId != nil && *r.EvseId != 0 {
			return &v21.ResetResponse{Status: v21.ResetRejected, StatusInfo: &v21.StatusInfo{ReasonCode: "UnsupportedRequest", AdditionalInfo: "EVSEs are not reset on their own"}}, nil
		}
		p.bootReason = v21.BootReasonRemoteReset
		p.resetNote = fmt.Sprintf("Reset %s requested by the CSMS", r.Type)
		if r.Type == v21.ResetOnIdle && p.anySessionLocked() {
			p.resetScheduled = true
			return &v21.ResetResponse{Status: v21.ResetScheduled}, nil
		}
		return &v21.ResetResponse{Status: v21.ResetAccepted}, p.resetLocked(stopSoftReset)

	case *v21.TriggerMessageRequest:
		return p.triggerLocked(r)

	case *v21.UnlockConnectorRequest:
		if r.EvseId < 1 || r.EvseId > n || r.ConnectorId != 1 {
			return &v21.UnlockConnectorResponse{Status: v21.UnlockUnknownConnector}, nil
		}
		if p.connectors[r.EvseId].tx != nil {
			return &v21.UnlockConnectorResponse{Status: v21.UnlockOngoingAuthorizedTransaction}, nil
		}
		return &v21.UnlockConnectorResponse{Status: v21.UnlockUnlocked}, nil

	case *v21.UpdateFirmwareRequest:
		reqID := r.RequestId
		return &v21.UpdateFirmwareResponse{Status: v21.UpdateFirmwareAccepted}, func() {
			p.notifyProgress("FirmwareStatusNotification", func(st string) any {
				p.mu.Lock()
				p.firmware, p.firmwareReq = v21.FirmwareStatus(st), &reqID
				if p.firmware == v21.FirmwareInstalled {
					p.firmwareVer = "1.0." + strconv.Itoa(int(p.s.clock.Now().Unix()%1000))
				}
				p.mu.Unlock()
				return &v21.FirmwareStatusNotificationRequest{Status: v21.FirmwareStatus(st), RequestId: ptr(reqID)}
			}, string(v21.FirmwareDownloading), string(v21.FirmwareDownloaded), string(v21.FirmwareInstalling), string(v21.FirmwareInstalled))
		}

	case *v21.RequestStartTransactionRequest:
		rs := remoteStart{tok: token{r.IdToken.IdToken, r.IdToken.Type}, id: ptr(r.RemoteStartId)}
		if prof := r.ChargingProfile; prof != nil {
			// Only a TxProfile may come with a remote start (K05.FR.02).
			ip, periods, ok := v2Profile(0, prof)
			if !ok || ip.purpose != purposeTx || !p.setting(settingSmartCharging) {
				return &v21.RequestStartTransactionResponse{Status: v21.RequestStartStopRejected,
					StatusInfo: &v21.StatusInfo{ReasonCode: "InvalidProfile"}}, nil
			}
			rs.profile = &startProfile{id: prof.Id, p: ip, periods: periods}
		}
		start := p.remoteStartLocked(r.EvseId, rs)
		if start == nil {
			return &v21.RequestStartTransactionResponse{Status: v21.RequestStartStopRejected}, nil
		}
		return &v21.RequestStartTransactionResponse{Status: v21.RequestStartStopAccepted}, start

	case *v21.RequestStopTransactionRequest:
		stop := p.stopTxLocked(func(t *txn) bool { return t.id == r.TransactionId }, stopRemote)
		if stop == nil {
			return &v21.RequestStopTransactionResponse{Status: v21.RequestStartStopRejected}, nil
		}
		return &v21.RequestStopTransactionResponse{Status: v21.RequestStartStopAccepted}, stop

	case *v21.GetVariablesRequest:
		out := &v21.GetVariablesResponse{}
		for _, g := range r.GetVariableData {
			out.GetVariableResult = append(out.GetVariableResult, p.getVariableLocked(g))
		}
		return out, nil

	case *v21.SetVariablesRequest:
		out := &v21.SetVariablesResponse{}
		for _, s := range r.SetVariableData {
			out.SetVariableResult = append(out.SetVariableResult, p.setVariableLocked(s))
		}
		return out, nil

	case *v21.GetBaseReportRequest:
		data := p.reportLocked(r.ReportBase)
		if len(data) == 0 {
			return &v21.GetBaseReportResponse{Status: v21.GenericDeviceModelEmptyResultSet}, nil
		}
		return &v21.GetBaseReportResponse{Status: v21.GenericDeviceModelAccepted}, p.notifyReport(r.RequestId, data)

	case *v21.GetLogRequest:
		name := fmt.Sprintf("%s-%s-%s.log", r.LogType, p.s.opts.ID, p.s.clock.Now().UTC().Format("20060102T150405Z"))
		reqID := r.RequestId
		return &v21.GetLogResponse{Status: v21.LogAccepted, Filename: truncate(name, 255)}, func() {
			p.notifyProgress("LogStatusNotification", func(st string) any {
				p.mu.Lock()
				p.logStatus, p.logReq = v21.UploadLogStatus(st), &reqID
				p.mu.Unlock()
				return &v21.LogStatusNotificationRequest{Status: v21.UploadLogStatus(st), RequestId: ptr(reqID)}
			}, string(v21.UploadLogUploading), string(v21.UploadLogUploaded))
		}

	case *v21.GetTransactionStatusRequest:
		out := &v21.GetTransactionStatusResponse{}
		if r.TransactionId == "" {
			out.MessagesInQueue = p.s.queued(func(m *outMsg) bool { return m.tx != nil })
			return out, nil
		}
		ongoing := false
		for _, cn := range p.connectors[1:] {
			if cn.tx != nil && cn.tx.id == r.TransactionId {
				ongoing = true
			}
		}
		out.OngoingIndicator = &ongoing
		out.MessagesInQueue = p.s.queued(func(m *outMsg) bool { return m.tx != nil && m.tx.id == r.TransactionId })
		return out, nil

	case *v21.SetChargingProfileRequest:
		status := v21.ChargingProfileRejected
		if p.setProfileV2Locked(r) {
			status = v21.ChargingProfileAccepted
		}
		return &v21.SetChargingProfileResponse{Status: status}, nil

	case *v21.ClearChargingProfileRequest:
		crit := r.ChargingProfileCriteria
		found := p.clearProfilesLocked(func(id int, ip installedProfile) bool {
			if r.ChargingProfileId != nil && *r.ChargingProfileId != id {
				return false
			}
			return crit == nil || ((crit.EvseId == nil || *crit.EvseId == ip.connector) &&
				(crit.ChargingProfilePurpose == "" || v2Purpose(crit.ChargingProfilePurpose) == ip.purpose) &&
				(crit.StackLevel == nil || *crit.StackLevel == ip.stackLevel))
		})
		if found {
			return &v21.ClearChargingProfileResponse{Status: v21.ClearChargingProfileAccepted}, nil
		}
		return &v21.ClearChargingProfileResponse{Status: v21.ClearChargingProfileUnknown}, nil

	case *v21.GetCompositeScheduleRequest:
		if r.EvseId < 0 || r.EvseId > n || r.Duration < 0 {
			return &v21.GetCompositeScheduleResponse{Status: v21.GenericRejected}, nil
		}
		unit := r.ChargingRateUnit
		if unit == "" {
			unit = v21.ChargingRateUnitA
		}
		limit := p.currentLimit(r.EvseId)
		if unit == v21.ChargingRateUnitW {
			limit *= phases * nominalVoltage
		}
		return &v21.GetCompositeScheduleResponse{Status: v21.GenericAccepted, Schedule: &v21.CompositeSchedule{
			EvseId: r.EvseId, Duration: r.Duration, ScheduleStart: payload.NewDateTime(p.s.clock.Now()), ChargingRateUnit: unit,
			ChargingSchedulePeriod: []v21.ChargingSchedulePeriod{{StartPeriod: 0, Limit: ptr(math.Floor(limit)), NumberPhases: ptr(phases)}},
		}}, nil
	}
	return nil, nil
}

// reserveNowLocked reserves the EVSE asked for, or without one the first
// that can be reserved; c.mu is held.
func (p *v2Proto) reserveNowLocked(r *v21.ReserveNowRequest) (any, func()) {
	tok := token{r.IdToken.IdToken, r.IdToken.Type}
	var res reserveResult
	var after func()
	if r.EvseId != nil {
		res, after = p.reserveLocked(*r.EvseId, r.Id, tok, r.ExpiryDateTime.Time)
	} else {
		res = reserveUnavailable
		for _, cn := range p.connectors[1:] {
			got, f := p.reserveLocked(cn.id, r.Id, tok, r.ExpiryDateTime.Time)
			if got == reserveAccepted || got == reserveRejected {
				res, after = got, f
				break
			}
			if got == reserveOccupied {
				res = got
			}
		}
	}
	status := v21.ReserveNowAccepted
	switch res {
	case reserveOccupied:
		status = v21.ReserveNowOccupied
	case reserveUnavailable:
		status = v21.ReserveNowUnavailable
	case reserveRejected:
		status = v21.ReserveNowRejected
	}
	return &v21.ReserveNowResponse{Status: status}, after
}

// setProfileV2Locked installs a 2.x charging profile unless it is
// refused; c.mu is held.
func (p *v2Proto) setProfileV2Locked(r *v21.SetChargingProfileRequest) bool {
	prof := &r.ChargingProfile
	if r.EvseId < 0 || r.EvseId >= len(p.connectors) {
		return false
	}
	ip, periods, ok := v2Profile(r.EvseId, prof)
	if !ok {
		return false
	}
	if ip.purpose == purposeTx {
		if r.EvseId == 0 || p.connectors[r.EvseId].tx == nil || p.connectors[r.EvseId].tx.id != prof.TransactionId {
			return false
		}
	}
	return p.setProfileLocked(prof.Id, ip, periods)
}

// v2Profile reduces a 2.x charging profile for EVSE evse to what the
// simulation uses, with its number of schedule periods; false for one the
// simulated charger never takes (no schedule, or an external constraint).
func v2Profile(evse int, prof *v21.ChargingProfile) (installedProfile, int, bool) {
	if len(prof.ChargingSchedule) == 0 || prof.ChargingProfilePurpose == v21.ChargingProfilePurposeChargingStationExternalConstraints {
		return installedProfile{}, 0, false
	}
	ip := installedProfile{connector: evse, purpose: v2Purpose(prof.ChargingProfilePurpose), stackLevel: prof.StackLevel}.withLimit(maxCurrent, false)
	sched := prof.ChargingSchedule[0]
	periods := 0
	for _, s := range prof.ChargingSchedule {
		periods += len(s.ChargingSchedulePeriod)
	}
	if len(sched.ChargingSchedulePeriod) > 0 && sched.ChargingSchedulePeriod[0].Limit != nil {
		ip = ip.withLimit(*sched.ChargingSchedulePeriod[0].Limit, sched.ChargingRateUnit == v21.ChargingRateUnitW)
	}
	return ip, periods, true
}

// notifyReport returns the follow-up of GetBaseReport: the report in
// NotifyReport parts of DeviceDataCtrlr.ItemsPerMessage[GetReport] items,
// seqNo from 0, tbc on all but the last.
func (p *v2Proto) notifyReport(requestID int, data []v21.ReportData) func() {
	per, err := strconv.Atoi(p.varValue("DeviceDataCtrlr", "ItemsPerMessage", "GetReport"))
	if err != nil || per < 1 {
		per = reportItems
	}
	return func() {
		ctx := p.s.context()
		generated := payload.NewDateTime(p.s.clock.Now())
		for seq := 0; len(data) > 0; seq++ {
			part := data[:min(per, len(data))]
			data = data[len(part):]
			req := &v21.NotifyReportRequest{RequestId: requestID, GeneratedAt: generated, SeqNo: seq, ReportData: part}
			if len(data) > 0 {
				req.Tbc = ptr(true)
			}
			if _, err := p.s.call(ctx, "NotifyReport", req); err != nil {
				p.s.log.Warn("report not sent", "requestId", requestID, "seqNo", seq, "err", err)
				return
			}
		}
	}
}

// triggerLocked answers TriggerMessage; the follow-up sends the message.
// c.mu is held.
func (p *v2Proto) triggerLocked(r *v21.TriggerMessageRequest) (any, func()) {
	answer := func(st v21.TriggerMessageStatus) *v21.TriggerMessageResponse {
		return &v21.TriggerMessageResponse{Status: st}
	}
	evse, ok := p.evseConnector(r.Evse)
	if !ok {
		return answer(v21.TriggerMessageRejected), nil
	}
	var targets []*connector // the EVSEs asked about
	for _, cn := range p.connectors[1:] {
		if evse == 0 || cn.id == evse {
			targets = append(targets, cn)
		}
	}
	switch r.RequestedMessage {
	case v21.MessageTriggerBootNotification:
		// The last boot was accepted: nothing to trigger (F06.FR.17).
		return answer(v21.TriggerMessageRejected), nil
	case v21.MessageTriggerHeartbeat:
		return answer(v21.TriggerMessageAccepted), func() { p.s.post("Heartbeat", &v21.HeartbeatRequest{}) }
	case v21.MessageTriggerStatusNotification:
		id := -1
		if evse > 0 {
			id = evse
		}
		return answer(v21.TriggerMessageAccepted), func() {
			for _, req := range p.statusRequests(id) {
				p.s.post("StatusNotification", req)
			}
		}
	case v21.MessageTriggerMeterValues:
		return answer(v21.TriggerMessageAccepted), func() {
			for _, cn := range targets {
				sv := v2SampledValues(p.sample(cn, readingTrigger, false), func(v21.Measurand) bool { return true })
				p.s.post("MeterValues", &v21.MeterValuesRequest{EvseId: cn.id, MeterValue: []v21.MeterValue{{
					Timestamp: payload.NewDateTime(p.s.clock.Now()), SampledValue: sv,
				}}})
			}
		}
	case v21.MessageTriggerTransactionEvent:
		type running struct {
			cn *connector
			t  *txn
		}
		var txs []running
		for _, cn := range targets {
			if cn.tx != nil {
				txs = append(txs, running{cn, cn.tx})
			}
		}
		if len(txs) == 0 {
			return answer(v21.TriggerMessageRejected), nil // no transaction to report
		}
		return answer(v21.TriggerMessageAccepted), func() {
			for _, rt := range txs {
				p.mu.Lock()
				still := rt.cn.tx == rt.t
				p.mu.Unlock()
				if still { // not ended meanwhile
					p.txMeter(rt.cn, rt.t, p.sample(rt.cn, readingTrigger, false))
				}
			}
		}
	case v21.MessageTriggerLogStatusNotification:
		req := &v21.LogStatusNotificationRequest{Status: p.logStatus}
		if p.logStatus != v21.UploadLogIdle {
			req.RequestId = p.logReq
		}
		return answer(v21.TriggerMessageAccepted), func() { p.s.post("LogStatusNotification", req) }
	case v21.MessageTriggerFirmwareStatusNotification:
		req := &v21.FirmwareStatusNotificationRequest{Status: p.firmware}
		if p.firmware != v21.FirmwareIdle {
			req.RequestId = p.firmwareReq
		}
		return answer(v21.TriggerMessageAccepted), func() { p.s.post("FirmwareStatusNotification", req) }
	}
	return answer(v21.TriggerMessageNotImplemented), nil
}
