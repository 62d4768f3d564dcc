// Package charging is the version-neutral charging domain: chargers and
// their connectors, transactions, meter readings, id tokens and the offline
// authorization cache, reservations and charger configuration. OCPP 1.6J,
// 2.0.1 and 2.1 are adapters in front of it; nothing here knows which
// version a charger speaks.
package charging

import (
	"strings"
	"time"
)

// ChargerID identifies a charger: its OCPP charge point / charging station identity.
type ChargerID string

// Charger is a charger as the appliance knows it.
type Charger struct {
	ID              ChargerID `json:"id"`
	Vendor          string    `json:"vendor,omitempty"`
	Model           string    `json:"model,omitempty"`
	SerialNumber    string    `json:"serialNumber,omitempty"`
	FirmwareVersion string    `json:"firmwareVersion,omitempty"`
	// Protocol is the OCPP subprotocol of the last connection, for display only.
	Protocol          string      `json:"protocol,omitempty"`
	Connected         bool        `json:"connected"`
	LastBoot          time.Time   `json:"lastBoot,omitzero"`
	LastSeen          time.Time   `json:"lastSeen,omitzero"`
	FirmwareStatus    string      `json:"firmwareStatus,omitempty"`
	DiagnosticsStatus string      `json:"diagnosticsStatus,omitempty"`
	Connectors        []Connector `json:"connectors"`
	// Configuration is the last configuration the charger reported, by
	// key: OCPP 1.6 configuration keys as they are, OCPP 2.x device model
	// attributes under [ConfigKey] (Readonly for mutability ReadOnly).
	Configuration map[string]ConfigValue `json:"configuration,omitempty"`
}

// ConfigValue is one configuration key's value as the charger reported it.
type ConfigValue struct {
	Value    string `json:"value"`
	Readonly bool   `json:"readonly"`
}

// ConnectorStatus is a connector's (or, for connector 0, the charger's) status.
type ConnectorStatus string

// Connector statuses; the union of 1.6 ChargePointStatus and 2.0.1 ConnectorStatusEnumType.
const (
	StatusAvailable     ConnectorStatus = "Available"
	StatusPreparing     ConnectorStatus = "Preparing"
	StatusCharging      ConnectorStatus = "Charging"
	StatusSuspendedEV   ConnectorStatus = "SuspendedEV"
	StatusSuspendedEVSE ConnectorStatus = "SuspendedEVSE"
	StatusFinishing     ConnectorStatus = "Finishing"
	StatusReserved      ConnectorStatus = "Reserved"
	StatusUnavailable   ConnectorStatus = "Unavailable"
	StatusFaulted       ConnectorStatus = "Faulted"
	StatusOccupied      ConnectorStatus = "Occupied"
)

// Connector is one connector of a charger. Connector 0 is the charger itself.
//
// OCPP 2.x has EVSEs with connectors; the domain's connector id is the EVSE
// id (an EVSE is what charges one vehicle at a time, as a 1.6 connector
// does), and EVSEConnectorID says which connector of the EVSE a 2.x status
// report was about. Each (EVSE, connector) pair of a 2.x charger has its own
// entry; 1.6 connectors have EVSEConnectorID 0.
type Connector struct {
	ID int `json:"id"`
	// EVSEConnectorID is the connector within EVSE ID (OCPP 2.x
	// connectorId); 0 for 1.6 connectors.
	EVSEConnectorID int             `json:"evseConnectorId,omitempty"`
	Status          ConnectorStatus `json:"status"`
	ErrorCode       string          `json:"errorCode,omitempty"`
	Info            string          `json:"info,omitempty"`
	VendorID        string          `json:"vendorId,omitempty"`
	VendorErrorCode string          `json:"vendorErrorCode,omitempty"`
	// Timestamp is when the charger says the status changed (as sent).
	Timestamp time.Time `json:"timestamp,omitzero"`
	// UpdatedAt is when the appliance recorded it.
	UpdatedAt time.Time `json:"updatedAt"`
}

