package sim

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/v201"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

// v2Proto is the OCPP 2.0.1 and 2.1 half of a station. It is written once
// against the 2.1 types (package v21): 2.0.1 requests are converted to the
// 2.0.1 types on the way out (a JSON round trip, decoded strictly, so a
// message invalid in 2.0.1 is caught as a simulator bug), and what arrives
// is decoded with the version's own package, then read as the 2.1 type.
type v2Proto struct {
	*charger
	version ocppj.Version

	// Guarded by charger.mu.
	vars        []*dmVar // the device model
	bootReason  v21.BootReason
	resetNote   string // the SecurityEventNotification due after the next boot
	firmware    v21.FirmwareStatus
	firmwareReq *int
	logStatus   v21.UploadLogStatus
	logReq      *int
	eventID     int
}

var (
	_ protocol = (*v2Proto)(nil)
	_ dialect  = (*v2Proto)(nil)
)

func newV2(s *Station) *v2Proto {
	p := &v2Proto{
		charger:    newCharger(s),
		version:    s.opts.Version,
		bootReason: v21.BootReasonPowerUp,
		firmware:   v21.FirmwareIdle,
		logStatus:  v21.UploadLogIdle,
	}
	p.d = p
	p.vars = p.deviceModel()
	if s.opts.LateToken {
		s.log.Info("late token: transactions start on plug-in; the idToken follows in TransactionEvent Updated (TxCtrlr.TxStartPoint EVConnected)")
	}
	return p
}

// asType returns v, a decoded payload of any version, as a *T: v itself
// when it is one, else a JSON round trip (a 2.0.1 payload read as its 2.1
// type). false when v is nil or does not convert.
func asType[T any](v any) (*T, bool) {
	if t, ok := v.(*T); ok {
		return t, t != nil
	}
	if v == nil {
		return nil, false
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	t := new(T)
	if err := json.Unmarshal(raw, t); err != nil {
		return nil, false
	}
	return t, true
}

// toWire converts a request built with the 2.1 types into version v's own
// type, validating it on the way.
func toWire(v ocppj.Version, action string, req any) (any, error) {
	if v == ocppj.V21 {
		return req, nil
	}
	raw, err := payload.Marshal(req)
	if err != nil {
		return nil, err
	}
	out, _, err := v201.DecodeRequest(action, raw, false)
	if err != nil {
		return nil, fmt.Errorf("not valid in OCPP 2.0.1: %w", err)
	}
	return out, nil
}

// decodeV2Response decodes an answer strictly with version v's package.
func decodeV2Response(v ocppj.Version, action string, raw json.RawMessage) (any, error) {
	if v == ocppj.V201 {
		r, _, err := v201.DecodeResponse(action, raw, false)
		return r, err
	}
	r, _, err := v21.DecodeResponse(action, raw, false)
	return r, err
}

func (p *v2Proto) wire(action string, req any) (any, error) { return toWire(p.version, action, req) }

func (p *v2Proto) decodeResponse(action string, raw json.RawMessage) (any, error) {
	return decodeV2Response(p.version, action, raw)
}

// newTransactionID returns a fresh transaction id: a random UUID.
func newTransactionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func ptr[T any](v T) *T { return &v }

// idToken renders a token; tokens without a type are RFID cards.
func idToken(t token) *v21.IdToken {
	typ := t.typ
	if typ == "" {
		typ = tokenISO14443
	}
	return &v21.IdToken{IdToken: t.id, Type: typ}
}

// setting maps the shared script's switches onto the device model.
func (p *v2Proto) setting(s setting) bool {
	switch s {
	case settingAuthCache:
		return p.varValue("AuthCacheCtrlr", "Enabled", "") == "true"
	case settingLocalAuthOffline:
		return p.varValue("AuthCtrlr", "LocalAuthorizeOffline", "") == "true"
	case settingLocalList:
		return p.varValue("LocalAuthListCtrlr", "Enabled", "") == "true"
	case settingAuthorizeRemote:
		return p.varValue("AuthCtrlr", "AuthorizeRemoteStart", "") == "true"
	case settingStopOnInvalid:
		return p.varValue("TxCtrlr", "StopTxOnInvalidId", "") == "true"
	case settingLateToken:
		points := strings.Split(p.varValue("TxCtrlr", "TxStartPoint", ""), ",")
		return slices.Contains(points, "EVConnected") || slices.Contains(points, "ParkingBayOccupancy")
	case settingReservations:
		return p.varValue("ReservationCtrlr", "Enabled", "") == "true"
	case settingSmartCharging:
		return p.varValue("SmartChargingCtrlr", "Enabled", "") == "true"
	}
	return false
}

// v2Status is the 2.x connector status of a neutral one.
func v2Status(st connStatus) v21.ConnectorStatus {
	switch st {
	case statusPreparing, statusCharging, statusFinishing:
		return v21.ConnectorOccupied
	case statusReserved:
		return v21.ConnectorReserved
	case statusUnavailable:
		return v21.ConnectorUnavailable
	}
	return v21.ConnectorAvailable
}

// v2Stop is the trigger and stopped reason of a transaction's end.
func v2Stop(r stopReason) (v21.TriggerReason, v21.Reason) {
	switch r {
	case stopEVDisconnected:
		return v21.TriggerReasonEVCommunicationLost, v21.ReasonEVDisconnected
	case stopRemote:
		return v21.TriggerReasonRemoteStop, v21.ReasonRemote
	case stopDeAuthorized:
		return v21.TriggerReasonDeauthorized, v21.ReasonDeAuthorized
	case stopUnlock:
		return v21.TriggerReasonUnlockCommand, v21.ReasonOther
	case stopSoftReset, stopHardReset:
		return v21.TriggerReasonResetCommand, v21.ReasonImmediateReset
	}
	return v21.TriggerReasonStopAuthorized, v21.ReasonLocal
}

func (p *v2Proto) bootRequest() *v21.BootNotificationRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	o := &p.s.opts
	serial := o.ID
	if len(serial) > 25 {
		serial = serial[len(serial)-25:]
	}
	return &v21.BootNotificationRequest{
		Reason: p.bootReason,
		ChargingStation: v21.ChargingStation{
			VendorName: truncate(o.Vendor, 50), Model: truncate(o.Model, 20),
			SerialNumber: serial, FirmwareVersion: p.firmwareVer,
		},
	}
}

