package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// node is one schema (draft-06), restricted to the keywords the OCPP 2.x
// schemas use. Unknown keywords are an error rather than silently dropped
// constraints.
type node struct {
	Ref         string // "#/definitions/Name"
	Type        string // "" when the schema allows any JSON value
	Description string
	JavaType    string
	Properties  []property // in file order
	Required    []string
	Closed      bool // additionalProperties: false
	Enum        []string
	Items       *node
	MinItems    *int
	MaxItems    *int
	MaxLength   *int
	Minimum     string // shortest decimal form, "" if absent
	Maximum     string
	Format      string
	Default     string // JSON text, "" if absent
	Definitions []definition
}

type property struct {
	Name   string
	Schema *node
}

type definition struct {
	Name   string
	Schema *node
}

// schemaFile is one message payload schema.
type schemaFile struct {
	Base     string // file name without .json: "BootNotificationRequest"
	Action   string // "BootNotification"
	Response bool
	Root     *node
	defs     map[string]*node
}

// def resolves a $ref inside the file.
func (f *schemaFile) def(ref string) (string, *node, error) {
	name, ok := strings.CutPrefix(ref, "#/definitions/")
	if !ok {
		return "", nil, fmt.Errorf("%s: unsupported $ref %q", f.Base, ref)
	}
	n := f.defs[name]
	if n == nil {
		return "", nil, fmt.Errorf("%s: $ref %q: no such definition", f.Base, ref)
	}
	return name, n, nil
}

// loadDir reads every *.json schema in dir, sorted by file name. A file
// named ActionRequest.json or Action.json (as 1.6 and 2.1's SEND messages
// name it) is a request, ActionResponse.json a response.
func loadDir(dir string) ([]*schemaFile, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no *.json schemas in %s", dir)
	}
	slices.Sort(names)
	var files []*schemaFile
	for _, name := range names {
		f, err := loadFile(name)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func loadFile(path string) (*schemaFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(filepath.Base(path), ".json")
	f := &schemaFile{Base: base, defs: map[string]*node{}}
	switch {
	case strings.HasSuffix(base, "Response"):
		f.Action, f.Response = strings.TrimSuffix(base, "Response"), true
	case strings.HasSuffix(base, "Request"):
		f.Action = strings.TrimSuffix(base, "Request")
	default:
		f.Action = base
	}
	if f.Action == "" || !isIdent(f.Action) {
		return nil, fmt.Errorf("%s: cannot derive an action name from the file name", path)
	}
	f.Root, err = parseNode(data, base, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.Root.Type != "object" || f.Root.Ref != "" {
		return nil, fmt.Errorf("%s: the payload must be an object schema", path)
	}
	for _, d := range f.Root.Definitions {
		f.defs[d.Name] = d.Schema
	}
	return f, nil
}

// parseNode parses one schema. Only the root may carry $schema, $id,
// comment and definitions.
func parseNode(data []byte, where string, root bool) (*node, error) {
	kvs, err := objectMembers(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	n := &node{}
	for _, kv := range kvs {
		at := where + "/" + kv.key
		var err error
		switch kv.key {
		case "$schema", "$id", "comment":
			if !root {
				err = errors.New("only allowed at the root")
			}
		case "definitions":
			if !root {
				err = errors.New("only allowed at the root")
				break
			}
			var members []member
			if members, err = objectMembers(kv.val); err == nil {
				for _, m := range members {
					var d *node
					if d, err = parseNode(m.val, "#/definitions/"+m.key, false); err != nil {
						return nil, err
					}
					n.Definitions = append(n.Definitions, definition{m.key, d})
				}
			}
		case "properties":
			var members []member
			if members, err = objectMembers(kv.val); err == nil {
				for _, m := range members {
					var p *node
					if p, err = parseNode(m.val, at+"/"+m.key, false); err != nil {
						return nil, err
					}
					n.Properties = append(n.Properties, property{m.key, p})
				}
			}
		case "items":
			n.Items, err = parseNode(kv.val, at, false)
			if err != nil {
				return nil, err
			}
		case "$ref":
			err = json.Unmarshal(kv.val, &n.Ref)
		case "type":
			err = json.Unmarshal(kv.val, &n.Type)
		case "description":
			err = json.Unmarshal(kv.val, &n.Description)
		case "javaType":
			err = json.Unmarshal(kv.val, &n.JavaType)
		case "required":
			err = json.Unmarshal(kv.val, &n.Required)
		case "enum":
			err = json.Unmarshal(kv.val, &n.Enum)
		case "format":
			if err = json.Unmarshal(kv.val, &n.Format); err == nil && n.Format != "date-time" {
				err = fmt.Errorf("unsupported format %q", n.Format)
			}
		case "additionalProperties":
			var allowed bool
			if err = json.Unmarshal(kv.val, &allowed); err == nil {
				n.Closed = !allowed
			}
		case "additionalItems":
			// Ignored by draft-06 when items is a single schema, as it
			// always is here; a list of item schemas is not supported.
			if bytes.HasPrefix(bytes.TrimSpace(kv.val), []byte("[")) {
				err = errors.New("tuple validation is not supported")
			}
		case "minItems":
			n.MinItems, err = count(kv.val)
		case "maxItems":
			n.MaxItems, err = count(kv.val)
		case "maxLength":
			n.MaxLength, err = count(kv.val)
		case "minimum":
			n.Minimum, err = number(kv.val)
		case "maximum":
			n.Maximum, err = number(kv.val)
		case "default":
			n.Default = string(bytes.TrimSpace(kv.val))
		default:
			err = errors.New("unsupported keyword")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
	}
	switch n.Type {
	case "", "object", "string", "integer", "number", "boolean", "array":
	default:
		return nil, fmt.Errorf("%s: unsupported type %q", where, n.Type)
	}
	if n.Ref != "" && (n.Type != "" || len(n.Properties) > 0 || len(n.Enum) > 0) {
		return nil, fmt.Errorf("%s: $ref with sibling constraints is not supported", where)
	}
	if len(n.Enum) > 0 && n.Type != "string" {
		return nil, fmt.Errorf("%s: only string enums are supported", where)
	}
	if n.Type == "array" && n.Items == nil {
		return nil, fmt.Errorf("%s: array without items", where)
	}
	return n, nil
}

type member struct {
	key string
	val json.RawMessage
}

// objectMembers returns a JSON object's members in document order, which
// encoding/json's maps lose. Duplicate keys are an error.
func objectMembers(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var out []member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		if seen[key] {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, err
		}
		out = append(out, member{key, val})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return out, nil
}

// count parses a non-negative integer keyword value.
func count(data []byte) (*int, error) {
	s, err := number(data)
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("want a non-negative integer, got %s", data)
	}
	return &n, nil
}

// number returns a JSON number in its shortest decimal form ("0.0" → "0").
func number(data []byte) (string, error) {
	var n json.Number
	if err := json.Unmarshal(data, &n); err != nil {
		return "", err
	}
	f, err := n.Float64()
	if err != nil {
		return "", err
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

func isIdent(s string) bool {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}
