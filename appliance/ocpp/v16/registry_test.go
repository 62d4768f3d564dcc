package v16

import (
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/internal/registrytest"
)

// suite runs the registry checks 1.6 shares with 2.x (see package
// registrytest); the others need examples synthesised from the schemas,
// which 1.6's uri formats and quirks do not allow, so 1.6 has its own
// (conformance_test.go, fuzz_test.go). 28 is the core profile's action count.
var suite = registrytest.Suite{Registry: actions, ActionCount: 28, Malformed: malformed}

func TestZeroValuesEncodeOmitOptional(t *testing.T) { suite.TestZeroValuesEncodeOmitOptional(t) }
func TestMalformed(t *testing.T)                    { suite.TestMalformed(t) }
