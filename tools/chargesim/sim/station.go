package sim

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
)

// Errors returned by this package. Test with errors.Is.
var (
	// ErrOffline: a message that is not kept while offline (everything but
	// transaction messages) was not sent because the station is offline.
	ErrOffline = errors.New("sim: station offline")
	// ErrDropped: a queued transaction message was given up (the CSMS kept
	// answering CALLERROR, or the transaction it belongs to never got an id).
	ErrDropped = errors.New("sim: message dropped")
	// ErrBadResponse: the CSMS answered with a CALLRESULT whose payload does
	// not match the schema.
	ErrBadResponse = errors.New("sim: invalid response payload")
	// ErrConfig: the options are unusable.
	ErrConfig = errors.New("sim: invalid configuration")

	errReboot   = errors.New("sim: rebooting")
	errFinished = errors.New("sim: finished")
)

// Ack reports one CALLRESULT the station received.
type Ack struct {
	Station string
	Action  string
	// Seq numbers the station's messages; a message re-sent after a lost
	// connection keeps its Seq. Messages sent outside the outbox (boot and
	// status notifications at connect) have Seq 0.
	Seq uint64
	// Request is the typed request in the package of the station's
	// version (a *v16.StartTransactionRequest, *v201.TransactionEventRequest,
	// *v21.TransactionEventRequest, ...); Response the decoded answer in
	// the same package, nil if it did not decode.
	Request, Response any
	// RequestJSON and ResponseJSON are the payloads as sent and received.
	RequestJSON, ResponseJSON json.RawMessage
}

