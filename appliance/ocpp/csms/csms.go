// Package csms is the appliance's OCPP central system: it owns the
// websocket endpoint (an rpc.Server), routes every CALL from a charger to
// the adapter of the OCPP version the connection negotiated, tells the
// charging domain when chargers come and go, and sends commands to
// chargers ([CSMS.Send]) for the local API and the cloud.
package csms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	ocpppayload "github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	v16 "github.com/constellation-ev/constellation/appliance/ocpp/v16"
	v2 "github.com/constellation-ev/constellation/appliance/ocpp/v2"
)

// Domain is what the CSMS needs from the charging domain: the connection
// lifecycle, and everything its version adapters record.
// *charging.Service implements it.
type Domain interface {
	v16.Domain
	v2.Domain
	ConnectionObserver
	Transactions(ctx context.Context, f charging.TransactionFilter) ([]charging.Transaction, error)
}

// ConnectionObserver learns of chargers connecting and disconnecting. The
// CSMS calls its observers in order, one connection event at a time, so
// they must return quickly.
type ConnectionObserver interface {
	ChargerConnected(ctx context.Context, id charging.ChargerID, protocol string)
	ChargerDisconnected(ctx context.Context, id charging.ChargerID)
}

// BootObserver is a ConnectionObserver that also learns of a charger's
// boots: ChargerBooted runs, in a goroutine of its own, once the answer
// to the charger's BootNotification is on the wire, so that what it
// sends the charger follows the answer and never delays it.
type BootObserver interface {
	ChargerBooted(ctx context.Context, id charging.ChargerID, protocol string)
}

var _ Domain = (*charging.Service)(nil)

// adapter maps one OCPP version onto the domain: it answers the CALLs of
// that version's chargers, checks commands before they are sent and
// records the effects of their answers.
type adapter interface {
	rpc.Handler
	// CheckCommand returns an *ocppj.Error when action with this payload
	// cannot be sent.
	CheckCommand(action string, payload json.RawMessage) error
	// CommandAnswered records the effects of the charger's response; an
	// error wrapping *ocppj.Error means the response was unacceptable.
	CommandAnswered(ctx context.Context, chargerID, action string, request, response json.RawMessage) error
	// CommandRequest translates a version-neutral command into the
	// version's action and request payload (a struct to encode); an
	// error says why the command has no form in the version.
	CommandRequest(ctx context.Context, id charging.ChargerID, cmd charging.Command) (action string, request any, err error)
	// CommandDetails adds to reply what only the version can read from
	// the charger's answer (configuration values, per-variable status).
	CommandDetails(cmd charging.Command, action string, response json.RawMessage, reply *charging.CommandReply) error
}

// commandObserver is implemented by an adapter that must know of a
// command before the charger can act on it: CommandSending is called after
// CheckCommand passed, right before the command is sent.
type commandObserver interface {
	CommandSending(ctx context.Context, chargerID, action string, payload json.RawMessage)
}

var (
	_ adapter         = (*v16.Adapter)(nil)
	_ adapter         = (*v2.Adapter)(nil)
	_ commandObserver = (*v2.Adapter)(nil)
)

// Options configures a CSMS.
type Options struct {
	// Domain is the charging domain. Required.
	Domain Domain
	// RPC configures the websocket endpoint: authenticator, enabled
	// versions, ping, timeouts, frame sizes. RPC.Handler must be
	// nil (the CSMS is the handler); a nil RPC.Logger uses Logger.
	// Versions defaults to every version with an adapter: 2.1, 2.0.1 and
	// 1.6, preferred in that order.
	RPC rpc.ServerOptions
	// Lenient says whether a charger's payloads are decoded leniently;
	// nil: strict for all.
	Lenient func(chargerID string) bool
	// Logger receives the CSMS's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock of command defaults; nil: time.Now.
	Now func() time.Time
	// Observers learn of connections after the domain does, and of
	// boots if they are BootObservers too.
	Observers []ConnectionObserver
}

