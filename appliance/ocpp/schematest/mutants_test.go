package schematest

import (
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

// TestMutants: every mutant breaks the schema, and the documented kinds of
// mutation are there.
func TestMutants(t *testing.T) {
	for _, tc := range []struct {
		v        ocppj.Version
		action   string
		response bool
	}{
		{ocppj.V16, "MeterValues", false},
		{ocppj.V201, "BootNotification", false},
		{ocppj.V21, "SetChargingProfile", false},
		{ocppj.V21, "NotifyPeriodicEventStream", false},
	} {
		mutants := Mutants(t, tc.v, tc.action, tc.response)
		kinds := map[string]bool{}
		for _, m := range mutants {
			kinds[m.What] = true
			if Check(t, tc.v, tc.action, tc.response, m.Data) == nil {
				t.Errorf("%s %s: mutant %s %s is schema-valid: %s", tc.v, tc.action, m.Where, m.What, m.Data)
			}
		}
		if !kinds["type"] || !kinds["required"] || !kinds["additionalProperties"] {
			t.Errorf("%s %s: %d mutants of kinds %v", tc.v, tc.action, len(mutants), kinds)
		}
	}
	want := map[string]string{
		"chargingStation.model maxLength":               `"model":"xxxxxxxxxxxxxxxxxxxxx"`,
		"reason enum":                                   `"reason":"NotInTheEnum"`,
		"chargingStation required":                      `"chargingStation":{`,
		"chargingStation.modem type":                    `"modem":null`,
		" additionalProperties":                         `"unknownMutantProperty":1`,
		"chargingStation.customData.vendorId maxLength": `"vendorId":"` + strings.Repeat("x", 256) + `"`,
	}
	for _, m := range Mutants(t, ocppj.V201, "BootNotification", false) {
		if frag, ok := want[m.Where+" "+m.What]; ok && strings.Contains(string(m.Data), frag) {
			delete(want, m.Where+" "+m.What)
		}
	}
	for k := range want {
		t.Errorf("no mutant %q", k)
	}
}
