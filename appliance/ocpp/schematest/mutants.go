package schematest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

// Mutant is a payload that breaks exactly one constraint of its schema.
type Mutant struct {
	Where string          // the path of the broken value as Decode names it, e.g. chargingStation.model
	What  string          // the keyword broken: type, maxLength, enum, format, minimum, required, ...
	Code  ocppj.ErrorCode // the RPC error the OCPP-J rules ask for
	Data  []byte
}

// Mutants returns variants of the full [Example] of action's request (or
// response) in version v, each breaking one constraint of one value: null
// or another JSON type instead of the value; a string one character over
// maxLength, outside the enumeration or not a date-time; an integer with a
// fraction; a number one below minimum or above maximum; an array one item
// short of minItems or over maxItems; an object without one of its required
// properties, or with an unknown one where additional properties are not
// allowed. Values of any type (no "type" keyword) are not mutated. The
// example is first made compact (strings without enumeration or format cut
// to one character, arrays to their minItems or one item) so that the
// thousands of variants stay small. It skips the test when the schema
// folder is absent.
func Mutants(t testing.TB, v ocppj.Version, action string, response bool) []Mutant {
	t.Helper()
	file := File(Dir(t), v, action, response)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("schematest: %v", err)
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatalf("schematest: %s: %v", file, err)
	}
	var example any
	if err := json.Unmarshal(Example(t, v, action, response, true), &example); err != nil {
		t.Fatalf("schematest: %v", err)
	}
	w := walker{defs: asMap(root["definitions"])}
	base, err := json.Marshal(w.compact(example, root, nil))
	if err != nil {
		t.Fatalf("schematest: %v", err)
	}
	var out []Mutant
	for _, at := range w.visited {
		for _, m := range mutations(at) {
			doc, err := decodeNumbers(base)
			if err != nil {
				t.Fatalf("schematest: %v", err)
			}
			m.change(locate(&doc, at.path))
			data, err := json.Marshal(doc)
			if err != nil {
				t.Fatalf("schematest: %v", err)
			}
			out = append(out, Mutant{Where: pathString(at.path), What: m.what, Code: m.code, Data: data})
		}
	}
	return out
}

// walker walks an example alongside its schema.
type walker struct {
	defs    map[string]any
	visited []visit
}

// visit is one value of an example: where it is (object keys and array
// indexes) and its schema, $refs resolved.
type visit struct {
	path   []any
	schema map[string]any
}

// compact returns the compact copy of value v of schema, recording every
// value it keeps.
func (w *walker) compact(v any, schema map[string]any, path []any) any {
	for {
		ref, ok := schema["$ref"].(string)
		if !ok {
			break
		}
		name, _ := strings.CutPrefix(ref, "#/definitions/")
		schema = asMap(w.defs[name])
	}
	w.visited = append(w.visited, visit{path: slices.Clone(path), schema: schema})
	switch v := v.(type) {
	case map[string]any:
		props := asMap(schema["properties"])
		out := map[string]any{}
		for k, pv := range v {
			if ps := asMap(props[k]); ps != nil {
				out[k] = w.compact(pv, ps, append(path, k))
			} else {
				out[k] = pv // an extra property of an open object
			}
		}
		return out
	case []any:
		n := 1
		if m, ok := number(schema["minItems"]); ok {
			n = max(n, int(m))
		}
		out := make([]any, 0, n)
		for i, item := range v[:min(n, len(v))] {
			out = append(out, w.compact(item, asMap(schema["items"]), append(path, i)))
		}
		return out
	case string:
		if r := []rune(v); schema["enum"] == nil && schema["format"] == nil && len(r) > 1 {
			return string(r[:1])
		}
	}
	return v
}

// mutation breaks one constraint of the value in a slot.
type mutation struct {
	what   string
	code   ocppj.ErrorCode
	change func(slot)
}

