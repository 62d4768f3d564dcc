package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/v16"
)

// Electrical model of a simulated connector: three phases at 230 V.
const (
	nominalVoltage = 230.0
	phases         = 3
	maxCurrent     = 32.0 // A per phase, the connector's rating
	defaultCurrent = 16.0 // A per phase an EV draws without a limit
)

// v16Proto is the OCPP 1.6J half of a station.
type v16Proto struct {
	s *Station

	mu            sync.Mutex
	connectors    []*connector // index 0 is the charge point itself
	config        []*configKey
	hbInterval    time.Duration
	meterInterval time.Duration
	authCache     map[string]v16.AuthorizationStatus
	localList     map[string]v16.IdTagInfo
	localVersion  int
	profiles      map[int]installedProfile
	firmware      v16.FirmwareStatus
	diagnostics   v16.DiagnosticsStatus
	firmwareVer   string
	nextTag       int
	drawFactor    float64 // per-station variation of the EV's current
}

type connector struct {
	id          int
	status      v16.ChargePointStatus
	operative   bool
	scheduled   bool // inoperative once the running session ends
	inSession   bool
	live        bool // the connector's session loop is running
	tx          *txn
	reservation *reservation
	registerWh  float64
	lastSample  time.Time
	remoteStart chan string
	stop        chan v16.Reason
	wake        chan struct{}
}

type txn struct {
	id      int
	known   bool // the CSMS acknowledged StartTransaction
	dropped bool // StartTransaction was given up
	tag     string
}

type reservation struct {
	id     int
	tag    string
	expiry time.Time
}

type installedProfile struct {
	connector int
	profile   v16.ChargingProfile
}

type configKey struct {
	key      string
	value    string
	readonly bool
	kind     byte // 'i' integer, 'b' boolean, 's' string
}

var _ protocol = (*v16Proto)(nil)