// CSMS is the central system. It is an http.Handler for the chargers'
// websocket endpoint.
type CSMS struct {
	domain Domain
	// observers are the domain, then Options.Observers.
	observers []ConnectionObserver
	srv       *rpc.Server
	adapters  map[ocppj.Version]adapter
	log       *slog.Logger
	// ctx is the context of work the connection hooks start; it carries
	// no deadline, as those hooks have none.
	ctx     context.Context
	closing atomic.Bool
	now     func() time.Time
	// requestID numbers the command requests that carry an id (2.x
	// remoteStartId and requestId, reservations the appliance numbers).
	requestID atomic.Int32

	// mu orders the connection hooks per CSMS; current is each charger's
	// live connection, so the end of an old connection reported after its
	// replacement connected does not mark the charger disconnected.
	mu      sync.Mutex
	current map[string]*rpc.Conn
}

var (
	_ http.Handler = (*CSMS)(nil)
	_ rpc.Handler  = (*CSMS)(nil)
	_ rpc.Observer = (*CSMS)(nil)
)

// New returns a CSMS with its rpc.Server built; serve it with an
// http.Server (any path ending in the charger identity).
func New(opts Options) (*CSMS, error) {
	if opts.Domain == nil {
		return nil, errors.New("csms: Options.Domain is required")
	}
	if opts.RPC.Handler != nil {
		return nil, errors.New("csms: Options.RPC.Handler must be nil: the CSMS handles calls")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a16, err := v16.NewAdapter(v16.AdapterOptions{Domain: opts.Domain, Lenient: opts.Lenient, Logger: log.With("area", "ocpp16")})
	if err != nil {
		return nil, fmt.Errorf("csms: %w", err)
	}
	adapters := map[ocppj.Version]adapter{ocppj.V16: a16}
	for v, area := range map[ocppj.Version]string{ocppj.V201: "ocpp201", ocppj.V21: "ocpp21"} {
		a, err := v2.NewAdapter(v, v2.Options{Domain: opts.Domain, Lenient: opts.Lenient, Logger: log.With("area", area)})
		if err != nil {
			return nil, fmt.Errorf("csms: %w", err)
		}
		adapters[v] = a
	}
	c := &CSMS{
		domain:    opts.Domain,
		observers: append([]ConnectionObserver{opts.Domain}, opts.Observers...),
		adapters:  adapters,
		log:       log.With("area", "csms"),
		ctx:       context.Background(),
		current:   map[string]*rpc.Conn{},
		now:       opts.Now,
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.requestID.Store(firstRequestID(c.now()))
	so := opts.RPC
	if len(so.Versions) == 0 {
		for _, v := range ocppj.Versions {
			if c.adapters[v] != nil {
				so.Versions = append(so.Versions, v)
			}
		}
	}
	for _, v := range so.Versions {
		if !slices.Contains(ocppj.Versions, v) {
			return nil, fmt.Errorf("csms: unknown OCPP version %q", v)
		}
	}
	so.Handler = c
	if so.Logger == nil {
		so.Logger = log.With("area", "rpc")
	}
	c.srv = rpc.NewServer(so)
	return c, nil
}

// ServeHTTP upgrades a charger's request to an OCPP-J websocket.
func (c *CSMS) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.srv.ServeHTTP(w, r) }

// Ready reports whether the CSMS accepts chargers: true from New until
// Shutdown starts.
func (c *CSMS) Ready() bool { return !c.closing.Load() }

// Shutdown stops accepting chargers, lets the CALLs being handled finish
// and be answered, and closes every connection (see rpc.Server.Shutdown).
func (c *CSMS) Shutdown(ctx context.Context) error {
	c.closing.Store(true)
	if err := c.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("csms: shutdown: %w", err)
	}
	return nil
}

// HandleCall routes a charger's CALL to the adapter of its OCPP version,
// and tells the boot observers of an answered BootNotification.
func (c *CSMS) HandleCall(ctx context.Context, conn *rpc.Conn, action string, payload json.RawMessage) (json.RawMessage, error) {
	a := c.adapters[conn.Version()]
	if a == nil {
		return nil, ocppj.Errorf(ocppj.NotImplemented, "OCPP %s is not implemented yet", conn.Version())
	}
	resp, err := a.HandleCall(ctx, conn, action, payload)
	if err == nil && action == "BootNotification" {
		id, protocol := charging.ChargerID(conn.ID()), string(conn.Version())
		rpc.AfterAnswer(ctx, func() {
			for _, o := range c.observers {
				if b, ok := o.(BootObserver); ok {
					b.ChargerBooted(c.ctx, id, protocol)
				}
			}
		})
	}
	return resp, err
}

