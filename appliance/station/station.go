// Package station is tap-to-charge at the appliance's own reader and
// display: a driver taps a card, the offline authorization cache answers,
// the connector with the driver's car is chosen, the charger is asked to
// start, and the display follows the session; the same card tapped again
// stops it. It works the same with the cloud offline: everything it needs
// is on the appliance. Every tap is recorded (and synced).
//
// Choosing the connector: the candidates are the connectors of connected
// chargers that report a plugged vehicle (1.6 Preparing, 2.x Occupied)
// and have no session.
// One candidate: the session starts there. None: the display asks for the
// plug (listing the free connectors), and the first connector plugged
// within the wait gets the session. Several: the display lists them and
// asks the driver to plug in again; the first connector plugged (again)
// after the tap, within the wait, gets the session. No free connector: the card is
// refused with that reason.
package station

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/rfid"
	"github.com/constellation-ev/constellation/appliance/screen"
)

// Domain is what the station needs of the charging domain;
// *charging.Service implements it.
type Domain interface {
	Authorize(ctx context.Context, id charging.ChargerID, idTag string) (charging.Authorization, error)
	Tokens(ctx context.Context) ([]charging.IDToken, error)
	Chargers(ctx context.Context) ([]charging.Charger, error)
	Transactions(ctx context.Context, f charging.TransactionFilter) ([]charging.Transaction, error)
	Transaction(ctx context.Context, id int64) (charging.Transaction, []charging.MeterReading, error)
	RecordTap(ctx context.Context, t charging.Tap) (charging.Tap, error)
}

var _ Domain = (*charging.Service)(nil)

// Commander sends commands to chargers; *csms.CSMS implements it.
type Commander interface {
	Execute(ctx context.Context, id charging.ChargerID, cmd charging.Command) (charging.CommandReply, error)
}

// Screen is what the station tells the driver through; *screen.Manager
// implements it.
type Screen interface {
	SetIdle(screen.Idle)
	Post(screen.Event)
	UpdateCharging(screen.Charging)
}

var _ Screen = (*screen.Manager)(nil)

// Options configures a Station.
type Options struct {
	// Domain and Screen are required.
	Domain Domain
	Screen Screen
	// SiteName is shown on the idle screens.
	SiteName string
	// Network reports the chargers' access point (its SSID, "" when it is
	// not up) and the uplink for the idle screens; nil: the appliance does
	// not manage its network.
	Network func() (ssid string, uplink screen.Uplink)
	// WiFiPassword is the access point's password when the appliance
	// generated it: shown with the SSID, as the installer has no other
	// way to learn it. Empty: the installer chose it; not shown.
	WiFiPassword string
	// SetupPage is where the setup page is ("http://10.42.0.1") while the
	// appliance awaits its settings; empty: not in setup mode.
	SetupPage string
	// Cloud reports the cloud link for the idle screens; nil: disabled.
	Cloud func() screen.CloudLink
	// ClockSynced reports whether the system clock is synchronised; until
	// it is, the idle screens do not show the time. nil: always.
	ClockSynced func() bool
	// PlugWait is how long a tap waits for the driver's plug (default
	// DefaultPlugWait).
	PlugWait time.Duration
	// Refresh is how often the chargers' state is read (default 1s).
	Refresh time.Duration
	// Now is the clock; nil: time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultPlugWait = 60 * time.Second
	defaultRefresh  = time.Second
	// startWait is how long a started session is awaited (the charger's
	// StartTransaction or TransactionEvent) before the display lets go.
	startWait = 2 * time.Minute
)

// Station runs tap-to-charge. Its state belongs to Run's goroutine.
type Station struct {
	opts Options
	log  *slog.Logger

	pending *pendingStart
	follow  *followed
	faulted map[connectorKey]bool
}

// pendingStart is an authorized tap waiting for the driver's plug.
type pendingStart struct {
	token string
	until time.Time
	// plugged were the candidates at the tap: only a connector plugged
	// after it gets the session.
	plugged map[connectorKey]bool
}