// Options configures a Station. Zero values take the defaults noted.
type Options struct {
	// ID is the charge point identity (required).
	ID string
	// URL is the station's websocket URL, ending in its identity (see
	// [StationURL]) (required).
	URL string
	// Version is the OCPP version spoken and the only websocket
	// subprotocol offered: ocppj.V16 (default), ocppj.V201 or ocppj.V21
	// (see [ParseVersion]).
	Version ocppj.Version
	// Connectors is the number of connectors (default 1).
	Connectors int
	// MeterInterval is the MeterValues sample interval (default 60s).
	MeterInterval time.Duration
	// SessionLength is how long a session charges (default 30m).
	SessionLength time.Duration
	// Sessions per connector; 0 runs sessions forever.
	Sessions int
	// Pause between the sessions of a connector (default 1m, negative for
	// none; the first session starts at once).
	Pause time.Duration
	// Tags are the idTags presented, round robin; empty: each connector
	// presents its own tag, <station id>-<connector>.
	Tags []string
	// MeterSeed picks the station's meters: each connector's energy
	// register at start and the current the EVs draw (default: the ID, so
	// stations differ). Stations with the same seed, on clocks stepped
	// alike (see [ManualClock]), meter identical sessions.
	MeterSeed string
	// HeartbeatInterval overrides the interval the CSMS gives (0: use it).
	HeartbeatInterval time.Duration
	// RetryInterval is the wait before re-sending a transaction message the
	// CSMS answered with a CALLERROR, and before re-sending a
	// BootNotification when the CSMS gave no interval (default 10s).
	RetryInterval time.Duration
	// CallTimeout bounds the wait for each answer (default 30s).
	CallTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the reconnect backoff (defaults
	// 1s and 30s); it doubles after each failure, with jitter.
	ReconnectMin, ReconnectMax time.Duration
	// Password enables HTTP Basic auth (security profiles 1 and 2) with the
	// ID as user name.
	Password string
	// TLSConfig for wss:// URLs (server CA, client certificate).
	TLSConfig *tls.Config
	// StopByUnplug ends scripted sessions by unplugging the EV (reason
	// EVDisconnected) instead of the driver stopping at the charger
	// (reason Local).
	StopByUnplug bool
	// AwaitRemoteStart makes each session begin with the EV plugged in
	// (Preparing) waiting for the CSMS's RemoteStart /
	// RequestStartTransaction, as at a site where drivers tap their card
	// on the appliance's reader; no tag is presented at the charger.
	AwaitRemoteStart bool
	// LateToken (2.x only) starts each scripted session's transaction when
	// the cable is plugged in (TransactionEvent Started, triggerReason
	// CablePluggedIn, no idToken) and sends the idToken in a later Updated
	// (triggerReason Authorized) once the driver presented it: the
	// device model's TxCtrlr.TxStartPoint starts as EVConnected.
	LateToken bool
	// NotifyEvents (2.x only) sends a NotifyEvent (AvailabilityState of
	// the connector) with every StatusNotification.
	NotifyEvents bool
	// EventStream (2.1 only) opens a periodic event stream after boot
	// (OpenPeriodicEventStream) and sends the charger's power on it with
	// NotifyPeriodicEventStream (a SEND) at this interval (0: none).
	EventStream time.Duration
	// Vendor and Model for the BootNotification (defaults Constellation, chargesim).
	Vendor, Model string
	Clock         Clock
	Logger        *slog.Logger
	// Stats, when set, is updated with what the station does.
	Stats *Stats
	// OnAck is called for every CALLRESULT received, from the goroutine
	// that sent the call; it must not block for long.
	OnAck func(Ack)
}

// ParseVersion parses an OCPP version as people write it ("1.6", "2.0.1",
// "2.1") or as its websocket subprotocol ("ocpp2.0.1").
func ParseVersion(s string) (ocppj.Version, error) {
	v := ocppj.Version(s)
	if !strings.HasPrefix(s, "ocpp") {
		v = ocppj.Version("ocpp" + s)
	}
	switch v {
	case ocppj.V16, ocppj.V201, ocppj.V21:
		return v, nil
	}
	return "", fmt.Errorf("%w: OCPP version %q (want 1.6, 2.0.1 or 2.1)", ErrConfig, s)
}

// StationURL appends the escaped station id to a base websocket URL.
func StationURL(base, id string) string {
	return strings.TrimRight(base, "/") + "/" + url.PathEscape(id)
}

func (o *Options) withDefaults() (Options, error) {
	c := *o
	if c.ID == "" || c.URL == "" {
		return c, fmt.Errorf("%w: ID and URL are required", ErrConfig)
	}
	if c.Version == "" {
		c.Version = ocppj.V16
	}
	switch c.Version {
	case ocppj.V16, ocppj.V201, ocppj.V21:
	default:
		return c, fmt.Errorf("%w: OCPP version %q (want %s, %s or %s)", ErrConfig, c.Version, ocppj.V16, ocppj.V201, ocppj.V21)
	}
	if c.Version == ocppj.V16 && (c.LateToken || c.NotifyEvents) {
		return c, fmt.Errorf("%w: LateToken and NotifyEvents need OCPP 2.x", ErrConfig)
	}
	if c.EventStream < 0 || (c.EventStream > 0 && c.Version != ocppj.V21) {
		return c, fmt.Errorf("%w: EventStream needs OCPP 2.1 and a positive interval", ErrConfig)
	}
	if c.Connectors <= 0 {
		c.Connectors = 1
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.MeterInterval, time.Minute)
	def(&c.SessionLength, 30*time.Minute)
	def(&c.RetryInterval, 10*time.Second)
	def(&c.CallTimeout, 30*time.Second)
	def(&c.ReconnectMin, time.Second)
	def(&c.ReconnectMax, 30*time.Second)
	switch {
	case c.Pause == 0:
		c.Pause = time.Minute
	case c.Pause < 0:
		c.Pause = 0
	}
	if c.Vendor == "" {
		c.Vendor = "Constellation"
	}
	if c.Model == "" {
		c.Model = "chargesim"
	}
	if c.Clock == nil {
		c.Clock = RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Stats == nil {
		c.Stats = &Stats{}
	}
	return c, nil
}

// protocol is the version-specific half of a station: the messages of its
// scripted life and the answers to the CSMS's commands.
type protocol interface {
	rpc.Handler
	// decodeResponse decodes the answer to an action strictly, into the
	// version's own type.
	decodeResponse(action string, raw json.RawMessage) (any, error)
	// wire converts a request as built into the version's own type (2.0.1
	// messages are built with the 2.1 types); an error is a simulator bug.
	wire(action string, req any) (any, error)
	// register runs after each connect: boot until accepted, then the
	// connector states. An error ends the connection.
	register(ctx context.Context, c *rpc.Conn) error
	// heartbeat sends one heartbeat; heartbeatInterval is the current interval.
	heartbeat(ctx context.Context, c *rpc.Conn) error
	heartbeatInterval() time.Duration
	// live runs the scripted sessions; it returns when they are done.
	live(ctx context.Context) error
	// dataTransfer sends a vendor-specific message and returns the status.
	dataTransfer(ctx context.Context, vendorID, messageID, data string) (string, error)
	// stationLimitW is the charger-wide limit of the installed profiles.
	stationLimitW() (float64, bool)
}

// Station is one simulated charge point. Create it with [NewStation] and
// start it with Run.
type Station struct {
	opts  Options
	log   *slog.Logger
	clock Clock
	stats *Stats
	proto protocol

	wake   chan struct{} // outbox changed
	reboot chan struct{} // a Reset asked for a reboot
	hbSet  chan struct{} // the heartbeat interval changed
	booted chan struct{} // closed after the first accepted boot
	once   sync.Once

	mu        sync.Mutex
	password  string    // Basic auth password of the next connect
	conn      *rpc.Conn // nil while offline
	outbox    []*outMsg
	seq       uint64
	finishing bool // the scripted life ended; stop once the outbox is empty
	runCtx    context.Context
}

// outMsg is one message waiting in the outbox. Transaction messages are
// durable: they stay queued over lost connections until acknowledged.
type outMsg struct {
	seq     uint64
	action  string
	durable bool
	tx      *txn // the transaction a message belongs to, nil for none
	// build returns the request at send time (so a message can pick up the
	// transaction id of a transaction started offline); false drops it.
	build func() (any, bool)
	// done is called once with the decoded answer or the final error.
	done     func(resp any, err error)
	attempts int
}

// NewStation returns a station; it does nothing until Run.
func NewStation(opts Options) (*Station, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Station{
		opts:     o,
		log:      o.Logger.With("station", o.ID),
		clock:    o.Clock,
		stats:    o.Stats,
		wake:     make(chan struct{}, 1),
		reboot:   make(chan struct{}, 1),
		hbSet:    make(chan struct{}, 1),
		booted:   make(chan struct{}),
		password: o.Password,
	}
	if o.Version == ocppj.V16 {
		s.proto = newV16(s)
	} else {
		s.proto = newV2(s)
	}
	return s, nil
}

// DataTransfer sends a vendor-specific DataTransfer to the CSMS (in order
// with everything else the station sends) and returns the answer's status.
// data is sent as it is in 1.6 and as a JSON string in 2.x; "" sends none.
// Offline it fails with [ErrOffline].
func (s *Station) DataTransfer(ctx context.Context, vendorID, messageID, data string) (string, error) {
	return s.proto.dataTransfer(ctx, vendorID, messageID, data)
}

// StationLimitW is the charger-wide power limit (W) the CSMS set with
// charger-wide maximum profiles (1.6 ChargePointMaxProfile on connector 0,
// 2.x ChargingStationMaxProfile on EVSE 0), the lowest if several are
// installed; false when none is.
func (s *Station) StationLimitW() (float64, bool) { return s.proto.stationLimitW() }

// ID is the station's charge point identity.
func (s *Station) ID() string { return s.opts.ID }

// Run connects and lives the scripted life until ctx ends (returning nil)
// or, when Sessions is set, until every connector has finished its
// sessions and every transaction message was acknowledged.
func (s *Station) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.runCtx = ctx
	s.mu.Unlock()

	lifeDone := make(chan error, 1)
	go func() {
		select {
		case <-s.booted:
		case <-ctx.Done():
			lifeDone <- nil
			return
		}
		err := s.proto.live(ctx)
		s.mu.Lock()
		s.finishing = true
		s.mu.Unlock()
		s.notify()
		lifeDone <- err
	}()

	backoff := s.opts.ReconnectMin
	for ctx.Err() == nil {
		c, err := rpc.Dial(ctx, s.opts.URL, rpc.DialOptions{
			Config: rpc.Config{
				Handler:     s.proto,
				Logger:      s.log,
				CallTimeout: s.opts.CallTimeout,
			},
			Versions:  []ocppj.Version{s.opts.Version},
			Username:  s.user(),
			Password:  s.currentPassword(),
			TLSConfig: s.opts.TLSConfig,
			ID:        s.opts.ID,
		})
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			s.log.Warn("connect failed", "err", err, "retry", backoff)
			s.wait(ctx, jitter(backoff))
			backoff = min(2*backoff, s.opts.ReconnectMax)
			continue
		}
		s.stats.Connects.Add(1)
		s.stats.Connected.Add(1)
		s.setConn(c)
		err = s.online(ctx, c)
		s.setConn(nil)
		s.stats.Connected.Add(-1)
		c.Close(1000, "bye")
		switch {
		case errors.Is(err, errFinished):
			return <-lifeDone
		case errors.Is(err, errReboot):
			s.log.Info("rebooting")
			backoff = s.opts.ReconnectMin
			continue
		case ctx.Err() != nil:
		default:
			s.log.Info("connection lost", "err", err, "retry", backoff)
			s.wait(ctx, jitter(backoff))
			if errors.Is(err, errRegistered) {
				backoff = s.opts.ReconnectMin
			} else {
				backoff = min(2*backoff, s.opts.ReconnectMax)
			}
		}
	}
	cancel()
	<-lifeDone
	return nil
}

