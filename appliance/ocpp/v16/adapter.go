package v16

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
)

// Domain is what the 1.6 adapter needs from the charging domain.
// *charging.Service implements it. Its mutating calls return only after
// the change is durable, so the adapter answers a charger only then.
type Domain interface {
	Boot(ctx context.Context, id charging.ChargerID, info charging.BootInfo) (charging.BootResult, error)
	Heartbeat(ctx context.Context, id charging.ChargerID) time.Time
	Authorize(ctx context.Context, id charging.ChargerID, idTag string) (charging.Authorization, error)
	StartTransaction(ctx context.Context, r charging.StartRequest) (charging.Transaction, charging.Authorization, error)
	StopTransaction(ctx context.Context, r charging.StopRequest) (charging.Transaction, *charging.Authorization, error)
	RecordMeterValues(ctx context.Context, mv charging.MeterValues) error
	UpdateConnectorStatus(ctx context.Context, u charging.StatusUpdate) error
	RecordFirmwareStatus(ctx context.Context, id charging.ChargerID, status string) error
	RecordDiagnosticsStatus(ctx context.Context, id charging.ChargerID, status string) error
	RecordConfiguration(ctx context.Context, id charging.ChargerID, cfg map[string]charging.ConfigValue, replace bool) error
	RecordReservation(ctx context.Context, r charging.Reservation) error
	CancelReservation(ctx context.Context, id charging.ChargerID, reservationID int) error
}

var _ Domain = (*charging.Service)(nil)

// AdapterOptions configures an Adapter.
type AdapterOptions struct {
	// Domain records what chargers report. Required.
	Domain Domain
	// Lenient says whether a charger's payloads are decoded leniently
	// (known vendor quirks accepted with a logged warning); nil: strict for all.
	Lenient func(chargerID string) bool
	// Logger receives the adapter's logs; nil discards them.
	Logger *slog.Logger
}

// Adapter maps OCPP 1.6J onto the charging domain: it answers the CALLs of
// 1.6 chargers (it is an [rpc.Handler]) and, for commands sent to them,
// checks the request before it goes out and records the effects of the
// charger's answer.
//
// Meter readings keep the value exactly as sent; the 1.6 defaults of the
// other fields (measurand Energy.Active.Import.Register, unit Wh, context
// Sample.Periodic, location Outlet, format Raw) are stored explicitly, so
// every stored reading says what it measured and nothing downstream needs
// to know OCPP 1.6's defaults. Phase has no default and stays empty.
type Adapter struct {
	domain  Domain
	lenient func(string) bool
	log     *slog.Logger
}

var _ rpc.Handler = (*Adapter)(nil)

// NewAdapter returns an Adapter.
func NewAdapter(opts AdapterOptions) (*Adapter, error) {
	if opts.Domain == nil {
		return nil, errors.New("v16: adapter needs a Domain")
	}
	a := &Adapter{domain: opts.Domain, lenient: opts.Lenient, log: opts.Logger}
	if a.lenient == nil {
		a.lenient = func(string) bool { return false }
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a, nil
}

// securityActions are the actions of the OCPP 1.6 security whitepaper,
// which this CSMS does not support (yet).
var securityActions = map[string]bool{
	"CertificateSigned": true, "DeleteCertificate": true, "ExtendedTriggerMessage": true,
	"GetInstalledCertificateIds": true, "GetLog": true, "InstallCertificate": true,
	"LogStatusNotification": true, "SecurityEventNotification": true, "SignCertificate": true,
	"SignedFirmwareStatusNotification": true, "SignedUpdateFirmware": true,
}

// lookup finds action for direction dir: an unknown action is
// NotImplemented, a known one in the other direction only (or of the
// security extension) NotSupported.
func lookup(action string, dir Direction) error {
	a, ok := Lookup(action)
	switch {
	case securityActions[action]:
		return ocppj.Errorf(ocppj.NotSupported, "%s (security extension) is not supported", action)
	case !ok:
		return ocppj.Errorf(ocppj.NotImplemented, "unknown action %q", action)
	case a.Direction&dir == 0:
		return ocppj.Errorf(ocppj.NotSupported, "%s is not sent in this direction", action)
	}
	return nil
}

// HandleCall answers a CALL from a 1.6 charger. A malformed payload gets
// the *ocppj.Error payload.Decode reports; charging.ErrInvalid becomes
// PropertyConstraintViolation with the domain's message (which names the
// field). Any other domain error is returned wrapped, not as an
// *ocppj.Error: package rpc answers it with InternalError and a generic
// description, logs it, and does not cache the answer, so the charger's
// retransmission is tried again.
func (a *Adapter) HandleCall(ctx context.Context, c *rpc.Conn, action string, data json.RawMessage) (json.RawMessage, error) {
	return a.Handle(ctx, c.ID(), action, data)
}

// Handle is HandleCall for charger id, without the connection.
func (a *Adapter) Handle(ctx context.Context, id, action string, data json.RawMessage) (json.RawMessage, error) {
	if err := lookup(action, ChargerToCSMS); err != nil {
		return nil, err
	}
	req, warnings, err := DecodeRequest(action, data, a.lenient(id))
	a.logWarnings(ctx, id, action, "request", warnings)
	if err != nil {
		return nil, err
	}
	resp, err := a.dispatch(ctx, charging.ChargerID(id), req)
	if err != nil {
		return nil, a.domainError(action, err)
	}
	// What we send must be valid too: the domain allows values 1.6 cannot
	// carry, and a charger may reject a malformed answer and retry forever.
	// The violation is ours, so it is not wrapped: an *ocppj.Error would be
	// answered with its code, as if the charger were at fault.
	out, err := payload.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("v16: %s response is invalid: %v", action, err)
	}
	return out, nil
}