// applyBoot takes the heartbeat interval from an accepted boot.
func (p *v2Proto) applyBoot(r *v21.BootNotificationResponse) {
	if r.Status != v21.RegistrationAccepted || r.Interval <= 0 || p.s.opts.HeartbeatInterval > 0 {
		return
	}
	p.mu.Lock()
	p.hbInterval = time.Duration(r.Interval) * time.Second
	p.setVarLocked("OCPPCommCtrlr", "HeartbeatInterval", "", fmt.Sprint(r.Interval))
	p.mu.Unlock()
}

// register boots until accepted, then reports every connector's status
// and, after a reset, the SecurityEventNotification ResetOrReboot.
func (p *v2Proto) register(ctx context.Context, c *rpc.Conn) error {
	err := p.boot(ctx, c, func() any { return p.bootRequest() }, func(resp any) (bool, int, string) {
		r, ok := asType[v21.BootNotificationResponse](resp)
		if !ok {
			return false, 0, ""
		}
		p.applyBoot(r)
		return r.Status == v21.RegistrationAccepted, r.Interval, string(r.Status)
	})
	if err != nil {
		return err
	}
	p.mu.Lock()
	note := p.resetNote
	p.resetNote, p.bootReason = "", v21.BootReasonPowerUp
	p.mu.Unlock()
	for _, req := range p.statusRequests(-1) {
		if _, err := p.s.exchange(ctx, c, 0, "StatusNotification", req); err != nil && isTransport(err) {
			return err
		}
	}
	if note != "" {
		ev := &v21.SecurityEventNotificationRequest{Type: "ResetOrReboot", Timestamp: payload.NewDateTime(p.s.clock.Now()), TechInfo: note}
		if _, err := p.s.exchange(ctx, c, 0, "SecurityEventNotification", ev); err != nil && isTransport(err) {
			return err
		}
	}
	if p.s.opts.EventStream > 0 {
		return p.openEventStream(ctx, c)
	}
	return nil
}

// statusRequests returns the current state of one EVSE's connector, or of
// all of them for id -1.
func (p *v2Proto) statusRequests(id int) []*v21.StatusNotificationRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := payload.NewDateTime(p.s.clock.Now())
	var out []*v21.StatusNotificationRequest
	for _, cn := range p.statusesLocked(id) {
		if cn.id > 0 {
			out = append(out, &v21.StatusNotificationRequest{Timestamp: now, ConnectorStatus: v2Status(cn.status), EvseId: cn.id, ConnectorId: 1})
		}
	}
	return out
}