// errRegistered marks a connection that got as far as an accepted boot.
var errRegistered = errors.New("sim: was registered")

func (s *Station) user() string {
	if s.currentPassword() == "" {
		return ""
	}
	return s.opts.ID
}

func (s *Station) currentPassword() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.password
}

// setPassword changes the Basic auth password used from the next connect.
func (s *Station) setPassword(pw string) {
	s.mu.Lock()
	s.password = pw
	s.mu.Unlock()
}

// offline reports whether the station has no connection right now.
func (s *Station) offline() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn == nil
}

// queued reports whether a message in the outbox matches.
func (s *Station) queued(match func(*outMsg) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.outbox, match)
}

func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// wait blocks for d or until ctx ends.
func (s *Station) wait(ctx context.Context, d time.Duration) {
	select {
	case <-s.clock.After(d):
	case <-ctx.Done():
	}
}

func (s *Station) setConn(c *rpc.Conn) {
	s.mu.Lock()
	s.conn = c
	var dropped []*outMsg
	if c == nil {
		kept := s.outbox[:0]
		for _, m := range s.outbox {
			if m.durable {
				kept = append(kept, m)
			} else {
				dropped = append(dropped, m)
			}
		}
		clear(s.outbox[len(kept):])
		s.outbox = kept
	}
	s.mu.Unlock()
	for _, m := range dropped {
		m.finish(nil, ErrOffline)
	}
}

