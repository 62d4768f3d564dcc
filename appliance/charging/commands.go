package charging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/jsonin"
)

// CommandKind names a version-neutral command to a charger. Each OCPP
// version's adapter translates a [Command] into its own request (for
// example RemoteStart into 1.6 RemoteStartTransaction or 2.x
// RequestStartTransaction) and reads the answer back into a
// [CommandReply], so that an operator, the cloud or the station's own
// reader can act on a charger without knowing its version.
type CommandKind string

// Command kinds, with the Command fields each one uses (docs/api.md gives
// the per-version translation).
const (
	// RemoteStart: ConnectorID (0: the charger chooses), IDTag,
	// IDTagType (2.x idToken type; default ISO14443).
	RemoteStart CommandKind = "remote-start"
	// RemoteStop: TransactionID (the appliance's id of an active
	// session of this charger).
	RemoteStop CommandKind = "remote-stop"
	// Reset: ResetType Soft (1.6 Soft, 2.x OnIdle) or Hard (1.6 Hard,
	// 2.x Immediate).
	Reset CommandKind = "reset"
	// Unlock: ConnectorID (1.6 connector, 2.x EVSE), EVSEConnectorID (2.x
	// connector within the EVSE; default 1).
	Unlock CommandKind = "unlock"
	// ChangeAvailability: ConnectorID (0: the whole charger),
	// Availability Operative or Inoperative.
	ChangeAvailability CommandKind = "change-availability"
	// ClearCache: no fields.
	ClearCache CommandKind = "clear-cache"
	// GetConfiguration: Keys (none: all; for 2.x a ConfigurationInventory
	// base report whose values arrive in the charger's configuration).
	GetConfiguration CommandKind = "get-configuration"
	// SetConfiguration: Key (1.6 key; 2.x device model key, see
	// [ConfigKey]), Value.
	SetConfiguration CommandKind = "set-configuration"
	// UploadDiagnostics: Location (upload URL), optional Since, Until.
	UploadDiagnostics CommandKind = "upload-diagnostics"
	// TriggerMessage: Message (a 1.6 or 2.x MessageTrigger value;
	// DiagnosticsStatusNotification and LogStatusNotification are each
	// other's counterpart), optional ConnectorID.
	TriggerMessage CommandKind = "trigger-message"
	// Reserve: ConnectorID (0: any), IDTag, IDTagType, optional
	// ParentIDTag, Expiry, ReservationID (0: the appliance picks one).
	Reserve CommandKind = "reserve"
	// CancelReservation: ReservationID.
	CancelReservation CommandKind = "cancel-reservation"
	// UpdateFirmware: Location (firmware URL), optional RetrieveAt (zero:
	// now).
	UpdateFirmware CommandKind = "update-firmware"
	// GetLocalListVersion: no fields; the reply's ListVersion is the
	// version of the charger's local authorization list (0: empty, -1:
	// 1.6 chargers without one).
	GetLocalListVersion CommandKind = "get-local-list-version"
	// SendLocalList: ListVersion, UpdateType Full (default: Entries
	// replace the list) or Differential (Entries patch it; an entry
	// without Status removes its token), Entries.
	SendLocalList CommandKind = "send-local-list"
	// SetPowerLimit: LimitW, the most the whole charger may draw (W). It
	// installs the appliance's charger-wide maximum charging profile
	// (PowerLimitProfileID at PowerLimitStackLevel; 1.6
	// ChargePointMaxProfile on connector 0, 2.x ChargingStationMaxProfile
	// on EVSE 0), replacing the one it sent before.
	SetPowerLimit CommandKind = "set-power-limit"
	// ClearPowerLimit: no fields; it removes the profile SetPowerLimit
	// installs, and no other. The charger answers Unknown when it has none.
	ClearPowerLimit CommandKind = "clear-power-limit"
)

// The charger-wide maximum charging profile of SetPowerLimit: a fixed id
// and stack level, so that sending it again replaces it and
// ClearPowerLimit finds it, whatever profiles others installed.
const (
	PowerLimitProfileID  = 1000
	PowerLimitStackLevel = 0
)

// CommandKinds lists every command kind.
var CommandKinds = []CommandKind{
	RemoteStart, RemoteStop, Reset, Unlock, ChangeAvailability, ClearCache, GetConfiguration,
	SetConfiguration, UploadDiagnostics, TriggerMessage, Reserve, CancelReservation, UpdateFirmware,
	GetLocalListVersion, SendLocalList, SetPowerLimit, ClearPowerLimit,
}