// domainError maps a domain error to what the charger is told.
func (a *Adapter) domainError(action string, err error) error {
	if errors.Is(err, charging.ErrInvalid) {
		return &ocppj.Error{Code: ocppj.PropertyConstraintViolation, Description: err.Error()}
	}
	return fmt.Errorf("v16: %s: %w", action, err)
}

func (a *Adapter) logWarnings(ctx context.Context, id, action, kind string, warnings []string) {
	for _, w := range warnings {
		field, msg, _ := strings.Cut(w, ": ")
		a.log.WarnContext(ctx, "accepted non-conforming payload", "charger", id, "action", action,
			"kind", kind, "field", field, "warning", msg)
	}
}

// dispatch performs one charger request on the domain and builds the answer.
func (a *Adapter) dispatch(ctx context.Context, id charging.ChargerID, req any) (any, error) {
	switch r := req.(type) {
	case *AuthorizeRequest:
		auth, err := a.domain.Authorize(ctx, id, r.IdTag)
		if err != nil {
			return nil, err
		}
		return &AuthorizeResponse{IdTagInfo: a.idTagInfo(ctx, id, auth)}, nil
	case *BootNotificationRequest:
		return a.boot(ctx, id, r)
	case *DataTransferRequest:
		a.log.DebugContext(ctx, "data transfer without vendor extension", "charger", id, "vendorId", r.VendorId, "messageId", r.MessageId)
		return &DataTransferResponse{Status: DataTransferUnknownVendorId}, nil
	case *DiagnosticsStatusNotificationRequest:
		return &DiagnosticsStatusNotificationResponse{}, a.domain.RecordDiagnosticsStatus(ctx, id, string(r.Status))
	case *FirmwareStatusNotificationRequest:
		return &FirmwareStatusNotificationResponse{}, a.domain.RecordFirmwareStatus(ctx, id, string(r.Status))
	case *HeartbeatRequest:
		return &HeartbeatResponse{CurrentTime: payload.NewDateTime(a.domain.Heartbeat(ctx, id))}, nil
	case *MeterValuesRequest:
		mv := charging.MeterValues{ChargerID: id, ConnectorID: r.ConnectorId, Readings: readings(r.MeterValue)}
		if r.TransactionId != nil {
			mv.TransactionID = int64(*r.TransactionId)
		}
		return &MeterValuesResponse{}, a.domain.RecordMeterValues(ctx, mv)
	case *StartTransactionRequest:
		return a.start(ctx, id, r)
	case *StatusNotificationRequest:
		return &StatusNotificationResponse{}, a.domain.UpdateConnectorStatus(ctx, charging.StatusUpdate{
			ChargerID: id, ConnectorID: r.ConnectorId, Status: charging.ConnectorStatus(r.Status),
			ErrorCode: string(r.ErrorCode), Info: r.Info, VendorID: r.VendorId, VendorErrorCode: r.VendorErrorCode,
			Timestamp: r.Timestamp.Time,
		})
	case *StopTransactionRequest:
		return a.stop(ctx, id, r)
	}
	// lookup lets only the charger-initiated actions above through.
	return nil, fmt.Errorf("v16: no handler for %T", req)
}