func (m *outMsg) finish(resp any, err error) {
	if m.done != nil {
		m.done(resp, err)
	}
}

func (s *Station) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// heartbeatChanged makes the next heartbeat follow the new interval at
// once rather than after the current wait.
func (s *Station) heartbeatChanged() {
	select {
	case s.hbSet <- struct{}{}:
	default:
	}
}

// requestReboot makes the station drop its connection and boot again.
func (s *Station) requestReboot() {
	select {
	case s.reboot <- struct{}{}:
	default:
	}
}

// enqueue appends m to the outbox. Only durable messages are accepted
// while offline.
func (s *Station) enqueue(m *outMsg) error {
	s.mu.Lock()
	if !m.durable && s.conn == nil {
		s.mu.Unlock()
		return ErrOffline
	}
	s.seq++
	m.seq = s.seq
	s.outbox = append(s.outbox, m)
	s.mu.Unlock()
	s.notify()
	return nil
}

// call sends a non-durable message through the outbox (keeping the order
// with everything else the station sends) and waits for its answer.
func (s *Station) call(ctx context.Context, action string, req any) (any, error) {
	type result struct {
		resp any
		err  error
	}
	ch := make(chan result, 1)
	err := s.enqueue(&outMsg{
		action: action,
		build:  func() (any, bool) { return req, true },
		done:   func(resp any, err error) { ch <- result{resp, err} },
	})
	if err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.resp, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// post sends a non-durable message without waiting; offline it is dropped.
func (s *Station) post(action string, req any) {
	_ = s.enqueue(&outMsg{action: action, build: func() (any, bool) { return req, true }})
}

// online registers on a fresh connection, then sends the outbox and
// heartbeats until the connection ends. It returns why it ended.
func (s *Station) online(ctx context.Context, c *rpc.Conn) error {
	if err := s.proto.register(ctx, c); err != nil {
		return err
	}
	s.once.Do(func() { close(s.booted) })
	hb := s.clock.After(s.proto.heartbeatInterval())
	for {
		select {
		case <-s.reboot:
			return s.rebooting(ctx, c)
		default:
		}
		s.mu.Lock()
		var m *outMsg
		if len(s.outbox) > 0 {
			m = s.outbox[0]
		}
		finished := m == nil && s.finishing
		s.mu.Unlock()
		if finished {
			return errFinished
		}
		if m == nil {
			select {
			case <-s.wake:
			case <-hb:
				if err := s.proto.heartbeat(ctx, c); err != nil && isTransport(err) {
					return errors.Join(errRegistered, err)
				}
				hb = s.clock.After(s.proto.heartbeatInterval())
			case <-s.hbSet:
				hb = s.clock.After(s.proto.heartbeatInterval())
			case <-s.reboot:
				return s.rebooting(ctx, c)
			case <-c.Done():
				return fmt.Errorf("%w: %w", errRegistered, rpc.ErrClosed)
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		if err := s.sendHead(ctx, c, m); err != nil {
			return errors.Join(errRegistered, err)
		}
	}
}

// rebootDelay is how long a reboot takes before the connection closes:
// a real charger takes a moment, and the CSMS gets to read the answer to
// the Reset before the connection goes.
const rebootDelay = 200 * time.Millisecond

// rebootFlush bounds the messages sent between a reboot request and the
// reboot.
const rebootFlush = 100

// rebooting sends what is queued (the last messages of the transactions
// a reset ended), waits out the reboot delay and returns errReboot.
func (s *Station) rebooting(ctx context.Context, c *rpc.Conn) error {
	for range rebootFlush {
		s.mu.Lock()
		var m *outMsg
		if len(s.outbox) > 0 {
			m = s.outbox[0]
		}
		s.mu.Unlock()
		if m == nil || s.sendHead(ctx, c, m) != nil {
			break
		}
	}
	select {
	case <-s.clock.After(rebootDelay):
	case <-c.Done():
	case <-ctx.Done():
	}
	return errReboot
}

// isTransport reports whether err means the message may not have arrived
// (rather than a CALLERROR or a bad answer).
func isTransport(err error) bool {
	var oe *ocppj.Error
	return !errors.As(err, &oe) && !errors.Is(err, ErrBadResponse) && !errors.Is(err, ErrDropped)
}

// sendHead sends the first outbox message and settles it. It returns an
// error only when the connection is unusable.
func (s *Station) sendHead(ctx context.Context, c *rpc.Conn, m *outMsg) error {
	pop := func(resp any, err error) {
		s.mu.Lock()
		if len(s.outbox) > 0 && s.outbox[0] == m {
			s.outbox[0] = nil
			s.outbox = s.outbox[1:]
		}
		s.mu.Unlock()
		m.finish(resp, err)
	}
	req, ok := m.build()
	if !ok {
		s.log.Warn("message dropped: its transaction has no id", "action", m.action)
		pop(nil, ErrDropped)
		return nil
	}
	resp, err := s.exchange(ctx, c, m.seq, m.action, req)
	switch {
	case err == nil:
		pop(resp, nil)
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case isTransport(err):
		if !m.durable {
			pop(nil, err)
		}
		select {
		case <-c.Done():
			return err
		default:
			return nil // a timeout: try again on this connection
		}
	case m.durable && !errors.Is(err, ErrBadResponse) && !errors.Is(err, ErrDropped):
		m.attempts++
		if m.attempts >= transactionMessageAttempts {
			s.log.Warn("transaction message dropped after CALLERRORs", "action", m.action, "err", err)
			pop(nil, fmt.Errorf("%w: %w", ErrDropped, err))
			return nil
		}
		select {
		case <-s.clock.After(s.opts.RetryInterval * time.Duration(m.attempts)):
			return nil
		case <-c.Done():
			return rpc.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	default:
		pop(nil, err)
		return nil
	}
}

// transactionMessageAttempts is how often a transaction message is sent
// while the CSMS answers CALLERROR (the 1.6 TransactionMessageAttempts).
const transactionMessageAttempts = 3

// exchange validates and sends one CALL and decodes its answer, keeping
// statistics and reporting the acknowledgement.
func (s *Station) exchange(ctx context.Context, c *rpc.Conn, seq uint64, action string, req any) (any, error) {
	req, err := s.proto.wire(action, req)
	if err != nil {
		s.log.Error("simulator bug: invalid request", "action", action, "err", err)
		return nil, fmt.Errorf("%w: %s request invalid for %s: %w", ErrDropped, action, s.opts.Version, err)
	}
	raw, err := payload.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s request invalid: %w", ErrDropped, action, err)
	}
	s.stats.CallsSent.Add(1)
	start := time.Now()
	ans, err := c.Call(ctx, action, raw)
	if err != nil {
		s.stats.CallsFailed.Add(1)
		return nil, fmt.Errorf("sim: %s: %w", action, err)
	}
	s.stats.CallsOK.Add(1)
	s.stats.Latency.Record(time.Since(start))
	resp, derr := s.proto.decodeResponse(action, ans)
	if derr != nil {
		s.log.Warn("invalid response", "action", action, "err", derr)
		resp = nil
	}
	if s.opts.OnAck != nil {
		s.opts.OnAck(Ack{Station: s.opts.ID, Action: action, Seq: seq, Request: req, Response: resp, RequestJSON: raw, ResponseJSON: ans})
	}
	if derr != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadResponse, action, derr)
	}
	return resp, nil
}

// context returns the Run context for work started by command handlers.
func (s *Station) context() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCtx == nil {
		return context.Background()
	}
	return s.runCtx
}