// Values of Command fields.
const (
	ResetSoft = "Soft"
	ResetHard = "Hard"

	AvailabilityOperative   = "Operative"
	AvailabilityInoperative = "Inoperative"

	UpdateFull         = "Full"
	UpdateDifferential = "Differential"

	// DefaultIDTagType is the 2.x idToken type of a command's IDTag when
	// none is given: the appliance's tokens are RFID card UIDs.
	DefaultIDTagType = "ISO14443"
)

// Command is a version-neutral command to a charger: Kind says what to do,
// and only the fields that kind uses may be set (see the kinds).
type Command struct {
	Kind            CommandKind `json:"-"`
	ConnectorID     int         `json:"connectorId,omitempty"`
	EVSEConnectorID int         `json:"evseConnectorId,omitempty"`
	IDTag           string      `json:"idTag,omitempty"`
	IDTagType       string      `json:"idTagType,omitempty"`
	ParentIDTag     string      `json:"parentIdTag,omitempty"`
	TransactionID   int64       `json:"transactionId,omitempty"`
	ResetType       string      `json:"type,omitempty"`
	Availability    string      `json:"availability,omitempty"`
	Keys            []string    `json:"keys,omitempty"`
	Key             string      `json:"key,omitempty"`
	Value           *string     `json:"value,omitempty"`
	Location        string      `json:"location,omitempty"`
	Since           time.Time   `json:"since,omitzero"`
	Until           time.Time   `json:"until,omitzero"`
	RetrieveAt      time.Time   `json:"retrieveAt,omitzero"`
	Message         string      `json:"message,omitempty"`
	ReservationID   int         `json:"reservationId,omitempty"`
	Expiry          time.Time   `json:"expiry,omitzero"`
	ListVersion     int         `json:"listVersion,omitempty"`
	UpdateType      string      `json:"updateType,omitempty"`
	// LimitW is SetPowerLimit's limit in watts; a pointer, as 0 W is a
	// limit.
	LimitW *int `json:"limitW,omitempty"`
	// Entries is SendLocalList's list (or patch). Nil and empty differ
	// only in whether the field was sent: both are no entries.
	Entries []LocalListEntry `json:"entries,omitempty"`

	// Set by the CSMS before the adapter translates the command, never
	// by its sender.

	// ChargerTxID is the charger's id of RemoteStop's transaction (2.x
	// transactionId; for a 1.6 orphan the 1.6 id it sent).
	ChargerTxID string `json:"-"`
	// RequestID numbers the requests 2.x asks an id for (remoteStartId,
	// requestId).
	RequestID int `json:"-"`
	// ScheduleStart is when SetPowerLimit's absolute schedule starts
	// (WithDefaults: midnight UTC of the day, so that a charger whose
	// clock is some hours behind already applies the limit).
	ScheduleStart time.Time `json:"-"`
}

// LocalListEntry is a token of a SendLocalList command: what a charger
// answers for IDTag when it authorizes from its local list. An entry of a
// Differential update without Status removes the token.
type LocalListEntry struct {
	IDTag       string     `json:"idTag"`
	Status      AuthStatus `json:"status,omitempty"`
	Expiry      time.Time  `json:"expiry,omitzero"`
	ParentIDTag string     `json:"parentIdTag,omitempty"`
}

// CommandReply is a charger's answer to a Command, the same shape for
// every version.
type CommandReply struct {
	Kind CommandKind `json:"command"`
	// Action is the OCPP action that carried the command.
	Action string `json:"action"`
	// Status is the status the charger answered, as it spelt it
	// (Accepted, Rejected, Unlocked, RebootRequired, ...); Accepted for
	// answers that have none (1.6 GetConfiguration, GetDiagnostics,
	// UpdateFirmware).
	Status string `json:"status"`
	// Configuration holds the values a GetConfiguration answer gave,
	// under the keys of Charger.Configuration; UnknownKeys the asked keys
	// the charger did not give.
	Configuration map[string]ConfigValue `json:"configuration,omitempty"`
	UnknownKeys   []string               `json:"unknownKeys,omitempty"`
	// FileName is the file an UploadDiagnostics answer named.
	FileName string `json:"fileName,omitempty"`
	// ListVersion is the version a GetLocalListVersion answer gave.
	ListVersion *int `json:"listVersion,omitempty"`
	// Response is the charger's answer as it sent it.
	Response json.RawMessage `json:"response"`
}

