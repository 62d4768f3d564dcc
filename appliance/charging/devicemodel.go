package charging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.etcd.io/bbolt"
)

// The device model of an OCPP 2.x charger (components, variables and their
// attributes) is stored per attribute and shown in Charger.Configuration,
// the configuration view that OCPP 1.6 keys fill too, under a key that
// names the attribute:
//
//	Component[#componentInstance][@evse[.connector]]/Variable[#variableInstance][:AttributeType]
//
// for example "OCPPCommCtrlr/HeartbeatInterval", "EVSE@1/Power",
// "Connector@1.2/ConnectorType", "TxCtrlr/EVConnectionTimeOut:MaxSet".
// The attribute type is left out for Actual. In names and instances the
// characters % / # @ : are written %25 %2F %23 %40 %3A, so every attribute
// has one key and [ParseConfigKey] reads it back. OCPP 1.6 keys never need
// this form; should one collide with a device model key, the device model
// entry is shown.

// keyEscaper escapes the characters ConfigKey reserves.
var keyEscaper = strings.NewReplacer("%", "%25", "/", "%2F", "#", "%23", "@", "%40", ":", "%3A")

// ConfigKey returns the configuration view key of v's attribute (see the
// scheme above). Only the identifying fields of v are used.
func ConfigKey(v VariableReport) string {
	var b strings.Builder
	b.WriteString(keyEscaper.Replace(v.Component))
	if v.ComponentInstance != "" {
		b.WriteString("#" + keyEscaper.Replace(v.ComponentInstance))
	}
	if v.EVSEID > 0 {
		b.WriteString("@" + strconv.Itoa(v.EVSEID))
		if v.ConnectorID > 0 {
			b.WriteString("." + strconv.Itoa(v.ConnectorID))
		}
	}
	b.WriteString("/" + keyEscaper.Replace(v.Variable))
	if v.VariableInstance != "" {
		b.WriteString("#" + keyEscaper.Replace(v.VariableInstance))
	}
	if t := v.AttributeType; t != "" && t != AttributeActual {
		b.WriteString(":" + t)
	}
	return b.String()
}

// ParseConfigKey reads a key written by [ConfigKey] into the identifying
// fields of a VariableReport (AttributeType empty for Actual). It fails with
// ErrInvalid for anything else, 1.6 keys included.
func ParseConfigKey(key string) (VariableReport, error) {
	bad := func(format string, args ...any) (VariableReport, error) {
		return VariableReport{}, invalid("configuration key", "%q: %s", key, fmt.Sprintf(format, args...))
	}
	compPart, varPart, ok := strings.Cut(key, "/")
	if !ok {
		return bad("no / between component and variable")
	}
	var v VariableReport
	compPart, evse, hasEVSE := strings.Cut(compPart, "@")
	if hasEVSE {
		e, c, hasConn := strings.Cut(evse, ".")
		var err error
		if v.EVSEID, err = keyNumber(e); err != nil {
			return bad("evse: %v", err)
		}
		if hasConn {
			if v.ConnectorID, err = keyNumber(c); err != nil {
				return bad("connector: %v", err)
			}
		}
	}
	varPart, attr, hasAttr := strings.Cut(varPart, ":")
	if hasAttr {
		switch attr {
		case AttributeTarget, AttributeMinSet, AttributeMaxSet:
			v.AttributeType = attr
		case AttributeActual:
		default:
			return bad("unknown attribute type %q", attr)
		}
	}
	var err error
	if v.Component, v.ComponentInstance, err = keyName(compPart); err != nil {
		return bad("component: %v", err)
	}
	if v.Variable, v.VariableInstance, err = keyName(varPart); err != nil {
		return bad("variable: %v", err)
	}
	return v, nil
}

// keyNumber reads an EVSE or connector id of a key (1 or more, no sign or
// leading zero, so each id has one spelling).
func keyNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > math.MaxInt32 || strconv.Itoa(n) != s {
		return 0, fmt.Errorf("%q is not an id", s)
	}
	return n, nil
}

// keyName reads "name[#instance]" of a key, unescaping both.
func keyName(s string) (name, instance string, err error) {
	s, inst, hasInst := strings.Cut(s, "#")
	if name, err = keyUnescape(s); err == nil && name == "" {
		err = fmt.Errorf("empty name")
	}
	if err == nil && hasInst {
		if instance, err = keyUnescape(inst); err == nil && instance == "" {
			err = fmt.Errorf("empty instance")
		}
	}
	return name, instance, err
}

// keyUnescape undoes keyEscaper, accepting only its escapes.
func keyUnescape(s string) (string, error) {
	if i := strings.IndexAny(s, "/#@:"); i >= 0 {
		return "", fmt.Errorf("unescaped %q", s[i])
	}
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+3 > len(s) {
			return "", fmt.Errorf("truncated escape")
		}
		switch s[i+1 : i+3] {
		case "25":
			b.WriteByte('%')
		case "2F":
			b.WriteByte('/')
		case "23":
			b.WriteByte('#')
		case "40":
			b.WriteByte('@')
		case "3A":
			b.WriteByte(':')
		default:
			return "", fmt.Errorf("unknown escape %q", s[i:i+3])
		}
		i += 2
	}
	return b.String(), nil
}

