package registrytest

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/registry"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
)

// TestRegistry checks an OCPP 2.x registry: it has exactly the actions of
// the schema folder, with constructors that agree with it.
func (s Suite) TestRegistry(t *testing.T) {
	r := s.Registry
	folder := filepath.Dir(schematest.File(schematest.Dir(t), r.Version(), "Heartbeat", false))
	files, err := filepath.Glob(filepath.Join(folder, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schemas in %s: %v", folder, err)
	}
	inSchemas := map[string]bool{}
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".json")
		name, response := strings.CutSuffix(base, "Response")
		name = strings.TrimSuffix(name, "Request")
		inSchemas[name] = true
		a, ok := r.Lookup(name)
		if !ok {
			t.Errorf("%s: action %s not in the registry", f, name)
			continue
		}
		if response && a.Response == nil {
			t.Errorf("%s: the registry has no response for %s", f, name)
		}
	}
	actions := r.Actions()
	if len(actions) != s.ActionCount || len(inSchemas) != s.ActionCount {
		t.Errorf("%d actions in the registry, %d in the schemas, want %d", len(actions), len(inSchemas), s.ActionCount)
	}
	for _, a := range actions {
		if !inSchemas[a.Name] {
			t.Errorf("%s is in the registry but has no schema", a.Name)
		}
		req, ok := r.NewRequest(a.Name)
		if !ok || reflect.TypeOf(req).Elem() != a.Request {
			t.Errorf("%s: NewRequest disagrees with the registry", a.Name)
		}
		resp, ok := r.NewResponse(a.Name)
		if a.Response == nil {
			if ok || resp != nil {
				t.Errorf("%s: NewResponse of a SEND message returned %T", a.Name, resp)
			}
			if _, _, err := r.DecodeResponse(a.Name, []byte(`{}`), false); Code(err) != ocppj.NotImplemented {
				t.Errorf("%s: DecodeResponse of a SEND message: %v", a.Name, err)
			}
		} else if !ok || reflect.TypeOf(resp).Elem() != a.Response {
			t.Errorf("%s: NewResponse disagrees with the registry", a.Name)
		}
		if a.Direction != registry.ChargerToCSMS && a.Direction != registry.CSMSToCharger && a.Direction != registry.Both {
			t.Errorf("%s: direction %d", a.Name, a.Direction)
		}
	}
	for name, want := range map[string]registry.Direction{
		"BootNotification": registry.ChargerToCSMS, "TransactionEvent": registry.ChargerToCSMS, "NotifyReport": registry.ChargerToCSMS,
		"DataTransfer": registry.Both, "RequestStartTransaction": registry.CSMSToCharger, "GetVariables": registry.CSMSToCharger, "Reset": registry.CSMSToCharger,
	} {
		if a, _ := r.Lookup(name); a.Direction != want {
			t.Errorf("%s direction %d, want %d", name, a.Direction, want)
		}
	}
	// Charger-initiated actions come first.
	first := slices.IndexFunc(actions, func(a registry.Action) bool { return a.Direction == registry.CSMSToCharger })
	if first < 0 || slices.ContainsFunc(actions[first:], func(a registry.Action) bool { return a.Direction != registry.CSMSToCharger }) {
		t.Error("Actions does not list charger-initiated actions first")
	}
	if _, ok := r.Lookup("StartTransaction"); ok {
		t.Error("Lookup knows a 1.6 action")
	}
	for _, decode := range []func(string, json.RawMessage, bool) (any, []string, error){r.DecodeRequest, r.DecodeResponse} {
		if _, _, err := decode("Nope", []byte(`{}`), false); Code(err) != ocppj.NotImplemented {
			t.Errorf("decoding an unknown action: %v, want NotImplemented", err)
		}
	}
}

