package sim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
)

// Electrical model of a simulated connector: three phases at 230 V.
const (
	nominalVoltage = 230.0
	phases         = 3
	maxCurrent     = 32.0 // A per phase, the connector's rating
	defaultCurrent = 16.0 // A per phase an EV draws without a limit
)

// Limits of the simulated charger, the same in every protocol version.
const (
	maxStackLevel      = 10  // highest charging profile stack level
	maxPeriods         = 24  // charging schedule periods per profile
	maxProfiles        = 10  // installed charging profiles
	maxLocalListLength = 100 // local authorization list entries per update
)

// connStatus is a connector's state in version-neutral terms; each
// protocol reports it in its own (OCPP 2.x folds Preparing, Charging and
// Finishing into Occupied).
type connStatus uint8

const (
	statusAvailable connStatus = iota
	statusPreparing
	statusCharging
	statusFinishing
	statusReserved
	statusUnavailable
)

// stopReason says why a session ended.
type stopReason uint8

const (
	stopLocal          stopReason = iota // the driver ended it at the charger
	stopEVDisconnected                   // the EV was unplugged
	stopRemote                           // the CSMS asked
	stopDeAuthorized                     // the CSMS refused the token
	stopUnlock                           // UnlockConnector (1.6)
	stopSoftReset                        // a soft (or 2.x) reset
	stopHardReset                        // a hard reset
)

// readingContext says why a meter reading was taken.
type readingContext uint8

const (
	readingPeriodic readingContext = iota
	readingBegin
	readingEnd
	readingTrigger
)

// reading is one sample of a connector's meter; each protocol renders it
// as its own meter value.
type reading struct {
	at         time.Time
	context    readingContext
	registerWh float64 // energy register; rendered rounded down
	powerW     float64
	currentA   float64 // per phase
	voltageV   float64
	// final readings (transaction begin and end) carry only the register.
	final bool
}

// token is an identifier presented to start a session: an RFID card's
// id (type ISO14443) or one the CSMS gave with a remote start. 1.6 uses the
// id only.
type token struct{ id, typ string }

// Token types of the OCPP 2.x IdTokenEnumType the simulator uses.
const (
	tokenISO14443 = "ISO14443"
	tokenCentral  = "Central"
)

// setting names a configuration switch the shared script consults; each
// protocol keeps it in its own configuration (1.6 keys, the 2.x device
// model).
type setting uint8

const (
	settingAuthCache        setting = iota // remember the CSMS's answers to Authorize
	settingLocalAuthOffline                // authorize from the local list and cache when offline
	settingLocalList                       // the local authorization list is enabled
	settingAuthorizeRemote                 // authorize the token of a remote start first
	settingStopOnInvalid                   // stop a transaction whose token the CSMS refuses
	settingLateToken                       // start transactions on plug-in, the token follows (2.x)
	settingReservations                    // reservations are enabled
	settingSmartCharging                   // charging profiles are accepted
)

// dialect is the version-specific part the shared script drives: how a
// status, an authorization and a session's messages are sent.
type dialect interface {
	// setting reads a configuration switch; c.mu is held.
	setting(setting) bool
	// reportStatus reports a connector's status change from prev to st.
	reportStatus(cn *connector, prev, st connStatus)
	// authorize asks the CSMS about a token and returns its
	// authorization status ("Accepted", "Invalid", ...).
	authorize(ctx context.Context, tok token) (string, error)
	// txStarted, txAuthorized, txMeter and txEnded queue a transaction's
	// messages; txAuthorized reports the token of a transaction started
	// before it was presented (late token, 2.x only).
	txStarted(cn *connector, t *txn, begin reading)
	txAuthorized(cn *connector, t *txn)
	txMeter(cn *connector, t *txn, r reading)
	txEnded(cn *connector, t *txn, reason stopReason, final reading)
}

// connector is one connector (1.6) or EVSE with its single connector
// (2.x); index 0 of charger.connectors is the charger itself.
type connector struct {
	id            int
	status        connStatus
	operative     bool
	scheduled     bool // inoperative once the running session ends
	inSession     bool
	live          bool // the connector's session loop is running
	remotePending bool // a remote start was accepted and not yet taken up
	tx            *txn
	reservation   *reservation
	registerWh    float64
	lastSample    time.Time
	remoteStart   chan remoteStart
	stop          chan stopReason
	wake          chan struct{}
}

