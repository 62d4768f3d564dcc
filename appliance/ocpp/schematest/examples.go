package schematest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

// ExtraProperty is the vendor property [Example] adds to every open object
// (one whose schema does not say additionalProperties: false, as OCPP 2.x
// CustomDataType) in a full example.
const ExtraProperty = "vendorExtension"

// Example returns a payload synthesised from the official schema of
// action's request (or response) in version v, and fails the test unless
// the schema accepts it. It skips the test when the schema folder is
// absent.
//
// The minimal example (full false) has only the required properties, each
// at the smallest value its constraints allow: the first enumeration
// value, "x", minimum or 0, false, minItems items. The full example has
// every property: strings at exactly maxLength characters (starting with a
// non-ASCII one, as lengths count characters), date-times with a fraction
// and a zone offset, numbers at their maximum, the last enumeration value,
// true, two items per array (or maxItems), any JSON value where the schema
// gives no type, and [ExtraProperty] in open objects. The output is
// deterministic (object keys sorted).
func Example(t testing.TB, v ocppj.Version, action string, response, full bool) []byte {
	t.Helper()
	dir := Dir(t)
	data, err := os.ReadFile(File(dir, v, action, response))
	if err != nil {
		t.Fatalf("schematest: %v", err)
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatalf("schematest: %s: %v", File(dir, v, action, response), err)
	}
	s := synth{defs: asMap(root["definitions"]), full: full}
	out, err := json.Marshal(s.value(root, 0))
	if err != nil {
		t.Fatalf("schematest: %v", err)
	}
	if s.err != nil {
		t.Fatalf("schematest: %s %s: %v", v, action, s.err)
	}
	schema := Schema(t, v, action, response)
	if err := Against(schema, out); err != nil {
		t.Fatalf("schematest: the synthesised %s %s example is not schema-valid: %v\n%s", v, action, err, out)
	}
	return out
}

// synth builds example values from draft-06 schemas (the keywords the
// OCPP schemas use).
type synth struct {
	defs map[string]any
	full bool
	err  error
}

// maxFullDepth bounds the nesting of full examples; deeper, only required
// properties are filled in.
const maxFullDepth = 12

func (s *synth) value(n map[string]any, depth int) any {
	if ref, ok := n["$ref"].(string); ok {
		name, _ := strings.CutPrefix(ref, "#/definitions/")
		def := asMap(s.defs[name])
		if def == nil {
			s.fail("unresolved $ref %q", ref)
			return nil
		}
		return s.value(def, depth)
	}
	full := s.full && depth < maxFullDepth
	if enum, ok := n["enum"].([]any); ok && len(enum) > 0 {
		if full {
			return enum[len(enum)-1]
		}
		return enum[0]
	}
	switch n["type"] {
	case "object":
		obj := map[string]any{}
		required := map[string]bool{}
		for _, r := range asSlice(n["required"]) {
			required[r.(string)] = true
		}
		props := asMap(n["properties"])
		for _, name := range sortedKeys(props) {
			if full || required[name] {
				obj[name] = s.value(asMap(props[name]), depth+1)
			}
		}
		if extra, set := n["additionalProperties"]; full && (!set || extra == true) {
			obj[ExtraProperty] = map[string]any{"any": []any{1, "two", nil, true}}
		}
		return obj
	case "string":
		if n["format"] == "date-time" {
			if full {
				return "2025-01-02T03:04:05.678+02:00"
			}
			return "2025-01-02T03:04:05Z"
		}
		if !full {
			return "x"
		}
		if limit, ok := number(n["maxLength"]); ok {
			if limit < 1 {
				return ""
			}
			return "é" + strings.Repeat("x", int(limit)-1)
		}
		return "any text é"
	case "integer":
		lo, hasLo := number(n["minimum"])
		hi, hasHi := number(n["maximum"])
		switch {
		case full && hasHi:
			return int64(hi)
		case full:
			return int64(max(lo, 0)) + 12345
		case hasLo:
			return int64(math.Ceil(lo))
		case hasHi && hi < 0:
			return int64(hi)
		}
		return 0
	case "number":
		lo, hasLo := number(n["minimum"])
		hi, hasHi := number(n["maximum"])
		switch {
		case full && hasHi:
			return hi
		case full:
			return max(lo, 0) + 1234.5
		case hasLo:
			return lo
		case hasHi && hi < 0:
			return hi
		}
		return 0
	case "boolean":
		return full
	case "array":
		count := 0
		if k, ok := number(n["minItems"]); ok {
			count = int(k)
		}
		if full {
			count = max(count, 2)
			if k, ok := number(n["maxItems"]); ok {
				count = min(count, int(k))
			}
		}
		items := make([]any, 0, count)
		for range count {
			items = append(items, s.value(asMap(n["items"]), depth+1))
		}
		return items
	case nil:
		// No type: any JSON value (no object in it, so that tests can tell
		// the payload's objects apart).
		return []any{1.5, "two", nil, false, []any{}}
	}
	s.fail("unsupported schema type %v", n["type"])
	return nil
}

func (s *synth) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf(format, args...)
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	}
	return 0, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// HasDuplicateKeys reports whether any JSON object in data repeats a key
// (after unescaping). The schema validator's JSON reader keeps the last
// one; package payload rejects the payload, so fuzz tests that compare the
// two verdicts need to know.
func HasDuplicateKeys(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		keys   map[string]bool
		object bool
		isKey  bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.isKey {
			if s, ok := tok.(string); ok {
				if top.keys[s] {
					return true
				}
				top.keys[s] = true
				top.isKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, object: true, isKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value (or a closed container) ends; in an object the next token is a key.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].isKey = true
		}
	}
}
