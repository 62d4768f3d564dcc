package payload

import (
	"bytes"
	"math"
	"strconv"
)

// decimal is an exact JSON number: (-1 if neg) × digits × 10^exp. Working on
// the text keeps integer and multipleOf checks exact, as a JSON schema
// validator does, without big-number arithmetic.
type decimal struct {
	neg    bool
	digits []byte // no leading or trailing zeros; empty for zero
	exp    int
}

const expLimit = 1 << 30 // exponents beyond this saturate; no OCPP value is near

// parseDecimal reads a JSON number (RFC 8259 grammar). ok is false if b is
// not exactly one number.
func parseDecimal(b []byte) (d decimal, ok bool) {
	i := 0
	if i < len(b) && b[i] == '-' {
		d.neg = true
		i++
	}
	intStart := i
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	intEnd := i
	if intEnd == intStart || (b[intStart] == '0' && intEnd-intStart > 1) {
		return d, false
	}
	fracStart, fracEnd := i, i
	if i < len(b) && b[i] == '.' {
		i++
		fracStart = i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		fracEnd = i
		if fracEnd == fracStart {
			return d, false
		}
	}
	exp := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		neg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			neg = b[i] == '-'
			i++
		}
		start := i
		for i < len(b) && isDigit(b[i]) {
			if exp < expLimit {
				exp = exp*10 + int(b[i]-'0')
			}
			i++
		}
		if i == start {
			return d, false
		}
		if neg {
			exp = -exp
		}
	}
	if i != len(b) {
		return d, false
	}
	// Fast path: a plain integer needs no copy.
	if fracStart == fracEnd {
		d.digits = b[intStart:intEnd]
	} else {
		d.digits = append(append(make([]byte, 0, intEnd-intStart+fracEnd-fracStart), b[intStart:intEnd]...), b[fracStart:fracEnd]...)
	}
	d.exp = exp - (fracEnd - fracStart)
	for len(d.digits) > 0 && d.digits[0] == '0' {
		d.digits = d.digits[1:]
	}
	for len(d.digits) > 0 && d.digits[len(d.digits)-1] == '0' {
		d.digits = d.digits[:len(d.digits)-1]
		d.exp++
	}
	if len(d.digits) == 0 {
		d.exp, d.neg = 0, false
	}
	return d, true
}

// isInteger reports whether d has no fractional part.
func (d decimal) isInteger() bool { return d.exp >= 0 }

// multipleOfPow10 reports whether d is a multiple of 10^k.
func (d decimal) multipleOfPow10(k int) bool { return len(d.digits) == 0 || d.exp >= k }

// cmp compares d and e exactly: -1 if d < e, 0 if equal, +1 if d > e.
func (d decimal) cmp(e decimal) int {
	sign := func(x decimal) int {
		switch {
		case len(x.digits) == 0:
			return 0
		case x.neg:
			return -1
		}
		return 1
	}
	sd, se := sign(d), sign(e)
	if sd != se || sd == 0 {
		return cmpInt(sd, se)
	}
	return sd * d.cmpMagnitude(e)
}

// cmpMagnitude compares |d| and |e|, both non-zero.
func (d decimal) cmpMagnitude(e decimal) int {
	// The position of the leading digit decides, then the digits themselves
	// (no leading or trailing zeros, so a longer equal prefix is larger).
	if c := cmpInt(len(d.digits)+d.exp, len(e.digits)+e.exp); c != 0 {
		return c
	}
	return bytes.Compare(d.digits, e.digits)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// int64 returns d as an int64; ok is false if d is not an integer or out of range.
func (d decimal) int64() (n int64, ok bool) {
	if !d.isInteger() || len(d.digits)+d.exp > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range d.digits {
		u = u*10 + uint64(c-'0')
	}
	for range d.exp {
		u *= 10
	}
	// 19 digits fit in a uint64; anything above MaxInt64 (+1 if negative) does not fit.
	if u > math.MaxInt64 && !(d.neg && u == math.MaxInt64+1) {
		return 0, false
	}
	if d.neg {
		return -int64(u), true
	}
	return int64(u), true
}

// parseFloat returns the nearest float64; ok is false on overflow.
func parseFloat(b []byte) (float64, bool) {
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil || (math.Abs(f) < 1 && !math.IsInf(f, 0)) // underflow rounds to 0: fine
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