// otherType is a value of the wrong JSON type for each schema type.
var otherType = map[string]any{"string": 7, "integer": "7", "number": "7", "boolean": "true", "object": []any{}, "array": map[string]any{}}

// mutations lists the mutations of the value visited at.
func mutations(at visit) []mutation {
	sch := at.schema
	var ms []mutation
	replace := func(what string, code ocppj.ErrorCode, v any) {
		ms = append(ms, mutation{what, code, func(sl slot) { sl.set(v) }})
	}
	typ, _ := sch["type"].(string)
	if typ != "" && len(at.path) > 0 {
		replace("type", ocppj.TypeConstraintViolation, nil)
		replace("type", ocppj.TypeConstraintViolation, otherType[typ])
	}
	switch typ {
	case "string":
		if sch["enum"] != nil {
			replace("enum", ocppj.PropertyConstraintViolation, "NotInTheEnum")
		}
		if sch["format"] == "date-time" {
			replace("format", ocppj.PropertyConstraintViolation, "2024-13-01T00:00:00Z")
		}
		if n, ok := number(sch["maxLength"]); ok {
			replace("maxLength", ocppj.PropertyConstraintViolation, strings.Repeat("x", int(n)+1))
		}
	case "integer", "number":
		if typ == "integer" {
			replace("type", ocppj.PropertyConstraintViolation, json.Number("1.5"))
		}
		if m, ok := number(sch["minimum"]); ok {
			replace("minimum", ocppj.PropertyConstraintViolation, m-1)
		}
		if m, ok := number(sch["maximum"]); ok {
			replace("maximum", ocppj.PropertyConstraintViolation, m+1)
		}
	case "array":
		if n, ok := number(sch["minItems"]); ok && n >= 1 {
			ms = append(ms, mutation{"minItems", ocppj.OccurrenceConstraintViolation, func(sl slot) {
				sl.set(asSlice(sl.get())[:int(n)-1])
			}})
		}
		if n, ok := number(sch["maxItems"]); ok {
			ms = append(ms, mutation{"maxItems", ocppj.OccurrenceConstraintViolation, func(sl slot) {
				longer := make([]any, int(n)+1)
				for i := range longer {
					longer[i] = asSlice(sl.get())[0]
				}
				sl.set(longer)
			}})
		}
	case "object":
		for _, r := range asSlice(sch["required"]) {
			ms = append(ms, mutation{"required", ocppj.OccurrenceConstraintViolation, func(sl slot) {
				delete(asMap(sl.get()), r.(string))
			}})
		}
		if sch["additionalProperties"] == false {
			ms = append(ms, mutation{"additionalProperties", ocppj.FormatViolation, func(sl slot) {
				asMap(sl.get())["unknownMutantProperty"] = 1
			}})
		}
	}
	return ms
}

// slot is a place in a decoded JSON document: the root, an object's
// property or an array's item.
type slot struct {
	root   *any
	parent any
	key    any // string or int
}

func (sl slot) get() any {
	switch p := sl.parent.(type) {
	case map[string]any:
		return p[sl.key.(string)]
	case []any:
		return p[sl.key.(int)]
	}
	return *sl.root
}

func (sl slot) set(v any) {
	switch p := sl.parent.(type) {
	case map[string]any:
		p[sl.key.(string)] = v
	case []any:
		p[sl.key.(int)] = v
	default:
		*sl.root = v
	}
}

// locate returns the slot at path in the document *root.
func locate(root *any, path []any) slot {
	if len(path) == 0 {
		return slot{root: root}
	}
	parent := *root
	for _, k := range path[:len(path)-1] {
		parent = slot{parent: parent, key: k}.get()
	}
	return slot{parent: parent, key: path[len(path)-1]}
}

func decodeNumbers(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("schematest: %w", err)
	}
	return v, nil
}

// pathString renders a path as Decode does: a.b[0].c.
func pathString(path []any) string {
	var b strings.Builder
	for _, k := range path {
		switch k := k.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", k)
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		}
	}
	return b.String()
}
