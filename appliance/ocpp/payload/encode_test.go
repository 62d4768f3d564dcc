package payload

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

// TestMarshalMatchesEncodingJSON: for values without absent fields,
// Marshal writes what encoding/json writes, byte for byte.
func TestMarshalMatchesEncodingJSON(t *testing.T) {
	ratio := func(f float64) *float64 { return &f }
	when := NewDateTime(time.Date(2024, 5, 1, 12, 0, 0, 123e6, time.FixedZone("", 7200)))
	values := []sample{
		{Name: "abc"},
		{Name: "ab\"c", Level: 10, Ratio: ratio(-1.5), Colors: []color{"red", "green"}, When: when, On: true, Next: &sample{Name: "xy"}},
		{Name: "a\\\n\t", Ratio: ratio(0.01)},
		{Name: "\x01\x1f", Ratio: ratio(1e-2)},
		{Name: "héllo", Ratio: ratio(-1)},
		{Name: "日本"},
		{Name: "\u2028x", Ratio: ratio(0)},
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", v, err)
		}
		if string(got) != string(want) {
			t.Errorf("Marshal = %s\nencoding/json = %s", got, want)
		}
	}
}

// TestMarshalLeavesOutAbsentFields: what Validate treats as absent is not
// written at all, so null never reaches a charger.
func TestMarshalLeavesOutAbsentFields(t *testing.T) {
	type opt struct {
		P *int     `json:"p"`
		S []string `json:"s"`
		W DateTime `json:"w,omitzero"`
		N int      `json:"n,omitempty"`
	}
	got, err := Marshal(opt{})
	if err != nil || string(got) != `{}` {
		t.Fatalf("Marshal = %s, %v; want {}", got, err)
	}
	n := 0
	got, err = Marshal(&opt{P: &n, S: []string{}})
	if err != nil || string(got) != `{"p":0,"s":[]}` {
		t.Fatalf("Marshal = %s, %v", got, err)
	}
}

// TestMarshalValidates: Marshal refuses what Validate refuses, with the
// same code.
func TestMarshalValidates(t *testing.T) {
	for _, v := range []any{sample{}, sample{Name: "toolong"}, sample{Name: "ab", Colors: []color{"blue"}}, (*sample)(nil), 3} {
		verr := Validate(v)
		_, merr := Marshal(v)
		if verr == nil || merr == nil || code(verr) != code(merr) || verr.Error() != merr.Error() {
			t.Errorf("%#v: Validate %v, Marshal %v", v, verr, merr)
		}
	}
	if _, err := Marshal(sample{Name: "ab", When: NewDateTime(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))}); code(err) != ocppj.PropertyConstraintViolation {
		t.Errorf("year 10000: %v", err)
	}
}

// FuzzMarshalString: any Go string, valid UTF-8 or not, comes out as a JSON
// string that decodes to the same text (invalid bytes as U+FFFD).
func FuzzMarshalString(f *testing.F) {
	for _, s := range []string{"", "abc", "\"\\\n", "\x00\x7f", "\xff\xfe", "é\u2029", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q encoded as invalid JSON %s: %v", s, b, err)
		}
		// Each invalid byte becomes one U+FFFD, as with encoding/json.
		var want strings.Builder
		for _, r := range s {
			want.WriteRune(r)
		}
		if back != want.String() {
			t.Fatalf("%q round-tripped as %q", s, back)
		}
	})
}
