package charging

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestConfigKey(t *testing.T) {
	tests := []struct {
		v   VariableReport
		key string
	}{
		{VariableReport{Component: "OCPPCommCtrlr", Variable: "HeartbeatInterval"}, "OCPPCommCtrlr/HeartbeatInterval"},
		{VariableReport{Component: "OCPPCommCtrlr", Variable: "HeartbeatInterval", AttributeType: AttributeActual}, "OCPPCommCtrlr/HeartbeatInterval"},
		{VariableReport{Component: "EVSE", EVSEID: 1, Variable: "Power", AttributeType: AttributeMaxSet}, "EVSE@1/Power:MaxSet"},
		{VariableReport{Component: "Connector", EVSEID: 1, ConnectorID: 2, Variable: "ConnectorType"}, "Connector@1.2/ConnectorType"},
		{VariableReport{Component: "DCInputPhaseControl", ComponentInstance: "A", Variable: "Voltage", VariableInstance: "L1", AttributeType: AttributeTarget},
			"DCInputPhaseControl#A/Voltage#L1:Target"},
		{VariableReport{Component: "Vendor/X@1", ComponentInstance: "a#b", Variable: "k:v%", VariableInstance: "1.2"},
			"Vendor%2FX%401#a%23b/k%3Av%25#1.2"},
	}
	for _, tt := range tests {
		if got := ConfigKey(tt.v); got != tt.key {
			t.Errorf("ConfigKey(%+v) = %q, want %q", tt.v, got, tt.key)
		}
		back, err := ParseConfigKey(tt.key)
		if err != nil {
			t.Errorf("ParseConfigKey(%q): %v", tt.key, err)
			continue
		}
		want := tt.v
		if want.AttributeType == AttributeActual {
			want.AttributeType = ""
		}
		if !reflect.DeepEqual(back, want) {
			t.Errorf("ParseConfigKey(%q) = %+v, want %+v", tt.key, back, want)
		}
	}
	for _, bad := range []string{"HeartbeatInterval", "/V", "C/", "C@0/V", "C@01/V", "C@1./V", "C@x/V", "C/V:Bogus",
		"C/V/W", "C#/V", "C/V#", "C%2/V", "C%41/V", "C/V@1", "C:Target/V"} {
		if _, err := ParseConfigKey(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseConfigKey(%q): %v, want ErrInvalid", bad, err)
		}
	}
}

func FuzzParseConfigKey(f *testing.F) {
	for _, s := range []string{"OCPPCommCtrlr/HeartbeatInterval", "Connector@1.2/ConnectorType:MaxSet", "A%2F#b/c#d", "%", "/@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		v, err := ParseConfigKey(key)
		if err != nil {
			return
		}
		if got := ConfigKey(v); got != key && got+":"+AttributeActual != key {
			t.Fatalf("ParseConfigKey(%q) = %+v, which writes back as %q", key, v, got)
		}
	})
}

