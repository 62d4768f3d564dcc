package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/v16"
)

// v16Proto is the OCPP 1.6J half of a station: the 1.6 messages of the
// shared script, the configuration keys and the answers to 1.6 commands.
type v16Proto struct {
	*charger

	// Guarded by charger.mu.
	config      []*configKey
	firmware    v16.FirmwareStatus
	diagnostics v16.DiagnosticsStatus
}

type configKey struct {
	key      string
	value    string
	readonly bool
	kind     byte // 'i' integer, 'b' boolean, 's' string
}

var (
	_ protocol = (*v16Proto)(nil)
	_ dialect  = (*v16Proto)(nil)
)

// secs renders a duration as whole seconds, at least 1.
func secs(d time.Duration) string {
	return strconv.Itoa(int(max(d.Round(time.Second), time.Second) / time.Second))
}

func newV16(s *Station) *v16Proto {
	o := &s.opts
	p := &v16Proto{
		charger:     newCharger(s),
		firmware:    v16.FirmwareIdle,
		diagnostics: v16.DiagnosticsIdle,
	}
	p.d = p
	p.config = []*configKey{
		{"AllowOfflineTxForUnknownId", "false", false, 'b'},
		{"AuthorizationCacheEnabled", "true", false, 'b'},
		{"AuthorizeRemoteTxRequests", "false", false, 'b'},
		{"ChargeProfileMaxStackLevel", strconv.Itoa(maxStackLevel), true, 'i'},
		{"ChargingScheduleAllowedChargingRateUnit", "Current,Power", true, 's'},
		{"ChargingScheduleMaxPeriods", strconv.Itoa(maxPeriods), true, 'i'},
		{"ClockAlignedDataInterval", "0", false, 'i'},
		{"ConnectionTimeOut", "60", false, 'i'},
		{"GetConfigurationMaxKeys", "50", true, 'i'},
		{"HeartbeatInterval", secs(p.hbInterval), false, 'i'},
		{"LocalAuthListEnabled", "true", false, 'b'},
		{"LocalAuthListMaxLength", strconv.Itoa(maxLocalListLength), true, 'i'},
		{"LocalAuthorizeOffline", "true", false, 'b'},
		{"LocalPreAuthorize", "false", false, 'b'},
		{"MaxChargingProfilesInstalled", strconv.Itoa(maxProfiles), true, 'i'},
		{"MeterValuesAlignedData", "Energy.Active.Import.Register", false, 's'},
		{"MeterValuesSampledData", "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage", false, 's'},
		{"MeterValueSampleInterval", secs(p.meterInterval), false, 'i'},
		{"NumberOfConnectors", strconv.Itoa(o.Connectors), true, 'i'},
		{"ReserveConnectorZeroSupported", "false", true, 'b'},
		{"ResetRetries", "3", false, 'i'},
		{"SendLocalListMaxLength", strconv.Itoa(maxLocalListLength), true, 'i'},
		{"StopTransactionOnEVSideDisconnect", "true", false, 'b'},
		{"StopTransactionOnInvalidId", "true", false, 'b'},
		{"StopTxnAlignedData", "", false, 's'},
		{"StopTxnSampledData", "Energy.Active.Import.Register", false, 's'},
		{"SupportedFeatureProfiles", "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger", true, 's'},
		{"TransactionMessageAttempts", strconv.Itoa(transactionMessageAttempts), true, 'i'},
		{"TransactionMessageRetryInterval", secs(o.RetryInterval), true, 'i'},
		{"UnlockConnectorOnEVSideDisconnect", "true", false, 'b'},
	}
	return p
}

func (p *v16Proto) decodeResponse(action string, raw json.RawMessage) (any, error) {
	v, _, err := v16.DecodeResponse(action, raw, false)
	return v, err
}

// wire returns 1.6 requests as they are.
func (p *v16Proto) wire(_ string, req any) (any, error) { return req, nil }

