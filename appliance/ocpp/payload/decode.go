// Package payload decodes and validates OCPP message payloads for every OCPP
// version with one mechanism: the schema constraints are declared on the Go
// types (struct tags and the [Enum] interface) and checked while decoding,
// so a malformed payload gets the RPC error code the specification asks for
// and a description naming the offending field.
//
// Struct tags:
//
//	json:"name,omitempty"  the JSON property name (omitempty/omitzero: optional)
//	ocpp:"required,maxLength=20,minItems=1,..."
//
// ocpp tag items: required, maxLength=N, minLength=N (characters; for a
// []string each item), minItems=N, maxItems=N (arrays), minimum=X,
// maximum=X (integers and numbers, compared exactly; for a slice each
// item), multipleOf=10^k (e.g. 0.1), format=uri, and quirkEmpty (lenient
// mode accepts an empty array here despite minItems).
//
// Open objects: a struct whose schema allows additional properties (OCPP
// 2.x CustomDataType) says so with a blank marker field, conventionally the
// first one:
//
//	type CustomData struct {
//		_        struct{} `ocpp:"open"`
//		VendorId string   `json:"vendorId" ocpp:"required,maxLength=255"`
//	}
//
// Decode skips unknown properties of an open object without an error or a
// warning, in strict and lenient mode alike; they are not kept.
//
// Supported field types: string types (an [Enum] restricts the values),
// int, int32, int64, float64, bool, [DateTime], structs, pointers to them
// (optional values), slices, and [encoding/json.RawMessage] for a schema
// property without a type (any JSON value, e.g. DataTransfer data): Decode
// keeps the value's exact bytes, null included; Validate and Marshal accept
// any valid JSON and write it as it is, and an empty RawMessage is absent.
// Plans are computed once per type and cached.
package payload

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"unicode/utf8"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

// Options controls Decode.
type Options struct {
	// Version is the OCPP version of the payload. It does not change the
	// checks today: the constraints come from the Go types.
	Version ocppj.Version
	// Lenient accepts known vendor quirks with a warning instead of an
	// error: unknown fields (ignored), strings over maxLength (kept), empty
	// arrays marked quirkEmpty, and date-times without a time zone (UTC).
	Lenient bool
}

// Decode parses data into v, a non-nil pointer to a struct, checking every
// constraint declared on v's type. The error is an *ocppj.Error whose code
// follows the OCPP-J rules: FormatViolation for invalid JSON, a non-object
// payload, duplicate or (strict) unknown fields; TypeConstraintViolation
// for a value of the wrong JSON type; OccurrenceConstraintViolation for a
// missing required field or too few/many items; PropertyConstraintViolation
// for a value outside its constraints. On error v may be partly filled.
// Warnings list the quirks lenient mode accepted.
func Decode(data json.RawMessage, v any, opts Options) (warnings []string, err error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, ocppj.Errorf(ocppj.InternalError, "payload: Decode needs a non-nil pointer, got %T", v)
	}
	p, perr := planFor(rv.Type().Elem())
	if perr != nil {
		return nil, &ocppj.Error{Code: ocppj.InternalError, Description: perr.Error()}
	}
	if p.kind != kindStruct {
		return nil, ocppj.Errorf(ocppj.InternalError, "payload: Decode needs a pointer to a struct, got %T", v)
	}
	d := decoders.Get().(*decoder)
	defer d.release()
	d.data, d.pos, d.lenient, d.warnings = data, 0, opts.Lenient, nil
	target := rv.Elem()
	target.SetZero()
	d.ws()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		if !json.Valid(data) {
			return nil, ocppj.Errorf(ocppj.FormatViolation, "payload is not valid JSON")
		}
		return nil, ocppj.Errorf(ocppj.FormatViolation, "payload is not a JSON object")
	}
	e := d.object(p, target)
	if e == nil {
		d.ws()
		if d.pos != len(d.data) {
			e = d.syntaxError()
		}
	}
	if e != nil {
		// A syntax error anywhere outranks what we found first.
		if e.Code != ocppj.FormatViolation && !json.Valid(data) {
			return nil, ocppj.Errorf(ocppj.FormatViolation, "payload is not valid JSON")
		}
		return d.warnings, e
	}
	return d.warnings, nil
}

type decoder struct {
	data     []byte
	pos      int
	lenient  bool
	warnings []string
	path     path
}

// decoders are reused so that a decode allocates only what it returns.
var decoders = sync.Pool{New: func() any { return &decoder{path: path{segs: make([]seg, 0, 8)}} }}

func (d *decoder) release() {
	d.data, d.warnings = nil, nil
	d.path.segs = d.path.segs[:0]
	decoders.Put(d)
}

func (d *decoder) syntaxError() *ocppj.Error {
	return ocppj.Errorf(ocppj.FormatViolation, "payload is not valid JSON (offset %d)", d.pos)
}

