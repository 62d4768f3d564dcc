package v21

import (
	"errors"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/internal/schematest"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

// TestMutants: every constraint of every payload is enforced. Each variant
// of a payload's example that breaks exactly one schema constraint
// (schematest.Mutants) is rejected by the official schema and by strict
// Decode, with the error code the OCPP-J rules ask for and the offending
// path in the description; lenient mode accepts exactly the over-long
// strings and unknown properties, with one warning. The fuzz target rarely
// reaches a value just past a bound; this test reaches every one.
func TestMutants(t *testing.T) {
	schemas := officialSchemas(t)
	for _, a := range Actions {
		for _, response := range []bool{false, true} {
			if response && a.Response == nil {
				continue
			}
			kind := example{action: a.Name, response: response}
			for _, m := range schematest.Mutants(t, version, a.Name, response) {
				where := kind.name() + " " + m.Where + " " + m.What
				if schemaValid(schemas[kind.name()], m.Data) == nil {
					t.Errorf("%s: the schema accepts the mutant %s", where, m.Data)
					continue
				}
				_, _, err := kind.decode(m.Data, false)
				var rpc *ocppj.Error
				if !errors.As(err, &rpc) || rpc.Code != m.Code || !strings.Contains(rpc.Description, m.Where) {
					t.Errorf("%s: Decode(%s) = %v, want %s at %q", where, m.Data, err, m.Code, m.Where)
					continue
				}
				_, warnings, err := kind.decode(m.Data, true)
				quirk := m.What == "maxLength" || m.What == "additionalProperties"
				if quirk && (err != nil || len(warnings) != 1) {
					t.Errorf("%s: lenient Decode = %v, %q; want one warning", where, err, warnings)
				} else if !quirk && err == nil {
					t.Errorf("%s: lenient Decode accepted %s", where, m.Data)
				}
			}
		}
	}
}