// setting maps the shared script's switches onto 1.6 configuration keys.
func (p *v16Proto) setting(s setting) bool {
	switch s {
	case settingAuthCache:
		return p.configBool("AuthorizationCacheEnabled")
	case settingLocalAuthOffline:
		return p.configBool("LocalAuthorizeOffline")
	case settingLocalList:
		return p.configBool("LocalAuthListEnabled")
	case settingAuthorizeRemote:
		return p.configBool("AuthorizeRemoteTxRequests")
	case settingStopOnInvalid:
		return p.configBool("StopTransactionOnInvalidId")
	case settingReservations, settingSmartCharging:
		return true // in SupportedFeatureProfiles
	}
	return false // settingLateToken: a 1.6 transaction starts with its idTag
}

func (p *v16Proto) configBool(key string) bool {
	for _, k := range p.config {
		if k.key == key {
			return k.value == "true"
		}
	}
	return false
}

// v16Status is the 1.6 spelling of a connector status.
func v16Status(st connStatus) v16.ChargePointStatus {
	switch st {
	case statusPreparing:
		return v16.StatusPreparing
	case statusCharging:
		return v16.StatusCharging
	case statusFinishing:
		return v16.StatusFinishing
	case statusReserved:
		return v16.StatusReserved
	case statusUnavailable:
		return v16.StatusUnavailable
	}
	return v16.StatusAvailable
}

// v16Reason is the 1.6 spelling of why a session stopped.
func v16Reason(r stopReason) v16.Reason {
	switch r {
	case stopEVDisconnected:
		return v16.ReasonEVDisconnected
	case stopRemote:
		return v16.ReasonRemote
	case stopDeAuthorized:
		return v16.ReasonDeAuthorized
	case stopUnlock:
		return v16.ReasonUnlockCommand
	case stopSoftReset:
		return v16.ReasonSoftReset
	case stopHardReset:
		return v16.ReasonHardReset
	}
	return v16.ReasonLocal
}

func (p *v16Proto) bootRequest() *v16.BootNotificationRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	o := &p.s.opts
	serial := o.ID
	if len(serial) > 25 {
		serial = serial[len(serial)-25:]
	}
	return &v16.BootNotificationRequest{
		ChargePointVendor:       truncate(o.Vendor, 20),
		ChargePointModel:        truncate(o.Model, 20),
		ChargePointSerialNumber: serial,
		FirmwareVersion:         p.firmwareVer,
		MeterType:               "SimMeter 3P",
	}
}

// applyBoot takes the heartbeat interval from an accepted boot.
func (p *v16Proto) applyBoot(r *v16.BootNotificationResponse) {
	if r.Status != v16.RegistrationAccepted || r.Interval <= 0 || p.s.opts.HeartbeatInterval > 0 {
		return
	}
	p.mu.Lock()
	p.hbInterval = time.Duration(r.Interval) * time.Second
	p.setConfigLocked("HeartbeatInterval", strconv.Itoa(r.Interval))
	p.mu.Unlock()
}

// register boots until accepted, then reports every connector's status.
func (p *v16Proto) register(ctx context.Context, c *rpc.Conn) error {
	err := p.boot(ctx, c, func() any { return p.bootRequest() }, func(resp any) (bool, int, string) {
		r, ok := resp.(*v16.BootNotificationResponse)
		if !ok {
			return false, 0, ""
		}
		p.applyBoot(r)
		return r.Status == v16.RegistrationAccepted, r.Interval, string(r.Status)
	})
	if err != nil {
		return err
	}
	for _, req := range p.statusRequests(-1) {
		if _, err := p.s.exchange(ctx, c, 0, "StatusNotification", req); err != nil && isTransport(err) {
			return err
		}
	}
	return nil
}

// statusRequests returns the current state of one connector, or of all
// of them for id -1.
func (p *v16Proto) statusRequests(id int) []*v16.StatusNotificationRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := payload.NewDateTime(p.s.clock.Now())
	var out []*v16.StatusNotificationRequest
	for _, cn := range p.statusesLocked(id) {
		out = append(out, &v16.StatusNotificationRequest{ConnectorId: cn.id, ErrorCode: v16.ErrNoError, Status: v16Status(cn.status), Timestamp: now})
	}
	return out
}