// followed is the session the display follows: one asked for (txID 0
// until the charger starts it) or one asked to stop.
type followed struct {
	key   connectorKey
	token string
	txID  int64
	label string
	until time.Time // for a session not started yet
}

// connectorKey names a connector of a charger.
type connectorKey struct {
	charger   charging.ChargerID
	connector int
}

// New returns a Station.
func New(opts Options) (*Station, error) {
	if opts.Domain == nil || opts.Screen == nil {
		return nil, errors.New("station: Options.Domain and Options.Screen are required")
	}
	if opts.PlugWait <= 0 {
		opts.PlugWait = DefaultPlugWait
	}
	if opts.Refresh <= 0 {
		opts.Refresh = defaultRefresh
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Cloud == nil {
		opts.Cloud = func() screen.CloudLink { return screen.CloudDisabled }
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Station{opts: opts, log: log, faulted: map[connectorKey]bool{}}, nil
}

// Run handles the taps until ctx ends or taps is closed, sending commands
// through exec, and keeps the display's idle screens, faults and followed
// session up to date.
func (s *Station) Run(ctx context.Context, taps <-chan rfid.Event, exec Commander) error {
	tick := time.NewTicker(s.opts.Refresh)
	defer tick.Stop()
	s.refresh(ctx, exec)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-taps:
			if !ok {
				return nil
			}
			if ev.Kind == rfid.Tapped {
				s.tap(ctx, exec, ev.Token, ev.At)
			}
		case <-tick.C:
			s.refresh(ctx, exec)
		}
	}
}

// tap handles one card: stop its session, or authorize it and start one.
func (s *Station) tap(ctx context.Context, exec Commander, token string, at time.Time) {
	log := s.log.With("token", token)
	chargers, txs, err := s.state(ctx)
	if err != nil {
		log.ErrorContext(ctx, "tap: reading the chargers", "err", err)
		s.opts.Screen.Post(screen.CardRefused{Reason: screen.RefusedInvalid})
		return
	}
	if i := slices.IndexFunc(txs, func(t charging.Transaction) bool { return t.IDTag == token }); i >= 0 {
		s.stop(ctx, exec, txs[i], labels(chargers), at)
		return
	}
	s.pending = nil
	auth, err := s.opts.Domain.Authorize(ctx, "", token)
	if err != nil {
		log.WarnContext(ctx, "tap: authorization failed", "err", err)
		s.refuse(ctx, token, at, screen.RefusedInvalid, err.Error())
		return
	}
	if auth.Status != charging.AuthAccepted {
		s.refuse(ctx, token, at, s.refusal(ctx, token, auth.Status), "")
		return
	}
	s.opts.Screen.Post(screen.CardAccepted{})
	names := labels(chargers)
	candidates, free := connectors(chargers, txs)
	switch {
	case len(candidates) == 1:
		s.start(ctx, exec, token, candidates[0], names, at)
	case len(free) == 0:
		s.refuse(ctx, token, at, screen.RefusedNoFreeConnector, "")
	default:
		// Wait for the plug: any free connector when none is plugged; a
		// newly plugged one when several are.
		show := candidates
		if len(candidates) == 0 {
			show = free
		}
		plugged := map[connectorKey]bool{}
		for _, k := range candidates {
			plugged[k] = true
		}
		s.pending = &pendingStart{token: token, until: s.opts.Now().Add(s.opts.PlugWait), plugged: plugged}
		s.opts.Screen.Post(screen.PlugIn{Connectors: labelsOf(show, names)})
		log.InfoContext(ctx, "tap: waiting for the plug", "plugged", len(candidates), "free", len(free))
	}
}

// refusal says why a card was refused: a token the cache does not hold is
// unknown.
func (s *Station) refusal(ctx context.Context, token string, status charging.AuthStatus) screen.RefusalReason {
	switch status {
	case charging.AuthBlocked:
		return screen.RefusedBlocked
	case charging.AuthExpired:
		return screen.RefusedExpired
	}
	tokens, err := s.opts.Domain.Tokens(ctx)
	if err == nil && !slices.ContainsFunc(tokens, func(t charging.IDToken) bool { return t.ID == token }) {
		return screen.RefusedUnknown
	}
	return screen.RefusedInvalid
}