// TestConformance: for every request and response, a minimal and a full
// example synthesised from the official schema decode strictly without
// warnings, pass Validate, and encode (with payload.Marshal and with
// encoding/json) to schema-valid JSON that decodes to the same value and
// keeps every property.
func (s Suite) TestConformance(t *testing.T) {
	schemas := s.schemas(t)
	for _, ex := range s.examples(t) {
		t.Run(ex.String(), func(t *testing.T) {
			v, warnings, err := s.decode(ex.kind, ex.data, false)
			if err != nil || len(warnings) > 0 {
				t.Fatalf("Decode(%s): %v %v", ex.data, err, warnings)
			}
			if err := payload.Validate(v); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			out, err := payload.Marshal(v)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			std, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			for _, enc := range [][]byte{out, std} {
				if err := schemaValid(schemas[ex.name()], enc); err != nil {
					t.Fatalf("encoded %s is not schema-valid: %v", enc, err)
				}
			}
			again, _, err := s.decode(ex.kind, out, false)
			if err != nil {
				t.Fatalf("re-decoding %s: %v", out, err)
			}
			if !reflect.DeepEqual(v, again) {
				t.Errorf("round trip changed the value:\n%#v\n%#v", v, again)
			}
			if err := sameShape(ex.data, out); err != nil {
				t.Errorf("%v\nexample: %s\nencoded: %s", err, ex.data, out)
			}
		})
	}
}

// sameShape checks that encoded has the same objects, properties and array
// lengths as the example, apart from the vendor properties of open
// objects, which are dropped.
func sameShape(example, encoded []byte) error {
	var a, b any
	if err := json.Unmarshal(example, &a); err != nil {
		return err
	}
	if err := json.Unmarshal(encoded, &b); err != nil {
		return err
	}
	var walk func(path string, a, b any) error
	walk = func(path string, a, b any) error {
		switch a := a.(type) {
		case map[string]any:
			bm, ok := b.(map[string]any)
			if !ok {
				return fmt.Errorf("%s: object became %T", path, b)
			}
			delete(a, schematest.ExtraProperty)
			if len(a) != len(bm) {
				return fmt.Errorf("%s: %d properties became %d", path, len(a), len(bm))
			}
			for k, av := range a {
				if err := walk(path+"."+k, av, bm[k]); err != nil {
					return err
				}
			}
		case []any:
			bs, ok := b.([]any)
			if !ok || len(a) != len(bs) {
				return fmt.Errorf("%s: array of %d became %v", path, len(a), b)
			}
			for i := range a {
				if err := walk(fmt.Sprintf("%s[%d]", path, i), a[i], bs[i]); err != nil {
					return err
				}
			}
		default:
			if b == nil && a != nil {
				return fmt.Errorf("%s: lost", path)
			}
		}
		return nil
	}
	return walk("", a, b)
}

// TestZeroValuesEncodeOmitOptional: what Validate passes of a zero payload
// the schema accepts, so the CSMS never sends a zero the schema forbids.
func (s Suite) TestZeroValuesEncodeOmitOptional(t *testing.T) {
	schemas := s.schemas(t)
	for _, k := range s.kinds() {
		zero, _ := s.Registry.NewRequest(k.action)
		if k.response {
			zero, _ = s.Registry.NewResponse(k.action)
		}
		if payload.Validate(zero) != nil {
			continue // required properties: nothing to send
		}
		out, err := payload.Marshal(zero)
		if err != nil {
			t.Fatalf("%s: %v", k.name(), err)
		}
		if err := schemaValid(schemas[k.name()], out); err != nil {
			t.Errorf("%s: Validate passes %s but the schema rejects it: %v", k.name(), out, err)
		}
	}
}

// TestUnknownFields: strict mode refuses a property the schema does not
// define, at the top and nested, with FormatViolation naming it; lenient
// mode ignores it with a warning. Open objects (CustomData) take any.
func (s Suite) TestUnknownFields(t *testing.T) {
	schemas := s.schemas(t)
	for _, ex := range s.examples(t) {
		var doc map[string]any
		if err := json.Unmarshal(ex.data, &doc); err != nil {
			t.Fatal(err)
		}
		target, where := doc, "unknownProperty"
		if ex.full {
			// The first closed object below the root, if any.
			if obj, path := firstClosedObject(doc, ""); obj != nil {
				target, where = obj, path+".unknownProperty"
			}
		}
		target["unknownProperty"] = []any{1, map[string]any{"x": nil}}
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if schemaValid(schemas[ex.name()], data) == nil {
			t.Errorf("%s: the schema accepts %s", ex, data)
		}
		_, _, err = s.decode(ex.kind, data, false)
		if Code(err) != ocppj.FormatViolation || !strings.Contains(err.Error(), where+": unknown field") {
			t.Errorf("%s: strict Decode(%s) = %v, want FormatViolation at %s", ex, data, err, where)
		}
		_, warnings, err := s.decode(ex.kind, data, true)
		if err != nil || len(warnings) != 1 || warnings[0] != where+": unknown field ignored" {
			t.Errorf("%s: lenient Decode(%s) = %v, %q", ex, data, err, warnings)
		}
	}
}