func (p *v16Proto) heartbeat(ctx context.Context, c *rpc.Conn) error {
	_, err := p.s.exchange(ctx, c, 0, "Heartbeat", &v16.HeartbeatRequest{})
	return err
}

// reportStatus sends every status change, connector 0 included.
func (p *v16Proto) reportStatus(cn *connector, _, st connStatus) {
	p.s.post("StatusNotification", &v16.StatusNotificationRequest{
		ConnectorId: cn.id, ErrorCode: v16.ErrNoError, Status: v16Status(st), Timestamp: payload.NewDateTime(p.s.clock.Now()),
	})
}

func (p *v16Proto) authorize(ctx context.Context, tok token) (string, error) {
	resp, err := p.s.call(ctx, "Authorize", &v16.AuthorizeRequest{IdTag: tok.id})
	if err != nil {
		return "", err
	}
	r, ok := resp.(*v16.AuthorizeResponse)
	if !ok {
		return "", fmt.Errorf("%w: Authorize answered %T", ErrBadResponse, resp)
	}
	return string(r.IdTagInfo.Status), nil
}

func (p *v16Proto) txStarted(cn *connector, t *txn, begin reading) {
	start := &v16.StartTransactionRequest{
		ConnectorId: cn.id, IdTag: t.tok.id, MeterStart: int(begin.registerWh),
		ReservationId: t.reservationID, Timestamp: payload.NewDateTime(begin.at),
	}
	_ = p.s.enqueue(&outMsg{
		action: "StartTransaction", durable: true, tx: t,
		build: func() (any, bool) { return start, true },
		done: func(resp any, err error) {
			r, ok := resp.(*v16.StartTransactionResponse)
			p.mu.Lock()
			if err != nil || !ok {
				t.dropped = true
				p.mu.Unlock()
				return
			}
			t.num, t.known = r.TransactionId, true
			p.mu.Unlock()
			if r.IdTagInfo.Status != v16.AuthorizationAccepted {
				p.tokenRefused(cn, t)
			}
		},
	})
}

// txAuthorized is never called: 1.6 has no late token.
func (p *v16Proto) txAuthorized(*connector, *txn) {}

func (p *v16Proto) txMeter(cn *connector, t *txn, r reading) {
	mv := v16MeterValue(r)
	_ = p.s.enqueue(&outMsg{action: "MeterValues", durable: true, tx: t, build: p.withTxID(t, func(id *int) any {
		return &v16.MeterValuesRequest{ConnectorId: cn.id, TransactionId: id, MeterValue: []v16.MeterValue{mv}}
	})})
}

// txEnded queues the StopTransaction; its transactionData carries the
// registers at the start (Transaction.Begin) and the end (Transaction.End),
// the readings a 2.x TransactionEvent Started and Ended carry.
func (p *v16Proto) txEnded(_ *connector, t *txn, reason stopReason, final reading) {
	mv := v16MeterValue(final)
	stop := &v16.StopTransactionRequest{
		IdTag: t.tok.id, MeterStop: int(final.registerWh), Timestamp: mv.Timestamp, Reason: v16Reason(reason),
		TransactionData: []v16.MeterValue{v16MeterValue(t.begin), mv},
	}
	_ = p.s.enqueue(&outMsg{action: "StopTransaction", durable: true, tx: t, build: p.withTxID(t, func(id *int) any {
		req := *stop
		req.TransactionId = *id
		return &req
	})})
}

// withTxID builds a transaction message once its transaction has an id;
// messages of a transaction whose start was given up are dropped.
func (p *v16Proto) withTxID(t *txn, build func(id *int) any) func() (any, bool) {
	return func() (any, bool) {
		p.mu.Lock()
		known, id := t.known, t.num
		p.mu.Unlock()
		if !known {
			return nil, false
		}
		return build(&id), true
	}
}