// RecordVariables records device model attributes a charger reported:
// NotifyReport parts (reports with Mutability: each replaces the stored
// attribute) and GetVariables or SetVariables results (reports without
// Mutability: the value is updated, what a NotifyReport said is kept).
// replace drops every stored attribute of the charger that is not in vars
// first (the first part of a full report); otherwise vars are merged in.
// An identical re-report changes nothing. The change is a
// ChangeConfiguration whose Record is the Charger with its configuration
// view, as for [Service.RecordConfiguration].
func (s *Service) RecordVariables(ctx context.Context, id ChargerID, vars []VariableReport, replace bool) error {
	if err := validateChargerID(id); err != nil {
		return err
	}
	for i, v := range vars {
		if err := validateVariable(fmt.Sprintf("variables[%d]", i), v); err != nil {
			return err
		}
	}
	return s.apply(ctx, ChangeConfiguration, id, func(tx *bbolt.Tx) (any, error) {
		b := tx.Bucket(bkDeviceModel)
		prefix := deviceModelPrefix(id)
		changed := false
		if replace {
			keep := make(map[string]bool, len(vars))
			for _, v := range vars {
				keep[ConfigKey(v)] = true
			}
			var drop [][]byte
			c := b.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				if !keep[string(k[len(prefix):])] {
					drop = append(drop, bytes.Clone(k))
				}
			}
			for _, k := range drop {
				if err := b.Delete(k); err != nil {
					return nil, err
				}
			}
			changed = len(drop) > 0
		}
		for _, v := range vars {
			if v.AttributeType == AttributeActual {
				v.AttributeType = ""
			}
			key := append(bytes.Clone(prefix), ConfigKey(v)...)
			old := b.Get(key)
			if v.Mutability == "" && old != nil {
				var stored VariableReport
				if err := json.Unmarshal(old, &stored); err != nil {
					return nil, fmt.Errorf("variable %s: %w", key[len(prefix):], err)
				}
				stored.Value = v.Value
				v = stored
			}
			enc, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("encode variable: %w", err)
			}
			if bytes.Equal(enc, old) {
				continue
			}
			if err := b.Put(key, enc); err != nil {
				return nil, err
			}
			changed = true
		}
		if !changed {
			return nil, nil
		}
		if err := ensureCharger(tx, id); err != nil {
			return nil, err
		}
		c, err := getCharger(tx, id)
		if err != nil {
			return nil, err
		}
		return c, addDeviceModel(tx, &c)
	})
}

// Variables returns the device model stored for charger id, ordered by
// [ConfigKey]; ErrNotFound for a charger the appliance does not know.
func (s *Service) Variables(_ context.Context, id ChargerID) ([]VariableReport, error) {
	var out []VariableReport
	err := s.st.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bkChargers).Get([]byte(id)) == nil {
			return ErrNotFound
		}
		return eachVariable(tx, id, func(_ string, v VariableReport) {
			out = append(out, v)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("charging: variables of %s: %w", id, err)
	}
	return out, nil
}

func deviceModelPrefix(id ChargerID) []byte {
	return append([]byte(id), 0)
}

func eachVariable(tx *bbolt.Tx, id ChargerID, fn func(key string, v VariableReport)) error {
	prefix := deviceModelPrefix(id)
	c := tx.Bucket(bkDeviceModel).Cursor()
	for k, val := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, val = c.Next() {
		var v VariableReport
		if err := json.Unmarshal(val, &v); err != nil {
			return fmt.Errorf("variable %s: %w", k[len(prefix):], err)
		}
		fn(string(k[len(prefix):]), v)
	}
	return nil
}

// addDeviceModel adds the charger's device model to its configuration view.
func addDeviceModel(tx *bbolt.Tx, c *Charger) error {
	return eachVariable(tx, c.ID, func(key string, v VariableReport) {
		if c.Configuration == nil {
			c.Configuration = make(map[string]ConfigValue)
		}
		c.Configuration[key] = ConfigValue{Value: v.Value, Readonly: v.Mutability == MutabilityReadOnly}
	})
}

// Limits of a VariableReport's texts, in bytes: what the OCPP 2.x schemas
// allow in characters (names and instances 50, values 2500), each character
// up to utf8.UTFMax bytes, so that nothing a schema-valid report carries is
// refused.
const (
	maxVariableName  = 50 * utf8.UTFMax
	maxVariableValue = 2500 * utf8.UTFMax
)

func validateVariable(field string, v VariableReport) error {
	for _, f := range [...]struct {
		name, v  string
		required bool
	}{
		{"component", v.Component, true}, {"componentInstance", v.ComponentInstance, false},
		{"variable", v.Variable, true}, {"variableInstance", v.VariableInstance, false},
	} {
		if err := validateText(field+"."+f.name, f.v, maxVariableName, f.required); err != nil {
			return err
		}
	}
	if err := validateConnector(field+".evseId", v.EVSEID, 0); err != nil {
		return err
	}
	if err := validateEVSEConnector(field+".connectorId", v.EVSEID, v.ConnectorID); err != nil {
		return err
	}
	switch v.AttributeType {
	case "", AttributeActual, AttributeTarget, AttributeMinSet, AttributeMaxSet:
	default:
		return invalid(field+".attributeType", "unknown %q", v.AttributeType)
	}
	switch v.Mutability {
	case "", MutabilityReadOnly, MutabilityWriteOnly, MutabilityReadWrite:
	default:
		return invalid(field+".mutability", "unknown %q", v.Mutability)
	}
	if err := validateText(field+".value", v.Value, maxVariableValue, false); err != nil {
		return err
	}
	for _, f := range [...]struct{ name, v string }{{"unit", v.Unit}, {"dataType", v.DataType}} {
		if err := validateText(field+"."+f.name, f.v, 64, false); err != nil {
			return err
		}
	}
	if err := validateText(field+".valuesList", v.ValuesList, 4096, false); err != nil {
		return err
	}
	for _, f := range [...]struct {
		name string
		v    *float64
	}{{"minLimit", v.MinLimit}, {"maxLimit", v.MaxLimit}} {
		if f.v != nil && (math.IsNaN(*f.v) || math.IsInf(*f.v, 0)) {
			return invalid(field+"."+f.name, "not a finite number")
		}
	}
	return nil
}