// refuse shows and records a refused tap.
func (s *Station) refuse(ctx context.Context, token string, at time.Time, reason screen.RefusalReason, detail string) {
	s.opts.Screen.Post(screen.CardRefused{Reason: reason})
	s.record(ctx, charging.Tap{At: at, Token: token, Result: charging.TapRefused, Reason: join(string(reason), detail)})
}

// start asks the charger for a session at k for token.
func (s *Station) start(ctx context.Context, exec Commander, token string, k connectorKey, names map[connectorKey]string, at time.Time) {
	s.pending = nil
	tap := charging.Tap{At: at, Token: token, ChargerID: k.charger, ConnectorID: k.connector}
	cmd := charging.Command{Kind: charging.RemoteStart, ConnectorID: k.connector, IDTag: token}
	if s.ask(ctx, exec, cmd, tap, charging.TapStarted, screen.RefusedNoFreeConnector) {
		s.follow = &followed{key: k, token: token, label: names[k], until: s.opts.Now().Add(startWait)}
	}
}

// stop asks the charger to stop tx, the session of the card tapped.
func (s *Station) stop(ctx context.Context, exec Commander, tx charging.Transaction, names map[connectorKey]string, at time.Time) {
	tap := charging.Tap{At: at, Token: tx.IDTag, ChargerID: tx.ChargerID, ConnectorID: tx.ConnectorID, TransactionID: tx.ID}
	cmd := charging.Command{Kind: charging.RemoteStop, TransactionID: tx.ID}
	if s.ask(ctx, exec, cmd, tap, charging.TapStopped, screen.RefusedInvalid) {
		s.opts.Screen.Post(screen.CardAccepted{})
		// The display shows the end when the charger reports it.
		k := connectorKey{tx.ChargerID, tx.ConnectorID}
		s.follow = &followed{key: k, token: tx.IDTag, txID: tx.ID, label: names[k]}
	}
}

// ask sends a tap's command to its charger, shows a refusal (rejected
// shows as the reason given) and records what came of the tap; it
// reports whether the charger accepted.
func (s *Station) ask(ctx context.Context, exec Commander, cmd charging.Command, tap charging.Tap, accepted charging.TapResult, rejected screen.RefusalReason) bool {
	log := s.log.With("command", cmd.Kind, "charger", tap.ChargerID, "connector", tap.ConnectorID, "transaction", tap.TransactionID)
	reply, err := exec.Execute(ctx, tap.ChargerID, cmd)
	switch {
	case err != nil:
		log.WarnContext(ctx, "tap: command failed", "err", err)
		s.opts.Screen.Post(screen.CardRefused{Reason: screen.RefusedInvalid})
		tap.Result, tap.Reason = charging.TapFailed, err.Error()
	case reply.Status != "Accepted":
		log.InfoContext(ctx, "tap: the charger rejected the command", "status", reply.Status)
		s.opts.Screen.Post(screen.CardRefused{Reason: rejected})
		tap.Result, tap.Reason = charging.TapRefused, "rejected"
	default:
		log.InfoContext(ctx, "tap: command accepted")
		tap.Result = accepted
	}
	s.record(ctx, tap)
	return tap.Result == accepted
}

func (s *Station) record(ctx context.Context, t charging.Tap) {
	if _, err := s.opts.Domain.RecordTap(ctx, t); err != nil {
		s.log.ErrorContext(ctx, "tap not recorded", "err", err)
	}
}