func newV16(s *Station) *v16Proto {
	o := &s.opts
	h := fnv.New32a()
	_, _ = h.Write([]byte(o.ID))
	seed := h.Sum32()
	p := &v16Proto{
		s:             s,
		hbInterval:    o.HeartbeatInterval,
		meterInterval: o.MeterInterval,
		authCache:     map[string]v16.AuthorizationStatus{},
		localList:     map[string]v16.IdTagInfo{},
		profiles:      map[int]installedProfile{},
		firmware:      v16.FirmwareIdle,
		diagnostics:   v16.DiagnosticsIdle,
		firmwareVer:   "1.0.0",
		drawFactor:    0.85 + float64(seed%30)/200, // 0.85 .. 1.0
	}
	if p.hbInterval <= 0 {
		p.hbInterval = 5 * time.Minute
	}
	for i := range o.Connectors + 1 {
		p.connectors = append(p.connectors, &connector{
			id: i, status: v16.StatusAvailable, operative: true,
			registerWh:  float64((seed>>uint(i%8))%100000) * 10,
			remoteStart: make(chan string, 1),
			stop:        make(chan v16.Reason, 1),
			wake:        make(chan struct{}, 1),
		})
	}
	secs := func(d time.Duration) string {
		return strconv.Itoa(int(max(d.Round(time.Second), time.Second) / time.Second))
	}
	p.config = []*configKey{
		{"AllowOfflineTxForUnknownId", "false", false, 'b'},
		{"AuthorizationCacheEnabled", "true", false, 'b'},
		{"AuthorizeRemoteTxRequests", "false", false, 'b'},
		{"ChargeProfileMaxStackLevel", "10", true, 'i'},
		{"ChargingScheduleAllowedChargingRateUnit", "Current,Power", true, 's'},
		{"ChargingScheduleMaxPeriods", "24", true, 'i'},
		{"ClockAlignedDataInterval", "0", false, 'i'},
		{"ConnectionTimeOut", "60", false, 'i'},
		{"GetConfigurationMaxKeys", "50", true, 'i'},
		{"HeartbeatInterval", secs(p.hbInterval), false, 'i'},
		{"LocalAuthListEnabled", "true", false, 'b'},
		{"LocalAuthListMaxLength", "100", true, 'i'},
		{"LocalAuthorizeOffline", "true", false, 'b'},
		{"LocalPreAuthorize", "false", false, 'b'},
		{"MaxChargingProfilesInstalled", "10", true, 'i'},
		{"MeterValuesAlignedData", "Energy.Active.Import.Register", false, 's'},
		{"MeterValuesSampledData", "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage", false, 's'},
		{"MeterValueSampleInterval", secs(p.meterInterval), false, 'i'},
		{"NumberOfConnectors", strconv.Itoa(o.Connectors), true, 'i'},
		{"ReserveConnectorZeroSupported", "false", true, 'b'},
		{"ResetRetries", "3", false, 'i'},
		{"SendLocalListMaxLength", "100", true, 'i'},
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

func (p *v16Proto) heartbeatInterval() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hbInterval
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

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
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

func (p *v16Proto) register(ctx context.Context, c *rpc.Conn) error {
	for {
		resp, err := p.s.exchange(ctx, c, 0, "BootNotification", p.bootRequest())
		if err != nil && isTransport(err) {
			return err
		}
		wait := p.s.opts.RetryInterval
		if r, ok := resp.(*v16.BootNotificationResponse); ok {
			if r.Status == v16.RegistrationAccepted {
				p.applyBoot(r)
				break
			}
			p.s.log.Info("boot not accepted", "status", r.Status, "interval", r.Interval)
			if r.Interval > 0 {
				wait = time.Duration(r.Interval) * time.Second
			}
		}
		select {
		case <-p.s.clock.After(wait):
		case <-c.Done():
			return rpc.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
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
	for _, cn := range p.connectors {
		if id < 0 || cn.id == id {
			out = append(out, &v16.StatusNotificationRequest{ConnectorId: cn.id, ErrorCode: v16.ErrNoError, Status: cn.status, Timestamp: now})
		}
	}
	return out
}

func (p *v16Proto) heartbeat(ctx context.Context, c *rpc.Conn) error {
	_, err := p.s.exchange(ctx, c, 0, "Heartbeat", &v16.HeartbeatRequest{})
	return err
}

// setStatus changes a connector's status and reports it (dropped offline:
// the current state is reported after every connect).
func (p *v16Proto) setStatus(cn *connector, st v16.ChargePointStatus) {
	p.mu.Lock()
	cn.status = st
	p.mu.Unlock()
	p.s.post("StatusNotification", &v16.StatusNotificationRequest{
		ConnectorId: cn.id, ErrorCode: v16.ErrNoError, Status: st, Timestamp: payload.NewDateTime(p.s.clock.Now()),
	})
}

// idleStatus is the status of a connector without a session.
func (cn *connector) idleStatus(chargerOperative bool) v16.ChargePointStatus {
	switch {
	case !cn.operative || !chargerOperative:
		return v16.StatusUnavailable
	case cn.reservation != nil:
		return v16.StatusReserved
	}
	return v16.StatusAvailable
}

func (p *v16Proto) live(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, cn := range p.connectors[1:] {
		wg.Go(func() { p.connectorLife(ctx, cn) })
	}
	wg.Wait()
	return nil
}

// connectorLife runs a connector's sessions: scripted ones, and remote
// starts in between.
func (p *v16Proto) connectorLife(ctx context.Context, cn *connector) {
	o := &p.s.opts
	p.mu.Lock()
	cn.live = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		cn.live = false
		p.mu.Unlock()
	}()
	var pause <-chan time.Time // nil: start the first session at once
	for done := 0; o.Sessions == 0 || done < o.Sessions; {
		tag, remote := "", false
		if pause != nil {
			select {
			case <-pause:
			case tag = <-cn.remoteStart:
				remote = true
			case <-ctx.Done():
				return
			}
		}
		pause = p.s.clock.After(o.Pause)
		if !remote {
			if !p.usable(cn) {
				select { // wait until ChangeAvailability makes it usable
				case <-cn.wake:
				case tag = <-cn.remoteStart:
					remote = true
				case <-ctx.Done():
					return
				}
				if !remote {
					pause = nil
					continue
				}
			} else {
				tag = p.takeTag(cn.id)
			}
		}
		if p.session(ctx, cn, tag, remote) && !remote {
			done++
		}
	}
}

func (p *v16Proto) usable(cn *connector) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cn.operative && p.connectors[0].operative && !cn.inSession
}

// takeTag returns the idTag for the next session on connector cn: the
// configured tags round robin, or else the connector's own tag, so that
// stations sharing a CSMS never present the same card twice at once.
func (p *v16Proto) takeTag(cn int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	tags := p.s.opts.Tags
	if len(tags) == 0 {
		return ownTag(p.s.opts.ID, cn)
	}
	t := tags[p.nextTag%len(tags)]
	p.nextTag++
	return t
}

func (p *v16Proto) configBool(key string) bool {
	for _, k := range p.config {
		if k.key == key {
			return k.value == "true"
		}
	}
	return false
}

// authorize asks the CSMS; offline (or without an answer) it decides from
// the local list and cache like a charger with LocalAuthorizeOffline.
func (p *v16Proto) authorize(ctx context.Context, tag string) bool {
	resp, err := p.s.call(ctx, "Authorize", &v16.AuthorizeRequest{IdTag: tag})
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := resp.(*v16.AuthorizeResponse); ok && err == nil {
		if p.configBool("AuthorizationCacheEnabled") {
			p.authCache[tag] = r.IdTagInfo.Status
		}
		return r.IdTagInfo.Status == v16.AuthorizationAccepted
	}
	if !isTransport(err) || !p.configBool("LocalAuthorizeOffline") {
		return false
	}
	if info, ok := p.localList[tag]; ok {
		return info.Status == v16.AuthorizationAccepted
	}
	if st, ok := p.authCache[tag]; ok {
		return st == v16.AuthorizationAccepted
	}
	if len(p.s.opts.Tags) == 0 {
		for cn := 1; cn <= p.s.opts.Connectors; cn++ {
			if tag == ownTag(p.s.opts.ID, cn) {
				return true
			}
		}
		return false
	}
	return slices.Contains(p.s.opts.Tags, tag)
}

// ownTag is connector cn's default idTag: the station id (cut to fit the
// 20-character limit) and the connector number.
func ownTag(station string, cn int) string {
	return fmt.Sprintf("%.17s-%d", station, cn)
}

// session runs one charging session on cn and reports whether it charged.
func (p *v16Proto) session(ctx context.Context, cn *connector, tag string, remote bool) bool {
	o := &p.s.opts
	now := p.s.clock.Now()
	p.mu.Lock()
	if cn.inSession {
		p.mu.Unlock()
		return false
	}
	cn.inSession = true
	var reservationID *int
	if r := cn.reservation; r != nil {
		if now.After(r.expiry) {
			cn.reservation = nil
		} else {
			if !remote {
				tag = r.tag // the driver who reserved arrives
			}
			id := r.id
			reservationID = &id
		}
	}
	authorizeRemote := p.configBool("AuthorizeRemoteTxRequests")
	p.mu.Unlock()
	// A stop request left over from an earlier session is stale.
	select {
	case <-cn.stop:
	default:
	}
	if (!remote || authorizeRemote) && !p.authorize(ctx, tag) {
		p.mu.Lock()
		cn.inSession = false
		p.mu.Unlock()
		p.s.log.Info("tag not accepted", "connector", cn.id, "tag", tag)
		return false
	}
	p.setStatus(cn, v16.StatusPreparing)

	t := &txn{tag: tag}
	p.mu.Lock()
	cn.tx = t
	cn.reservation = nil
	cn.lastSample = p.s.clock.Now()
	start := &v16.StartTransactionRequest{
		ConnectorId: cn.id, IdTag: tag, MeterStart: int(cn.registerWh),
		ReservationId: reservationID, Timestamp: payload.NewDateTime(cn.lastSample),
	}
	p.mu.Unlock()
	_ = p.s.enqueue(&outMsg{
		action: "StartTransaction", durable: true,
		build: func() (any, bool) { return start, true },
		done: func(resp any, err error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			r, ok := resp.(*v16.StartTransactionResponse)
			if err != nil || !ok {
				t.dropped = true
				return
			}
			t.id, t.known = r.TransactionId, true
			if r.IdTagInfo.Status != v16.AuthorizationAccepted && p.configBool("StopTransactionOnInvalidId") && cn.tx == t {
				select {
				case cn.stop <- v16.ReasonDeAuthorized:
				default:
				}
			}
		},
	})
	p.s.stats.TxStarted.Add(1)
	p.setStatus(cn, v16.StatusCharging)

	end := p.s.clock.After(o.SessionLength)
	meter := p.s.clock.After(p.currentMeterInterval())
	reason := v16.ReasonLocal
loop:
	for {
		select {
		case <-meter:
			mv := p.sample(cn, v16.ContextSamplePeriodic, false)
			_ = p.s.enqueue(&outMsg{action: "MeterValues", durable: true, build: p.withTxID(t, func(id *int) any {
				return &v16.MeterValuesRequest{ConnectorId: cn.id, TransactionId: id, MeterValue: []v16.MeterValue{mv}}
			})})
			meter = p.s.clock.After(p.currentMeterInterval())
		case <-end:
			break loop
		case reason = <-cn.stop:
			break loop
		case <-ctx.Done():
			return true
		}
	}
	final := p.sample(cn, v16.ContextTransactionEnd, true)
	p.mu.Lock()
	meterStop := int(cn.registerWh)
	p.mu.Unlock()
	stop := &v16.StopTransactionRequest{
		IdTag: tag, MeterStop: meterStop, Timestamp: final.Timestamp, Reason: reason,
		TransactionData: []v16.MeterValue{final},
	}
	_ = p.s.enqueue(&outMsg{action: "StopTransaction", durable: true, build: p.withTxID(t, func(id *int) any {
		req := *stop
		req.TransactionId = *id
		return &req
	})})
	p.s.stats.TxStopped.Add(1)
	p.setStatus(cn, v16.StatusFinishing)
	p.mu.Lock()
	cn.tx = nil
	cn.inSession = false
	if cn.scheduled {
		cn.scheduled, cn.operative = false, false
	}
	idle := cn.idleStatus(p.connectors[0].operative)
	p.mu.Unlock()
	p.setStatus(cn, idle)
	return true
}

// withTxID builds a transaction message once its transaction has an id;
// messages of a transaction whose start was given up are dropped.
func (p *v16Proto) withTxID(t *txn, build func(id *int) any) func() (any, bool) {
	return func() (any, bool) {
		p.mu.Lock()
		known, id := t.known, t.id
		p.mu.Unlock()
		if !known {
			return nil, false
		}
		return build(&id), true
	}
}

func (p *v16Proto) currentMeterInterval() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.meterInterval
}

// currentLimit is the per-phase current the installed charging profiles
// allow on a connector.
func (p *v16Proto) currentLimit(connectorID int) float64 {
	limit := maxCurrent
	for _, ip := range p.profiles {
		if ip.connector != 0 && ip.connector != connectorID {
			continue
		}
		periods := ip.profile.ChargingSchedule.ChargingSchedulePeriod
		if len(periods) == 0 {
			continue
		}
		l := periods[0].Limit
		if ip.profile.ChargingSchedule.ChargingRateUnit == v16.RateUnitW {
			l /= phases * nominalVoltage
		}
		limit = math.Min(limit, l)
	}
	return math.Max(limit, 0)
}

// sample advances the connector's meter to now and returns a meter value;
// final gives only the energy register (for StopTransaction).
func (p *v16Proto) sample(cn *connector, ctxt v16.ReadingContext, final bool) v16.MeterValue {
	now := p.s.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	current := math.Min(defaultCurrent*p.drawFactor, p.currentLimit(cn.id))
	current = math.Round(current*10) / 10
	power := phases * nominalVoltage * current
	if dt := now.Sub(cn.lastSample); dt > 0 {
		cn.registerWh += power * dt.Hours()
	}
	cn.lastSample = now
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	sv := []v16.SampledValue{{
		Value: f(math.Floor(cn.registerWh), 0), Context: ctxt, Measurand: v16.MeasurandEnergyActiveImportRegister,
		Location: v16.LocationOutlet, Unit: v16.UnitWh,
	}}
	if !final {
		sv = append(sv, v16.SampledValue{Value: f(power, 0), Context: ctxt, Measurand: v16.MeasurandPowerActiveImport, Location: v16.LocationOutlet, Unit: v16.UnitW})
		for _, ph := range []v16.Phase{v16.PhaseL1, v16.PhaseL2, v16.PhaseL3} {
			sv = append(sv, v16.SampledValue{Value: f(current, 1), Context: ctxt, Measurand: v16.MeasurandCurrentImport, Phase: ph, Location: v16.LocationOutlet, Unit: v16.UnitA})
		}
		sv = append(sv, v16.SampledValue{Value: f(nominalVoltage, 1), Context: ctxt, Measurand: v16.MeasurandVoltage, Phase: v16.PhaseL1N, Location: v16.LocationOutlet, Unit: v16.UnitV})
	}
	return v16.MeterValue{Timestamp: payload.NewDateTime(now), SampledValue: sv}
}

// requestStop asks a connector's running session to stop.
func requestStop(cn *connector, reason v16.Reason) {
	select {
	case cn.stop <- reason:
	default:
	}
}

func wakeUp(cn *connector) {
	select {
	case cn.wake <- struct{}{}:
	default:
	}
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

// command applies a decoded command and returns the answer and an
// optional follow-up to run once it is answered.
func (p *v16Proto) command(req any) (resp any, after func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.connectors) - 1
	switch r := req.(type) {
	case *v16.ResetRequest:
		reason := v16.ReasonSoftReset
		if r.Type == v16.ResetTypeHard {
			reason = v16.ReasonHardReset
		}
		for _, cn := range p.connectors[1:] {
			if cn.tx != nil {
				requestStop(cn, reason)
			}
		}
		return &v16.ResetResponse{Status: v16.ResetStatusAccepted}, p.s.requestReboot

	case *v16.RemoteStartTransactionRequest:
		rejected := &v16.RemoteStartTransactionResponse{Status: v16.RemoteStartStopRejected}
		var target *connector
		for _, cn := range p.connectors[1:] {
			if r.ConnectorId != nil && cn.id != *r.ConnectorId {
				continue
			}
			free := cn.live && !cn.inSession && cn.operative && p.connectors[0].operative &&
				(cn.reservation == nil || cn.reservation.tag == r.IdTag)
			if free {
				target = cn
				break
			}
		}
		if target == nil {
			return rejected, nil
		}
		select {
		case target.remoteStart <- r.IdTag:
		default:
			return rejected, nil
		}
		return &v16.RemoteStartTransactionResponse{Status: v16.RemoteStartStopAccepted}, nil

	case *v16.RemoteStopTransactionRequest:
		for _, cn := range p.connectors[1:] {
			if cn.tx != nil && cn.tx.known && cn.tx.id == r.TransactionId {
				requestStop(cn, v16.ReasonRemote)
				return &v16.RemoteStopTransactionResponse{Status: v16.RemoteStartStopAccepted}, nil
			}
		}
		return &v16.RemoteStopTransactionResponse{Status: v16.RemoteStartStopRejected}, nil

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
		return p.changeAvailabilityLocked(r.ConnectorId, r.Type == v16.AvailabilityTypeOperative)

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
		return &v16.SendLocalListResponse{Status: p.sendLocalListLocked(r)}, nil

	case *v16.ReserveNowRequest:
		return p.reserveLocked(r)

	case *v16.CancelReservationRequest:
		for _, cn := range p.connectors[1:] {
			if cn.reservation != nil && cn.reservation.id == r.ReservationId {
				cn.reservation = nil
				if !cn.inSession {
					st := cn.idleStatus(p.connectors[0].operative)
					return &v16.CancelReservationResponse{Status: v16.CancelReservationAccepted}, func() { p.setStatus(cn, st) }
				}
				return &v16.CancelReservationResponse{Status: v16.CancelReservationAccepted}, nil
			}
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
		if cn := p.connectors[r.ConnectorId]; cn.tx != nil {
			requestStop(cn, v16.ReasonUnlockCommand)
		}
		return &v16.UnlockConnectorResponse{Status: v16.UnlockUnlocked}, nil

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
		return &v16.SetChargingProfileResponse{Status: p.setProfileLocked(r)}, nil

	case *v16.ClearChargingProfileRequest:
		status := v16.ClearChargingProfileUnknown
		for id, ip := range p.profiles {
			if (r.Id == nil || *r.Id == id) &&
				(r.ConnectorId == nil || *r.ConnectorId == ip.connector) &&
				(r.ChargingProfilePurpose == "" || r.ChargingProfilePurpose == ip.profile.ChargingProfilePurpose) &&
				(r.StackLevel == nil || *r.StackLevel == ip.profile.StackLevel) {
				delete(p.profiles, id)
				status = v16.ClearChargingProfileAccepted
			}
		}
		return &v16.ClearChargingProfileResponse{Status: status}, nil

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
		case "MeterValueSampleInterval":
			if v == 0 {
				return v16.ConfigurationRejected
			}
			p.meterInterval = time.Duration(v) * time.Second
		}
	case 'b':
		if value != "true" && value != "false" {
			return v16.ConfigurationRejected
		}
	}
	k.value = value
	return v16.ConfigurationAccepted
}

func (p *v16Proto) changeAvailabilityLocked(id int, operative bool) (any, func()) {
	targets := p.connectors[id : id+1]
	if id == 0 {
		targets = p.connectors
	}
	status := v16.AvailabilityStatusAccepted
	var changed []*connector
	for _, cn := range targets {
		if !operative && cn.inSession {
			cn.scheduled = true
			status = v16.AvailabilityStatusScheduled
			continue
		}
		cn.scheduled = false
		if cn.operative != operative {
			cn.operative = operative
			changed = append(changed, cn)
		}
	}
	if id == 0 && status == v16.AvailabilityStatusScheduled {
		// The charger as a whole follows its last connector.
		p.connectors[0].operative = true
		p.connectors[0].scheduled = true
	}
	var statuses []v16.ChargePointStatus
	for _, cn := range changed {
		st := cn.idleStatus(p.connectors[0].operative)
		if cn.id == 0 {
			st = v16.StatusAvailable
			if !cn.operative {
				st = v16.StatusUnavailable
			}
		} else if cn.inSession {
			st = cn.status
		}
		statuses = append(statuses, st)
	}
	return &v16.ChangeAvailabilityResponse{Status: status}, func() {
		for i, cn := range changed {
			p.setStatus(cn, statuses[i])
			wakeUp(cn)
		}
	}
}

func (p *v16Proto) sendLocalListLocked(r *v16.SendLocalListRequest) v16.UpdateStatus {
	if !p.configBool("LocalAuthListEnabled") {
		return v16.UpdateStatusNotSupported
	}
	if len(r.LocalAuthorizationList) > 100 {
		return v16.UpdateStatusFailed
	}
	switch r.UpdateType {
	case v16.UpdateTypeFull:
		clear(p.localList)
	case v16.UpdateTypeDifferential:
		if r.ListVersion <= p.localVersion {
			return v16.UpdateStatusVersionMismatch
		}
	}
	for _, e := range r.LocalAuthorizationList {
		if e.IdTagInfo == nil {
			delete(p.localList, e.IdTag)
		} else {
			p.localList[e.IdTag] = *e.IdTagInfo
		}
	}
	p.localVersion = r.ListVersion
	return v16.UpdateStatusAccepted
}

func (p *v16Proto) reserveLocked(r *v16.ReserveNowRequest) (any, func()) {
	answer := func(st v16.ReservationStatus) *v16.ReserveNowResponse { return &v16.ReserveNowResponse{Status: st} }
	if r.ConnectorId < 1 || r.ConnectorId >= len(p.connectors) {
		return answer(v16.ReservationRejected), nil // ReserveConnectorZeroSupported is false
	}
	cn := p.connectors[r.ConnectorId]
	switch {
	case !cn.operative || !p.connectors[0].operative:
		return answer(v16.ReservationUnavailable), nil
	case cn.inSession:
		return answer(v16.ReservationOccupied), nil
	case cn.reservation != nil && cn.reservation.id != r.ReservationId:
		return answer(v16.ReservationOccupied), nil
	}
	cn.reservation = &reservation{id: r.ReservationId, tag: r.IdTag, expiry: r.ExpiryDate.Time}
	return answer(v16.ReservationAccepted), func() { p.setStatus(cn, v16.StatusReserved) }
}

func (p *v16Proto) setProfileLocked(r *v16.SetChargingProfileRequest) v16.ChargingProfileStatus {
	prof := r.CsChargingProfiles
	switch {
	case r.ConnectorId < 0 || r.ConnectorId >= len(p.connectors):
		return v16.ChargingProfileRejected
	case prof.ChargingProfilePurpose == v16.PurposeChargePointMaxProfile && r.ConnectorId != 0:
		return v16.ChargingProfileRejected
	case prof.ChargingProfilePurpose == v16.PurposeTxProfile:
		if r.ConnectorId == 0 || p.connectors[r.ConnectorId].tx == nil {
			return v16.ChargingProfileRejected
		}
	}
	if len(prof.ChargingSchedule.ChargingSchedulePeriod) > 24 || prof.StackLevel > 10 {
		return v16.ChargingProfileRejected
	}
	for id, ip := range p.profiles {
		if ip.connector == r.ConnectorId && ip.profile.StackLevel == prof.StackLevel && ip.profile.ChargingProfilePurpose == prof.ChargingProfilePurpose {
			delete(p.profiles, id)
		}
	}
	if _, replace := p.profiles[prof.ChargingProfileId]; !replace && len(p.profiles) >= 10 {
		return v16.ChargingProfileRejected
	}
	p.profiles[prof.ChargingProfileId] = installedProfile{connector: r.ConnectorId, profile: prof}
	return v16.ChargingProfileAccepted
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
				p.mu.Lock()
				t := cn.tx
				p.mu.Unlock()
				mv := p.sample(cn, v16.ContextTrigger, false)
				req := &v16.MeterValuesRequest{ConnectorId: cn.id, MeterValue: []v16.MeterValue{mv}}
				if t != nil {
					p.mu.Lock()
					if t.known {
						id := t.id
						req.TransactionId = &id
					}
					p.mu.Unlock()
				}
				p.s.post("MeterValues", req)
			}
		}
	}
	return nil
}