func (p *v2Proto) heartbeat(ctx context.Context, c *rpc.Conn) error {
	_, err := p.s.exchange(ctx, c, 0, "Heartbeat", &v21.HeartbeatRequest{})
	return err
}

// reportStatus sends a StatusNotification when the 2.x status changes
// (Preparing, Charging and Finishing are all Occupied); the charger as a
// whole (EVSE 0) has none.
func (p *v2Proto) reportStatus(cn *connector, prev, st connStatus) {
	if cn.id == 0 || v2Status(prev) == v2Status(st) {
		return
	}
	now := payload.NewDateTime(p.s.clock.Now())
	status := v2Status(st)
	p.s.post("StatusNotification", &v21.StatusNotificationRequest{Timestamp: now, ConnectorStatus: status, EvseId: cn.id, ConnectorId: 1})
	if !p.s.opts.NotifyEvents {
		return
	}
	p.mu.Lock()
	p.eventID++
	id := p.eventID
	p.mu.Unlock()
	p.s.post("NotifyEvent", &v21.NotifyEventRequest{GeneratedAt: now, SeqNo: 0, EventData: []v21.EventData{{
		EventId: id, Timestamp: now, Trigger: v21.EventTriggerDelta, ActualValue: string(status),
		Component: v21.Component{Name: "Connector", Evse: &v21.EVSE{Id: cn.id, ConnectorId: ptr(1)}},
		Variable:  v21.Variable{Name: "AvailabilityState"}, EventNotificationType: v21.EventNotificationHardWiredNotification,
	}}})
}

func (p *v2Proto) authorize(ctx context.Context, tok token) (string, error) {
	resp, err := p.s.call(ctx, "Authorize", &v21.AuthorizeRequest{IdToken: *idToken(tok)})
	if err != nil {
		return "", err
	}
	r, ok := asType[v21.AuthorizeResponse](resp)
	if !ok {
		return "", fmt.Errorf("%w: Authorize answered %T", ErrBadResponse, resp)
	}
	return string(r.IdTokenInfo.Status), nil
}

// txEvent returns a TransactionEvent of t with the next seqNo; c.mu is held.
func (p *v2Proto) txEventLocked(t *txn, typ v21.TransactionEvent, trigger v21.TriggerReason, at time.Time) *v21.TransactionEventRequest {
	req := &v21.TransactionEventRequest{
		EventType: typ, Timestamp: payload.NewDateTime(at), TriggerReason: trigger, SeqNo: t.seq,
		TransactionInfo: v21.Transaction{TransactionId: t.id},
	}
	t.seq++
	if typ != v21.TransactionEventStarted {
		req.TransactionInfo.TimeSpentCharging = ptr(int(at.Sub(t.started) / time.Second))
	}
	return req
}

func (p *v2Proto) txStarted(cn *connector, t *txn, begin reading) {
	p.mu.Lock()
	t.id = newTransactionID()
	trigger, state := v21.TriggerReasonAuthorized, v21.ChargingStateCharging
	switch {
	case t.late:
		trigger, state = v21.TriggerReasonCablePluggedIn, v21.ChargingStateEVConnected
	case t.remote:
		trigger = v21.TriggerReasonRemoteStart
	}
	req := p.txEventLocked(t, v21.TransactionEventStarted, trigger, begin.at)
	req.TransactionInfo.ChargingState = state
	req.TransactionInfo.RemoteStartId = t.remoteID
	req.Evse = &v21.EVSE{Id: cn.id, ConnectorId: ptr(1)}
	req.ReservationId = t.reservationID
	if !t.late {
		req.IdToken = idToken(t.tok)
	}
	req.MeterValue = p.meterValuesLocked(begin, "TxStartedMeasurands")
	p.mu.Unlock()
	p.sendTxEvent(cn, t, req)
}

func (p *v2Proto) txAuthorized(cn *connector, t *txn) {
	p.mu.Lock()
	req := p.txEventLocked(t, v21.TransactionEventUpdated, v21.TriggerReasonAuthorized, p.s.clock.Now())
	req.TransactionInfo.ChargingState = v21.ChargingStateCharging
	req.IdToken = idToken(t.tok)
	p.mu.Unlock()
	p.sendTxEvent(cn, t, req)
}