// commandFields lists, per kind, the JSON names of the fields it uses;
// the first ones up to required[kind] are required.
var commandFields = map[CommandKind][]string{
	RemoteStart:         {"idTag", "connectorId", "idTagType"},
	RemoteStop:          {"transactionId"},
	Reset:               {"type"},
	Unlock:              {"connectorId", "evseConnectorId"},
	ChangeAvailability:  {"availability", "connectorId"},
	ClearCache:          {},
	GetConfiguration:    {"keys"},
	SetConfiguration:    {"key", "value"},
	UploadDiagnostics:   {"location", "since", "until"},
	TriggerMessage:      {"message", "connectorId"},
	Reserve:             {"idTag", "expiry", "connectorId", "idTagType", "parentIdTag", "reservationId"},
	CancelReservation:   {"reservationId"},
	UpdateFirmware:      {"location", "retrieveAt"},
	GetLocalListVersion: {},
	SendLocalList:       {"listVersion", "updateType", "entries"},
	SetPowerLimit:       {"limitW"},
	ClearPowerLimit:     {},
}

// requiredFields is how many of a kind's commandFields are required.
var requiredFields = map[CommandKind]int{
	RemoteStart: 1, RemoteStop: 1, Reset: 1, Unlock: 1, ChangeAvailability: 1, SetConfiguration: 2,
	UploadDiagnostics: 1, TriggerMessage: 1, Reserve: 2, CancelReservation: 1, UpdateFirmware: 1,
	SendLocalList: 1, SetPowerLimit: 1,
}

// set returns the JSON names of c's fields that are set.
func (c Command) set() []string {
	var out []string
	add := func(name string, isSet bool) {
		if isSet {
			out = append(out, name)
		}
	}
	add("connectorId", c.ConnectorID != 0)
	add("evseConnectorId", c.EVSEConnectorID != 0)
	add("idTag", c.IDTag != "")
	add("idTagType", c.IDTagType != "")
	add("parentIdTag", c.ParentIDTag != "")
	add("transactionId", c.TransactionID != 0)
	add("type", c.ResetType != "")
	add("availability", c.Availability != "")
	add("keys", len(c.Keys) > 0)
	add("key", c.Key != "")
	add("value", c.Value != nil)
	add("location", c.Location != "")
	add("since", !c.Since.IsZero())
	add("until", !c.Until.IsZero())
	add("retrieveAt", !c.RetrieveAt.IsZero())
	add("message", c.Message != "")
	add("reservationId", c.ReservationID != 0)
	add("expiry", !c.Expiry.IsZero())
	add("listVersion", c.ListVersion != 0)
	add("updateType", c.UpdateType != "")
	add("entries", len(c.Entries) > 0)
	add("limitW", c.LimitW != nil)
	return out
}

// Validate checks c before any version translates it: a known kind, its
// required fields set, no field of another kind, numbers and enumerations
// in range. Lengths are the version's to check (the adapter validates the
// request it builds). The error wraps ErrInvalidCommand and names the
// field.
func (c Command) Validate() error {
	fields, ok := commandFields[c.Kind]
	if !ok {
		return fmt.Errorf("%w: unknown command %q", ErrInvalidCommand, c.Kind)
	}
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s: %s", ErrInvalidCommand, c.Kind, field, fmt.Sprintf(format, args...))
	}
	set := c.set()
	for _, f := range set {
		if !slices.Contains(fields, f) {
			return bad(f, "not used by this command (it takes %s)", describeFields(fields))
		}
	}
	for _, f := range fields[:requiredFields[c.Kind]] {
		if !slices.Contains(set, f) {
			return bad(f, "required")
		}
	}
	for _, n := range []struct {
		field string
		v     int64
	}{
		{"connectorId", int64(c.ConnectorID)}, {"evseConnectorId", int64(c.EVSEConnectorID)},
		{"transactionId", c.TransactionID}, {"reservationId", int64(c.ReservationID)},
		{"listVersion", int64(c.ListVersion)}, {"limitW", int64(deref(c.LimitW))},
	} {
		if n.v < 0 || n.v > math.MaxInt32 {
			return bad(n.field, "%d is not between 0 and 2147483647", n.v)
		}
	}
	if c.Kind == Unlock && c.ConnectorID < 1 {
		return bad("connectorId", "must be 1 or more")
	}
	switch {
	case c.ResetType != "" && c.ResetType != ResetSoft && c.ResetType != ResetHard:
		return bad("type", "%q is not Soft or Hard", c.ResetType)
	case c.Availability != "" && c.Availability != AvailabilityOperative && c.Availability != AvailabilityInoperative:
		return bad("availability", "%q is not Operative or Inoperative", c.Availability)
	case !c.Since.IsZero() && !c.Until.IsZero() && c.Until.Before(c.Since):
		return bad("until", "before since")
	case c.UpdateType != "" && c.UpdateType != UpdateFull && c.UpdateType != UpdateDifferential:
		return bad("updateType", "%q is not Full or Differential", c.UpdateType)
	}
	// SendLocalList's entries name each token once, with a status of
	// the cache, which only a Differential update may leave out.
	seen := make(map[string]bool, len(c.Entries))
	for i, e := range c.Entries {
		field := fmt.Sprintf("entries[%d]", i)
		switch {
		case e.IDTag == "":
			return bad(field+".idTag", "required")
		case seen[e.IDTag]:
			return bad(field+".idTag", "%s is listed twice", jsonin.Quote(e.IDTag))
		case e.Status == "" && c.UpdateType != UpdateDifferential:
			return bad(field+".status", "required in a Full update")
		case e.Status != "" && !slices.Contains(tokenStatuses, e.Status):
			return bad(field+".status", "%s is not one of %s", jsonin.Quote(string(e.Status)), joinStatuses(tokenStatuses))
		}
		seen[e.IDTag] = true
	}
	for i, k := range c.Keys {
		if k == "" {
			return bad(fmt.Sprintf("keys[%d]", i), "empty")
		}
	}
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func describeFields(fields []string) string {
	if len(fields) == 0 {
		return "no fields"
	}
	return strings.Join(fields, ", ")
}

