package syncproto

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits of texts, in bytes.
const (
	maxText = 255
	maxKey  = 128
	maxMap  = 4096 // entries of a settings or configuration map
	maxList = 100000
)

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// checkText checks an optional text: at most max bytes of UTF-8 without
// control characters.
func checkText(field, s string, max int) error {
	switch {
	case len(s) > max:
		return invalid(field, "longer than %d bytes", max)
	case !utf8.ValidString(s):
		return invalid(field, "not UTF-8")
	case strings.ContainsFunc(s, isControl):
		return invalid(field, "contains control characters")
	}
	return nil
}

func requireText(field, s string) error {
	if s == "" {
		return invalid(field, "required")
	}
	return checkText(field, s, maxText)
}

// validateHeader checks the header; keyed says the kind needs an
// idempotency key. The version was checked by Decode already; messages
// built locally get it checked here too.
func (h *Header) validateHeader(keyed bool) error {
	if _, _, err := parseVersion(h.Version); err != nil {
		return err
	}
	if err := ValidateSiteID(h.Site); err != nil {
		return fmt.Errorf("site: %w", err)
	}
	if h.Time.IsZero() {
		return invalid("ts", "required")
	}
	if keyed {
		if h.Key == "" {
			return invalid("key", "required")
		}
		if err := checkText("key", h.Key, maxKey); err != nil {
			return err
		}
	}
	return nil
}

func (m *Birth) Validate() error {
	if err := m.validateHeader(false); err != nil {
		return err
	}
	if err := requireText("boot", m.Boot); err != nil {
		return err
	}
	switch {
	case m.DesiredVersion < 0:
		return invalid("desiredVersion", "negative")
	case m.AuthListVersion < 0:
		return invalid("authListVersion", "negative")
	case m.Backlog < 0:
		return invalid("backlog", "negative")
	}
	return checkText("software", m.Software, maxText)
}

func (m *Death) Validate() error {
	if err := m.validateHeader(false); err != nil {
		return err
	}
	return requireText("boot", m.Boot)
}

func (m *ChargerStatus) Validate() error {
	if err := m.validateHeader(true); err != nil {
		return err
	}
	if err := requireText("charger", m.Charger); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"protocol", m.Protocol}, {"vendor", m.Vendor}, {"model", m.Model}, {"serial", m.Serial}, {"firmware", m.Firmware},
	} {
		if err := checkText(f.name, f.v, maxText); err != nil {
			return err
		}
	}
	if len(m.Connectors) > MaxColumns {
		return invalid("connectors", "more than %d", MaxColumns)
	}
	for i, c := range m.Connectors {
		field := fmt.Sprintf("connectors[%d]", i)
		if c.ID < 0 {
			return invalid(field+".id", "negative")
		}
		if err := requireText(field+".status", c.Status); err != nil {
			return err
		}
		if err := checkText(field+".errorCode", c.ErrorCode, maxText); err != nil {
			return err
		}
		if err := checkText(field+".info", c.Info, maxText); err != nil {
			return err
		}
	}
	return nil
}

func (m *Transaction) Validate() error {
	if err := m.validateHeader(true); err != nil {
		return err
	}
	switch m.Event {
	case TxStarted, TxUpdated, TxStopped:
	default:
		return invalid("event", "%q is not started, updated or stopped", m.Event)
	}
	switch {
	case m.Rev < 1:
		return invalid("rev", "want 1 or more, got %d", m.Rev)
	case m.ID < 1:
		return invalid("id", "want 1 or more, got %d", m.ID)
	case m.Connector < 0:
		return invalid("connector", "negative")
	case m.EVSEConnector < 0:
		return invalid("evseConnector", "negative")
	case m.Event == TxStopped && m.Stop.IsZero():
		return invalid("stop", "required when the event is stopped")
	}
	if err := requireText("charger", m.Charger); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"chargerTxId", m.ChargerTxID}, {"protocol", m.Protocol}, {"idTag", m.IDTag},
		{"stopIdTag", m.StopIDTag}, {"stopReason", m.StopReason},
	} {
		if err := checkText(f.name, f.v, maxText); err != nil {
			return err
		}
	}
	return nil
}