func (p *v2Proto) txMeter(cn *connector, t *txn, r reading) {
	p.mu.Lock()
	mv := p.meterValuesLocked(r, "TxUpdatedMeasurands")
	if mv == nil {
		p.mu.Unlock()
		return // no measurand configured: nothing to report
	}
	trigger := v21.TriggerReasonMeterValuePeriodic
	if r.context == readingTrigger {
		trigger = v21.TriggerReasonTrigger
	}
	req := p.txEventLocked(t, v21.TransactionEventUpdated, trigger, r.at)
	req.TransactionInfo.ChargingState = v21.ChargingStateCharging
	req.MeterValue = mv
	p.mu.Unlock()
	p.sendTxEvent(cn, t, req)
}

func (p *v2Proto) txEnded(cn *connector, t *txn, reason stopReason, final reading) {
	trigger, stopped := v2Stop(reason)
	p.mu.Lock()
	req := p.txEventLocked(t, v21.TransactionEventEnded, trigger, final.at)
	req.TransactionInfo.StoppedReason = stopped
	req.TransactionInfo.ChargingState = v21.ChargingStateEVConnected
	if reason == stopEVDisconnected {
		req.TransactionInfo.ChargingState = v21.ChargingStateIdle
	}
	if reason == stopLocal {
		req.IdToken = idToken(t.tok) // the driver presents the card to stop
	}
	req.MeterValue = p.meterValuesLocked(final, "TxEndedMeasurands")
	p.mu.Unlock()
	p.sendTxEvent(cn, t, req)
}

// sendTxEvent queues a TransactionEvent until the CSMS acknowledges it,
// marked offline when the station has no connection now. If the Started
// event is given up, the rest of the transaction is dropped too. An
// idTokenInfo in the answer feeds the cache and may stop the session.
func (p *v2Proto) sendTxEvent(cn *connector, t *txn, req *v21.TransactionEventRequest) {
	if p.s.offline() {
		req.Offline = ptr(true)
	}
	first := req.EventType == v21.TransactionEventStarted
	_ = p.s.enqueue(&outMsg{
		action: "TransactionEvent", durable: true, tx: t,
		build: func() (any, bool) {
			p.mu.Lock()
			defer p.mu.Unlock()
			return req, first || !t.dropped
		},
		done: func(resp any, err error) {
			if err != nil {
				if first {
					p.mu.Lock()
					t.dropped = true
					p.mu.Unlock()
				}
				return
			}
			r, ok := asType[v21.TransactionEventResponse](resp)
			if !ok || r.IdTokenInfo == nil || req.IdToken == nil {
				return
			}
			p.mu.Lock()
			if p.setting(settingAuthCache) {
				p.authCache[req.IdToken.IdToken] = string(r.IdTokenInfo.Status)
			}
			p.mu.Unlock()
			if r.IdTokenInfo.Status != v21.AuthorizationAccepted && req.EventType != v21.TransactionEventEnded {
				p.tokenRefused(cn, t)
			}
		},
	})
}

// meterValuesLocked renders a reading with the measurands the
// SampledDataCtrlr variable listVar selects; nil when none is left.
// c.mu is held.
func (p *v2Proto) meterValuesLocked(r reading, listVar string) []v21.MeterValue {
	list := strings.Split(p.varValue("SampledDataCtrlr", listVar, ""), ",")
	sv := v2SampledValues(r, func(m v21.Measurand) bool { return slices.Contains(list, string(m)) })
	if len(sv) == 0 {
		return nil
	}
	return []v21.MeterValue{{Timestamp: payload.NewDateTime(r.at), SampledValue: sv}}
}