func TestRecordVariables(t *testing.T) {
	var log changeLog
	e := newEnv(t, Config{OnChange: log.hook})
	if err := e.svc.RecordConfiguration(ctx, "CP1", map[string]ConfigValue{"Legacy": {Value: "1"}}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Variables(ctx, "CP9"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown charger: %v", err)
	}
	min0 := 0.0
	base := []VariableReport{
		{Component: "OCPPCommCtrlr", Variable: "HeartbeatInterval", Value: "300", Mutability: MutabilityReadWrite, Persistent: true,
			Unit: "s", DataType: "integer", MinLimit: &min0},
		{Component: "ChargingStation", Variable: "Model", Value: "Wallbox", Mutability: MutabilityReadOnly, Constant: true},
		{Component: "EVSE", EVSEID: 1, Variable: "Power", AttributeType: AttributeMaxSet, Value: "22000", Mutability: MutabilityReadOnly},
		{Component: "SecurityCtrlr", Variable: "BasicAuthPassword", Mutability: MutabilityWriteOnly},
	}
	log.take()
	steps := []struct {
		name    string
		vars    []VariableReport
		replace bool
		want    map[string]ConfigValue
		changed bool
	}{
		{"base report", base, true, map[string]ConfigValue{
			"OCPPCommCtrlr/HeartbeatInterval": {Value: "300"},
			"ChargingStation/Model":           {Value: "Wallbox", Readonly: true},
			"EVSE@1/Power:MaxSet":             {Value: "22000", Readonly: true},
			"SecurityCtrlr/BasicAuthPassword": {},
		}, true},
		{"same report again", base, true, nil, false},
		{"GetVariables result keeps the metadata", []VariableReport{{Component: "OCPPCommCtrlr", Variable: "HeartbeatInterval", Value: "60"}}, false,
			map[string]ConfigValue{
				"OCPPCommCtrlr/HeartbeatInterval": {Value: "60"},
				"ChargingStation/Model":           {Value: "Wallbox", Readonly: true},
				"EVSE@1/Power:MaxSet":             {Value: "22000", Readonly: true},
				"SecurityCtrlr/BasicAuthPassword": {},
			}, true},
		{"SetVariables of an unreported variable", []VariableReport{{Component: "TxCtrlr", Variable: "EVConnectionTimeOut", Value: "90",
			AttributeType: AttributeActual}}, false, nil, true},
		{"new full report replaces", base[1:2], true, map[string]ConfigValue{
			"ChargingStation/Model": {Value: "Wallbox", Readonly: true},
		}, true},
	}
	for _, st := range steps {
		if err := e.svc.RecordVariables(ctx, "CP1", st.vars, st.replace); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		cs := log.take()
		if got := len(cs) == 1 && cs[0].Kind == ChangeConfiguration; got != st.changed || (!st.changed && len(cs) != 0) {
			t.Fatalf("%s: changes %v", st.name, kinds(cs))
		}
		c, err := e.svc.Charger(ctx, "CP1")
		if err != nil {
			t.Fatal(err)
		}
		if st.changed && !reflect.DeepEqual(cs[0].Record.(Charger).Configuration, c.Configuration) {
			t.Fatalf("%s: change record %+v, charger %+v", st.name, cs[0].Record, c.Configuration)
		}
		if st.want == nil {
			continue
		}
		want := map[string]ConfigValue{"Legacy": {Value: "1"}} // the 1.6 keys stay
		for k, v := range st.want {
			want[k] = v
		}
		if !reflect.DeepEqual(c.Configuration, want) {
			t.Fatalf("%s: configuration %+v\nwant %+v", st.name, c.Configuration, want)
		}
	}

	// The full model, in key order, survives a restart.
	if err := e.svc.RecordVariables(ctx, "CP1", base, false); err != nil {
		t.Fatal(err)
	}
	e.reopen(t)
	vars, err := e.svc.Variables(ctx, "CP1")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, v := range vars {
		keys = append(keys, ConfigKey(v))
	}
	wantKeys := []string{"ChargingStation/Model", "EVSE@1/Power:MaxSet", "OCPPCommCtrlr/HeartbeatInterval",
		"SecurityCtrlr/BasicAuthPassword"}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Fatalf("keys %v", keys)
	}
	if hb := vars[2]; hb.Unit != "s" || hb.MinLimit == nil || *hb.MinLimit != 0 || !hb.Persistent || hb.Value != "300" {
		t.Fatalf("heartbeat variable %+v", hb)
	}
	// Other chargers' models are apart.
	if err := e.svc.RecordVariables(ctx, "CP10", base[:1], true); err != nil {
		t.Fatal(err)
	}
	if vars, _ := e.svc.Variables(ctx, "CP1"); len(vars) != 4 {
		t.Fatalf("CP10's replace touched CP1: %d variables", len(vars))
	}
	if err := e.svc.RecordConfiguration(ctx, "CP1", map[string]ConfigValue{"Legacy": {Value: "2"}}, true); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.svc.Charger(ctx, "CP1"); len(c.Configuration) != 5 || c.Configuration["Legacy"].Value != "2" {
		t.Fatalf("a 1.6 replace dropped the device model: %+v", c.Configuration)
	}
}

func TestRecordVariablesInvalid(t *testing.T) {
	e := newEnv(t, Config{})
	nan := 0.0
	nan /= nan
	tests := []struct {
		field string
		v     VariableReport
	}{
		{"variables[0].component", VariableReport{Variable: "V"}},
		{"variables[0].variable", VariableReport{Component: "C"}},
		{"variables[0].attributeType", VariableReport{Component: "C", Variable: "V", AttributeType: "Maybe"}},
		{"variables[0].mutability", VariableReport{Component: "C", Variable: "V", Mutability: "Sometimes"}},
		{"variables[0].connectorId", VariableReport{Component: "C", Variable: "V", ConnectorID: 1}},
		{"variables[0].evseId", VariableReport{Component: "C", Variable: "V", EVSEID: -1}},
		{"variables[0].value", VariableReport{Component: "C", Variable: "V", Value: strings.Repeat("v", 10001)}},
		{"variables[0].component", VariableReport{Component: strings.Repeat("c", 201), Variable: "V"}},
		{"variables[0].minLimit", VariableReport{Component: "C", Variable: "V", MinLimit: &nan}},
	}
	for _, tt := range tests {
		err := e.svc.RecordVariables(ctx, "CP1", []VariableReport{tt.v}, false)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: %v", tt.field, err)
		}
	}
	if _, err := e.svc.Charger(ctx, "CP1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("invalid variables stored: %v", err)
	}
}