// firstClosedObject returns the first object below the root, in sorted key
// order, that does not allow additional properties, and its path.
func firstClosedObject(v any, path string) (map[string]any, string) {
	switch v := v.(type) {
	case map[string]any:
		if path != "" {
			if _, open := v[schematest.ExtraProperty]; !open {
				return v, path
			}
		}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if k == schematest.ExtraProperty {
				continue
			}
			p := k
			if path != "" {
				p = path + "." + k
			}
			if obj, at := firstClosedObject(v[k], p); obj != nil {
				return obj, at
			}
		}
	case []any:
		for i, item := range v {
			if obj, at := firstClosedObject(item, fmt.Sprintf("%s[%d]", path, i)); obj != nil {
				return obj, at
			}
		}
	}
	return nil, ""
}

// TestOverlongStrings: strings one character over maxLength are a
// PropertyConstraintViolation in strict mode and kept with a warning each
// in lenient mode. The full examples have every bounded string at exactly
// maxLength, starting with "é".
func (s Suite) TestOverlongStrings(t *testing.T) {
	schemas := s.schemas(t)
	tested := 0
	for _, ex := range s.examples(t) {
		if !ex.full {
			continue
		}
		var doc any
		if err := json.Unmarshal(ex.data, &doc); err != nil {
			t.Fatal(err)
		}
		n := lengthen(doc)
		if n == 0 {
			continue
		}
		tested++
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if schemaValid(schemas[ex.name()], data) == nil {
			t.Errorf("%s: the schema accepts %s", ex, data)
		}
		if _, _, err := s.decode(ex.kind, data, false); Code(err) != ocppj.PropertyConstraintViolation || !strings.Contains(err.Error(), "exceeds maxLength") {
			t.Errorf("%s: strict: %v", ex, err)
		}
		v, warnings, err := s.decode(ex.kind, data, true)
		if err != nil || len(warnings) != n {
			t.Errorf("%s: lenient: %v, %d warnings for %d long strings: %q", ex, err, len(warnings), n, warnings)
			continue
		}
		for _, w := range warnings {
			if !strings.Contains(w, "exceeds maxLength") {
				t.Errorf("%s: warning %q", ex, w)
			}
		}
		if std, err := json.Marshal(v); err != nil || !strings.Contains(string(std), "éx") || !strings.Contains(string(std), "xy\"") {
			t.Errorf("%s: lenient mode did not keep the long strings: %s %v", ex, std, err)
		}
	}
	if tested < s.ActionCount/2 {
		t.Errorf("only %d payloads have bounded strings", tested)
	}
}

// lengthen appends "y" to every string at its maxLength (those starting
// with "é" in a full example) and returns how many it changed.
func lengthen(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		for k, item := range v {
			if s, ok := item.(string); ok && strings.HasPrefix(s, "é") {
				v[k] = s + "y"
				n++
				continue
			}
			n += lengthen(item)
		}
	case []any:
		for i, item := range v {
			if s, ok := item.(string); ok && strings.HasPrefix(s, "é") {
				v[i] = s + "y"
				n++
				continue
			}
			n += lengthen(item)
		}
	}
	return n
}

// TestSchemaFolderMatchesGenerator guards the go:generate line of a
// generated package: the schema folder it names in doc.go (read from the
// working directory, the package's under go test) is the one the tests
// check against.
func (s Suite) TestSchemaFolderMatchesGenerator(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	folder := filepath.Base(filepath.Dir(schematest.File("root", s.Registry.Version(), "Heartbeat", false)))
	if !strings.Contains(string(src), "ocpp-schemas/"+folder+" ") {
		t.Errorf("doc.go's go:generate line does not read ocpp-schemas/%s", folder)
	}
}