// remoteStart is a session the CSMS asked for.
type remoteStart struct {
	tok token
	id  *int // the 2.x remoteStartId
	// profile, when set, is the TxProfile the request carried: installed
	// for the transaction as it starts.
	profile *startProfile
}

// startProfile is a charging profile to install when a transaction starts.
type startProfile struct {
	id      int
	p       installedProfile // its connector is the session's
	periods int
}

// txn is one transaction. Its fields are guarded by charger.mu once the
// transaction is started.
type txn struct {
	tok           token
	remote        bool
	remoteID      *int
	reservationID *int
	started       time.Time
	begin         reading // the meter at the start
	// late: started before the token was presented (2.x); authorized
	// once it was sent.
	late, authorized bool
	stopping         bool // a stop was requested
	dropped          bool // its first message was given up
	// 1.6: the id the CSMS assigned, known once StartTransaction is answered.
	num   int
	known bool
	// 2.x: the station's own id and the last seqNo used.
	id  string
	seq int
}

type reservation struct {
	id     int
	tok    token
	expiry time.Time
}

// purpose is a charging profile's purpose in version-neutral terms.
type purpose uint8

const (
	purposeStationMax purpose = iota
	purposeTxDefault
	purposeTx
	purposeOther
)

// installedProfile is an accepted charging profile, reduced to what the
// simulation uses: the first period's limit per phase in A, and in W as
// the CSMS gave it (a limit in A is counted on every phase at 230 V).
type installedProfile struct {
	connector  int
	purpose    purpose
	stackLevel int
	limitA     float64
	limitW     float64
}

// withLimit sets the profile's limit from the first period's, in unit
// (watts when inW, else amperes per phase).
func (ip installedProfile) withLimit(limit float64, inW bool) installedProfile {
	if inW {
		ip.limitA, ip.limitW = limit/(phases*nominalVoltage), limit
	} else {
		ip.limitA, ip.limitW = limit, limit*phases*nominalVoltage
	}
	return ip
}

// charger is the version-neutral model of a simulated charging station:
// connectors, sessions, meters, authorization cache and local list,
// reservations, availability and charging limits. A protocol embeds it
// and supplies the messages through its dialect.
type charger struct {
	s *Station
	d dialect

	mu             sync.Mutex
	connectors     []*connector // index 0 is the charger itself
	hbInterval     time.Duration
	meterInterval  time.Duration
	meterChanged   chan struct{}     // closed (and replaced) when meterInterval changes
	authCache      map[string]string // token id → authorization status
	localList      map[string]string // token id → authorization status
	localVersion   int
	profiles       map[int]installedProfile
	firmwareVer    string
	nextTag        int
	drawFactor     float64 // per-station variation of the EV's current
	resetScheduled bool    // reboot once no session runs (2.x Reset OnIdle)
}

func newCharger(s *Station) *charger {
	o := &s.opts
	h := fnv.New32a()
	_, _ = h.Write([]byte(cmp.Or(o.MeterSeed, o.ID)))
	seed := h.Sum32()
	c := &charger{
		s:             s,
		hbInterval:    o.HeartbeatInterval,
		meterInterval: o.MeterInterval,
		meterChanged:  make(chan struct{}),
		authCache:     map[string]string{},
		localList:     map[string]string{},
		profiles:      map[int]installedProfile{},
		firmwareVer:   "1.0.0",
		drawFactor:    0.85 + float64(seed%30)/200, // 0.85 .. 1.0
	}
	if c.hbInterval <= 0 {
		c.hbInterval = 5 * time.Minute
	}
	for i := range o.Connectors + 1 {
		c.connectors = append(c.connectors, &connector{
			id: i, status: statusAvailable, operative: true,
			registerWh:  float64((seed>>uint(i%8))%100000) * 10,
			remoteStart: make(chan remoteStart, 1),
			stop:        make(chan stopReason, 1),
			wake:        make(chan struct{}, 1),
		})
	}
	return c
}

func (c *charger) heartbeatInterval() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hbInterval
}