// v16MeterValue renders a reading: the energy register, and for a sample
// power, current per phase and voltage.
func v16MeterValue(r reading) v16.MeterValue {
	ctxt := v16.ContextSamplePeriodic
	switch r.context {
	case readingBegin:
		ctxt = v16.ContextTransactionBegin
	case readingEnd:
		ctxt = v16.ContextTransactionEnd
	case readingTrigger:
		ctxt = v16.ContextTrigger
	}
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	sv := []v16.SampledValue{{
		Value: f(math.Floor(r.registerWh), 0), Context: ctxt, Measurand: v16.MeasurandEnergyActiveImportRegister,
		Location: v16.LocationOutlet, Unit: v16.UnitWh,
	}}
	if !r.final {
		sv = append(sv, v16.SampledValue{Value: f(r.powerW, 0), Context: ctxt, Measurand: v16.MeasurandPowerActiveImport, Location: v16.LocationOutlet, Unit: v16.UnitW})
		for _, ph := range []v16.Phase{v16.PhaseL1, v16.PhaseL2, v16.PhaseL3} {
			sv = append(sv, v16.SampledValue{Value: f(r.currentA, 1), Context: ctxt, Measurand: v16.MeasurandCurrentImport, Phase: ph, Location: v16.LocationOutlet, Unit: v16.UnitA})
		}
		sv = append(sv, v16.SampledValue{Value: f(r.voltageV, 1), Context: ctxt, Measurand: v16.MeasurandVoltage, Phase: v16.PhaseL1N, Location: v16.LocationOutlet, Unit: v16.UnitV})
	}
	return v16.MeterValue{Timestamp: payload.NewDateTime(r.at), SampledValue: sv}
}

// HandleCall answers a CSMS command: decoded strictly, answered with a
// schema-valid payload, with follow-up messages sent afterwards.
func (p *v16Proto) HandleCall(ctx context.Context, _ *rpc.Conn, action string, raw json.RawMessage) (json.RawMessage, error) {
	req, _, err := v16.DecodeRequest(action, raw, false)
	if err != nil {
		return nil, err
	}
	if a, _ := v16.Lookup(action); a.Direction&v16.CSMSToCharger == 0 {
		return nil, ocppj.Errorf(ocppj.NotSupported, "%s is sent by chargers", action)
	}
	resp, after := p.command(req)
	if resp == nil {
		return nil, ocppj.Errorf(ocppj.NotImplemented, "%s not simulated", action)
	}
	out, err := payload.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("sim: answer to %s: %w", action, err)
	}
	if after != nil {
		rpc.AfterAnswer(ctx, after)
	}
	return out, nil
}

// v16Purpose is the neutral purpose of a 1.6 charging profile.
// v16Profile reduces a 1.6 charging profile for connector to what the
// simulation uses.
func v16Profile(connector int, prof *v16.ChargingProfile) installedProfile {
	ip := installedProfile{connector: connector, purpose: v16Purpose(prof.ChargingProfilePurpose), stackLevel: prof.StackLevel}.withLimit(maxCurrent, false)
	if periods := prof.ChargingSchedule.ChargingSchedulePeriod; len(periods) > 0 {
		ip = ip.withLimit(periods[0].Limit, prof.ChargingSchedule.ChargingRateUnit == v16.RateUnitW)
	}
	return ip
}

func v16Purpose(p v16.ChargingProfilePurpose) purpose {
	switch p {
	case v16.PurposeChargePointMaxProfile:
		return purposeStationMax
	case v16.PurposeTxDefaultProfile:
		return purposeTxDefault
	case v16.PurposeTxProfile:
		return purposeTx
	}
	return purposeOther
}

