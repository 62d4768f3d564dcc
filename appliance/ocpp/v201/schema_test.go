package v201

import (
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/constellation-ev/constellation/appliance/internal/schematest"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

// version is the package's OCPP version; actionCount the number of actions
// in its schema folder.
const (
	version     = ocppj.V201
	actionCount = 64
)

// officialSchemas returns the official schema of every action's request
// ("Authorize") and response ("AuthorizeResponse"), or skips the test when
// the schema folder is absent.
func officialSchemas(t testing.TB) map[string]*jsonschema.Schema {
	t.Helper()
	schemas := map[string]*jsonschema.Schema{}
	for _, a := range Actions {
		schemas[a.Name] = schematest.Schema(t, version, a.Name, false)
		if a.Response != nil {
			schemas[a.Name+"Response"] = schematest.Schema(t, version, a.Name, true)
		}
	}
	return schemas
}

// schemaValid is the official schema's verdict on data.
func schemaValid(s *jsonschema.Schema, data []byte) error { return schematest.Against(s, data) }

// example is a payload synthesised from the official schema.
type example struct {
	action   string
	response bool
	full     bool // every property, or only the required ones
	data     []byte
}

// name is the schema's name for the payload ("Authorize",
// "AuthorizeResponse"), which officialSchemas uses as key.
func (e example) name() string {
	if e.response {
		return e.action + "Response"
	}
	return e.action
}

func (e example) String() string {
	if e.full {
		return e.name() + "/full"
	}
	return e.name() + "/minimal"
}

// decode decodes e's kind of payload.
func (e example) decode(data []byte, lenient bool) (any, []string, error) {
	if e.response {
		return DecodeResponse(e.action, data, lenient)
	}
	return DecodeRequest(e.action, data, lenient)
}

// examples returns a minimal and a full example of every request and
// response (see schematest.Example).
func examples(t testing.TB) []example {
	t.Helper()
	var out []example
	for _, a := range Actions {
		for _, response := range []bool{false, true} {
			if response && a.Response == nil {
				continue
			}
			for _, full := range []bool{false, true} {
				out = append(out, example{a.Name, response, full, schematest.Example(t, version, a.Name, response, full)})
			}
		}
	}
	return out
}