// setMeterIntervalLocked changes the interval of periodic meter samples;
// running sessions take their next sample one new interval from now.
// c.mu is held.
func (c *charger) setMeterIntervalLocked(d time.Duration) {
	if d == c.meterInterval {
		return
	}
	c.meterInterval = d
	close(c.meterChanged)
	c.meterChanged = make(chan struct{})
}

// nextSample returns a channel for the next meter sample, nil (never) when
// the interval is 0 (2.x TxUpdatedInterval 0: no periodic samples), and
// one that is closed when the interval changes before it.
func (c *charger) nextSample() (sample <-chan time.Time, changed <-chan struct{}) {
	c.mu.Lock()
	d, changed := c.meterInterval, c.meterChanged
	c.mu.Unlock()
	if d > 0 {
		sample = c.s.clock.After(d)
	}
	return sample, changed
}

// bootVerdict reads a BootNotification answer: whether it accepted the
// station, the interval it gave (seconds, 0 for none) and its status.
type bootVerdict func(resp any) (accepted bool, interval int, status string)

// boot sends the request build returns until the CSMS accepts it, waiting
// the interval a Pending or Rejected answer gives (or RetryInterval)
// between tries. An error means the connection is unusable.
func (c *charger) boot(ctx context.Context, conn *rpc.Conn, build func() any, verdict bootVerdict) error {
	for {
		resp, err := c.s.exchange(ctx, conn, 0, "BootNotification", build())
		if err != nil && isTransport(err) {
			return err
		}
		wait := c.s.opts.RetryInterval
		if resp != nil {
			accepted, interval, status := verdict(resp)
			if accepted {
				return nil
			}
			c.s.log.Info("boot not accepted", "status", status, "interval", interval)
			if interval > 0 {
				wait = time.Duration(interval) * time.Second
			}
		}
		select {
		case <-c.s.clock.After(wait):
		case <-conn.Done():
			return rpc.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// setStatus changes a connector's status and reports it (the report is
// dropped offline: the current states are reported after every connect).
func (c *charger) setStatus(cn *connector, st connStatus) {
	c.mu.Lock()
	prev := cn.status
	cn.status = st
	c.mu.Unlock()
	c.d.reportStatus(cn, prev, st)
}

// idleStatus is the status of a connector without a session.
func (cn *connector) idleStatus(chargerOperative bool) connStatus {
	switch {
	case !cn.operative || !chargerOperative:
		return statusUnavailable
	case cn.reservation != nil:
		return statusReserved
	}
	return statusAvailable
}

// live runs every connector's sessions until they are done or ctx ends.
func (c *charger) live(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, cn := range c.connectors[1:] {
		wg.Go(func() { c.connectorLife(ctx, cn) })
	}
	wg.Wait()
	return nil
}

// connectorLife runs a connector's sessions: scripted ones, and remote
// starts in between.
func (c *charger) connectorLife(ctx context.Context, cn *connector) {
	o := &c.s.opts
	c.mu.Lock()
	cn.live = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		cn.live = false
		c.mu.Unlock()
	}()
	var pause <-chan time.Time // nil: start the first session at once
	for done := 0; o.Sessions == 0 || done < o.Sessions; {
		var rs *remoteStart
		take := func(r remoteStart) {
			c.mu.Lock()
			cn.remotePending = false
			c.mu.Unlock()
			rs = &r
		}
		if pause != nil {
			select {
			case <-pause:
			case r := <-cn.remoteStart:
				take(r)
			case <-ctx.Done():
				return
			}
		}
		pause = c.s.clock.After(o.Pause)
		if rs == nil && o.AwaitRemoteStart && c.usable(cn) {
			c.setStatus(cn, statusPreparing) // the EV is plugged in; the driver taps elsewhere
			select {
			case r := <-cn.remoteStart:
				take(r)
			case <-cn.wake: // made inoperative meanwhile
				pause = nil
				continue
			case <-ctx.Done():
				return
			}
		}
		var tok token
		if rs == nil {
			if !c.usable(cn) {
				select { // wait until ChangeAvailability makes it usable
				case <-cn.wake:
				case r := <-cn.remoteStart:
					take(r)
				case <-ctx.Done():
					return
				}
				if rs == nil {
					pause = nil
					continue
				}
			} else {
				tok = c.takeTag(cn.id)
			}
		}
		if rs != nil {
			tok = rs.tok
		}
		if c.session(ctx, cn, tok, rs) && (rs == nil || o.AwaitRemoteStart) {
			done++
		}
	}
}

func (c *charger) usable(cn *connector) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cn.operative && c.connectors[0].operative && !cn.inSession
}

// takeTag returns the token for the next session on connector cn: the
// configured tags round robin, or else the connector's own tag, so that
// stations sharing a CSMS never present the same card twice at once.
func (c *charger) takeTag(cn int) token {
	c.mu.Lock()
	defer c.mu.Unlock()
	tags := c.s.opts.Tags
	if len(tags) == 0 {
		return token{ownTag(c.s.opts.ID, cn), tokenISO14443}
	}
	t := tags[c.nextTag%len(tags)]
	c.nextTag++
	return token{t, tokenISO14443}
}

// ownTag is connector cn's default idTag: the station id (cut to fit the
// 1.6 limit of 20 characters) and the connector number.
func ownTag(station string, cn int) string {
	return fmt.Sprintf("%.17s-%d", station, cn)
}

// authorize asks the CSMS; offline (or without an answer) it decides from
// the local list and cache like a charger that authorizes offline.
func (c *charger) authorize(ctx context.Context, tok token) bool {
	status, err := c.d.authorize(ctx, tok)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		if c.d.setting(settingAuthCache) {
			c.authCache[tok.id] = status
		}
		return status == "Accepted"
	}
	if !isTransport(err) || !c.d.setting(settingLocalAuthOffline) {
		return false
	}
	if st, ok := c.localList[tok.id]; ok {
		return st == "Accepted"
	}
	if st, ok := c.authCache[tok.id]; ok {
		return st == "Accepted"
	}
	if len(c.s.opts.Tags) == 0 {
		for cn := 1; cn <= c.s.opts.Connectors; cn++ {
			if tok.id == ownTag(c.s.opts.ID, cn) {
				return true
			}
		}
		return false
	}
	return slices.Contains(c.s.opts.Tags, tok.id)
}