// refresh reads the chargers: idle counts, new faults, the pending tap's
// plug, the followed session.
func (s *Station) refresh(ctx context.Context, exec Commander) {
	chargers, txs, err := s.state(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "station: reading the chargers", "err", err)
		return
	}
	now := s.opts.Now()
	names := labels(chargers)
	s.opts.Screen.SetIdle(s.idle(chargers, txs))
	s.faults(chargers, names)

	if p := s.pending; p != nil {
		candidates, _ := connectors(chargers, txs)
		// A connector unplugged since the tap and plugged again counts as
		// newly plugged.
		for k := range p.plugged {
			if !slices.Contains(candidates, k) {
				delete(p.plugged, k)
			}
		}
		i := slices.IndexFunc(candidates, func(k connectorKey) bool { return !p.plugged[k] })
		switch {
		case i >= 0:
			s.start(ctx, exec, p.token, candidates[i], names, now)
		case now.After(p.until):
			s.pending = nil
			s.log.InfoContext(ctx, "tap: no plug in time")
			s.record(ctx, charging.Tap{At: now, Token: p.token, Result: charging.TapRefused, Reason: "no_plug"})
		}
	}
	if f := s.follow; f != nil {
		s.followSession(ctx, f, txs, now)
	}
}

// followSession keeps the display on the followed session: started, live,
// stopped.
func (s *Station) followSession(ctx context.Context, f *followed, active []charging.Transaction, now time.Time) {
	if f.txID == 0 {
		i := slices.IndexFunc(active, func(t charging.Transaction) bool {
			return t.ChargerID == f.key.charger && t.IDTag == f.token && (t.ConnectorID == f.key.connector || t.ConnectorID == 0)
		})
		if i < 0 {
			if now.After(f.until) {
				s.log.InfoContext(ctx, "tap: the charger never started the session", "charger", f.key.charger, "connector", f.key.connector)
				s.follow = nil
			}
			return
		}
		f.txID = active[i].ID
		s.opts.Screen.Post(screen.ChargingStarted{Connector: f.label})
	}
	tx, readings, err := s.opts.Domain.Transaction(ctx, f.txID)
	if err != nil {
		s.log.WarnContext(ctx, "station: reading the followed session", "transaction", f.txID, "err", err)
		s.follow = nil
		return
	}
	energy, power := live(tx, readings)
	if !tx.StopTime.IsZero() {
		s.opts.Screen.Post(screen.ChargingStopped{Connector: f.label, EnergyKWh: energy, Duration: tx.StopTime.Sub(tx.StartTime)})
		s.follow = nil
		return
	}
	s.opts.Screen.UpdateCharging(screen.Charging{Connector: f.label, Started: tx.StartTime, EnergyKWh: energy, PowerKW: power})
}

// faults posts a connector that has just become Faulted.
func (s *Station) faults(chargers []charging.Charger, names map[connectorKey]string) {
	now := map[connectorKey]bool{}
	for _, c := range chargers {
		for _, cn := range c.Connectors {
			k := connectorKey{c.ID, cn.ID}
			if cn.Status != charging.StatusFaulted || !c.Connected {
				continue
			}
			now[k] = true
			if !s.faulted[k] {
				label := ""
				if cn.ID > 0 {
					label = names[k]
				}
				s.opts.Screen.Post(screen.Fault{Charger: string(c.ID), Connector: label, Code: cn.ErrorCode})
			}
		}
	}
	s.faulted = now
}

// idle is the idle screens' data: chargers free (a connector ready for a
// car) and in use (one charging), of those connected.
func (s *Station) idle(chargers []charging.Charger, txs []charging.Transaction) screen.Idle {
	idle := screen.Idle{Site: s.opts.SiteName, Cloud: s.opts.Cloud()}
	if s.opts.ClockSynced != nil {
		idle.ClockUnsynced = !s.opts.ClockSynced()
	}
	if s.opts.Network != nil {
		idle.SSID, idle.Uplink = s.opts.Network()
		if idle.SSID != "" {
			idle.WiFiPassword = s.opts.WiFiPassword
			idle.Setup = s.opts.SetupPage
		}
	}
	for _, c := range chargers {
		if !c.Connected {
			continue
		}
		idle.Total++
		switch {
		case slices.ContainsFunc(txs, func(t charging.Transaction) bool { return t.ChargerID == c.ID }):
			idle.InUse++
		case slices.ContainsFunc(c.Connectors, func(cn charging.Connector) bool {
			return cn.ID > 0 && (cn.Status == charging.StatusAvailable || cn.Status == charging.StatusPreparing)
		}):
			idle.Free++
		}
	}
	return idle
}

