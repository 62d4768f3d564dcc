package v16

import (
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
)

// officialSchemas returns the official schema of every action's request
// ("Authorize") and response ("AuthorizeResponse"), or skips the test when
// the schema folder is absent.
func officialSchemas(t testing.TB) map[string]*jsonschema.Schema {
	t.Helper()
	schemas := map[string]*jsonschema.Schema{}
	for _, a := range Actions {
		schemas[a.Name] = schematest.Schema(t, ocppj.V16, a.Name, false)
		schemas[a.Name+"Response"] = schematest.Schema(t, ocppj.V16, a.Name, true)
	}
	return schemas
}

// schemaValid is the official schema's verdict on data.
func schemaValid(s *jsonschema.Schema, data []byte) error { return schematest.Against(s, data) }