// tokenRefused handles an answer about a running transaction's token that
// is not Accepted: the session stops when the configuration says so.
func (c *charger) tokenRefused(cn *connector, t *txn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.d.setting(settingStopOnInvalid) && cn.tx == t && !t.stopping {
		t.stopping = true
		requestStop(cn, stopDeAuthorized)
	}
}

// session runs one charging session on cn and reports whether it charged.
// rs is the remote start that asked for it, nil for a scripted one.
func (c *charger) session(ctx context.Context, cn *connector, tok token, rs *remoteStart) bool {
	o := &c.s.opts
	remote := rs != nil
	now := c.s.clock.Now()
	c.mu.Lock()
	if cn.inSession {
		c.mu.Unlock()
		return false
	}
	cn.inSession = true
	var reservationID *int
	if r := cn.reservation; r != nil {
		if now.After(r.expiry) {
			cn.reservation = nil
		} else {
			if !remote {
				tok = r.tok // the driver who reserved arrives
			}
			id := r.id
			reservationID = &id
		}
	}
	needAuth := !remote || c.d.setting(settingAuthorizeRemote)
	late := needAuth && c.d.setting(settingLateToken)
	c.mu.Unlock()
	// A stop request left over from an earlier session is stale.
	select {
	case <-cn.stop:
	default:
	}
	if needAuth && !late && !c.authorize(ctx, tok) {
		c.mu.Lock()
		cn.inSession = false
		c.mu.Unlock()
		c.s.log.Info("tag not accepted", "connector", cn.id, "tag", tok.id)
		return false
	}
	c.mu.Lock()
	if !cn.operative || !c.connectors[0].operative {
		// Made inoperative while the token was being authorized.
		cn.inSession = false
		c.mu.Unlock()
		c.s.log.Info("connector became unavailable before the session started", "connector", cn.id)
		return false
	}
	c.mu.Unlock()
	c.setStatus(cn, statusPreparing)

	t := &txn{tok: tok, remote: remote, reservationID: reservationID, late: late, authorized: !late}
	if rs != nil {
		t.remoteID = rs.id
	}
	c.mu.Lock()
	cn.tx = t
	cn.reservation = nil
	if rs != nil && rs.profile != nil {
		sp := *rs.profile
		sp.p.connector = cn.id
		if !c.setProfileLocked(sp.id, sp.p, sp.periods) {
			c.s.log.Info("the remote start's charging profile was not installed", "connector", cn.id, "profile", sp.id)
		}
	}
	cn.lastSample = c.s.clock.Now()
	t.started = cn.lastSample
	begin := reading{at: cn.lastSample, context: readingBegin, registerWh: cn.registerWh, final: true}
	t.begin = begin
	c.mu.Unlock()
	c.d.txStarted(cn, t, begin)
	c.s.stats.TxStarted.Add(1)

	reason := stopLocal
	if o.StopByUnplug {
		reason = stopEVDisconnected
	}
	charge := true
	if late {
		c.s.log.Info("late token: transaction started on plug-in, idToken follows in TransactionEvent Updated", "connector", cn.id, "tag", tok.id)
		if c.authorize(ctx, tok) {
			c.mu.Lock()
			t.authorized = true
			c.mu.Unlock()
			c.d.txAuthorized(cn, t)
		} else {
			c.s.log.Info("tag not accepted", "connector", cn.id, "tag", tok.id)
			reason, charge = stopDeAuthorized, false
		}
	}
	if charge {
		c.setStatus(cn, statusCharging)
		end := c.s.clock.After(o.SessionLength)
		meter, intervalChanged := c.nextSample()
	loop:
		for {
			select {
			case <-meter:
				c.d.txMeter(cn, t, c.sample(cn, readingPeriodic, false))
				meter, intervalChanged = c.nextSample()
			case <-intervalChanged:
				meter, intervalChanged = c.nextSample()
			case <-end:
				break loop
			case reason = <-cn.stop:
				break loop
			case <-ctx.Done():
				return true
			}
		}
	}
	final := c.sample(cn, readingEnd, true)
	c.d.txEnded(cn, t, reason, final)
	c.s.stats.TxStopped.Add(1)
	c.setStatus(cn, statusFinishing)
	c.mu.Lock()
	cn.tx = nil
	cn.inSession = false
	if cn.scheduled {
		cn.scheduled, cn.operative = false, false
	}
	for id, ip := range c.profiles {
		if ip.purpose == purposeTx && ip.connector == cn.id {
			delete(c.profiles, id) // a TxProfile ends with its transaction
		}
	}
	idle := cn.idleStatus(c.connectors[0].operative)
	reboot := c.resetScheduled && !c.anySessionLocked()
	if reboot {
		c.resetScheduled = false
	}
	c.mu.Unlock()
	c.setStatus(cn, idle)
	if reboot {
		c.s.log.Info("scheduled reset: last session ended")
		c.s.requestReboot()
	}
	return charge
}

