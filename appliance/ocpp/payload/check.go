package payload

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

// violation is one broken constraint. quirk marks a known vendor quirk that
// lenient mode turns into a warning.
type violation struct {
	code  ocppj.ErrorCode
	msg   string
	quirk bool
}

// The checks below are shared by Decode and Validate so incoming and
// outgoing payloads obey exactly the same rules.

func checkString(p *typePlan, c *constraints, s string) *violation {
	if p.enum != nil {
		if _, ok := p.enum[s]; !ok {
			return &violation{code: ocppj.PropertyConstraintViolation, msg: fmt.Sprintf("value %q not in enum (%s)", s, p.enumList)}
		}
		return nil
	}
	if c.maxLength >= 0 || c.minLength > 0 {
		n := len(s)
		if n > c.maxLength || n < c.minLength {
			n = utf8.RuneCountInString(s) // schema lengths count characters
		}
		if c.maxLength >= 0 && n > c.maxLength {
			return &violation{code: ocppj.PropertyConstraintViolation, msg: fmt.Sprintf("length %d exceeds maxLength %d", n, c.maxLength), quirk: true}
		}
		if n < c.minLength {
			return &violation{code: ocppj.PropertyConstraintViolation, msg: fmt.Sprintf("length %d below minLength %d", n, c.minLength)}
		}
	}
	if c.uri && !isAbsURI(s) {
		return &violation{code: ocppj.PropertyConstraintViolation, msg: fmt.Sprintf("%q is not an absolute URI", s)}
	}
	return nil
}

// isAbsURI mirrors the schema "uri" format: it parses and has a scheme, and
// a host with a colon is a bracketed IPv6 address.
func isAbsURI(s string) bool {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return false
	}
	if h := u.Hostname(); strings.Contains(h, ":") {
		a, err := netip.ParseAddr(h)
		return err == nil && a.Is6() && strings.Contains(u.Host, "[")
	}
	return true
}

// checkNumber checks the exact value d of a number, whose float64 (for
// messages) is f.
func checkNumber(c *constraints, d decimal, f float64) *violation {
	if c.multipleOf && !d.multipleOfPow10(c.multipleExp) {
		return &violation{code: ocppj.PropertyConstraintViolation, msg: fmt.Sprintf("%v is not a multiple of 1e%d", f, c.multipleExp)}
	}
	return checkRange(c, d, f)
}

// checkRange compares the exact value d with the bounds, so that a number
// too close to a bound for float64 (1e-400 against maximum 0) is still
// judged as the schema judges it.
func checkRange(c *constraints, d decimal, f float64) *violation {
	if c.minimum.set && d.cmp(c.minimum.d) < 0 {
		return &violation{code: ocppj.PropertyConstraintViolation, msg: fmt.Sprintf("%v is below minimum %s", f, c.minimum.text)}
	}
	if c.maximum.set && d.cmp(c.maximum.d) > 0 {
		return &violation{code: ocppj.PropertyConstraintViolation, msg: fmt.Sprintf("%v is above maximum %s", f, c.maximum.text)}
	}
	return nil
}

func checkItems(c *constraints, n int) *violation {
	if n < c.minItems {
		return &violation{code: ocppj.OccurrenceConstraintViolation, msg: fmt.Sprintf("%d items, minItems is %d", n, c.minItems), quirk: n == 0 && c.quirkEmpty}
	}
	if c.maxItems >= 0 && n > c.maxItems {
		return &violation{code: ocppj.OccurrenceConstraintViolation, msg: fmt.Sprintf("%d items, maxItems is %d", n, c.maxItems)}
	}
	return nil
}

// path is the location of the value being checked, kept as a stack so that
// success costs no formatting; it is rendered only for errors and warnings.
type path struct {
	segs []seg
}

type seg struct {
	name  string // field name, or "" for an array index
	index int
}

func (p *path) push(name string) { p.segs = append(p.segs, seg{name: name}) }
func (p *path) index(i int)      { p.segs = append(p.segs, seg{index: i}) }
func (p *path) pop()             { p.segs = p.segs[:len(p.segs)-1] }

func (p *path) String() string {
	var b strings.Builder
	for _, s := range p.segs {
		if s.name == "" {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.name)
	}
	return b.String()
}

// errorAt returns the RPC error for v at the current path.
func (p *path) errorAt(code ocppj.ErrorCode, msg string) *ocppj.Error {
	if where := p.String(); where != "" {
		msg = where + ": " + msg
	}
	return &ocppj.Error{Code: code, Description: msg}
}
