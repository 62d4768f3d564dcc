package v16

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
)

func TestRegistry(t *testing.T) {
	if len(Actions) != suite.ActionCount {
		t.Errorf("%d actions, want %d", len(Actions), suite.ActionCount)
	}
	for _, a := range Actions {
		if _, ok := examples[a.Name]; !ok {
			t.Errorf("%s: no example", a.Name)
		}
		req, ok1 := NewRequest(a.Name)
		resp, ok2 := NewResponse(a.Name)
		if !ok1 || !ok2 || reflect.TypeOf(req).Elem() != a.Request || reflect.TypeOf(resp).Elem() != a.Response {
			t.Errorf("%s: constructors disagree with the registry", a.Name)
		}
	}
	if a, _ := Lookup("DataTransfer"); a.Direction != Both {
		t.Errorf("DataTransfer direction %v, want Both", a.Direction)
	}
	if a, _ := Lookup("Reset"); a.Direction != CSMSToCharger {
		t.Errorf("Reset direction %v, want CSMSToCharger", a.Direction)
	}
	if _, ok := NewRequest("SignCertificate"); ok {
		t.Error("NewRequest knows an action outside the core profile")
	}
	if _, _, err := DecodeRequest("Nope", []byte(`{}`), false); err == nil {
		t.Error("DecodeRequest of an unknown action succeeded")
	}
}

// TestConformance: every example is schema-valid, decodes strictly, passes
// Validate, and encodes back to schema-valid JSON that decodes to the same value.
func TestConformance(t *testing.T) {
	schemas := officialSchemas(t)
	for _, a := range Actions {
		for i, suffix := range []string{"", "Response"} {
			name := a.Name + suffix
			t.Run(name, func(t *testing.T) {
				data := []byte(examples[a.Name][i])
				if err := schemaValid(schemas[name], data); err != nil {
					t.Fatalf("example is not schema-valid: %v", err)
				}
				decode := DecodeRequest
				if i == 1 {
					decode = DecodeResponse
				}
				v, warnings, err := decode(a.Name, data, false)
				if err != nil || len(warnings) > 0 {
					t.Fatalf("Decode: %v %v", err, warnings)
				}
				if err := payload.Validate(v); err != nil {
					t.Fatalf("Validate: %v", err)
				}
				out, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				if err := schemaValid(schemas[name], out); err != nil {
					t.Fatalf("encoded %s is not schema-valid: %v", out, err)
				}
				again, _, err := decode(a.Name, out, false)
				if err != nil {
					t.Fatalf("re-decoding %s: %v", out, err)
				}
				if !reflect.DeepEqual(v, again) {
					t.Errorf("round trip changed the value:\n%#v\n%#v", v, again)
				}
			})
		}
	}
}
