package registrytest

import (
	"errors"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
)

// TestMutants: every constraint of every payload is enforced. Each variant
// of a payload's example that breaks exactly one schema constraint
// (schematest.Mutants) is rejected by the official schema and by strict
// Decode, with the error code the OCPP-J rules ask for and the offending
// path in the description; lenient mode accepts exactly the over-long
// strings and unknown properties, with one warning. The fuzz target rarely
// reaches a value just past a bound; this test reaches every one.
func (s Suite) TestMutants(t *testing.T) {
	schemas := s.schemas(t)
	for _, k := range s.kinds() {
		for _, m := range schematest.Mutants(t, s.Registry.Version(), k.action, k.response) {
			where := k.name() + " " + m.Where + " " + m.What
			if schemaValid(schemas[k.name()], m.Data) == nil {
				t.Errorf("%s: the schema accepts the mutant %s", where, m.Data)
				continue
			}
			_, _, err := s.decode(k, m.Data, false)
			var rpc *ocppj.Error
			if !errors.As(err, &rpc) || rpc.Code != m.Code || !strings.Contains(rpc.Description, m.Where) {
				t.Errorf("%s: Decode(%s) = %v, want %s at %q", where, m.Data, err, m.Code, m.Where)
				continue
			}
			_, warnings, err := s.decode(k, m.Data, true)
			quirk := m.What == "maxLength" || m.What == "additionalProperties"
			if quirk && (err != nil || len(warnings) != 1) {
				t.Errorf("%s: lenient Decode = %v, %q; want one warning", where, err, warnings)
			} else if !quirk && err == nil {
				t.Errorf("%s: lenient Decode accepted %s", where, m.Data)
			}
		}
	}
}