// command applies a decoded command and returns the answer and an
// optional follow-up to run once it is answered.
func (p *v16Proto) command(req any) (resp any, after func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.connectors) - 1
	switch r := req.(type) {
	case *v16.ResetRequest:
		reason := stopSoftReset
		if r.Type == v16.ResetTypeHard {
			reason = stopHardReset
		}
		return &v16.ResetResponse{Status: v16.ResetStatusAccepted}, p.resetLocked(reason)

	case *v16.RemoteStartTransactionRequest:
		rs := remoteStart{tok: token{r.IdTag, tokenCentral}}
		if prof := r.ChargingProfile; prof != nil {
			// Only a TxProfile may come with a remote start.
			if prof.ChargingProfilePurpose != v16.PurposeTxProfile || !p.setting(settingSmartCharging) {
				return &v16.RemoteStartTransactionResponse{Status: v16.RemoteStartStopRejected}, nil
			}
			rs.profile = &startProfile{id: prof.ChargingProfileId, p: v16Profile(0, prof), periods: len(prof.ChargingSchedule.ChargingSchedulePeriod)}
		}
		start := p.remoteStartLocked(r.ConnectorId, rs)
		if start == nil {
			return &v16.RemoteStartTransactionResponse{Status: v16.RemoteStartStopRejected}, nil
		}
		return &v16.RemoteStartTransactionResponse{Status: v16.RemoteStartStopAccepted}, start

	case *v16.RemoteStopTransactionRequest:
		stop := p.stopTxLocked(func(t *txn) bool { return t.known && t.num == r.TransactionId }, stopRemote)
		if stop == nil {
			return &v16.RemoteStopTransactionResponse{Status: v16.RemoteStartStopRejected}, nil
		}
		return &v16.RemoteStopTransactionResponse{Status: v16.RemoteStartStopAccepted}, stop

	case *v16.ChangeConfigurationRequest:
		return &v16.ChangeConfigurationResponse{Status: p.changeConfigLocked(r.Key, r.Value)}, nil

	case *v16.GetConfigurationRequest:
		out := &v16.GetConfigurationResponse{}
		for _, k := range p.config {
			if len(r.Key) == 0 || slices.Contains(r.Key, k.key) {
				v := k.value
				out.ConfigurationKey = append(out.ConfigurationKey, v16.KeyValue{Key: k.key, Readonly: k.readonly, Value: &v})
			}
		}
		for _, want := range r.Key {
			if !slices.ContainsFunc(p.config, func(k *configKey) bool { return k.key == want }) {
				out.UnknownKey = append(out.UnknownKey, want)
			}
		}
		return out, nil

	case *v16.ChangeAvailabilityRequest:
		if r.ConnectorId < 0 || r.ConnectorId > n {
			return &v16.ChangeAvailabilityResponse{Status: v16.AvailabilityStatusRejected}, nil
		}
		scheduled, after := p.changeAvailabilityLocked(r.ConnectorId, r.Type == v16.AvailabilityTypeOperative)
		status := v16.AvailabilityStatusAccepted
		if scheduled {
			status = v16.AvailabilityStatusScheduled
		}
		return &v16.ChangeAvailabilityResponse{Status: status}, after

	case *v16.ClearCacheRequest:
		clear(p.authCache)
		return &v16.ClearCacheResponse{Status: v16.ClearCacheAccepted}, nil

	case *v16.DataTransferRequest:
		return &v16.DataTransferResponse{Status: v16.DataTransferUnknownVendorId}, nil

	case *v16.GetDiagnosticsRequest:
		name := fmt.Sprintf("diagnostics-%s-%s.log", p.s.opts.ID, p.s.clock.Now().UTC().Format("20060102T150405Z"))
		return &v16.GetDiagnosticsResponse{FileName: truncate(name, 255)}, func() {
			p.notifyProgress("DiagnosticsStatusNotification", func(st string) any {
				p.mu.Lock()
				p.diagnostics = v16.DiagnosticsStatus(st)
				p.mu.Unlock()
				return &v16.DiagnosticsStatusNotificationRequest{Status: v16.DiagnosticsStatus(st)}
			}, string(v16.DiagnosticsUploading), string(v16.DiagnosticsUploaded))
		}

	case *v16.GetLocalListVersionRequest:
		return &v16.GetLocalListVersionResponse{ListVersion: p.localVersion}, nil

	case *v16.SendLocalListRequest:
		if !p.configBool("LocalAuthListEnabled") {
			return &v16.SendLocalListResponse{Status: v16.UpdateStatusNotSupported}, nil
		}
		entries := make([]listEntry, 0, len(r.LocalAuthorizationList))
		for _, e := range r.LocalAuthorizationList {
			le := listEntry{id: e.IdTag}
			if e.IdTagInfo != nil {
				le.status = string(e.IdTagInfo.Status)
			}
			entries = append(entries, le)
		}
		status := v16.UpdateStatusAccepted
		switch p.sendLocalListLocked(r.UpdateType == v16.UpdateTypeFull, r.ListVersion, entries) {
		case listFailed:
			status = v16.UpdateStatusFailed
		case listVersionMismatch:
			status = v16.UpdateStatusVersionMismatch
		}
		return &v16.SendLocalListResponse{Status: status}, nil

	case *v16.ReserveNowRequest:
		res, after := p.reserveLocked(r.ConnectorId, r.ReservationId, token{r.IdTag, tokenISO14443}, r.ExpiryDate.Time)
		status := v16.ReservationAccepted
		switch res {
		case reserveOccupied:
			status = v16.ReservationOccupied
		case reserveUnavailable:
			status = v16.ReservationUnavailable
		case reserveRejected:
			status = v16.ReservationRejected // ReserveConnectorZeroSupported is false
		}
		return &v16.ReserveNowResponse{Status: status}, after

	case *v16.CancelReservationRequest:
		if ok, after := p.cancelReservationLocked(r.ReservationId); ok {
			return &v16.CancelReservationResponse{Status: v16.CancelReservationAccepted}, after
		}
		return &v16.CancelReservationResponse{Status: v16.CancelReservationRejected}, nil

	case *v16.TriggerMessageRequest:
		if r.ConnectorId != nil && (*r.ConnectorId < 0 || *r.ConnectorId > n) {
			return &v16.TriggerMessageResponse{Status: v16.TriggerMessageRejected}, nil
		}
		return &v16.TriggerMessageResponse{Status: v16.TriggerMessageAccepted}, p.triggered(r)

	case *v16.UnlockConnectorRequest:
		if r.ConnectorId < 1 || r.ConnectorId > n {
			return &v16.UnlockConnectorResponse{Status: v16.UnlockNotSupported}, nil
		}
		cn := p.connectors[r.ConnectorId]
		stop := p.stopTxLocked(func(t *txn) bool { return t == cn.tx }, stopUnlock)
		return &v16.UnlockConnectorResponse{Status: v16.UnlockUnlocked}, stop

	case *v16.UpdateFirmwareRequest:
		return &v16.UpdateFirmwareResponse{}, func() {
			p.notifyProgress("FirmwareStatusNotification", func(st string) any {
				p.mu.Lock()
				p.firmware = v16.FirmwareStatus(st)
				if p.firmware == v16.FirmwareInstalled {
					p.firmwareVer = "1.0." + strconv.Itoa(int(p.s.clock.Now().Unix()%1000))
				}
				p.mu.Unlock()
				return &v16.FirmwareStatusNotificationRequest{Status: v16.FirmwareStatus(st)}
			}, string(v16.FirmwareDownloading), string(v16.FirmwareDownloaded), string(v16.FirmwareInstalling), string(v16.FirmwareInstalled))
		}

	case *v16.SetChargingProfileRequest:
		prof := &r.CsChargingProfiles
		status := v16.ChargingProfileRejected
		if p.setProfileLocked(prof.ChargingProfileId, v16Profile(r.ConnectorId, prof), len(prof.ChargingSchedule.ChargingSchedulePeriod)) {
			status = v16.ChargingProfileAccepted
		}
		return &v16.SetChargingProfileResponse{Status: status}, nil

	case *v16.ClearChargingProfileRequest:
		found := p.clearProfilesLocked(func(id int, ip installedProfile) bool {
			return (r.Id == nil || *r.Id == id) &&
				(r.ConnectorId == nil || *r.ConnectorId == ip.connector) &&
				(r.ChargingProfilePurpose == "" || v16Purpose(r.ChargingProfilePurpose) == ip.purpose) &&
				(r.StackLevel == nil || *r.StackLevel == ip.stackLevel)
		})
		if found {
			return &v16.ClearChargingProfileResponse{Status: v16.ClearChargingProfileAccepted}, nil
		}
		return &v16.ClearChargingProfileResponse{Status: v16.ClearChargingProfileUnknown}, nil

	case *v16.GetCompositeScheduleRequest:
		if r.ConnectorId < 0 || r.ConnectorId > n || r.Duration < 0 {
			return &v16.GetCompositeScheduleResponse{Status: v16.CompositeScheduleRejected}, nil
		}
		unit := r.ChargingRateUnit
		if unit == "" {
			unit = v16.RateUnitA
		}
		limit := p.currentLimit(r.ConnectorId)
		if unit == v16.RateUnitW {
			limit *= phases * nominalVoltage
		}
		id, dur := r.ConnectorId, r.Duration
		return &v16.GetCompositeScheduleResponse{
			Status: v16.CompositeScheduleAccepted, ConnectorId: &id,
			ScheduleStart: payload.NewDateTime(p.s.clock.Now()),
			ChargingSchedule: &v16.ChargingSchedule{
				Duration: &dur, ChargingRateUnit: unit,
				ChargingSchedulePeriod: []v16.ChargingSchedulePeriod{{StartPeriod: 0, Limit: math.Floor(limit)}},
			},
		}, nil
	}
	return nil, nil
}

