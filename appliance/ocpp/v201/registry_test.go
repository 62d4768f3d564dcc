package v201

import (
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/internal/registrytest"
)

// suite runs the checks every generated registry shares (see package
// registrytest); 64 is the number of actions in the schema folder.
var suite = registrytest.Suite{Registry: actions, ActionCount: 64, Malformed: registrytest.V2Malformed}

func TestRegistry(t *testing.T)                     { suite.TestRegistry(t) }
func TestConformance(t *testing.T)                  { suite.TestConformance(t) }
func TestZeroValuesEncodeOmitOptional(t *testing.T) { suite.TestZeroValuesEncodeOmitOptional(t) }
func TestUnknownFields(t *testing.T)                { suite.TestUnknownFields(t) }
func TestOverlongStrings(t *testing.T)              { suite.TestOverlongStrings(t) }
func TestSchemaFolderMatchesGenerator(t *testing.T) { suite.TestSchemaFolderMatchesGenerator(t) }
func TestMalformed(t *testing.T)                    { suite.TestMalformed(t) }
func TestMutants(t *testing.T)                      { suite.TestMutants(t) }
func FuzzDecodeV201(f *testing.F)                   { suite.FuzzDecode(f) }
