package syncproto

import (
	"encoding/json"
	"fmt"
	"time"
)

// Header opens every message.
type Header struct {
	// Version is the protocol version the sender wrote, "major.minor"
	// (see [Major] and [Minor]).
	Version string `json:"v"`
	// Site is the sender's (upstream) or the receiver's (downstream) site;
	// it must be the site of the topic.
	Site string `json:"site"`
	// Key is the idempotency key of an upstream record: the cloud applies
	// a record once per (site, key), however often it arrives. Every
	// upstream kind but birth and death has one. The appliance derives it
	// from its outbox, so a record keeps its key across retries, restarts
	// and reconnects.
	Key string `json:"key,omitempty"`
	// Time is when the sender made the message.
	Time time.Time `json:"ts"`
	// Unsynced marks a message made before the sender's clock was
	// synchronised (a Pi has no real-time clock): Time, and every time
	// in the message that the appliance's clock took rather than a
	// charger's (an Event's At, a ChargerStatus's LastSeen and its
	// connectors' times when the charger gave none), may be hours or
	// days behind; order by Key and sequence, not by them. A charger's
	// own times (a transaction's start and stop, readings) are as the
	// charger sent them, never marked. The appliance corrects the
	// records still queued when its clock is set and sends them
	// unmarked; a record sent before stays marked at the cloud (see
	// docs/sync.md). Omitted when false.
	Unsynced bool `json:"unsynced,omitempty"`
}

// Head returns the header; it makes every message type a [Message].
func (h *Header) Head() *Header { return h }

// Message is any message of the protocol: a pointer to one of the
// message types below.
type Message interface {
	Head() *Header
	// Kind is the message type, the last level of its topic.
	Kind() Kind
	// Validate checks the fields the receiver relies on; the error wraps
	// ErrInvalid and names the field.
	Validate() error
}

// Birth is published by the appliance after every connect, before
// anything else: a new session of the link (like Sparkplug's NBIRTH). It
// carries what the cloud needs to bring the appliance up to date.
type Birth struct {
	Header
	// Boot identifies this run of the appliance process; BdSeq counts the
	// link sessions of the boot, and the Death registered as the session's
	// will carries the same pair, so the cloud can tell a stale death from
	// the current one.
	Boot     string `json:"boot"`
	BdSeq    uint64 `json:"bdSeq"`
	Software string `json:"software"`
	// DesiredVersion and AuthListVersion are the versions of the desired
	// configuration and of the authorization list the appliance has
	// applied (0: none): the cloud answers with newer ones.
	DesiredVersion  int64 `json:"desiredVersion"`
	AuthListVersion int64 `json:"authListVersion"`
	// Backlog is the number of records waiting in the appliance's outbox.
	Backlog int `json:"backlog"`
}

// Death is the appliance's MQTT will: the broker publishes it when the
// link drops without a clean disconnect; the appliance publishes it
// itself before a clean one.
type Death struct {
	Header
	Boot  string `json:"boot"`
	BdSeq uint64 `json:"bdSeq"`
}

// Connector is one connector's status (0: the charger itself).
type Connector struct {
	ID        int       `json:"id"`
	Status    string    `json:"status"`
	ErrorCode string    `json:"errorCode,omitempty"`
	Info      string    `json:"info,omitempty"`
	Time      time.Time `json:"ts,omitzero"`
}

// ChargerStatus is a charger's identity, link and connector states.
type ChargerStatus struct {
	Header
	Charger    string      `json:"charger"`
	Connected  bool        `json:"connected"`
	Protocol   string      `json:"protocol,omitempty"`
	Vendor     string      `json:"vendor,omitempty"`
	Model      string      `json:"model,omitempty"`
	Serial     string      `json:"serial,omitempty"`
	Firmware   string      `json:"firmware,omitempty"`
	LastSeen   time.Time   `json:"lastSeen,omitzero"`
	Connectors []Connector `json:"connectors,omitempty"`
}

// Transaction events.
const (
	TxStarted = "started"
	TxUpdated = "updated"
	TxStopped = "stopped"
)

