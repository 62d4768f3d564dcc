package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

// v2LoadScript is one 2.0.1 or 2.1 load connection: boot, then Heartbeats,
// or the TransactionEvent Updated meter values of a transaction it starts
// before the measurement and ends after it. A 2.x charger reports meter
// values during a transaction with TransactionEvent (MeterValues is for
// readings outside transactions), so that is what is measured.
type v2LoadScript struct {
	version    ocppj.Version
	meter      bool
	clock      Clock
	txID       string
	seq        int
	registerWh float64
}

var _ loadScript = (*v2LoadScript)(nil)

func newV2LoadScript(v ocppj.Version, action, _ string, clock Clock) (*v2LoadScript, error) {
	l := &v2LoadScript{version: v, clock: clock, registerWh: 1000}
	switch action {
	case "Heartbeat":
	case "MeterValues", "TransactionEvent":
		l.meter = true
	default:
		return nil, fmt.Errorf("%w: load action %q (want Heartbeat, MeterValues or TransactionEvent)", ErrConfig, action)
	}
	return l, nil
}

// call sends a request built with the 2.1 types in the connection's
// version and returns the answer as the 2.1 type Resp.
func v2LoadCall[Resp any](ctx context.Context, l *v2LoadScript, c *rpc.Conn, action string, req any) (*Resp, error) {
	w, err := toWire(l.version, action, req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, action, err)
	}
	return loadCall[Resp](ctx, c, action, w, func(action string, raw json.RawMessage) (any, error) {
		return decodeV2Response(l.version, action, raw)
	})
}

// event returns the next TransactionEvent of the load transaction.
func (l *v2LoadScript) event(typ v21.TransactionEvent, trigger v21.TriggerReason, at time.Time, ctxt v21.ReadingContext) *v21.TransactionEventRequest {
	req := &v21.TransactionEventRequest{
		EventType: typ, Timestamp: payload.NewDateTime(at), TriggerReason: trigger, SeqNo: l.seq,
		TransactionInfo: v21.Transaction{TransactionId: l.txID, ChargingState: v21.ChargingStateCharging},
		MeterValue: []v21.MeterValue{{Timestamp: payload.NewDateTime(at), SampledValue: []v21.SampledValue{{
			Value: l.registerWh, Context: ctxt, Measurand: v21.MeasurandEnergyActiveImportRegister,
		}}}},
	}
	l.seq++
	return req
}

func (l *v2LoadScript) setup(ctx context.Context, c *rpc.Conn) error {
	boot, err := v2LoadCall[v21.BootNotificationResponse](ctx, l, c, "BootNotification", &v21.BootNotificationRequest{
		Reason: v21.BootReasonPowerUp, ChargingStation: v21.ChargingStation{VendorName: "Constellation", Model: "chargesim-load"},
	})
	if err != nil {
		return fmt.Errorf("sim: load setup: %w", err)
	}
	if boot.Status != v21.RegistrationAccepted {
		return fmt.Errorf("sim: load setup: boot %s", boot.Status)
	}
	if !l.meter {
		return nil
	}
	l.txID = newTransactionID()
	start := l.event(v21.TransactionEventStarted, v21.TriggerReasonAuthorized, l.clock.Now(), v21.ReadingContextTransactionBegin)
	start.Evse = &v21.EVSE{Id: 1, ConnectorId: ptr(1)}
	start.IdToken = &v21.IdToken{IdToken: "LOADTAG", Type: tokenISO14443}
	if _, err := v2LoadCall[v21.TransactionEventResponse](ctx, l, c, "TransactionEvent", start); err != nil {
		return fmt.Errorf("sim: load setup: %w", err)
	}
	return nil
}

// next encodes with encoding/json rather than converting per call: the
// payload uses only properties 2.0.1 and 2.1 share (the tests check it
// against both schemas).
func (l *v2LoadScript) next(now time.Time) (string, json.RawMessage, error) {
	if !l.meter {
		return "Heartbeat", json.RawMessage("{}"), nil
	}
	l.registerWh += 10
	body, err := json.Marshal(l.event(v21.TransactionEventUpdated, v21.TriggerReasonMeterValuePeriodic, now, v21.ReadingContextSamplePeriodic))
	return "TransactionEvent", body, err
}

func (l *v2LoadScript) teardown(ctx context.Context, c *rpc.Conn) {
	if !l.meter {
		return
	}
	end := l.event(v21.TransactionEventEnded, v21.TriggerReasonStopAuthorized, l.clock.Now(), v21.ReadingContextTransactionEnd)
	end.TransactionInfo.ChargingState = v21.ChargingStateEVConnected
	end.TransactionInfo.StoppedReason = v21.ReasonLocal
	_, _ = v2LoadCall[v21.TransactionEventResponse](ctx, l, c, "TransactionEvent", end)
}