// notifyProgress sends a notification per state, in order, each after the
// previous one was answered; it stops when a send fails.
func (p *v16Proto) notifyProgress(action string, build func(state string) any, states ...string) {
	ctx := p.s.context()
	for _, st := range states {
		if _, err := p.s.call(ctx, action, build(st)); err != nil && !errors.Is(err, ErrBadResponse) {
			p.s.log.Warn("notification not sent", "action", action, "status", st, "err", err)
			return
		}
	}
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

// loadCall sends a validated request and decodes the answer strictly.
func loadCall[Resp any](ctx context.Context, c *rpc.Conn, action string, req any) (*Resp, error) {
	raw, err := payload.Marshal(req)
	if err != nil {
		return nil, err
	}
	ans, err := c.Call(ctx, action, raw)
	if err != nil {
		return nil, err
	}
	v, _, err := v16.DecodeResponse(action, ans, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadResponse, action, err)
	}
	r, ok := v.(*Resp)
	if !ok {
		return nil, fmt.Errorf("%w: %s: unexpected %T", ErrBadResponse, action, v)
	}
	return r, nil
}

func (l *v16LoadScript) setup(ctx context.Context, c *rpc.Conn) error {
	boot, err := loadCall[v16.BootNotificationResponse](ctx, c, "BootNotification", &v16.BootNotificationRequest{ChargePointVendor: "Constellation", ChargePointModel: "chargesim-load"})
	if err != nil {
		return fmt.Errorf("sim: load setup: %w", err)
	}
	if boot.Status != v16.RegistrationAccepted {
		return fmt.Errorf("sim: load setup: boot %s", boot.Status)
	}
	if l.action != "MeterValues" {
		return nil
	}
	start, err := loadCall[v16.StartTransactionResponse](ctx, c, "StartTransaction", &v16.StartTransactionRequest{
		ConnectorId: 1, IdTag: "LOADTAG", MeterStart: l.registerWh, Timestamp: payload.NewDateTime(l.clock.Now()),
	})
	if err != nil {
		return fmt.Errorf("sim: load setup: %w", err)
	}
	l.txID = start.TransactionId
	return nil
}

func (l *v16LoadScript) next(now time.Time) (json.RawMessage, error) {
	if l.action == "Heartbeat" {
		return json.RawMessage("{}"), nil
	}
	l.registerWh += 10
	id := l.txID
	return json.Marshal(&v16.MeterValuesRequest{ConnectorId: 1, TransactionId: &id, MeterValue: []v16.MeterValue{{
		Timestamp: payload.NewDateTime(now),
		SampledValue: []v16.SampledValue{{
			Value: strconv.Itoa(l.registerWh), Context: v16.ContextSamplePeriodic,
			Measurand: v16.MeasurandEnergyActiveImportRegister, Unit: v16.UnitWh,
		}},
	}}})
}

func (l *v16LoadScript) teardown(ctx context.Context, c *rpc.Conn) {
	if l.action != "MeterValues" {
		return
	}
	_, _ = loadCall[v16.StopTransactionResponse](ctx, c, "StopTransaction", &v16.StopTransactionRequest{
		MeterStop: l.registerWh, Timestamp: payload.NewDateTime(l.clock.Now()), TransactionId: l.txID, Reason: v16.ReasonLocal,
	})
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
