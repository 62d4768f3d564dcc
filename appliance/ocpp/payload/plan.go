package payload

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Enum is implemented by string types whose values are restricted to a fixed
// set (a schema "enum"). Values is called once per type, on its zero value.
type Enum interface {
	Values() []string
}

type kind uint8

const (
	kindString kind = iota
	kindInt
	kindFloat
	kindBool
	kindTime
	kindStruct
	kindPtr
	kindSlice
	kindRaw // json.RawMessage: any JSON value, kept as its bytes
)

var kindNames = [...]string{"string", "integer", "number", "boolean", "date-time string", "object", "", "array", "JSON value"}

// typePlan is everything Decode and Validate need to know about a Go type,
// computed once per type so the per-call work is free of tag parsing.
type typePlan struct {
	kind     kind
	typ      reflect.Type
	fields   []fieldPlan // kindStruct
	required uint64      // kindStruct: bit i set if fields[i] is required
	open     bool        // kindStruct: unknown properties are allowed (skipped)
	elem     *typePlan   // kindPtr, kindSlice
	// enum maps each allowed value to itself so a decoded value can reuse
	// the interned string instead of allocating.
	enum     map[string]string
	enumList string
}

// constraints are a field's schema keywords. For a slice field, minItems and
// maxItems apply to the slice and the others to each item.
type constraints struct {
	required    bool
	omitEmpty   bool // the json tag has omitempty or omitzero
	maxLength   int  // -1: none
	minLength   int
	minItems    int
	maxItems    int // -1: none
	minimum     bound
	maximum     bound
	multipleOf  bool // value must be a multiple of 10^multipleExp
	multipleExp int
	uri         bool
	quirkEmpty  bool // lenient mode accepts an empty array despite minItems
}

// bound is a minimum or maximum, kept exact so that a value is compared
// with it as a JSON schema validator does (no float rounding).
type bound struct {
	set  bool
	d    decimal
	text string // as written in the tag, for messages
}

type fieldPlan struct {
	name  string
	index int
	plan  *typePlan
	c     constraints
}

// plans is the plan cache, read on every Decode, Validate and Marshal. It
// is an immutable map replaced whole when a type is added (rarely: once per
// type), so reads take no lock.
var (
	plans   atomic.Pointer[map[reflect.Type]*typePlan]
	buildMu sync.Mutex
)

func cachedPlan(t reflect.Type) *typePlan {
	if m := plans.Load(); m != nil {
		return (*m)[t]
	}
	return nil
}