// Connected tells the domain and the observers that a charger connected.
func (c *CSMS) Connected(conn *rpc.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.current[conn.ID()] = conn
	for _, o := range c.observers {
		o.ChargerConnected(c.ctx, charging.ChargerID(conn.ID()), string(conn.Version()))
	}
}

// Disconnected tells the domain and the observers that a charger's
// connection ended, unless a newer connection of the charger is already up.
func (c *CSMS) Disconnected(conn *rpc.Conn, _ error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.current[conn.ID()] != conn {
		return
	}
	delete(c.current, conn.ID())
	for _, o := range c.observers {
		o.ChargerDisconnected(c.ctx, charging.ChargerID(conn.ID()))
	}
}

// ChargerAddresses returns the address each connected charger's websocket
// comes from (a charger behind a proxy shows the proxy's).
func (c *CSMS) ChargerAddresses() map[charging.ChargerID]netip.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[charging.ChargerID]netip.Addr, len(c.current))
	for id, conn := range c.current {
		if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); err == nil {
			out[charging.ChargerID(id)] = ap.Addr().Unmap()
		}
	}
	return out
}

// Send sends a command to a charger in its OCPP version and returns the
// charger's response payload, after recording the response's domain
// effects. A nil or empty payload is sent as {}. Errors:
//
//   - charging.ErrNotConnected: the charger has no connection, or it closed
//     before the charger answered;
//   - charging.ErrInvalidCommand (with the *ocppj.Error saying why): the
//     action or payload is not valid for the charger's version; nothing
//     was sent;
//   - charging.ErrNoAnswer: no answer within the call timeout, or before
//     ctx's deadline (then ctx's error is wrapped too);
//   - charging.ErrChargerError (with the *ocppj.Error): the charger
//     answered a CALLERROR, or a response that is not valid.
//
// Other errors (ctx cancelled, a failure to record) are wrapped as they are.
func (c *CSMS) Send(ctx context.Context, id charging.ChargerID, action string, payload json.RawMessage) (json.RawMessage, error) {
	if len(payload) == 0 {
		payload = json.RawMessage("{}")
	}
	conn, a, err := c.connection(id)
	if err != nil {
		return nil, fmt.Errorf("csms: %s to %s: %w", action, id, err)
	}
	return c.call(ctx, conn, a, action, payload)
}

// connection returns the charger's live connection and the adapter of its
// version; the error wraps charging.ErrNotConnected or ErrInvalidCommand.
func (c *CSMS) connection(id charging.ChargerID) (*rpc.Conn, adapter, error) {
	conn, ok := c.srv.Conn(string(id))
	if !ok {
		return nil, nil, charging.ErrNotConnected
	}
	a := c.adapters[conn.Version()]
	if a == nil {
		return nil, nil, fmt.Errorf("%w: %w", charging.ErrInvalidCommand,
			ocppj.Errorf(ocppj.NotImplemented, "OCPP %s is not implemented yet", conn.Version()))
	}
	return conn, a, nil
}

// call sends a command on conn, whose version a serves (see [CSMS.Send]).
func (c *CSMS) call(ctx context.Context, conn *rpc.Conn, a adapter, action string, payload json.RawMessage) (json.RawMessage, error) {
	id := charging.ChargerID(conn.ID())
	if err := a.CheckCommand(action, payload); err != nil {
		return nil, fmt.Errorf("csms: %s to %s: %w: %w", action, id, charging.ErrInvalidCommand, err)
	}
	if o, ok := a.(commandObserver); ok {
		o.CommandSending(ctx, string(id), action, payload)
	}
	resp, err := conn.Call(ctx, action, payload)
	if err != nil {
		return nil, c.callError(id, action, err)
	}
	if err := a.CommandAnswered(ctx, string(id), action, payload, resp); err != nil {
		var oe *ocppj.Error
		if errors.As(err, &oe) {
			c.log.WarnContext(ctx, "charger answered a command with an invalid response", "charger", id, "action", action, "err", err)
			return nil, fmt.Errorf("csms: %s to %s: %w: %w", action, id, charging.ErrChargerError, err)
		}
		return nil, fmt.Errorf("csms: %s to %s: recording the answer: %w", action, id, err)
	}
	return resp, nil
}

