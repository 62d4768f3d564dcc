package payload

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

// Validate checks an outgoing value (a struct or a pointer to one) against
// the constraints on its type, so a malformed command is refused before it
// is sent. It reports the same codes Decode would for the encoded value: a
// required pointer or slice that is nil, or a required DateTime that is
// zero, is a missing field. There is no lenient mode for what we send.
func Validate(v any) error {
	rv, p, err := structOf(v)
	if err != nil {
		return err
	}
	var w walker
	if e := w.object(p, rv); e != nil {
		return e
	}
	return nil
}

// structOf returns the struct v is or points to, and its plan.
func structOf(v any) (reflect.Value, *typePlan, error) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return rv, nil, ocppj.Errorf(ocppj.InternalError, "payload: nil %T", v)
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return rv, nil, ocppj.Errorf(ocppj.InternalError, "payload: nil value")
	}
	p, err := planFor(rv.Type())
	if err != nil {
		return rv, nil, &ocppj.Error{Code: ocppj.InternalError, Description: err.Error()}
	}
	if p.kind != kindStruct {
		return rv, nil, ocppj.Errorf(ocppj.InternalError, "payload: need a struct, got %T", v)
	}
	return rv, p, nil
}

type walker struct {
	path path
}

func (w *walker) object(p *typePlan, rv reflect.Value) *ocppj.Error {
	for i := range p.fields {
		f := &p.fields[i]
		fv := rv.Field(f.index)
		w.path.push(f.name)
		if absent(f.plan, &f.c, fv) {
			if f.c.required {
				return w.path.errorAt(ocppj.OccurrenceConstraintViolation, "required field missing")
			}
		} else if e := w.value(f.plan, &f.c, fv); e != nil {
			return e
		}
		w.path.pop()
	}
	return nil
}

// absent reports whether encoding/json leaves the field out (or, for a
// required DateTime, whether it was never set).
func absent(p *typePlan, c *constraints, v reflect.Value) bool {
	switch p.kind {
	case kindPtr:
		return v.IsNil()
	case kindSlice:
		return v.IsNil() || (c.omitEmpty && v.Len() == 0)
	case kindTime:
		return dateTimeOf(v).IsZero()
	case kindRaw:
		return v.Len() == 0 // no bytes cannot be written as a JSON value
	}
	return c.omitEmpty && v.IsZero()
}

func (w *walker) value(p *typePlan, c *constraints, v reflect.Value) *ocppj.Error {
	var bad *violation
	switch p.kind {
	case kindString:
		bad = checkString(p, c, v.String())
	case kindInt:
		if c.minimum.set || c.maximum.set {
			n := v.Int()
			var buf [24]byte
			d, _ := parseDecimal(strconv.AppendInt(buf[:0], n, 10))
			bad = checkRange(c, d, float64(n))
		}
	case kindFloat:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			bad = &violation{code: ocppj.PropertyConstraintViolation, msg: "not a finite number"}
			break
		}
		if c.multipleOf || c.minimum.set || c.maximum.set {
			// Check the shortest decimal form, which is what encoding/json writes.
			var buf [32]byte
			d, _ := parseDecimal(strconv.AppendFloat(buf[:0], f, 'e', -1, 64))
			bad = checkNumber(c, d, f)
		}
	case kindTime:
		if y := dateTimeOf(v).UTC().Year(); y < 0 || y > 9999 {
			bad = &violation{code: ocppj.PropertyConstraintViolation, msg: fmt.Sprintf("year %d cannot be written as a date-time", y)}
		}
	case kindRaw:
		if !json.Valid(v.Bytes()) {
			bad = &violation{code: ocppj.FormatViolation, msg: "not valid JSON"}
		}
	case kindStruct:
		return w.object(p, v)
	case kindPtr:
		if v.IsNil() {
			return w.path.errorAt(ocppj.TypeConstraintViolation, "null is not allowed")
		}
		return w.value(p.elem, c, v.Elem())
	case kindSlice:
		for i := range v.Len() {
			w.path.index(i)
			if e := w.value(p.elem, c, v.Index(i)); e != nil {
				return e
			}
			w.path.pop()
		}
		bad = checkItems(c, v.Len())
	}
	if bad != nil {
		return w.path.errorAt(bad.code, bad.msg)
	}
	return nil
}