var (
	enumType = reflect.TypeFor[Enum]()
	timeType = reflect.TypeFor[DateTime]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// planFor returns the cached plan for t, building it on first use.
func planFor(t reflect.Type) (*typePlan, error) {
	if p := cachedPlan(t); p != nil {
		return p, nil
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	building := map[reflect.Type]*typePlan{}
	p, err := build(t, building)
	if err != nil {
		return nil, err
	}
	next := map[reflect.Type]*typePlan{}
	if old := plans.Load(); old != nil {
		maps.Copy(next, *old)
	}
	maps.Copy(next, building)
	plans.Store(&next)
	return p, nil
}

func build(t reflect.Type, building map[reflect.Type]*typePlan) (*typePlan, error) {
	if p := cachedPlan(t); p != nil {
		return p, nil
	}
	if p, ok := building[t]; ok {
		return p, nil // recursive type: filled in by the outer call
	}
	p := &typePlan{typ: t}
	building[t] = p
	switch {
	case t == timeType:
		p.kind = kindTime
	case t == rawType:
		p.kind = kindRaw
	case t.Kind() == reflect.String:
		p.kind = kindString
		if t.Implements(enumType) {
			vals := reflect.Zero(t).Interface().(Enum).Values()
			p.enum = make(map[string]string, len(vals))
			for _, v := range vals {
				p.enum[v] = v
			}
			p.enumList = strings.Join(vals, ", ")
		}
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int32 || t.Kind() == reflect.Int64:
		p.kind = kindInt
	case t.Kind() == reflect.Float64:
		p.kind = kindFloat
	case t.Kind() == reflect.Bool:
		p.kind = kindBool
	case t.Kind() == reflect.Pointer && t.Elem() == rawType:
		return nil, fmt.Errorf("payload: use json.RawMessage, not %s: it holds null itself", t)
	case t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice:
		p.kind = kindPtr
		if t.Kind() == reflect.Slice {
			p.kind = kindSlice
		}
		e, err := build(t.Elem(), building)
		if err != nil {
			return nil, err
		}
		p.elem = e
	case t.Kind() == reflect.Struct:
		p.kind = kindStruct
		if err := buildStruct(p, t, building); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("payload: unsupported type %s", t)
	}
	return p, nil
}

func buildStruct(p *typePlan, t reflect.Type, building map[reflect.Type]*typePlan) error {
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Name == "_" {
			// A blank field carries type-wide markers: `ocpp:"open"`.
			switch tag := sf.Tag.Get("ocpp"); tag {
			case "open":
				p.open = true
			case "":
			default:
				return fmt.Errorf("payload: %s: blank field tag %q, want \"open\"", t, tag)
			}
			continue
		}
		if !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		c, err := parseConstraints(sf.Tag.Get("ocpp"))
		if err != nil {
			return fmt.Errorf("payload: %s.%s: %w", t, sf.Name, err)
		}
		c.omitEmpty = strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		fp, err := build(sf.Type, building)
		if err != nil {
			return err
		}
		if len(p.fields) == 64 {
			return fmt.Errorf("payload: %s has more than 64 fields", t)
		}
		if c.required {
			p.required |= 1 << len(p.fields)
		}
		p.fields = append(p.fields, fieldPlan{name: name, index: i, plan: fp, c: c})
	}
	return nil
}

// parseConstraints reads an `ocpp:"required,maxLength=20,..."` tag.
func parseConstraints(tag string) (constraints, error) {
	c := constraints{maxLength: -1, maxItems: -1}
	if tag == "" {
		return c, nil
	}
	for item := range strings.SplitSeq(tag, ",") {
		key, val, hasVal := strings.Cut(item, "=")
		var n int
		var dec decimal
		var err error
		switch key {
		case "maxLength", "minLength", "minItems", "maxItems":
			n, err = strconv.Atoi(val)
		case "minimum", "maximum":
			var ok bool
			if dec, ok = parseDecimal([]byte(val)); !ok {
				err = strconv.ErrSyntax
			}
		}
		if err != nil || (hasVal && n < 0) {
			return c, fmt.Errorf("bad ocpp tag item %q", item)
		}
		switch key {
		case "required":
			c.required = true
		case "maxLength":
			c.maxLength = n
		case "minLength":
			c.minLength = n
		case "minItems":
			c.minItems = n
		case "maxItems":
			c.maxItems = n
		case "minimum":
			c.minimum = bound{set: true, d: dec, text: val}
		case "maximum":
			c.maximum = bound{set: true, d: dec, text: val}
		case "multipleOf":
			exp, ok := powerOfTen(val)
			if !ok {
				return c, fmt.Errorf("multipleOf must be a power of ten, got %q", val)
			}
			c.multipleOf, c.multipleExp = true, exp
		case "format":
			if val != "uri" {
				return c, fmt.Errorf("unknown format %q", val)
			}
			c.uri = true
		case "quirkEmpty":
			c.quirkEmpty = true
		default:
			return c, fmt.Errorf("unknown ocpp tag item %q", item)
		}
	}
	return c, nil
}

// powerOfTen parses "0.1", "1", "10", ... into its exponent.
func powerOfTen(s string) (int, bool) {
	d, ok := parseDecimal([]byte(s))
	if !ok || len(d.digits) != 1 || d.digits[0] != '1' {
		return 0, false
	}
	return d.exp, true
}