func (p *v16Proto) setConfigLocked(key, value string) {
	for _, k := range p.config {
		if k.key == key {
			k.value = value
		}
	}
}

func (p *v16Proto) changeConfigLocked(key, value string) v16.ConfigurationStatus {
	i := slices.IndexFunc(p.config, func(k *configKey) bool { return k.key == key })
	if i < 0 {
		return v16.ConfigurationNotSupported
	}
	k := p.config[i]
	if k.readonly {
		return v16.ConfigurationRejected
	}
	switch k.kind {
	case 'i':
		v, err := strconv.Atoi(value)
		if err != nil || v < 0 {
			return v16.ConfigurationRejected
		}
		switch key {
		case "HeartbeatInterval":
			if v == 0 {
				return v16.ConfigurationRejected
			}
			p.hbInterval = time.Duration(v) * time.Second
			p.s.heartbeatChanged()
		case "MeterValueSampleInterval":
			if v == 0 {
				return v16.ConfigurationRejected
			}
			p.setMeterIntervalLocked(time.Duration(v) * time.Second)
		}
	case 'b':
		if value != "true" && value != "false" {
			return v16.ConfigurationRejected
		}
	}
	k.value = value
	return v16.ConfigurationAccepted
}

// triggered returns the follow-up that sends what TriggerMessage asked for.
func (p *v16Proto) triggered(r *v16.TriggerMessageRequest) func() {
	conn := -1
	if r.ConnectorId != nil {
		conn = *r.ConnectorId
	}
	ctx := p.s.context()
	switch r.RequestedMessage {
	case v16.TriggerBootNotification:
		return func() {
			if resp, err := p.s.call(ctx, "BootNotification", p.bootRequest()); err == nil {
				if b, ok := resp.(*v16.BootNotificationResponse); ok {
					p.applyBoot(b)
				}
			}
		}
	case v16.TriggerHeartbeat:
		return func() { p.s.post("Heartbeat", &v16.HeartbeatRequest{}) }
	case v16.TriggerStatusNotification:
		return func() {
			for _, req := range p.statusRequests(conn) {
				p.s.post("StatusNotification", req)
			}
		}
	case v16.TriggerDiagnosticsStatusNotification:
		st := p.diagnostics
		return func() {
			p.s.post("DiagnosticsStatusNotification", &v16.DiagnosticsStatusNotificationRequest{Status: st})
		}
	case v16.TriggerFirmwareStatusNotification:
		st := p.firmware
		return func() { p.s.post("FirmwareStatusNotification", &v16.FirmwareStatusNotificationRequest{Status: st}) }
	case v16.TriggerMeterValues:
		var targets []*connector
		for _, cn := range p.connectors[1:] {
			if conn <= 0 || cn.id == conn {
				targets = append(targets, cn)
			}
		}
		return func() {
			for _, cn := range targets {
				mv := v16MeterValue(p.sample(cn, readingTrigger, false))
				req := &v16.MeterValuesRequest{ConnectorId: cn.id, MeterValue: []v16.MeterValue{mv}}
				p.mu.Lock()
				if t := cn.tx; t != nil && t.known {
					id := t.num
					req.TransactionId = &id
				}
				p.mu.Unlock()
				p.s.post("MeterValues", req)
			}
		}
	}
	return nil
}