// report turns a violation into an error, or a warning if lenient mode
// accepts it.
func (d *decoder) report(v *violation) *ocppj.Error {
	if v.quirk && d.lenient {
		d.warn(v.msg)
		return nil
	}
	return d.path.errorAt(v.code, v.msg)
}

func (d *decoder) warn(msg string) {
	if where := d.path.String(); where != "" {
		msg = where + ": " + msg
	}
	d.warnings = append(d.warnings, msg)
}

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// jsonType names the JSON type of the value starting at the cursor.
func (d *decoder) jsonType() string {
	if d.pos >= len(d.data) {
		return "nothing"
	}
	switch c := d.data[d.pos]; {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	case c == '-' || isDigit(c):
		return "number"
	}
	return "invalid JSON"
}

func (d *decoder) typeError(p *typePlan) *ocppj.Error {
	want := kindNames[p.kind]
	got := d.jsonType()
	if got == "invalid JSON" {
		return d.syntaxError()
	}
	return d.path.errorAt(ocppj.TypeConstraintViolation, fmt.Sprintf("expected %s, got %s", want, got))
}

func (d *decoder) object(p *typePlan, rv reflect.Value) *ocppj.Error {
	d.pos++ // '{'
	var seen uint64
	d.ws()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return d.checkRequired(p, seen)
	}
	for {
		d.ws()
		key, ok := d.str()
		if !ok {
			return d.syntaxError()
		}
		d.ws()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return d.syntaxError()
		}
		d.pos++
		d.ws()
		i := p.field(key)
		if i < 0 {
			if !p.open {
				d.path.push(string(key))
				if !d.lenient {
					return d.path.errorAt(ocppj.FormatViolation, "unknown field")
				}
				d.warn("unknown field ignored")
				d.path.pop()
			}
			if !d.skip(0) {
				return d.syntaxError()
			}
		} else {
			f := &p.fields[i]
			d.path.push(f.name)
			if seen&(1<<i) != 0 {
				return d.path.errorAt(ocppj.FormatViolation, "duplicate field")
			}
			seen |= 1 << i
			if e := d.value(f.plan, &f.c, rv.Field(f.index)); e != nil {
				return e
			}
			d.path.pop()
		}
		d.ws()
		if d.pos >= len(d.data) {
			return d.syntaxError()
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return d.checkRequired(p, seen)
		default:
			return d.syntaxError()
		}
	}
}

func (p *typePlan) field(key []byte) int {
	for i := range p.fields {
		if p.fields[i].name == string(key) {
			return i
		}
	}
	return -1
}

func (d *decoder) checkRequired(p *typePlan, seen uint64) *ocppj.Error {
	missing := p.required &^ seen
	if missing == 0 {
		return nil
	}
	for i := range p.fields {
		if missing&(1<<i) != 0 {
			d.path.push(p.fields[i].name)
			return d.path.errorAt(ocppj.OccurrenceConstraintViolation, "required field missing")
		}
	}
	return nil
}

// value decodes the JSON value at the cursor into rv.
func (d *decoder) value(p *typePlan, c *constraints, rv reflect.Value) *ocppj.Error {
	if d.pos >= len(d.data) {
		return d.syntaxError()
	}
	ch := d.data[d.pos]
	switch p.kind {
	case kindString:
		if ch != '"' {
			return d.typeError(p)
		}
		b, ok := d.str()
		if !ok {
			return d.syntaxError()
		}
		var s string
		if p.enum != nil {
			var known bool
			if s, known = p.enum[string(b)]; !known { // interned: no allocation
				return d.report(checkString(p, c, string(b)))
			}
		} else {
			s = string(b)
			if v := checkString(p, c, s); v != nil {
				if e := d.report(v); e != nil {
					return e
				}
			}
		}
		rv.SetString(s)
	case kindInt:
		b, ok := d.number()
		if !ok {
			return d.typeError(p)
		}
		dec, _ := parseDecimal(b)
		if !dec.isInteger() {
			return d.path.errorAt(ocppj.PropertyConstraintViolation, fmt.Sprintf("%s is not an integer", b))
		}
		n, ok := dec.int64()
		if !ok || rv.OverflowInt(n) {
			return d.path.errorAt(ocppj.PropertyConstraintViolation, fmt.Sprintf("%s is out of range", b))
		}
		if v := checkRange(c, dec, float64(n)); v != nil {
			return d.report(v)
		}
		rv.SetInt(n)
	case kindFloat:
		b, ok := d.number()
		if !ok {
			return d.typeError(p)
		}
		f, ok := parseFloat(b)
		if !ok {
			return d.path.errorAt(ocppj.PropertyConstraintViolation, fmt.Sprintf("%s is out of range", b))
		}
		if c.multipleOf || c.minimum.set || c.maximum.set {
			dec, _ := parseDecimal(b)
			if v := checkNumber(c, dec, f); v != nil {
				return d.report(v)
			}
		}
		rv.SetFloat(f)
	case kindBool:
		switch {
		case d.literal("true"):
			rv.SetBool(true)
		case d.literal("false"):
			rv.SetBool(false)
		default:
			return d.typeError(p)
		}
	case kindTime:
		if ch != '"' {
			return d.typeError(p)
		}
		b, ok := d.str()
		if !ok {
			return d.syntaxError()
		}
		t, noZone, err := parseDateTime(b, d.lenient)
		if err != nil {
			return d.path.errorAt(ocppj.PropertyConstraintViolation, fmt.Sprintf("invalid date-time %q: %v", b, err))
		}
		if noZone {
			d.warn("date-time without time zone read as UTC")
		}
		rv.Addr().Interface().(*DateTime).Time = t // no boxing
	case kindStruct:
		if ch != '{' {
			return d.typeError(p)
		}
		return d.object(p, rv)
	case kindPtr:
		if ch == 'n' {
			return d.typeError(p.elem) // the schemas allow no nulls
		}
		nv := reflect.New(p.elem.typ)
		if e := d.value(p.elem, c, nv.Elem()); e != nil {
			return e
		}
		rv.Set(nv)
	case kindSlice:
		if ch != '[' {
			return d.typeError(p)
		}
		return d.array(p, c, rv)
	case kindRaw:
		start := d.pos
		if !d.skip(0) {
			return d.syntaxError()
		}
		rv.SetBytes(append(json.RawMessage(nil), d.data[start:d.pos]...)) // data is the caller's
	}
	return nil
}