// Transaction is the state of a charging session after one of its events.
// Each carries the whole record, with Rev counting its changes: the cloud
// keeps the highest revision, so a late or repeated one changes nothing.
type Transaction struct {
	Header
	Event string `json:"event"`
	Rev   int    `json:"rev"`
	// ID is the appliance's transaction id, unique per site.
	ID                int64     `json:"id"`
	Charger           string    `json:"charger"`
	ChargerTxID       string    `json:"chargerTxId,omitempty"`
	Protocol          string    `json:"protocol,omitempty"`
	Connector         int       `json:"connector"`
	EVSEConnector     int       `json:"evseConnector,omitempty"`
	IDTag             string    `json:"idTag,omitempty"`
	Start             time.Time `json:"start,omitzero"`
	MeterStartWh      int64     `json:"meterStartWh"`
	ReservationID     *int      `json:"reservationId,omitempty"`
	Stop              time.Time `json:"stop,omitzero"`
	MeterStopWh       *int64    `json:"meterStopWh,omitempty"`
	StopIDTag         string    `json:"stopIdTag,omitempty"`
	StopReason        string    `json:"stopReason,omitempty"`
	Orphan            bool      `json:"orphan,omitempty"`
	Offline           bool      `json:"offline,omitempty"`
	StartedImplicitly bool      `json:"startedImplicitly,omitempty"`
	SeqNoGaps         int       `json:"seqNoGaps,omitempty"`
}

// Attributes are free-form details (vendor data, OCPP fields the protocol
// has no field for yet).
type Attributes map[string]string

// Event kinds (Event.Event).
const (
	EventBoot        = "boot"
	EventSecurity    = "security"
	EventFirmware    = "firmware"
	EventDiagnostics = "diagnostics"
	EventFault       = "fault"
	// EventTap: a card tapped on the appliance's own reader; Code is the
	// result (started, stopped, refused, failed), Detail the token, the
	// reason, the connector and the transaction.
	EventTap = "tap"
	// EventNetwork: the appliance's network changed; Code is the uplink's
	// connectivity (full, limited, portal, none, unknown), Detail the
	// access point's state and SSID, the uplink's kind and interface,
	// whether NetworkManager answers, and the number of devices on the
	// access point.
	EventNetwork = "network"
	// EventAPClient: a device joined (Code "joined") or left ("left") the
	// chargers' access point; Detail its MAC, IP, hostname and the
	// chargers connected from it.
	EventAPClient = "ap_client"
)

// Event is something that happened at a charger or at the appliance
// (Charger empty).
type Event struct {
	Header
	Event   string     `json:"event"`
	Charger string     `json:"charger,omitempty"`
	At      time.Time  `json:"at"`
	Code    string     `json:"code,omitempty"`
	Detail  Attributes `json:"detail,omitempty"`
}

// Reported is the appliance's answer to a desired configuration: what it
// applied (the device-shadow pattern).
type Reported struct {
	Header
	// DesiredVersion is the desired version this report answers.
	DesiredVersion int64 `json:"desiredVersion"`
	// Applied is false when the appliance refused or rolled back the
	// desired state; Error says why.
	Applied  bool              `json:"applied"`
	Error    string            `json:"error,omitempty"`
	Settings map[string]string `json:"settings"`
}

// ConfigValue is one configuration key's value as a charger reported it.
type ConfigValue struct {
	Value    string `json:"value"`
	Readonly bool   `json:"readonly,omitempty"`
}

// ChargerConfig is the configuration a charger reported (1.6 keys and
// 2.x device model attributes, in one view).
type ChargerConfig struct {
	Header
	Charger       string                 `json:"charger"`
	Configuration map[string]ConfigValue `json:"configuration"`
}

// Command statuses (CommandResult.Status); the cloud adds queued and sent
// before the appliance answers.
const (
	CommandAccepted = "accepted"
	CommandRejected = "rejected"
	CommandFailed   = "failed"
	CommandExpired  = "expired"
)