func (c *charger) anySessionLocked() bool {
	for _, cn := range c.connectors[1:] {
		if cn.inSession {
			return true
		}
	}
	return false
}

// currentLimit is the per-phase current the installed charging profiles
// allow on a connector; c.mu is held.
func (c *charger) currentLimit(connectorID int) float64 {
	limit := maxCurrent
	for _, ip := range c.profiles {
		if ip.connector != 0 && ip.connector != connectorID {
			continue
		}
		limit = math.Min(limit, ip.limitA)
	}
	return math.Max(limit, 0)
}

// stationLimitW is the charger-wide limit in W the installed charger-wide
// maximum profiles set (the lowest of them); false when none is installed.
func (c *charger) stationLimitW() (float64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	limit, found := math.Inf(1), false
	for _, ip := range c.profiles {
		if ip.connector == 0 && ip.purpose == purposeStationMax {
			limit, found = math.Min(limit, ip.limitW), true
		}
	}
	if !found {
		return 0, false
	}
	return limit, true
}

// sample advances the connector's meter to now and returns a reading;
// final readings carry only the energy register.
func (c *charger) sample(cn *connector, ctxt readingContext, final bool) reading {
	now := c.s.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	current := math.Min(defaultCurrent*c.drawFactor, c.currentLimit(cn.id))
	current = math.Round(current*10) / 10
	power := phases * nominalVoltage * current
	if dt := now.Sub(cn.lastSample); dt > 0 {
		cn.registerWh += power * dt.Hours()
	}
	cn.lastSample = now
	return reading{at: now, context: ctxt, registerWh: cn.registerWh, powerW: power, currentA: current, voltageV: nominalVoltage, final: final}
}

