package payload

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

type color string

func (color) Values() []string { return []string{"red", "green"} }

// sample exercises the constraints OCPP 1.6 does not use but 2.x does.
type sample struct {
	Name   string   `json:"name" ocpp:"required,minLength=2,maxLength=5"`
	Level  int      `json:"level" ocpp:"minimum=0,maximum=10"`
	Ratio  *float64 `json:"ratio,omitempty" ocpp:"minimum=-1.5,multipleOf=0.01"`
	Colors []color  `json:"colors,omitempty" ocpp:"minItems=1,maxItems=2"`
	When   DateTime `json:"when,omitzero"`
	Next   *sample  `json:"next,omitempty"`
	On     bool     `json:"on"`
}

func code(err error) ocppj.ErrorCode {
	var e *ocppj.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "not an *ocppj.Error"
}

func TestDecodeConstraints(t *testing.T) {
	tests := []struct {
		data string
		want ocppj.ErrorCode // "" means valid
		msg  string
	}{
		{`{"name":"abc"}`, "", ""},
		{`{"name":"abc","level":10,"ratio":-1.5,"colors":["red","green"],"when":"2024-01-01t00:00:00z","on":true,"next":{"name":"xy"}}`, "", ""},
		{`{"name":"a"}`, ocppj.PropertyConstraintViolation, "name: length 1 below minLength 2"},
		{`{"name":"abc","level":-1}`, ocppj.PropertyConstraintViolation, "level: -1 is below minimum 0"},
		{`{"name":"abc","level":11}`, ocppj.PropertyConstraintViolation, "level: 11 is above maximum 10"},
		{`{"name":"abc","level":1e1}`, "", ""}, // integral value in exponent form, as JSON Schema counts it
		{`{"name":"abc","level":1.0}`, "", ""},
		{`{"name":"abc","ratio":-1.6}`, ocppj.PropertyConstraintViolation, "ratio: -1.6 is below minimum -1.5"},
		{`{"name":"abc","ratio":0.125}`, ocppj.PropertyConstraintViolation, "ratio: 0.125 is not a multiple of 1e-2"},
		{`{"name":"abc","colors":[]}`, ocppj.OccurrenceConstraintViolation, "colors: 0 items, minItems is 1"},
		{`{"name":"abc","colors":["red","red","red"]}`, ocppj.OccurrenceConstraintViolation, "colors: 3 items, maxItems is 2"},
		{`{"name":"abc","colors":["blue"]}`, ocppj.PropertyConstraintViolation, `colors[0]: value "blue" not in enum (red, green)`},
		{`{"name":"abc","next":{}}`, ocppj.OccurrenceConstraintViolation, "next.name: required field missing"},
		{`{"name":"abc","next":null}`, ocppj.TypeConstraintViolation, "next: expected object, got null"},
		{`{"name":"abc","on":1}`, ocppj.TypeConstraintViolation, "on: expected boolean, got number"},
		{`{"name":"ab\u0063"}`, "", ""},
		{`{"n\u0061me":"abc"}`, "", ""},
		{`{"name":"abc","when":"2024-01-01T00:00:00+24:00"}`, ocppj.PropertyConstraintViolation, "when: invalid date-time"},
		{`{"name":"abc",}`, ocppj.FormatViolation, "not valid JSON"},
		{`{"name":"abc"} x`, ocppj.FormatViolation, "not valid JSON"},
		{`{"name":"a` + "\x01" + `c"}`, ocppj.FormatViolation, "not valid JSON"},
		{`{"name":"abc","level":01}`, ocppj.FormatViolation, "not valid JSON"},
	}
	for _, tc := range tests {
		var s sample
		_, err := Decode([]byte(tc.data), &s, Options{})
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.data, err)
			}
			continue
		}
		if code(err) != tc.want || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: got %v, want %s containing %q", tc.data, err, tc.want, tc.msg)
		}
	}
}

func TestDecodeZeroesTarget(t *testing.T) {
	s := sample{Name: "old", Level: 3, Colors: []color{"red"}}
	if _, err := Decode([]byte(`{"name":"new"}`), &s, Options{}); err != nil {
		t.Fatal(err)
	}
	if s.Level != 0 || s.Colors != nil {
		t.Errorf("stale fields kept: %+v", s)
	}
}

