// Package charging is the version-neutral charging domain: chargers and
// their connectors, transactions, meter readings, id tokens and the offline
// authorization cache, reservations and charger configuration. OCPP 1.6J,
// 2.0.1 and 2.1 are adapters in front of it; nothing here knows which
// version a charger speaks.
package charging

import (
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
	// Configuration is the last configuration the charger reported, by key.
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
type Connector struct {
	ID              int             `json:"id"`
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

// StatusUpdate is a connector status report.
type StatusUpdate struct {
	ChargerID       ChargerID
	ConnectorID     int
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

// Transaction is a charging session.
type Transaction struct {
	// ID is the CSMS-assigned transaction id: unique, never reused, fits an OCPP 1.6 int32.
	ID int64 `json:"id"`
	// ChargerTxID is the charger-assigned id (OCPP 2.x transactionId), empty for 1.6.
	ChargerTxID string    `json:"chargerTransactionId,omitempty"`
	ChargerID   ChargerID `json:"chargerId"`
	ConnectorID int       `json:"connectorId"`
	IDTag       string    `json:"idTag"`
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
	// Authorization is the status given when the transaction started.
	Authorization AuthStatus `json:"authorization"`
	// RecordedAt is when the appliance stored the start.
	RecordedAt time.Time `json:"recordedAt"`
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