// callError maps the rpc outcome of a command to the domain's command errors.
func (c *CSMS) callError(id charging.ChargerID, action string, err error) error {
	var oe *ocppj.Error
	switch {
	case errors.As(err, &oe):
		return fmt.Errorf("csms: %s to %s: %w: %w", action, id, charging.ErrChargerError, err)
	case errors.Is(err, rpc.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("csms: %s to %s: %w: %w", action, id, charging.ErrNoAnswer, err)
	case errors.Is(err, rpc.ErrClosed):
		return fmt.Errorf("csms: %s to %s: %w: %w", action, id, charging.ErrNotConnected, err)
	}
	return fmt.Errorf("csms: %s to %s: %w", action, id, err)
}

// requestIDEpoch starts the request id count: ids are seconds since then
// at start, so that a restarted appliance does not reuse the ids of the
// last run (fewer than one command a second on average) until 2093.
var requestIDEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func firstRequestID(now time.Time) int32 {
	return int32(min(max(now.Sub(requestIDEpoch)/time.Second, 0), math.MaxInt32/2))
}

// nextRequestID returns a request id not used since the CSMS started
// (wrapping to 1 past MaxInt32).
func (c *CSMS) nextRequestID() int {
	for {
		old := c.requestID.Load()
		next := old + 1
		if old == math.MaxInt32 {
			next = 1
		}
		if c.requestID.CompareAndSwap(old, next) {
			return int(next)
		}
	}
}

// Execute sends a version-neutral command to a charger in the charger's
// OCPP version (see charging.CommandKind) and returns its answer in the
// same shape for every version. Errors are those of [CSMS.Send], and
// charging.ErrInvalidCommand when the command is not valid, names a
// transaction that is not an active session of the charger, or has no
// form in the charger's version.
func (c *CSMS) Execute(ctx context.Context, id charging.ChargerID, cmd charging.Command) (charging.CommandReply, error) {
	fail := func(err error) (charging.CommandReply, error) {
		return charging.CommandReply{}, fmt.Errorf("csms: %s to %s: %w", cmd.Kind, id, err)
	}
	if err := cmd.Validate(); err != nil {
		return fail(err)
	}
	cmd = cmd.WithDefaults(c.now())
	conn, a, err := c.connection(id)
	if err != nil {
		return fail(err)
	}
	if cmd.Kind == charging.RemoteStop {
		txs, err := c.domain.Transactions(ctx, charging.TransactionFilter{ChargerID: id, ActiveOnly: true})
		if err != nil {
			return fail(err)
		}
		i := slices.IndexFunc(txs, func(t charging.Transaction) bool { return t.ID == cmd.TransactionID })
		if i < 0 {
			return fail(fmt.Errorf("%w: transaction %d is not an active session of %s", charging.ErrInvalidCommand, cmd.TransactionID, id))
		}
		cmd.ChargerTxID = txs[i].ChargerTxID
	}
	switch {
	case cmd.Kind == charging.Reserve && cmd.ReservationID == 0:
		cmd.ReservationID = c.nextRequestID()
	case cmd.Kind == charging.RemoteStart, cmd.Kind == charging.GetConfiguration,
		cmd.Kind == charging.UploadDiagnostics, cmd.Kind == charging.UpdateFirmware:
		cmd.RequestID = c.nextRequestID()
	}
	action, req, err := a.CommandRequest(ctx, id, cmd)
	var payload json.RawMessage
	if err == nil {
		payload, err = ocpppayload.Marshal(req)
	}
	if err != nil {
		return fail(fmt.Errorf("%w: %s for OCPP %s: %w", charging.ErrInvalidCommand, cmd.Kind, conn.Version(), err))
	}
	resp, err := c.call(ctx, conn, a, action, payload)
	if err != nil {
		return charging.CommandReply{}, err
	}
	reply := charging.CommandReply{Kind: cmd.Kind, Action: action, Status: "Accepted", Response: resp}
	var common struct {
		Status string `json:"status"`
		// fileName in 1.6, filename in 2.x: encoding/json matches
		// names case-insensitively.
		FileName string `json:"fileName"`
	}
	if err := json.Unmarshal(resp, &common); err == nil { // Send checked resp
		if common.Status != "" {
			reply.Status = common.Status
		}
		reply.FileName = common.FileName
	}
	if err := a.CommandDetails(cmd, action, resp, &reply); err != nil {
		return fail(fmt.Errorf("reading the answer: %w", err))
	}
	return reply, nil
}
