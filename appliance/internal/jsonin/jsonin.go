// Package jsonin decodes JSON objects that come from outside the appliance
// (API bodies, cloud commands) with errors that name the offending field,
// so every decoder of such input answers the same way.
package jsonin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// DecodeObject decodes body, which must be exactly one JSON object, into v
// (a pointer to a struct), refusing unknown fields so that a misspelt field
// is never dropped silently. The error's message names the field, or
// starts with "body:".
func DecodeObject(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return errors.New("body: empty, want a JSON object")
	}
	if trimmed[0] != '{' {
		return errors.New("body: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Describe(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("body: unexpected data after the JSON object")
	}
	return nil
}

// Describe turns an encoding/json error into one naming the field.
func Describe(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("body: invalid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return errors.New("body: want a JSON object")
		}
		return fmt.Errorf("%s: want %s, got JSON %s", jsonPath(typ.Field), kind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("body: truncated JSON")
	}
	// encoding/json has no type for unknown fields; its message is stable.
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("body: unknown field %s", f)
	}
	return fmt.Errorf("body: %v", err)
}

// jsonPath is the JSON path of an UnmarshalTypeError's field: encoding/json
// puts the Go names of embedded structs in it, which the sender never
// wrote (this project's JSON names start in lower case).
func jsonPath(field string) string {
	for {
		first, rest, ok := strings.Cut(field, ".")
		if !ok || first == "" || first[0] < 'A' || first[0] > 'Z' {
			return field
		}
		field = rest
	}
}

func kind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	}
	return goKind
}

// Quote quotes outside input for an error message, cut short.
func Quote(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "..."
	}
	return strconv.Quote(s)
}