func (p *v16Proto) dataTransfer(ctx context.Context, vendorID, messageID, data string) (string, error) {
	req := &v16.DataTransferRequest{VendorId: vendorID, MessageId: messageID}
	if data != "" {
		req.Data = &data
	}
	resp, err := p.s.call(ctx, "DataTransfer", req)
	if err != nil {
		return "", err
	}
	r, ok := resp.(*v16.DataTransferResponse)
	if !ok {
		return "", fmt.Errorf("%w: DataTransfer answered %T", ErrBadResponse, resp)
	}
	return string(r.Status), nil
}

// v16LoadScript is one 1.6 load connection: boot, then Heartbeats or
// MeterValues of a transaction it starts and finally stops.
type v16LoadScript struct {
	id, action string
	clock      Clock
	txID       int
	registerWh int
}

func newV16LoadScript(action, id string, clock Clock) (*v16LoadScript, error) {
	if action != "Heartbeat" && action != "MeterValues" {
		return nil, fmt.Errorf("%w: load action %q (want Heartbeat or MeterValues)", ErrConfig, action)
	}
	return &v16LoadScript{id: id, action: action, clock: clock, registerWh: 1000}, nil
}

var _ loadScript = (*v16LoadScript)(nil)

// v16LoadCall sends a validated 1.6 request and decodes the answer strictly.
func v16LoadCall[Resp any](ctx context.Context, c *rpc.Conn, action string, req any) (*Resp, error) {
	return loadCall[Resp](ctx, c, action, req, func(action string, raw json.RawMessage) (any, error) {
		v, _, err := v16.DecodeResponse(action, raw, false)
		return v, err
	})
}