// WithDefaults returns c with the defaults of its kind filled in:
// IDTagType ISO14443, Unlock's EVSEConnectorID 1, UpdateFirmware's
// RetrieveAt now, SendLocalList's UpdateType Full, SetPowerLimit's
// ScheduleStart.
func (c Command) WithDefaults(now time.Time) Command {
	switch c.Kind {
	case RemoteStart, Reserve:
		if c.IDTagType == "" {
			c.IDTagType = DefaultIDTagType
		}
	case Unlock:
		if c.EVSEConnectorID == 0 {
			c.EVSEConnectorID = 1
		}
	case UpdateFirmware:
		if c.RetrieveAt.IsZero() {
			c.RetrieveAt = now
		}
	case SendLocalList:
		if c.UpdateType == "" {
			c.UpdateType = UpdateFull
		}
	case SetPowerLimit:
		if c.ScheduleStart.IsZero() {
			c.ScheduleStart = now.UTC().Truncate(24 * time.Hour)
		}
	}
	return c
}

// commandBody is the JSON body of a command: the fields of Command, with
// its times as text so that a bad one is refused with its field's name
// (the outer fields shadow the embedded ones).
type commandBody struct {
	Command
	Since      string           `json:"since"`
	Until      string           `json:"until"`
	RetrieveAt string           `json:"retrieveAt"`
	Expiry     string           `json:"expiry"`
	Entries    []localListEntry `json:"entries"`
}

// localListEntry is a LocalListEntry in a command body, its time as text.
type localListEntry struct {
	LocalListEntry
	Expiry string `json:"expiry"`
}

// ParseCommand decodes the JSON body of a command of kind (an empty body
// is {}) and validates it: the one decoder of commands from outside, used
// by the local API and the cloud alike. Unknown fields are refused. The
// error wraps ErrUnknownCommand for an unknown kind (its message lists the
// kinds), otherwise ErrInvalidCommand; after the sentinel's text, the
// message names the field.
func ParseCommand(kind string, body []byte) (Command, error) {
	if !slices.Contains(CommandKinds, CommandKind(kind)) {
		names := make([]string, len(CommandKinds))
		for i, k := range CommandKinds {
			names[i] = string(k)
		}
		return Command{}, fmt.Errorf("%w: %s is not one of %s", ErrUnknownCommand, jsonin.Quote(kind), strings.Join(names, ", "))
	}
	var b commandBody
	if len(bytes.TrimSpace(body)) > 0 {
		if err := jsonin.DecodeObject(body, &b); err != nil {
			return Command{}, fmt.Errorf("%w: %w", ErrInvalidCommand, err)
		}
	}
	cmd := b.Command
	cmd.Kind = CommandKind(kind)
	type timeField struct {
		field string
		text  string
		to    *time.Time
	}
	times := []timeField{{"since", b.Since, &cmd.Since}, {"until", b.Until, &cmd.Until}, {"retrieveAt", b.RetrieveAt, &cmd.RetrieveAt}, {"expiry", b.Expiry, &cmd.Expiry}}
	if b.Entries != nil {
		cmd.Entries = make([]LocalListEntry, len(b.Entries))
		for i, e := range b.Entries {
			cmd.Entries[i] = e.LocalListEntry
			times = append(times, timeField{fmt.Sprintf("entries[%d].expiry", i), e.Expiry, &cmd.Entries[i].Expiry})
		}
	}
	for _, t := range times {
		if t.text == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.text)
		if err != nil {
			return Command{}, fmt.Errorf("%w: %s: %s is not an RFC 3339 time", ErrInvalidCommand, t.field, jsonin.Quote(t.text))
		}
		*t.to = v
	}
	if err := cmd.Validate(); err != nil {
		return Command{}, err
	}
	return cmd, nil
}