func TestDecodeBadTarget(t *testing.T) {
	var s sample
	for _, v := range []any{s, (*sample)(nil), new(int), new(struct{ C chan int })} {
		if _, err := Decode([]byte(`{}`), v, Options{}); code(err) != ocppj.InternalError {
			t.Errorf("%T: got %v, want InternalError", v, err)
		}
	}
}

func TestValidate(t *testing.T) {
	ratio := 0.25
	bad := 0.125
	tests := []struct {
		v    any
		want ocppj.ErrorCode
		msg  string
	}{
		{sample{Name: "abc"}, "", ""},
		{&sample{Name: "abc", Ratio: &ratio, Colors: []color{"green"}, When: NewDateTime(time.Now())}, "", ""},
		{sample{Name: "abcdef"}, ocppj.PropertyConstraintViolation, "name: length 6 exceeds maxLength 5"},
		{sample{Name: "abc", Ratio: &bad}, ocppj.PropertyConstraintViolation, "ratio: 0.125 is not a multiple"},
		{sample{Name: "abc", Colors: []color{"pink"}}, ocppj.PropertyConstraintViolation, "colors[0]: value \"pink\" not in enum"},
		{sample{Name: "abc", Next: &sample{Name: "x"}}, ocppj.PropertyConstraintViolation, "next.name: length 1 below minLength 2"},
		{sample{Name: "abc", Level: 11}, ocppj.PropertyConstraintViolation, "level: 11 is above maximum 10"},
		{struct {
			T DateTime `json:"t" ocpp:"required"`
		}{}, ocppj.OccurrenceConstraintViolation, "t: required field missing"},
		{struct {
			L []int `json:"l" ocpp:"required"`
		}{}, ocppj.OccurrenceConstraintViolation, "l: required field missing"},
		{(*sample)(nil), ocppj.InternalError, ""},
		{42, ocppj.InternalError, ""},
	}
	for i, tc := range tests {
		err := Validate(tc.v)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%d: %v", i, err)
			}
			continue
		}
		if code(err) != tc.want || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%d: got %v, want %s containing %q", i, err, tc.want, tc.msg)
		}
	}
}

func TestDateTime(t *testing.T) {
	ok := map[string]time.Time{
		"2024-05-01T12:00:00Z":            time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		"2024-05-01T12:00:00.5Z":          time.Date(2024, 5, 1, 12, 0, 0, 5e8, time.UTC),
		"2024-05-01T12:00:00.1234567891Z": time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC),
		"2024-05-01T14:30:00+02:30":       time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		"2024-05-01t12:00:00-01:00":       time.Date(2024, 5, 1, 13, 0, 0, 0, time.UTC),
		"2024-02-29T00:00:00Z":            time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
	}
	for s, want := range ok {
		got, noZone, err := parseDateTime([]byte(s), false)
		if err != nil || noZone || !got.Equal(want) {
			t.Errorf("%s: got %v %v %v, want %v", s, got, noZone, err, want)
		}
	}
	for _, s := range []string{"", "2024-05-01", "2024-05-01 12:00:00Z", "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z",
		"2024-05-01T24:00:00Z", "2024-05-01T12:00:60Z", "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00+0200", "2024-05-01T12:00:00", "+024-05-01T12:00:00Z"} {
		if _, _, err := parseDateTime([]byte(s), false); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	if got, noZone, err := parseDateTime([]byte("2024-05-01T12:00:00"), true); err != nil || !noZone || got.Location() != time.UTC {
		t.Errorf("lenient no-zone: %v %v %v", got, noZone, err)
	}
	for in, want := range map[time.Time]string{
		time.Date(2024, 5, 1, 14, 0, 0, 0, time.FixedZone("", 7200)): `"2024-05-01T12:00:00Z"`,
		time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC):         `"2024-05-01T12:00:00.123Z"`,
	} {
		out, err := json.Marshal(NewDateTime(in))
		if err != nil || string(out) != want {
			t.Errorf("Marshal(%v) = %s %v, want %s", in, out, err, want)
		}
	}
	var d DateTime
	if err := json.Unmarshal([]byte(`"2024-05-01T12:00:00Z"`), &d); err != nil || d.Hour() != 12 {
		t.Errorf("UnmarshalJSON: %v %v", d, err)
	}
	if err := json.Unmarshal([]byte(`"2024-05-01T12:00:00"`), &d); err == nil {
		t.Error("UnmarshalJSON accepted a date-time without zone")
	}
}