func (a *Adapter) boot(ctx context.Context, id charging.ChargerID, r *BootNotificationRequest) (any, error) {
	serial := r.ChargePointSerialNumber
	if serial == "" {
		serial = r.ChargeBoxSerialNumber // deprecated in 1.6, still sent
	}
	res, err := a.domain.Boot(ctx, id, charging.BootInfo{Vendor: r.ChargePointVendor, Model: r.ChargePointModel,
		SerialNumber: serial, FirmwareVersion: r.FirmwareVersion})
	if err != nil {
		return nil, err
	}
	status := RegistrationStatus(res.Status)
	switch status {
	case RegistrationAccepted, RegistrationPending, RegistrationRejected:
	default:
		return nil, fmt.Errorf("v16: domain gave registration status %q", res.Status)
	}
	return &BootNotificationResponse{Status: status, CurrentTime: payload.NewDateTime(res.CurrentTime),
		Interval: int(res.Interval / time.Second)}, nil
}

func (a *Adapter) start(ctx context.Context, id charging.ChargerID, r *StartTransactionRequest) (any, error) {
	t, auth, err := a.domain.StartTransaction(ctx, charging.StartRequest{ChargerID: id, ConnectorID: r.ConnectorId,
		IDTag: r.IdTag, MeterStartWh: int64(r.MeterStart), Timestamp: r.Timestamp.Time, ReservationID: r.ReservationId, Protocol: string(ocppj.V16)})
	if err != nil {
		return nil, err
	}
	return &StartTransactionResponse{IdTagInfo: a.idTagInfo(ctx, id, auth), TransactionId: int(t.ID)}, nil
}

func (a *Adapter) stop(ctx context.Context, id charging.ChargerID, r *StopTransactionRequest) (any, error) {
	_, auth, err := a.domain.StopTransaction(ctx, charging.StopRequest{ChargerID: id, TransactionID: int64(r.TransactionId),
		IDTag: r.IdTag, MeterStopWh: int64(r.MeterStop), Timestamp: r.Timestamp.Time, Reason: string(r.Reason),
		Readings: readings(r.TransactionData)})
	if err != nil {
		return nil, err
	}
	resp := &StopTransactionResponse{}
	if auth != nil {
		info := a.idTagInfo(ctx, id, *auth)
		resp.IdTagInfo = &info
	}
	return resp, nil
}

// idTagInfo writes a domain authorization as 1.6 IdTagInfo. Values 1.6
// cannot carry are left out (and logged) rather than sent malformed.
func (a *Adapter) idTagInfo(ctx context.Context, id charging.ChargerID, auth charging.Authorization) IdTagInfo {
	info := IdTagInfo{Status: AuthorizationStatus(auth.Status)}
	switch info.Status {
	case AuthorizationAccepted, AuthorizationBlocked, AuthorizationExpired, AuthorizationInvalid, AuthorizationConcurrentTx:
	default:
		a.log.WarnContext(ctx, "authorization status has no 1.6 equivalent; answering Invalid", "charger", id, "status", auth.Status)
		info.Status = AuthorizationInvalid
	}
	if y := auth.Expiry.Year(); !auth.Expiry.IsZero() && y >= 0 && y <= 9999 {
		info.ExpiryDate = payload.NewDateTime(auth.Expiry)
	}
	if auth.ParentID != "" {
		if utf8.RuneCountInString(auth.ParentID) <= 20 {
			info.ParentIdTag = auth.ParentID
		} else {
			a.log.WarnContext(ctx, "parent id tag longer than 1.6 allows; left out", "charger", id)
		}
	}
	return info
}

// readings flattens 1.6 meter values into domain readings, with the 1.6
// defaults made explicit (see [Adapter]).
func readings(mvs []MeterValue) []charging.MeterReading {
	n := 0
	for _, mv := range mvs {
		n += len(mv.SampledValue)
	}
	if n == 0 {
		return nil
	}
	out := make([]charging.MeterReading, 0, n)
	for _, mv := range mvs {
		for _, sv := range mv.SampledValue {
			out = append(out, charging.MeterReading{
				Timestamp: mv.Timestamp.Time,
				Value:     sv.Value,
				Measurand: string(sv.Measurand),
				Phase:     string(sv.Phase),
				Unit:      string(sv.Unit),
				Context:   string(sv.Context),
				Location:  string(sv.Location),
				Format:    string(sv.Format),
			}.WithDefaults())
		}
	}
	return out
}

