// Package registrytest is the test suite the OCPP message registries
// share: a [Suite] checks a version's registry against the official schemas
// (its action list, synthesised examples, malformed payloads, every single
// constraint, fuzzing). Each version package runs it from a short _test
// file with one TestXxx (or FuzzXxx) wrapper per check, so go test -run and
// -fuzz select the checks as before. Only _test files import it.
package registrytest

import (
	"errors"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/registry"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
)

// Suite checks one version's registry.
type Suite struct {
	// Registry is the registry under test; its version selects the schemas.
	Registry *registry.Registry
	// ActionCount is the number of actions in the version's schema folder.
	ActionCount int
	// Malformed are the payloads TestMalformed checks, and fuzzing seeds.
	Malformed []Malformed
}

// Code returns err's RPC error code, or a placeholder when err is not an
// *ocppj.Error.
func Code(err error) ocppj.ErrorCode {
	var e *ocppj.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "not an *ocppj.Error"
}

// kind is one payload of an action: its request or its response.
type kind struct {
	action   string
	response bool
}

// name is the schema's name for the payload ("Authorize",
// "AuthorizeResponse"), which [Suite.schemas] uses as key.
func (k kind) name() string {
	if k.response {
		return k.action + "Response"
	}
	return k.action
}

// kinds lists every request and response in the registry, in its order.
func (s Suite) kinds() []kind {
	var ks []kind
	for _, a := range s.Registry.Actions() {
		ks = append(ks, kind{a.Name, false})
		if a.Response != nil {
			ks = append(ks, kind{a.Name, true})
		}
	}
	return ks
}

// decode decodes data as a k payload.
func (s Suite) decode(k kind, data []byte, lenient bool) (any, []string, error) {
	if k.response {
		return s.Registry.DecodeResponse(k.action, data, lenient)
	}
	return s.Registry.DecodeRequest(k.action, data, lenient)
}

// schemas returns the official schema of every payload by [kind.name], or
// skips the test when the schema folder is absent.
func (s Suite) schemas(t testing.TB) map[string]*jsonschema.Schema {
	t.Helper()
	m := map[string]*jsonschema.Schema{}
	for _, k := range s.kinds() {
		m[k.name()] = schematest.Schema(t, s.Registry.Version(), k.action, k.response)
	}
	return m
}

// schemaValid is the official schema's verdict on data.
func schemaValid(s *jsonschema.Schema, data []byte) error { return schematest.Against(s, data) }

// example is a payload synthesised from the official schema.
type example struct {
	kind
	full bool // every property, or only the required ones
	data []byte
}

func (e example) String() string {
	if e.full {
		return e.name() + "/full"
	}
	return e.name() + "/minimal"
}

// examples returns a minimal and a full example of every request and
// response (see schematest.Example).
func (s Suite) examples(t testing.TB) []example {
	t.Helper()
	var out []example
	for _, k := range s.kinds() {
		for _, full := range []bool{false, true} {
			out = append(out, example{k, full, schematest.Example(t, s.Registry.Version(), k.action, k.response, full)})
		}
	}
	return out
}