func (l *v16LoadScript) setup(ctx context.Context, c *rpc.Conn) error {
	boot, err := v16LoadCall[v16.BootNotificationResponse](ctx, c, "BootNotification", &v16.BootNotificationRequest{ChargePointVendor: "Constellation", ChargePointModel: "chargesim-load"})
	if err != nil {
		return fmt.Errorf("sim: load setup: %w", err)
	}
	if boot.Status != v16.RegistrationAccepted {
		return fmt.Errorf("sim: load setup: boot %s", boot.Status)
	}
	if l.action != "MeterValues" {
		return nil
	}
	start, err := v16LoadCall[v16.StartTransactionResponse](ctx, c, "StartTransaction", &v16.StartTransactionRequest{
		ConnectorId: 1, IdTag: "LOADTAG", MeterStart: l.registerWh, Timestamp: payload.NewDateTime(l.clock.Now()),
	})
	if err != nil {
		return fmt.Errorf("sim: load setup: %w", err)
	}
	l.txID = start.TransactionId
	return nil
}

func (l *v16LoadScript) next(now time.Time) (string, json.RawMessage, error) {
	if l.action == "Heartbeat" {
		return "Heartbeat", json.RawMessage("{}"), nil
	}
	l.registerWh += 10
	id := l.txID
	body, err := json.Marshal(&v16.MeterValuesRequest{ConnectorId: 1, TransactionId: &id, MeterValue: []v16.MeterValue{{
		Timestamp: payload.NewDateTime(now),
		SampledValue: []v16.SampledValue{{
			Value: strconv.Itoa(l.registerWh), Context: v16.ContextSamplePeriodic,
			Measurand: v16.MeasurandEnergyActiveImportRegister, Unit: v16.UnitWh,
		}},
	}}})
	return "MeterValues", body, err
}

func (l *v16LoadScript) teardown(ctx context.Context, c *rpc.Conn) {
	if l.action != "MeterValues" {
		return
	}
	_, _ = v16LoadCall[v16.StopTransactionResponse](ctx, c, "StopTransaction", &v16.StopTransactionRequest{
		MeterStop: l.registerWh, Timestamp: payload.NewDateTime(l.clock.Now()), TransactionId: l.txID, Reason: v16.ReasonLocal,
	})
}
