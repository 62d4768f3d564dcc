package payload

import (
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// Marshal validates v (a struct or a pointer to one) as [Validate] does and
// encodes it as JSON with the type's cached plan instead of encoding/json's
// reflection: every answer the CSMS sends goes through it. Fields [Validate] treats as absent (nil pointers and slices, zero
// DateTimes, empty values tagged omitempty or omitzero) are left out, so
// null is never written. Strings are escaped as JSON requires; invalid
// UTF-8 becomes U+FFFD. Errors are *ocppj.Error, as from [Validate].
func Marshal(v any) ([]byte, error) {
	rv, p, err := structOf(v)
	if err != nil {
		return nil, err
	}
	var w walker
	if e := w.object(p, rv); e != nil {
		return nil, e
	}
	return appendValue(make([]byte, 0, 64), p, rv), nil
}

// appendValue encodes a value that the walker has already validated.
func appendValue(b []byte, p *typePlan, v reflect.Value) []byte {
	switch p.kind {
	case kindString:
		return appendString(b, v.String())
	case kindInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case kindFloat:
		return appendFloat(b, v.Float())
	case kindBool:
		return strconv.AppendBool(b, v.Bool())
	case kindTime:
		return dateTimeOf(v).appendJSON(b)
	case kindRaw:
		return append(b, v.Bytes()...) // validated by the walker
	case kindStruct:
		b = append(b, '{')
		first := true
		for i := range p.fields {
			f := &p.fields[i]
			fv := v.Field(f.index)
			if absent(f.plan, &f.c, fv) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, f.name)
			b = append(b, ':')
			b = appendValue(b, f.plan, fv)
		}
		return append(b, '}')
	case kindPtr:
		return appendValue(b, p.elem, v.Elem())
	case kindSlice:
		b = append(b, '[')
		for i := range v.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, p.elem, v.Index(i))
		}
		return append(b, ']')
	}
	return b
}

// appendFloat writes f as encoding/json does: plain decimal notation, or
// exponent notation for very small and very large magnitudes.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 → 1e-7, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// Valid JSON, but not valid JavaScript: escaped as encoding/json does.
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