// StatusUpdate is a connector status report. A 2.x report (evseId,
// connectorId, connectorStatus) gives the EVSE id as ConnectorID and its
// connector id as EVSEConnectorID (see [Connector]).
type StatusUpdate struct {
	ChargerID       ChargerID
	ConnectorID     int
	EVSEConnectorID int // 0: none (1.6)
	Status          ConnectorStatus
	ErrorCode       string
	Info            string
	VendorID        string
	VendorErrorCode string
	Timestamp       time.Time // zero when the charger sent none
}

// AuthStatus is an id token's authorization status.
type AuthStatus string

// Authorization statuses (1.6 AuthorizationStatus; 2.0.1 adds more, mapped by its adapter).
const (
	AuthAccepted     AuthStatus = "Accepted"
	AuthBlocked      AuthStatus = "Blocked"
	AuthExpired      AuthStatus = "Expired"
	AuthInvalid      AuthStatus = "Invalid"
	AuthConcurrentTx AuthStatus = "ConcurrentTx"
)

// tokenStatuses are the statuses a token of the cache (or of a charger's
// local list) may have; ConcurrentTx only ever answers a request.
var tokenStatuses = []AuthStatus{AuthAccepted, AuthBlocked, AuthExpired, AuthInvalid}

// joinStatuses lists statuses for an error message: "A, B, C".
func joinStatuses(statuses []AuthStatus) string {
	names := make([]string, len(statuses))
	for i, s := range statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// IDToken is an entry of the offline authorization cache.
type IDToken struct {
	ID       string     `json:"id"`
	Status   AuthStatus `json:"status"`
	Expiry   time.Time  `json:"expiry,omitzero"`
	ParentID string     `json:"parentId,omitempty"`
	// Source says where the entry came from: "operator", "cloud", "open-policy".
	Source    string    `json:"source,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Authorization is the answer to an authorization request.
type Authorization struct {
	Status   AuthStatus
	Expiry   time.Time // zero: none
	ParentID string
}

// Transaction is a charging session. A session started by OCPP 1.6
// StartTransaction and one reported by OCPP 2.x TransactionEvents are the
// same record: apart from the ids, Protocol and the 2.x-only fields marked
// below, equal sessions give equal records.
type Transaction struct {
	// ID is the appliance-assigned transaction id of every session, whatever
	// the protocol: unique, never reused, fits an OCPP 1.6 int32.
	ID int64 `json:"id"`
	// ChargerTxID is the charger-assigned id (OCPP 2.x transactionId); for a
	// 1.6 orphan, the 1.6 id the charger sent; otherwise empty.
	ChargerTxID string    `json:"chargerTransactionId,omitempty"`
	ChargerID   ChargerID `json:"chargerId"`
	// Protocol is the version tag the adapter gave ("ocpp1.6", "ocpp2.0.1",
	// ...). Empty in records written before it existed (all OCPP 1.6).
	Protocol string `json:"protocol,omitempty"`
	// ConnectorID is the connector (1.6) or EVSE (2.x) id; 0 while a 2.x
	// session has not named its EVSE.
	ConnectorID int `json:"connectorId"`
	// EVSEConnectorID is the connector within the EVSE (2.x connectorId)
	// when the charger named it; 0 otherwise and for 1.6.
	EVSEConnectorID int    `json:"evseConnectorId,omitempty"`
	IDTag           string `json:"idTag"`
	// StartTime and StopTime are as the charger sent them (offline replays keep their old times).
	StartTime     time.Time `json:"startTime"`
	MeterStartWh  int64     `json:"meterStartWh"`
	ReservationID *int      `json:"reservationId,omitempty"`
	StopTime      time.Time `json:"stopTime,omitzero"`
	MeterStopWh   *int64    `json:"meterStopWh,omitempty"`
	StopIDTag     string    `json:"stopIdTag,omitempty"`
	StopReason    string    `json:"stopReason,omitempty"`
	// Orphan marks a transaction known only from a stop the charger sent for
	// an id the appliance never issued; it is recorded, not refused.
	Orphan bool `json:"orphan,omitempty"`
	// StartedImplicitly marks a 2.x session the appliance first heard of
	// from an Updated or Ended event (its Started never arrived): its start
	// fields are the earliest the appliance knows. A Started arriving later
	// fills them in and clears the mark.
	StartedImplicitly bool `json:"startedImplicitly,omitempty"`
	// Offline is set when the charger flagged an event of the session as
	// queued while it was offline (2.x).
	Offline bool `json:"offline,omitempty"`
	// SeqNoGaps counts the event sequence numbers (2.x seqNo) between the
	// lowest and the highest received that have not arrived; MissingSeqNos
	// lists the lowest of them (at most MaxListedSeqNos).
	SeqNoGaps     int   `json:"seqNoGaps,omitempty"`
	MissingSeqNos []int `json:"missingSeqNos,omitempty"`
	// OutOfOrderEvents counts 2.x events that arrived after an event with a
	// higher seqNo.
	OutOfOrderEvents int `json:"outOfOrderEvents,omitempty"`
	// Authorization is the status given to IDTag (at the start, or when a
	// 2.x session's token arrived later); empty while the session has none.
	Authorization AuthStatus `json:"authorization"`
	// RecordedAt is when the appliance stored the start.
	RecordedAt time.Time `json:"recordedAt"`
	// RecordedAtUnsynced: RecordedAt was taken before the appliance's
	// clock was synchronised and may be behind. The run of the appliance
	// that recorded it corrects it, and clears the mark, once the clock is
	// synchronised; a session recorded by an earlier run stays marked.
	RecordedAtUnsynced bool `json:"recordedAtUnsynced,omitempty"`
}

// Active reports whether the transaction has not stopped.
func (t Transaction) Active() bool { return t.StopTime.IsZero() && t.MeterStopWh == nil }

// StartRequest asks to start a transaction.
type StartRequest struct {
	ChargerID     ChargerID
	ConnectorID   int
	IDTag         string
	MeterStartWh  int64
	Timestamp     time.Time
	ReservationID *int
	// Protocol is the version tag stored on the transaction (see
	// [Transaction]); empty: the charger's current connection protocol.
	Protocol string
}

// StopRequest asks to stop a transaction.
type StopRequest struct {
	ChargerID     ChargerID
	TransactionID int64
	IDTag         string // optional
	MeterStopWh   int64
	Timestamp     time.Time
	Reason        string
	Readings      []MeterReading // transactionData
}

// MeterReading is one sampled value.
type MeterReading struct {
	Timestamp time.Time `json:"timestamp"`
	// Value is the value exactly as sent (a decimal string, or signed data).
	Value     string `json:"value"`
	Measurand string `json:"measurand,omitempty"` // default Energy.Active.Import.Register
	Phase     string `json:"phase,omitempty"`
	Unit      string `json:"unit,omitempty"`
	Context   string `json:"context,omitempty"`
	Location  string `json:"location,omitempty"`
	Format    string `json:"format,omitempty"`
	// Multiplier is the power of ten Value is scaled by (OCPP 2.x
	// unitOfMeasure.multiplier): the quantity is Value × 10^Multiplier Unit.
	Multiplier int `json:"multiplier,omitempty"`
}

// MeterValues is one MeterValues report.
type MeterValues struct {
	ChargerID     ChargerID
	ConnectorID   int
	TransactionID int64 // 0: none
	Readings      []MeterReading
}

// Reservation is a connector reservation.
type Reservation struct {
	ID          int       `json:"id"`
	ChargerID   ChargerID `json:"chargerId"`
	ConnectorID int       `json:"connectorId"`
	IDTag       string    `json:"idTag"`
	ParentIDTag string    `json:"parentIdTag,omitempty"`
	Expiry      time.Time `json:"expiry"`
	// Status: "Accepted" (active), "Cancelled", "Used", "Expired".
	Status string `json:"status"`
}

// BootInfo is what a charger says about itself when it boots.
type BootInfo struct {
	Vendor          string
	Model           string
	SerialNumber    string
	FirmwareVersion string
}

// RegistrationStatus answers a boot.
type RegistrationStatus string

// Registration statuses.
const (
	RegistrationAccepted RegistrationStatus = "Accepted"
	RegistrationPending  RegistrationStatus = "Pending"
	RegistrationRejected RegistrationStatus = "Rejected"
)

// BootResult answers a boot.
type BootResult struct {
	Status      RegistrationStatus
	CurrentTime time.Time
	Interval    time.Duration // heartbeat interval
}

// TransactionEventKind is the phase of a session a [TransactionEvent] reports.
type TransactionEventKind string

// Transaction event kinds (OCPP 2.x TransactionEventEnumType).
const (
	EventStarted TransactionEventKind = "Started"
	EventUpdated TransactionEventKind = "Updated"
	EventEnded   TransactionEventKind = "Ended"
)

// MaxListedSeqNos caps Transaction.MissingSeqNos.
const MaxListedSeqNos = 32

// TransactionEvent is one event of a session whose id the charger assigns
// (OCPP 2.0.1 and 2.1 TransactionEvent); see [Service.TransactionEvent].
type TransactionEvent struct {
	ChargerID ChargerID
	// ChargerTxID is the charger's transaction id: 1 to 36 characters.
	ChargerTxID string
	// Protocol is the version tag stored on a transaction the event creates;
	// empty: the charger's current connection protocol.
	Protocol string
	Kind     TransactionEventKind
	// SeqNo numbers the events of the session (0 or more).
	SeqNo     int
	Timestamp time.Time
	// TriggerReason says why the charger sent the event (logged, not stored).
	TriggerReason string
	// StoppedReason is the stop reason of an Ended event.
	StoppedReason string
	// Offline: the charger queued the event while it was offline.
	Offline bool
	// EVSEID is the EVSE (the domain connector id; 0: not given) and
	// ConnectorID the connector within it (0: not given).
	EVSEID      int
	ConnectorID int
	// IDToken is the token presented, if the event carries one.
	IDToken       string
	ReservationID *int
	// Readings are the event's meter values.
	Readings []MeterReading
}

// TransactionEventResult answers a [TransactionEvent].
type TransactionEventResult struct {
	// Transaction is the stored session after the event.
	Transaction Transaction
	// Authorization answers the event's IDToken; nil when it carried none.
	Authorization *Authorization
	// Duplicate is set when the event (charger, ChargerTxID, SeqNo) had
	// been applied before: nothing changed, the answer is the first one's.
	Duplicate bool
}

// VariableReport is one attribute of one variable of a charger's device
// model (OCPP 2.x NotifyReport, GetVariables, SetVariables). Components,
// variables and attributes have no meaning to the domain; it stores them
// and shows them in Charger.Configuration under [ConfigKey].
type VariableReport struct {
	Component         string `json:"component"`
	ComponentInstance string `json:"componentInstance,omitempty"`
	// EVSEID and ConnectorID locate the component (0: not given).
	EVSEID           int    `json:"evseId,omitempty"`
	ConnectorID      int    `json:"connectorId,omitempty"`
	Variable         string `json:"variable"`
	VariableInstance string `json:"variableInstance,omitempty"`
	// AttributeType is Actual (also when empty), Target, MinSet or MaxSet.
	AttributeType string `json:"attributeType,omitempty"`
	Value         string `json:"value"`
	// Mutability is ReadOnly, WriteOnly or ReadWrite. A report without it is
	// a value-only report (GetVariables, SetVariables results): it updates
	// the value and keeps what a NotifyReport said about the variable.
	Mutability string `json:"mutability,omitempty"`
	Persistent bool   `json:"persistent,omitempty"`
	Constant   bool   `json:"constant,omitempty"`
	// Characteristics (NotifyReport variableCharacteristics), optional.
	Unit               string   `json:"unit,omitempty"`
	DataType           string   `json:"dataType,omitempty"`
	MinLimit           *float64 `json:"minLimit,omitempty"`
	MaxLimit           *float64 `json:"maxLimit,omitempty"`
	ValuesList         string   `json:"valuesList,omitempty"`
	SupportsMonitoring bool     `json:"supportsMonitoring,omitempty"`
}

// Variable attribute types and mutabilities (OCPP 2.x).
const (
	AttributeActual = "Actual"
	AttributeTarget = "Target"
	AttributeMinSet = "MinSet"
	AttributeMaxSet = "MaxSet"

	MutabilityReadOnly  = "ReadOnly"
	MutabilityWriteOnly = "WriteOnly"
	MutabilityReadWrite = "ReadWrite"
)