// v2SampledValues renders a reading's values that want selects: the
// energy register, and for a sample power, current per phase and voltage.
func v2SampledValues(r reading, want func(v21.Measurand) bool) []v21.SampledValue {
	ctxt := v21.ReadingContextSamplePeriodic
	switch r.context {
	case readingBegin:
		ctxt = v21.ReadingContextTransactionBegin
	case readingEnd:
		ctxt = v21.ReadingContextTransactionEnd
	case readingTrigger:
		ctxt = v21.ReadingContextTrigger
	}
	unit := func(u string) *v21.UnitOfMeasure { return &v21.UnitOfMeasure{Unit: u} }
	var sv []v21.SampledValue
	if want(v21.MeasurandEnergyActiveImportRegister) {
		sv = append(sv, v21.SampledValue{Value: math.Floor(r.registerWh), Measurand: v21.MeasurandEnergyActiveImportRegister,
			Context: ctxt, Location: v21.LocationOutlet, UnitOfMeasure: unit("Wh")})
	}
	if r.final {
		return sv
	}
	if want(v21.MeasurandPowerActiveImport) {
		sv = append(sv, v21.SampledValue{Value: math.Round(r.powerW), Measurand: v21.MeasurandPowerActiveImport,
			Context: ctxt, Location: v21.LocationOutlet, UnitOfMeasure: unit("W")})
	}
	if want(v21.MeasurandCurrentImport) {
		for _, ph := range []v21.Phase{v21.PhaseL1, v21.PhaseL2, v21.PhaseL3} {
			sv = append(sv, v21.SampledValue{Value: r.currentA, Measurand: v21.MeasurandCurrentImport, Phase: ph,
				Context: ctxt, Location: v21.LocationOutlet, UnitOfMeasure: unit("A")})
		}
	}
	if want(v21.MeasurandVoltage) {
		sv = append(sv, v21.SampledValue{Value: r.voltageV, Measurand: v21.MeasurandVoltage, Phase: v21.PhaseL1N,
			Context: ctxt, Location: v21.LocationOutlet, UnitOfMeasure: unit("V")})
	}
	return sv
}

// dataTransfer sends data (as a JSON string, if any) to the CSMS.
func (p *v2Proto) dataTransfer(ctx context.Context, vendorID, messageID, data string) (string, error) {
	req := &v21.DataTransferRequest{VendorId: vendorID, MessageId: messageID}
	if data != "" {
		raw, err := json.Marshal(data)
		if err != nil {
			return "", fmt.Errorf("sim: DataTransfer data: %w", err)
		}
		req.Data = raw
	}
	resp, err := p.s.call(ctx, "DataTransfer", req)
	if err != nil {
		return "", err
	}
	r, ok := asType[v21.DataTransferResponse](resp)
	if !ok {
		return "", fmt.Errorf("%w: DataTransfer answered %T", ErrBadResponse, resp)
	}
	return string(r.Status), nil
}

// eventStreamID is the id of the station's one periodic event stream.
const eventStreamID = 1

// openEventStream opens the periodic event stream (2.1) and, once the
// CSMS accepted it, streams the charger's total power on it with
// NotifyPeriodicEventStream until the connection ends.
func (p *v2Proto) openEventStream(ctx context.Context, c *rpc.Conn) error {
	every := p.s.opts.EventStream
	req := &v21.OpenPeriodicEventStreamRequest{ConstantStreamData: v21.ConstantStreamData{
		Id: eventStreamID, VariableMonitoringId: 1,
		Params: v21.PeriodicEventStreamParams{Interval: ptr(max(int(every/time.Second), 1)), Values: ptr(1)},
	}}
	resp, err := p.s.exchange(ctx, c, 0, "OpenPeriodicEventStream", req)
	if err != nil {
		if isTransport(err) {
			return err
		}
		p.s.log.Warn("periodic event stream not opened", "err", err)
		return nil
	}
	if r, ok := asType[v21.OpenPeriodicEventStreamResponse](resp); !ok || r.Status != v21.GenericAccepted {
		p.s.log.Warn("periodic event stream refused by the CSMS")
		return nil
	}
	go func() {
		for {
			select {
			case <-p.s.clock.After(every):
			case <-c.Done():
				return
			case <-ctx.Done():
				return
			}
			p.mu.Lock()
			power := 0.0
			for _, cn := range p.connectors[1:] {
				if cn.tx != nil && cn.tx.authorized {
					power += phases * nominalVoltage * math.Min(defaultCurrent*p.drawFactor, p.currentLimit(cn.id))
				}
			}
			p.mu.Unlock()
			ev := &v21.NotifyPeriodicEventStreamRequest{Id: eventStreamID, Pending: 0, Basetime: payload.NewDateTime(p.s.clock.Now()),
				Data: []v21.StreamDataElement{{T: 0, V: fmt.Sprintf("%.0f", power)}}}
			raw, err := payload.Marshal(ev)
			if err != nil {
				p.s.log.Error("simulator bug: invalid NotifyPeriodicEventStream", "err", err)
				return
			}
			if err := c.Send(ctx, "NotifyPeriodicEventStream", raw); err != nil {
				return
			}
		}
	}()
	return nil
}