// state reads the chargers and the active sessions.
func (s *Station) state(ctx context.Context) ([]charging.Charger, []charging.Transaction, error) {
	chargers, err := s.opts.Domain.Chargers(ctx)
	if err != nil {
		return nil, nil, err
	}
	txs, err := s.opts.Domain.Transactions(ctx, charging.TransactionFilter{ActiveOnly: true})
	if err != nil {
		return nil, nil, err
	}
	return chargers, txs, nil
}

// connectors returns the connected chargers' connectors without a
// session: those with a plugged vehicle (1.6 Preparing, 2.x Occupied), and
// those free for one (these, and Available ones).
func connectors(chargers []charging.Charger, txs []charging.Transaction) (plugged, free []connectorKey) {
	busy := map[connectorKey]bool{}
	for _, t := range txs {
		busy[connectorKey{t.ChargerID, t.ConnectorID}] = true
	}
	for _, c := range chargers {
		if !c.Connected {
			continue
		}
		for _, cn := range c.Connectors {
			k := connectorKey{c.ID, cn.ID}
			if cn.ID == 0 || busy[k] {
				continue
			}
			switch cn.Status {
			case charging.StatusPreparing, charging.StatusOccupied: // 1.6 and 2.x: a vehicle is plugged in
				plugged = append(plugged, k)
				free = append(free, k)
			case charging.StatusAvailable:
				free = append(free, k)
			}
		}
	}
	return plugged, free
}

// labels names the connectors for the display: the connector number on a
// site of one charger, charger/number on a larger one.
func labels(chargers []charging.Charger) map[connectorKey]string {
	connected := 0
	for _, c := range chargers {
		if c.Connected {
			connected++
		}
	}
	out := map[connectorKey]string{}
	for _, c := range chargers {
		for _, cn := range c.Connectors {
			label := strconv.Itoa(cn.ID)
			if connected > 1 {
				label = string(c.ID) + "/" + label
			}
			out[connectorKey{c.ID, cn.ID}] = label
		}
	}
	return out
}

func labelsOf(keys []connectorKey, names map[connectorKey]string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = names[k]
	}
	return out
}

// live is a session's energy so far (kWh, from its latest register
// reading) and its latest power (kW).
func live(tx charging.Transaction, readings []charging.MeterReading) (energyKWh, powerKW float64) {
	var wh int64 = -1
	powerKW = math.NaN()
	for i := len(readings) - 1; i >= 0 && (wh < 0 || math.IsNaN(powerKW)); i-- {
		r := readings[i]
		if v, ok := r.EnergyWh(); ok && wh < 0 {
			wh = v
		}
		if kw, ok := powerOf(r); ok && math.IsNaN(powerKW) {
			powerKW = kw
		}
	}
	if tx.MeterStopWh != nil {
		wh = *tx.MeterStopWh
	}
	if wh >= tx.MeterStartWh {
		energyKWh = float64(wh-tx.MeterStartWh) / 1000
	}
	if math.IsNaN(powerKW) {
		powerKW = 0
	}
	return energyKWh, powerKW
}

// powerOf reads a total active import power reading in kW.
func powerOf(r charging.MeterReading) (float64, bool) {
	if r.Measurand != "Power.Active.Import" || r.Phase != "" || r.Format == "SignedData" {
		return 0, false
	}
	v, err := strconv.ParseFloat(r.Value, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	v *= math.Pow10(r.Multiplier)
	switch r.Unit {
	case "kW":
		return v, true
	case "W", "":
		return v / 1000, true
	}
	return 0, false
}

func join(reason, detail string) string {
	if detail == "" {
		return reason
	}
	return fmt.Sprintf("%s: %s", reason, detail)
}