// requestStop asks a connector's running session to stop.
func requestStop(cn *connector, reason stopReason) {
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

// remoteStartLocked finds a connector for a remote start (any when
// connectorID is nil) and returns the follow-up that hands the start to
// its session loop, or nil when none is free; c.mu is held.
func (c *charger) remoteStartLocked(connectorID *int, rs remoteStart) func() {
	for _, cn := range c.connectors[1:] {
		if connectorID != nil && cn.id != *connectorID {
			continue
		}
		free := cn.live && !cn.inSession && !cn.remotePending && cn.operative && c.connectors[0].operative &&
			(cn.reservation == nil || cn.reservation.tok.id == rs.tok.id)
		if free {
			cn.remotePending = true
			return func() { cn.remoteStart <- rs } // buffered; remotePending keeps it free
		}
	}
	return nil
}

// stopTxLocked asks the session whose transaction matches to stop and
// returns the follow-up that does it, or nil when none matches; c.mu is held.
func (c *charger) stopTxLocked(match func(*txn) bool, reason stopReason) func() {
	for _, cn := range c.connectors[1:] {
		if t := cn.tx; t != nil && !t.stopping && match(t) {
			t.stopping = true
			return func() { requestStop(cn, reason) }
		}
	}
	return nil
}

// resetLocked returns the follow-up of an accepted reset: every
// transaction stops (its last message queued before the reboot, which
// sends the queue first), then the station reboots. c.mu is held.
func (c *charger) resetLocked(reason stopReason) func() {
	var stop []*connector
	for _, cn := range c.connectors[1:] {
		if cn.tx != nil {
			cn.tx.stopping = true
			stop = append(stop, cn)
		}
	}
	return func() {
		for _, cn := range stop {
			requestStop(cn, reason)
		}
		if len(stop) > 0 {
			c.waitTransactionsEnded(stop)
		}
		c.s.requestReboot()
	}
}

// waitTransactionsEnded waits, for a few seconds at most, until the
// connectors have no transaction left.
func (c *charger) waitTransactionsEnded(cns []*connector) {
	ctx := c.s.context()
	for range 500 {
		c.mu.Lock()
		busy := slices.ContainsFunc(cns, func(cn *connector) bool { return cn.tx != nil })
		c.mu.Unlock()
		if !busy {
			return
		}
		select {
		case <-c.s.clock.After(10 * time.Millisecond):
		case <-ctx.Done():
			return
		}
	}
}

// changeAvailabilityLocked makes connector id (0: the whole charger)
// operative or inoperative. scheduled reports that a running session
// postpones the change; the follow-up reports the new states. c.mu is held.
func (c *charger) changeAvailabilityLocked(id int, operative bool) (scheduled bool, after func()) {
	targets := c.connectors[id : id+1]
	if id == 0 {
		targets = c.connectors
	}
	var changed []*connector
	for _, cn := range targets {
		// A running transaction postpones the change; a session still
		// authorizing its token does not start on an inoperative connector.
		if !operative && cn.tx != nil {
			cn.scheduled = true
			scheduled = true
			continue
		}
		cn.scheduled = false
		if cn.operative != operative {
			cn.operative = operative
			changed = append(changed, cn)
		}
	}
	if id == 0 && scheduled {
		// The charger as a whole follows its last connector.
		c.connectors[0].operative = true
		c.connectors[0].scheduled = true
	}
	var statuses []connStatus
	for _, cn := range changed {
		st := cn.idleStatus(c.connectors[0].operative)
		if cn.id == 0 {
			st = statusAvailable
			if !cn.operative {
				st = statusUnavailable
			}
		} else if cn.tx != nil {
			st = cn.status
		}
		statuses = append(statuses, st)
	}
	return scheduled, func() {
		for i, cn := range changed {
			c.setStatus(cn, statuses[i])
			wakeUp(cn)
		}
	}
}

// reserveResult is the outcome of a reservation request.
type reserveResult uint8

const (
	reserveAccepted reserveResult = iota
	reserveOccupied
	reserveUnavailable
	reserveRejected
)

// reserveLocked reserves connector connectorID for tok until expiry; the
// follow-up reports the Reserved status. c.mu is held.
func (c *charger) reserveLocked(connectorID, id int, tok token, expiry time.Time) (reserveResult, func()) {
	if connectorID < 1 || connectorID >= len(c.connectors) || !c.d.setting(settingReservations) {
		return reserveRejected, nil
	}
	cn := c.connectors[connectorID]
	switch {
	case !cn.operative || !c.connectors[0].operative:
		return reserveUnavailable, nil
	case cn.inSession || cn.remotePending:
		return reserveOccupied, nil
	case cn.reservation != nil && cn.reservation.id != id:
		return reserveOccupied, nil
	}
	cn.reservation = &reservation{id: id, tok: tok, expiry: expiry}
	return reserveAccepted, func() { c.setStatus(cn, statusReserved) }
}

// cancelReservationLocked removes reservation id; false if there is none.
// The follow-up reports the connector's new status. c.mu is held.
func (c *charger) cancelReservationLocked(id int) (bool, func()) {
	for _, cn := range c.connectors[1:] {
		if cn.reservation != nil && cn.reservation.id == id {
			cn.reservation = nil
			if cn.inSession {
				return true, nil
			}
			st := cn.idleStatus(c.connectors[0].operative)
			return true, func() { c.setStatus(cn, st) }
		}
	}
	return false, nil
}

// listEntry is one local authorization list update; an empty status
// removes the token.
type listEntry struct{ id, status string }

// listResult is the outcome of a local list update.
type listResult uint8

const (
	listAccepted listResult = iota
	listFailed
	listVersionMismatch
)

// sendLocalListLocked applies a local authorization list update (full
// replaces the list); c.mu is held.
func (c *charger) sendLocalListLocked(full bool, version int, entries []listEntry) listResult {
	if len(entries) > maxLocalListLength {
		return listFailed
	}
	if full {
		clear(c.localList)
	} else if version <= c.localVersion {
		return listVersionMismatch
	}
	for _, e := range entries {
		if e.status == "" {
			delete(c.localList, e.id)
		} else {
			c.localList[e.id] = e.status
		}
	}
	c.localVersion = version
	return listAccepted
}

// setProfileLocked installs charging profile id unless the simulated
// charger's limits refuse it; c.mu is held. periods is the number of
// schedule periods.
func (c *charger) setProfileLocked(id int, p installedProfile, periods int) bool {
	switch {
	case !c.d.setting(settingSmartCharging):
		return false
	case p.connector < 0 || p.connector >= len(c.connectors):
		return false
	case p.purpose == purposeStationMax && p.connector != 0:
		return false
	case p.purpose == purposeTx && (p.connector == 0 || c.connectors[p.connector].tx == nil):
		return false
	case periods > maxPeriods || p.stackLevel > maxStackLevel:
		return false
	}
	for pid, ip := range c.profiles {
		if ip.connector == p.connector && ip.stackLevel == p.stackLevel && ip.purpose == p.purpose {
			delete(c.profiles, pid)
		}
	}
	if _, replace := c.profiles[id]; !replace && len(c.profiles) >= maxProfiles {
		return false
	}
	c.profiles[id] = p
	return true
}

// clearProfilesLocked removes the profiles that match and reports whether
// there were any; c.mu is held.
func (c *charger) clearProfilesLocked(match func(id int, p installedProfile) bool) bool {
	found := false
	for id, ip := range c.profiles {
		if match(id, ip) {
			delete(c.profiles, id)
			found = true
		}
	}
	return found
}

// statusesLocked returns the connectors whose state a StatusNotification
// reports: connector id, or all of them for id -1; c.mu is held.
func (c *charger) statusesLocked(id int) []*connector {
	var out []*connector
	for _, cn := range c.connectors {
		if id < 0 || cn.id == id {
			out = append(out, cn)
		}
	}
	return out
}

// notifyProgress sends a notification per state, in order, each after the
// previous one was answered; it stops when a send fails.
func (c *charger) notifyProgress(action string, build func(state string) any, states ...string) {
	ctx := c.s.context()
	for _, st := range states {
		if _, err := c.s.call(ctx, action, build(st)); err != nil && !errors.Is(err, ErrBadResponse) {
			c.s.log.Warn("notification not sent", "action", action, "status", st, "err", err)
			return
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
