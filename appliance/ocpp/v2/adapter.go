package v2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/v201"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

// Domain is what the 2.x adapter needs from the charging domain.
// *charging.Service implements it. Its mutating calls return only after
// the change is durable, so the adapter answers a charger only then.
type Domain interface {
	Boot(ctx context.Context, id charging.ChargerID, info charging.BootInfo) (charging.BootResult, error)
	Heartbeat(ctx context.Context, id charging.ChargerID) time.Time
	Authorize(ctx context.Context, id charging.ChargerID, idTag string) (charging.Authorization, error)
	TransactionEvent(ctx context.Context, ev charging.TransactionEvent) (charging.TransactionEventResult, error)
	RecordMeterValues(ctx context.Context, mv charging.MeterValues) error
	UpdateConnectorStatus(ctx context.Context, u charging.StatusUpdate) error
	RecordFirmwareStatus(ctx context.Context, id charging.ChargerID, status string) error
	RecordDiagnosticsStatus(ctx context.Context, id charging.ChargerID, status string) error
	RecordVariables(ctx context.Context, id charging.ChargerID, vars []charging.VariableReport, replace bool) error
	RecordReservation(ctx context.Context, r charging.Reservation) error
	CancelReservation(ctx context.Context, id charging.ChargerID, reservationID int) error
}

var _ Domain = (*charging.Service)(nil)

// Options configures an Adapter.
type Options struct {
	// Domain records what chargers report. Required.
	Domain Domain
	// Lenient says whether a charger's payloads are decoded leniently
	// (known vendor quirks accepted with a logged warning); nil: strict for all.
	Lenient func(chargerID string) bool
	// Logger receives the adapter's logs; nil discards them.
	Logger *slog.Logger
}

// Adapter maps OCPP 2.0.1 or 2.1 onto the charging domain (see the package
// documentation for what it handles and how). It is safe for concurrent
// use by every connection of its version.
type Adapter struct {
	version ocppj.Version
	domain  Domain
	lenient func(string) bool
	log     *slog.Logger
	reports reportTracker
}

var _ rpc.Handler = (*Adapter)(nil)

// NewAdapter returns the Adapter for version, ocppj.V201 or ocppj.V21.
func NewAdapter(version ocppj.Version, opts Options) (*Adapter, error) {
	if version != ocppj.V201 && version != ocppj.V21 {
		return nil, fmt.Errorf("v2: adapter for %q: want %s or %s", version, ocppj.V201, ocppj.V21)
	}
	if opts.Domain == nil {
		return nil, errors.New("v2: adapter needs a Domain")
	}
	a := &Adapter{version: version, domain: opts.Domain, lenient: opts.Lenient, log: opts.Logger}
	if a.lenient == nil {
		a.lenient = func(string) bool { return false }
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a, nil
}

// Version is the OCPP version the adapter serves.
func (a *Adapter) Version() ocppj.Version { return a.version }

// action is what the version's registry says about an action.
type action struct {
	known    bool
	fromCS   bool // a charger sends it
	fromCSMS bool // the CSMS sends it
	send     bool // sent with SEND (2.1), never answered
}

func (a *Adapter) lookup(name string) action {
	if a.version == ocppj.V201 {
		act, ok := v201.Lookup(name)
		return action{known: ok, fromCS: act.Direction&v201.ChargerToCSMS != 0, fromCSMS: act.Direction&v201.CSMSToCharger != 0}
	}
	act, ok := v21.Lookup(name)
	return action{known: ok, fromCS: act.Direction&v21.ChargerToCSMS != 0, fromCSMS: act.Direction&v21.CSMSToCharger != 0,
		send: ok && act.Response == nil}
}

// HandleCall answers a CALL from a charger of the adapter's version, or
// takes a 2.1 SEND (see [rpc.IsSend]), which gets no answer: a SEND of an
// action sent with SEND is accepted and ignored, any other is logged and
// dropped.
func (a *Adapter) HandleCall(ctx context.Context, c *rpc.Conn, action string, data json.RawMessage) (json.RawMessage, error) {
	if rpc.IsSend(ctx) {
		a.handleSend(ctx, c.ID(), action, data)
		return nil, nil
	}
	return a.Handle(ctx, c.ID(), action, data)
}

// handleSend takes a SEND: nothing is answered, whatever happens.
func (a *Adapter) handleSend(ctx context.Context, id, name string, data json.RawMessage) {
	if act := a.lookup(name); act.send {
		a.log.DebugContext(ctx, "periodic event stream data ignored", "charger", id, "action", name, "bytes", len(data))
		return
	}
	a.log.WarnContext(ctx, "SEND of an action that is not sent with SEND: dropped", "charger", id, "action", name)
}

// Handle answers CALL action of charger id. The errors are those of an
// rpc.Handler:
//
//   - an action the version does not know: NotImplemented; one it knows but
//     this CSMS does not handle, or that chargers do not send: NotSupported;
//     a SEND-only action in a CALL: RpcFrameworkError;
//   - a malformed payload: the *ocppj.Error of the version's decoder;
//   - charging.ErrInvalid from the domain: PropertyConstraintViolation with
//     the domain's message (which names the field);
//   - any other domain error, and an answer that is not valid for the
//     version, is returned wrapped, not as an *ocppj.Error: package rpc
//     answers it InternalError, logs it and does not cache the answer, so
//     the charger's retransmission is tried again.
func (a *Adapter) Handle(ctx context.Context, id, name string, data json.RawMessage) (json.RawMessage, error) {
	act := a.lookup(name)
	switch {
	case !act.known:
		return nil, ocppj.Errorf(ocppj.NotImplemented, "unknown action %q", name)
	case !act.fromCS:
		return nil, ocppj.Errorf(ocppj.NotSupported, "%s is not sent by a charging station", name)
	case act.send:
		return nil, ocppj.Errorf(ocppj.RPCFrameworkError, "%s is sent with SEND (message type 6), not CALL", name)
	case !handled[name]:
		return nil, ocppj.Errorf(ocppj.NotSupported, "%s is not supported by this CSMS", name)
	}
	req, warnings, err := a.decode(name, data, false, a.lenient(id))
	a.logWarnings(ctx, id, name, "request", warnings)
	if err != nil {
		return nil, err
	}
	resp, err := a.dispatch(ctx, charging.ChargerID(id), req, data)
	if err != nil {
		return nil, a.domainError(name, err)
	}
	return a.encodeResponse(name, resp)
}

// domainError maps a domain error to what the charger is told.
func (a *Adapter) domainError(action string, err error) error {
	if errors.Is(err, charging.ErrInvalid) {
		return &ocppj.Error{Code: ocppj.PropertyConstraintViolation, Description: err.Error()}
	}
	return fmt.Errorf("v2: %s: %w", action, err)
}

func (a *Adapter) logWarnings(ctx context.Context, id, action, kind string, warnings []string) {
	for _, w := range warnings {
		field, msg, _ := strings.Cut(w, ": ")
		a.log.WarnContext(ctx, "accepted non-conforming payload", "charger", id, "action", action,
			"kind", kind, "field", field, "warning", msg)
	}
}