func (d *decoder) array(p *typePlan, c *constraints, rv reflect.Value) *ocppj.Error {
	d.pos++ // '['
	rv.Set(reflect.MakeSlice(rv.Type(), 0, 0))
	d.ws()
	n := 0
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
	} else {
		for {
			d.ws()
			if n == rv.Cap() {
				rv.Grow(max(4, n))
			}
			rv.SetLen(n + 1)
			d.path.index(n)
			if e := d.value(p.elem, c, rv.Index(n)); e != nil {
				return e
			}
			d.path.pop()
			n++
			d.ws()
			if d.pos >= len(d.data) {
				return d.syntaxError()
			}
			if d.data[d.pos] == ']' {
				d.pos++
				break
			}
			if d.data[d.pos] != ',' {
				return d.syntaxError()
			}
			d.pos++
		}
	}
	if v := checkItems(c, n); v != nil {
		return d.report(v)
	}
	return nil
}

// str reads a JSON string at the cursor and returns its decoded bytes.
// Without escapes or invalid UTF-8 the result aliases the input.
func (d *decoder) str() ([]byte, bool) {
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return nil, false
	}
	start := d.pos + 1
	simple := true
	for i := start; i < len(d.data); i++ {
		switch c := d.data[i]; {
		case c == '"':
			d.pos = i + 1
			if simple {
				return d.data[start:i], true
			}
			// Rare: let encoding/json apply the escape and UTF-8 repair rules.
			var s string
			if json.Unmarshal(d.data[start-1:i+1], &s) != nil {
				return nil, false
			}
			return []byte(s), true
		case c == '\\':
			simple = false
			i++ // the escaped byte cannot end the string
		case c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			simple = false
		}
	}
	return nil, false
}

// number returns the JSON number token at the cursor.
func (d *decoder) number() ([]byte, bool) {
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if !isDigit(c) && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			break
		}
		d.pos++
	}
	b := d.data[start:d.pos]
	if _, ok := parseDecimal(b); !ok {
		d.pos = start
		return nil, false
	}
	return b, true
}

func (d *decoder) literal(s string) bool {
	if len(d.data)-d.pos >= len(s) && string(d.data[d.pos:d.pos+len(s)]) == s {
		d.pos += len(s)
		return true
	}
	return false
}

// maxDepth bounds the nesting of skipped values, as encoding/json does.
const maxDepth = 10000

// skip steps over one JSON value, checking its syntax.
func (d *decoder) skip(depth int) bool {
	if d.pos >= len(d.data) || depth > maxDepth {
		return false
	}
	switch c := d.data[d.pos]; {
	case c == '"':
		_, ok := d.str()
		return ok
	case c == '{' || c == '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		d.pos++
		d.ws()
		if d.pos < len(d.data) && d.data[d.pos] == end {
			d.pos++
			return true
		}
		for {
			d.ws()
			if c == '{' {
				if _, ok := d.str(); !ok {
					return false
				}
				d.ws()
				if d.pos >= len(d.data) || d.data[d.pos] != ':' {
					return false
				}
				d.pos++
				d.ws()
			}
			if !d.skip(depth + 1) {
				return false
			}
			d.ws()
			if d.pos >= len(d.data) {
				return false
			}
			if d.data[d.pos] == end {
				d.pos++
				return true
			}
			if d.data[d.pos] != ',' {
				return false
			}
			d.pos++
		}
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	}
	_, ok := d.number()
	return ok
}