func (m *Event) Validate() error {
	if err := m.validateHeader(true); err != nil {
		return err
	}
	if err := requireText("event", m.Event); err != nil {
		return err
	}
	if m.At.IsZero() {
		return invalid("at", "required")
	}
	if err := checkText("charger", m.Charger, maxText); err != nil {
		return err
	}
	if err := checkText("code", m.Code, maxText); err != nil {
		return err
	}
	return checkMap("detail", m.Detail)
}

func (m *Reported) Validate() error {
	if err := m.validateHeader(true); err != nil {
		return err
	}
	if m.DesiredVersion < 0 {
		return invalid("desiredVersion", "negative")
	}
	if err := checkText("error", m.Error, 4*maxText); err != nil {
		return err
	}
	return checkMap("settings", m.Settings)
}

func (m *ChargerConfig) Validate() error {
	if err := m.validateHeader(true); err != nil {
		return err
	}
	if err := requireText("charger", m.Charger); err != nil {
		return err
	}
	if len(m.Configuration) > maxMap {
		return invalid("configuration", "more than %d keys", maxMap)
	}
	for k, v := range m.Configuration {
		if err := requireText("configuration key", k); err != nil {
			return err
		}
		if err := checkText("configuration["+k+"]", v.Value, 10000); err != nil {
			return err
		}
	}
	return nil
}

func (m *CommandResult) Validate() error {
	if err := m.validateHeader(true); err != nil {
		return err
	}
	if err := requireText("commandId", m.CommandID); err != nil {
		return err
	}
	switch m.Status {
	case CommandAccepted, CommandRejected, CommandFailed, CommandExpired:
	default:
		return invalid("status", "%q is not accepted, rejected, failed or expired", m.Status)
	}
	if err := checkText("action", m.Action, maxText); err != nil {
		return err
	}
	return checkText("error", m.Error, 4*maxText)
}

func (m *Desired) Validate() error {
	if err := m.validateHeader(false); err != nil {
		return err
	}
	if m.Version < 1 {
		return invalid("version", "want 1 or more, got %d", m.Version)
	}
	return checkMap("settings", m.Settings)
}

func (m *AuthList) Validate() error {
	if err := m.validateHeader(false); err != nil {
		return err
	}
	switch {
	case m.Version < 1:
		return invalid("version", "want 1 or more, got %d", m.Version)
	case m.Full && (m.BaseVersion != 0 || len(m.Removed) > 0):
		return invalid("baseVersion", "a full list has no base version and removes nothing")
	case !m.Full && (m.BaseVersion < 1 || m.BaseVersion >= m.Version):
		return invalid("baseVersion", "a delta needs a base version from 1 to version-1, got %d", m.BaseVersion)
	case len(m.Entries)+len(m.Removed) > maxList:
		return invalid("entries", "more than %d entries and removals", maxList)
	}
	for i, e := range m.Entries {
		field := fmt.Sprintf("entries[%d]", i)
		if err := requireText(field+".id", e.ID); err != nil {
			return err
		}
		switch e.Status {
		case "Accepted", "Blocked", "Expired", "Invalid":
		default:
			return invalid(field+".status", "%q is not Accepted, Blocked, Expired or Invalid", e.Status)
		}
		if err := checkText(field+".parent", e.Parent, maxText); err != nil {
			return err
		}
	}
	for i, id := range m.Removed {
		if err := requireText(fmt.Sprintf("removed[%d]", i), id); err != nil {
			return err
		}
	}
	return nil
}

func (m *Command) Validate() error {
	if err := m.validateHeader(false); err != nil {
		return err
	}
	if err := requireText("id", m.ID); err != nil {
		return err
	}
	if err := requireText("charger", m.Charger); err != nil {
		return err
	}
	if err := requireText("command", m.Command); err != nil {
		return err
	}
	if m.Deadline.IsZero() {
		return invalid("deadline", "required")
	}
	if len(m.Args) > 0 && (m.Args[0] != '{' || len(m.Args) > 64<<10) {
		return invalid("args", "want a JSON object of at most 64 KiB")
	}
	return nil
}

func checkMap(field string, m map[string]string) error {
	if len(m) > maxMap {
		return invalid(field, "more than %d entries", maxMap)
	}
	for k, v := range m {
		if err := requireText(field+" key", k); err != nil {
			return err
		}
		if err := checkText(field+"["+k+"]", v, 10000); err != nil {
			return err
		}
	}
	return nil
}