func TestDecimal(t *testing.T) {
	tests := []struct {
		in       string
		integer  bool
		n        int64
		inRange  bool
		tenthsOK bool
	}{
		{"0", true, 0, true, true},
		{"-0.0", true, 0, true, true},
		{"12", true, 12, true, true},
		{"1.20", false, 0, false, true},
		{"1.25", false, 0, false, false},
		{"2.5e1", true, 25, true, true},
		{"-9223372036854775808", true, -9223372036854775808, true, true},
		{"9223372036854775808", true, 0, false, true},
		{"1e999999999999999999", true, 0, false, true},
		{"1e-999999999999999999", false, 0, false, false},
	}
	for _, tc := range tests {
		d, ok := parseDecimal([]byte(tc.in))
		if !ok {
			t.Errorf("%s: not parsed", tc.in)
			continue
		}
		n, inRange := d.int64()
		if d.isInteger() != tc.integer || inRange != tc.inRange || n != tc.n || d.multipleOfPow10(-1) != tc.tenthsOK {
			t.Errorf("%s: integer=%v n=%d inRange=%v tenths=%v", tc.in, d.isInteger(), n, inRange, d.multipleOfPow10(-1))
		}
	}
	for _, bad := range []string{"", "-", "01", "1.", ".1", "1e", "+1", "1e+", "0x10", "1 "} {
		if _, ok := parseDecimal([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestBadTags(t *testing.T) {
	for _, v := range []any{
		new(struct {
			A string `ocpp:"maxLength=x"`
		}),
		new(struct {
			A float64 `ocpp:"multipleOf=0.3"`
		}),
		new(struct {
			A string `ocpp:"format=email"`
		}),
		new(struct {
			A string `ocpp:"bogus"`
		}),
	} {
		if err := Validate(v); code(err) != ocppj.InternalError {
			t.Errorf("%T: got %v, want InternalError", v, err)
		}
	}
}

// FuzzDecode: Decode never panics, and what it accepts re-encodes to JSON
// that it accepts again with the same value.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"name":"abc"}`, `{"name":"abc","level":10,"ratio":-1.5,"colors":["red"],"when":"2024-01-01T00:00:00Z","on":true,"next":{"name":"xy"}}`,
		`{"name":"abc","x":[1,{"y":null}]}`, `{"name":"a\u00e9\ud800"}`, `[`, `{"name":"abc","when":"2024-01-01T00:00:00"}`} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, lenient bool) {
		var s sample
		if _, err := Decode(data, &s, Options{Lenient: lenient}); err != nil {
			if code(err) == "not an *ocppj.Error" {
				t.Fatalf("bad error type: %v", err)
			}
			return
		}
		if !lenient && Validate(s) != nil {
			t.Fatalf("decoded %q but Validate rejects %+v: %v", data, s, Validate(s))
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
	})
}

// TestDateTimeMarshalMatchesTimeFormat: the hand-written encoder writes
// what time.Format does with the RFC 3339 layouts it replaces.
func TestDateTimeMarshalMatchesTimeFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2026, 11, 28, 10, 0, 0, 999_999, time.UTC), // under a millisecond: no fraction
		time.Date(2026, 11, 28, 10, 0, 0, 1_000_000, time.FixedZone("CET", 3600)),
	}
	for range 2000 {
		cases = append(cases, time.Unix(rng.Int64N(250_000_000_000), rng.Int64N(1e9)))
	}
	for _, tm := range cases {
		layout := `"2006-01-02T15:04:05Z"`
		if tm.Nanosecond() >= int(time.Millisecond) {
			layout = `"2006-01-02T15:04:05.000Z"`
		}
		want := tm.UTC().Format(layout)
		got, err := NewDateTime(tm).MarshalJSON()
		if err != nil || string(got) != want {
			t.Fatalf("MarshalJSON(%v) = %s, %v; want %s", tm, got, err, want)
		}
	}
	if _, err := NewDateTime(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)).MarshalJSON(); err == nil {
		t.Error("year 10000 encoded")
	}
}