// CheckCommand checks a command before it is sent to a 1.6 charger: the
// action must be one the CSMS sends and the payload must decode strictly.
// The error is an *ocppj.Error: NotImplemented for an unknown action,
// NotSupported for a charger-to-CSMS or security-extension action, or the
// payload's violation.
func (a *Adapter) CheckCommand(action string, data json.RawMessage) error {
	if err := lookup(action, CSMSToCharger); err != nil {
		return err
	}
	_, _, err := DecodeRequest(action, data, false)
	return err
}

// CommandAnswered decodes a 1.6 charger's answer to a command (leniently
// when the charger is configured so) and records its domain effects:
//
//   - ChangeConfiguration Accepted or RebootRequired: the key's new value
//     (merged into the known configuration);
//   - GetConfiguration: the reported keys, replacing the known
//     configuration when the request asked for all keys;
//   - ReserveNow Accepted: the reservation;
//   - CancelReservation Accepted: the reservation is cancelled (one the
//     appliance never recorded is only logged).
//
// An answer that does not decode, or that the domain refuses as invalid,
// is an error wrapping an *ocppj.Error; any other error is a failure to
// record. request is the command as sent (it passed CheckCommand).
func (a *Adapter) CommandAnswered(ctx context.Context, chargerID, action string, request, response json.RawMessage) error {
	if err := lookup(action, CSMSToCharger); err != nil {
		return err
	}
	resp, warnings, err := DecodeResponse(action, response, a.lenient(chargerID))
	a.logWarnings(ctx, chargerID, action, "response", warnings)
	if err != nil {
		return fmt.Errorf("v16: %s response: %w", action, err)
	}
	req, _, err := DecodeRequest(action, request, false)
	if err != nil {
		return fmt.Errorf("v16: %s request as sent: %w", action, err)
	}
	if err := a.record(ctx, charging.ChargerID(chargerID), req, resp); err != nil {
		return a.domainError(action, err)
	}
	return nil
}

// record stores the domain effects of an answered command.
func (a *Adapter) record(ctx context.Context, id charging.ChargerID, req, resp any) error {
	switch r := req.(type) {
	case *ChangeConfigurationRequest:
		switch resp.(*ChangeConfigurationResponse).Status {
		case ConfigurationAccepted, ConfigurationRebootRequired:
			return a.domain.RecordConfiguration(ctx, id, map[string]charging.ConfigValue{r.Key: {Value: r.Value}}, false)
		}
	case *GetConfigurationRequest:
		keys := resp.(*GetConfigurationResponse).ConfigurationKey
		all := len(r.Key) == 0
		if len(keys) == 0 && !all {
			return nil
		}
		cfg := make(map[string]charging.ConfigValue, len(keys))
		for _, kv := range keys {
			cfg[kv.Key] = configValue(kv)
		}
		return a.domain.RecordConfiguration(ctx, id, cfg, all)
	case *ReserveNowRequest:
		if resp.(*ReserveNowResponse).Status == ReservationAccepted {
			return a.domain.RecordReservation(ctx, charging.Reservation{ID: r.ReservationId, ChargerID: id,
				ConnectorID: r.ConnectorId, IDTag: r.IdTag, ParentIDTag: r.ParentIdTag, Expiry: r.ExpiryDate.Time,
				Status: "Accepted"})
		}
	case *CancelReservationRequest:
		if resp.(*CancelReservationResponse).Status == CancelReservationAccepted {
			err := a.domain.CancelReservation(ctx, id, r.ReservationId)
			if errors.Is(err, charging.ErrNotFound) {
				a.log.InfoContext(ctx, "charger cancelled a reservation the appliance did not record", "charger", id, "reservationId", r.ReservationId)
				return nil
			}
			return err
		}
	}
	return nil
}

// configValue is a reported key's value in the domain's configuration view.
func configValue(kv KeyValue) charging.ConfigValue {
	v := charging.ConfigValue{Readonly: kv.Readonly}
	if kv.Value != nil {
		v.Value = *kv.Value
	}
	return v
}
