package payload

import (
	"errors"
	"reflect"
	"time"
)

// DateTime is a schema "date-time" string: an RFC 3339 timestamp. It encodes
// as UTC with millisecond precision (seconds only when there is no fraction),
// which every charger parses. The zero DateTime means "absent": optional
// fields use it with the json omitzero option.
type DateTime struct {
	time.Time
}

// NewDateTime returns t as a DateTime.
func NewDateTime(t time.Time) DateTime { return DateTime{t} }

// MarshalJSON encodes d as an RFC 3339 UTC string, with milliseconds when
// there are any. It is written by hand rather than with time.AppendFormat:
// every answer with a timestamp (each Heartbeat) goes through it.
func (d DateTime) MarshalJSON() ([]byte, error) {
	if y := d.UTC().Year(); y < 0 || y > 9999 {
		return nil, errors.New("payload: DateTime year outside 0000-9999")
	}
	return d.appendJSON(make([]byte, 0, 26)), nil
}

// appendJSON appends d as a JSON string; the year must be within 0000-9999.
func (d DateTime) appendJSON(b []byte) []byte {
	t := d.UTC()
	year, month, day := t.Date()
	hour, minute, second := t.Clock()
	b = append(b, '"')
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, second, 2)
	if ms := t.Nanosecond() / int(time.Millisecond); ms > 0 {
		b = append(b, '.')
		b = appendDigits(b, ms, 3)
	}
	return append(b, 'Z', '"')
}

// dateTimeOf returns the DateTime v holds, without boxing it into an
// interface (an allocation) when v is addressable, as fields reached through
// a pointer are.
func dateTimeOf(v reflect.Value) DateTime {
	if v.CanAddr() {
		return *v.Addr().Interface().(*DateTime)
	}
	return v.Interface().(DateTime)
}

// appendDigits appends the n lowest decimal digits of v, zero-padded.
func appendDigits(b []byte, v, n int) []byte {
	for range n {
		b = append(b, 0)
	}
	for i := len(b) - 1; i >= len(b)-n; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// UnmarshalJSON decodes a strict RFC 3339 string, for callers that use
// encoding/json directly; Decode does not go through it.
func (d *DateTime) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return errors.New("payload: date-time must be a string")
	}
	t, _, err := parseDateTime(b[1:len(b)-1], false)
	if err != nil {
		return err
	}
	d.Time = t
	return nil
}

var (
	errDateTime = errors.New("not an RFC 3339 date-time")
	errNoZone   = errors.New("date-time without time zone")
)

// parseDateTime parses RFC 3339 section 5.6: date "T" time, optional
// fraction of any length, then "Z" or ±hh:mm ("t"/"z" allowed, as the RFC
// says). With allowNoZone a missing zone is read as UTC and noZone reported.
// Leap seconds (ss=60) are rejected: time.Time cannot hold them.
func parseDateTime(b []byte, allowNoZone bool) (t time.Time, noZone bool, err error) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return t, false, errDateTime
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return t, false, errDateTime
	}
	rest := b[19:]
	nsec := 0
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			if n <= 9 {
				nsec = nsec*10 + int(rest[n]-'0')
			}
			n++
		}
		if n == 1 {
			return t, false, errDateTime
		}
		for i := n; i <= 9; i++ {
			nsec *= 10
		}
		rest = rest[n:]
	}
	offset := 0
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits(rest[1:3])
		om, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return t, false, errDateTime
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	case len(rest) == 0:
		if !allowNoZone {
			return t, false, errNoZone
		}
		noZone = true
	default:
		return t, false, errDateTime
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC).Add(-time.Duration(offset) * time.Second)
	return t, noZone, nil
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