// CommandResult is the outcome of a Command.
type CommandResult struct {
	Header
	CommandID string `json:"commandId"`
	Status    string `json:"status"`
	// Action is the OCPP action that carried the command, Reply the
	// charger's answer in the version-neutral shape of the appliance's
	// local API (see docs/api.md); Error says why a command failed.
	Action string          `json:"action,omitempty"`
	Reply  json.RawMessage `json:"reply,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Desired is the configuration the cloud wants the site to have, as a
// whole (never a patch), with a version that grows with every change. It
// is published retained, so a (re)connecting appliance always gets the
// current one.
type Desired struct {
	Header
	Version  int64             `json:"version"`
	Settings map[string]string `json:"settings"`
}

// AuthEntry is one token of an authorization list.
type AuthEntry struct {
	ID     string    `json:"id"`
	Status string    `json:"status"`
	Expiry time.Time `json:"expiry,omitzero"`
	Parent string    `json:"parent,omitempty"`
}

// AuthList is a site's authorization list at Version: the whole list
// (Full) or the changes since BaseVersion (Entries added or changed,
// Removed ids). An appliance applies a delta only on top of exactly
// BaseVersion; otherwise it waits for a full list (its Birth says which
// version it has).
type AuthList struct {
	Header
	Version     int64       `json:"version"`
	Full        bool        `json:"full"`
	BaseVersion int64       `json:"baseVersion,omitempty"`
	Entries     []AuthEntry `json:"entries,omitempty"`
	Removed     []string    `json:"removed,omitempty"`
}

// Command is an operator's command to a charger of the site: the
// version-neutral command of the appliance's local API (Command is its
// name, Args its JSON body, see docs/api.md). A command not sent to the
// charger by Deadline expires.
type Command struct {
	Header
	ID       string          `json:"id"`
	Charger  string          `json:"charger"`
	Command  string          `json:"command"`
	Args     json.RawMessage `json:"args,omitempty"`
	Deadline time.Time       `json:"deadline"`
}

func (*Birth) Kind() Kind         { return KindBirth }
func (*Death) Kind() Kind         { return KindDeath }
func (*ChargerStatus) Kind() Kind { return KindChargerStatus }
func (*Transaction) Kind() Kind   { return KindTransaction }
func (*Readings) Kind() Kind      { return KindReadings }
func (*Event) Kind() Kind         { return KindEvent }
func (*Reported) Kind() Kind      { return KindReported }
func (*ChargerConfig) Kind() Kind { return KindChargerConfig }
func (*CommandResult) Kind() Kind { return KindCommandResult }
func (*Desired) Kind() Kind       { return KindDesired }
func (*AuthList) Kind() Kind      { return KindAuthList }
func (*Command) Kind() Kind       { return KindCommand }

// New returns a new zero message of kind k; false for an unknown kind.
func New(k Kind) (Message, bool) {
	switch k {
	case KindBirth:
		return &Birth{}, true
	case KindDeath:
		return &Death{}, true
	case KindChargerStatus:
		return &ChargerStatus{}, true
	case KindTransaction:
		return &Transaction{}, true
	case KindReadings:
		return &Readings{}, true
	case KindEvent:
		return &Event{}, true
	case KindReported:
		return &Reported{}, true
	case KindChargerConfig:
		return &ChargerConfig{}, true
	case KindCommandResult:
		return &CommandResult{}, true
	case KindDesired:
		return &Desired{}, true
	case KindAuthList:
		return &AuthList{}, true
	case KindCommand:
		return &Command{}, true
	}
	return nil, false
}

// Compile-time checks: every kind has its message type.
var (
	_ Message = (*Birth)(nil)
	_ Message = (*Death)(nil)
	_ Message = (*ChargerStatus)(nil)
	_ Message = (*Transaction)(nil)
	_ Message = (*Readings)(nil)
	_ Message = (*Event)(nil)
	_ Message = (*Reported)(nil)
	_ Message = (*ChargerConfig)(nil)
	_ Message = (*CommandResult)(nil)
	_ Message = (*Desired)(nil)
	_ Message = (*AuthList)(nil)
	_ Message = (*Command)(nil)
)

// invalid returns an ErrInvalid naming field.
func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
}
