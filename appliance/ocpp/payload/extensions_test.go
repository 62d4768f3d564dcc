package payload

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

// The OCPP 2.x schemas need what 1.6 does not: properties of any JSON
// type, open objects, and exact number bounds.

// vendorData is an open object, as OCPP 2.x CustomDataType is.
type vendorData struct {
	_        struct{} `ocpp:"open"`
	VendorId string   `json:"vendorId" ocpp:"required,maxLength=5"`
}

type transfer struct {
	CustomData *vendorData       `json:"customData,omitempty"`
	VendorId   string            `json:"vendorId" ocpp:"required"`
	Data       json.RawMessage   `json:"data,omitempty"`
	Items      []json.RawMessage `json:"items,omitempty" ocpp:"maxItems=2"`
	Limit      *float64          `json:"limit,omitempty" ocpp:"maximum=0"`
	Share      *float64          `json:"share,omitempty" ocpp:"minimum=0,maximum=100"`
	EvseIds    []int             `json:"evseIds,omitempty" ocpp:"minItems=1,minimum=0"`
	Phases     *int              `json:"phases,omitempty" ocpp:"minimum=0,maximum=3"`
}

type needsData struct {
	Data json.RawMessage `json:"data" ocpp:"required"`
}

func TestRawMessageDecode(t *testing.T) {
	for _, raw := range []string{`1`, `-2.5e3`, `"text"`, `null`, `true`, `[]`, `{}`, `{ "a" : [1, {"b": null}] }`, `"\u00e9\ud800"`} {
		data := []byte(`{"vendorId":"v","data":` + raw + `}`)
		var v transfer
		if w, err := Decode(data, &v, Options{}); err != nil || len(w) > 0 {
			t.Errorf("%s: %v %v", raw, err, w)
			continue
		}
		if string(v.Data) != raw {
			t.Errorf("%s: kept %s", raw, v.Data)
		}
		for i := range data {
			data[i] = 'x' // the decoded value must not alias the input
		}
		if string(v.Data) != raw {
			t.Errorf("%s: aliases the input: %s", raw, v.Data)
		}
	}
	var v transfer
	if _, err := Decode([]byte(`{"vendorId":"v","items":[1,"a",null]}`), &v, Options{}); code(err) != ocppj.OccurrenceConstraintViolation {
		t.Errorf("3 raw items, maxItems 2: %v", err)
	}
	if _, err := Decode([]byte(`{"vendorId":"v","items":[1,{"a":null}]}`), &v, Options{}); err != nil || len(v.Items) != 2 || string(v.Items[1]) != `{"a":null}` {
		t.Errorf("raw items: %v %q", err, v.Items)
	}
	for _, bad := range []string{`{"vendorId":"v","data":}`, `{"vendorId":"v","data":[1,]}`, `{"vendorId":"v","data":nul}`, `{"vendorId":"v","data":{"a"}}`, `{"vendorId":"v","data":01}`} {
		if _, err := Decode([]byte(bad), &v, Options{Lenient: true}); code(err) != ocppj.FormatViolation {
			t.Errorf("%s: got %v, want FormatViolation", bad, err)
		}
	}
	deep := `{"vendorId":"v","data":` + strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2) + `}`
	if _, err := Decode([]byte(deep), &v, Options{}); code(err) != ocppj.FormatViolation {
		t.Errorf("too deep: %v", err)
	}
	var n needsData
	if _, err := Decode([]byte(`{}`), &n, Options{}); code(err) != ocppj.OccurrenceConstraintViolation {
		t.Errorf("required raw missing: %v", err)
	}
	if _, err := Decode([]byte(`{"data":null}`), &n, Options{}); err != nil || string(n.Data) != "null" {
		t.Errorf("required raw null: %v %s", err, n.Data)
	}
}

func TestRawMessageEncode(t *testing.T) {
	tests := []struct {
		v    any
		want string
		code ocppj.ErrorCode
	}{
		{transfer{VendorId: "v"}, `{"vendorId":"v"}`, ""},
		{transfer{VendorId: "v", Data: json.RawMessage{}}, `{"vendorId":"v"}`, ""},
		{transfer{VendorId: "v", Data: json.RawMessage(`{ "a" : 1 }`)}, `{"vendorId":"v","data":{ "a" : 1 }}`, ""},
		{transfer{VendorId: "v", Data: json.RawMessage(`null`)}, `{"vendorId":"v","data":null}`, ""},
		{transfer{VendorId: "v", Items: []json.RawMessage{json.RawMessage(`1`), json.RawMessage(`"x"`)}}, `{"vendorId":"v","items":[1,"x"]}`, ""},
		{transfer{VendorId: "v", Data: json.RawMessage(`{"a":`)}, "", ocppj.FormatViolation},
		{transfer{VendorId: "v", Items: []json.RawMessage{nil}}, "", ocppj.FormatViolation},
		{needsData{}, "", ocppj.OccurrenceConstraintViolation},
		{needsData{Data: json.RawMessage(`"x"`)}, `{"data":"x"}`, ""},
	}
	for i, tc := range tests {
		out, err := Marshal(tc.v)
		if tc.code != "" {
			if code(err) != tc.code || code(Validate(tc.v)) != tc.code {
				t.Errorf("%d: Marshal %v, Validate %v; want %s", i, err, Validate(tc.v), tc.code)
			}
			continue
		}
		if err != nil || string(out) != tc.want {
			t.Errorf("%d: Marshal = %s, %v; want %s", i, out, err, tc.want)
		}
	}
	if err := Validate(&struct {
		P *json.RawMessage `json:"p"`
	}{}); code(err) != ocppj.InternalError {
		t.Errorf("*json.RawMessage: %v, want InternalError", err)
	}
}

func TestOpenObject(t *testing.T) {
	tests := []struct {
		data string
		want ocppj.ErrorCode
		msg  string
	}{
		{`{"vendorId":"v","customData":{"vendorId":"acme","extra":[1,{"x":null}],"more":"y"}}`, "", ""},
		{`{"vendorId":"v","customData":{"extra":1}}`, ocppj.OccurrenceConstraintViolation, "customData.vendorId: required field missing"},
		{`{"vendorId":"v","customData":{"vendorId":"toolong"}}`, ocppj.PropertyConstraintViolation, "customData.vendorId: length 7 exceeds maxLength 5"},
		{`{"vendorId":"v","customData":{"vendorId":"a","vendorId":"b"}}`, ocppj.FormatViolation, "duplicate field"},
		{`{"vendorId":"v","customData":{"vendorId":"a","x":}}`, ocppj.FormatViolation, "not valid JSON"},
		{`{"vendorId":"v","extra":1}`, ocppj.FormatViolation, "extra: unknown field"}, // the outer object is closed
	}
	for _, tc := range tests {
		var v transfer
		w, err := Decode([]byte(tc.data), &v, Options{})
		if tc.want == "" {
			if err != nil || len(w) > 0 || v.CustomData == nil || v.CustomData.VendorId != "acme" {
				t.Errorf("%s: %v %v %+v", tc.data, err, w, v.CustomData)
			}
			continue
		}
		if code(err) != tc.want || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: got %v, want %s containing %q", tc.data, err, tc.want, tc.msg)
		}
	}
	// Lenient mode warns about the closed object's unknown field only.
	var v transfer
	w, err := Decode([]byte(`{"vendorId":"v","x":1,"customData":{"vendorId":"a","y":2}}`), &v, Options{Lenient: true})
	if err != nil || len(w) != 1 || !strings.Contains(w[0], "x: unknown field") {
		t.Errorf("lenient: %v %q", err, w)
	}
	out, err := Marshal(v)
	if err != nil || string(out) != `{"customData":{"vendorId":"a"},"vendorId":"v"}` {
		t.Errorf("Marshal = %s, %v", out, err)
	}
	if err := Validate(new(struct {
		_ struct{} `ocpp:"closed"`
	})); code(err) != ocppj.InternalError {
		t.Errorf("bad marker: %v", err)
	}
	if err := Validate(new(struct {
		A string `ocpp:"open"`
	})); code(err) != ocppj.InternalError {
		t.Errorf("open on a named field: %v", err)
	}
}

// TestExactBounds: minimum and maximum compare the number as written, not
// its float64, as the schema validator does.
func TestExactBounds(t *testing.T) {
	tests := []struct {
		data string
		want ocppj.ErrorCode
		msg  string
	}{
		{`{"vendorId":"v","limit":0}`, "", ""},
		{`{"vendorId":"v","limit":-0.0}`, "", ""},
		{`{"vendorId":"v","limit":-1e-400}`, "", ""},
		{`{"vendorId":"v","limit":1e-400}`, ocppj.PropertyConstraintViolation, "limit: 0 is above maximum 0"},
		{`{"vendorId":"v","limit":0.5}`, ocppj.PropertyConstraintViolation, "limit: 0.5 is above maximum 0"},
		{`{"vendorId":"v","share":100.0}`, "", ""},
		{`{"vendorId":"v","share":1e2}`, "", ""},
		{`{"vendorId":"v","share":100.00000000000000001}`, ocppj.PropertyConstraintViolation, "above maximum 100"},
		{`{"vendorId":"v","share":-0.00000000000000000000001}`, ocppj.PropertyConstraintViolation, "below minimum 0"},
		{`{"vendorId":"v","phases":3}`, "", ""},
		{`{"vendorId":"v","phases":3.0}`, "", ""},
		{`{"vendorId":"v","phases":4}`, ocppj.PropertyConstraintViolation, "phases: 4 is above maximum 3"},
		{`{"vendorId":"v","phases":-0}`, "", ""},
		{`{"vendorId":"v","phases":-1}`, ocppj.PropertyConstraintViolation, "phases: -1 is below minimum 0"},
		{`{"vendorId":"v","evseIds":[0,1,2]}`, "", ""},
		{`{"vendorId":"v","evseIds":[1,-1]}`, ocppj.PropertyConstraintViolation, "evseIds[1]: -1 is below minimum 0"},
		{`{"vendorId":"v","evseIds":[]}`, ocppj.OccurrenceConstraintViolation, "evseIds: 0 items, minItems is 1"},
	}
	for _, tc := range tests {
		var v transfer
		_, err := Decode([]byte(tc.data), &v, Options{})
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
	f := func(x float64) *float64 { return &x }
	i := func(x int) *int { return &x }
	for _, tc := range []struct {
		v  transfer
		ok bool
	}{
		{transfer{VendorId: "v", Limit: f(-1e-300), Share: f(100), Phases: i(0), EvseIds: []int{0}}, true},
		{transfer{VendorId: "v", Limit: f(5e-324)}, false},
		{transfer{VendorId: "v", Share: f(100.00000000000001)}, false},
		{transfer{VendorId: "v", Phases: i(-1)}, false},
		{transfer{VendorId: "v", EvseIds: []int{3, -9223372036854775808}}, false},
	} {
		if err := Validate(tc.v); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tc.v, err, tc.ok)
		}
	}
}

func TestDecimalCmp(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"0", "-0.0", 0},
		{"1", "1.0e0", 0},
		{"10", "1e1", 0},
		{"1", "2", -1},
		{"-1", "-2", 1},
		{"-1", "0", -1},
		{"0", "1e-400", -1},
		{"-1e-400", "0", -1},
		{"100", "100.00000000000000001", -1},
		{"99.5", "100", -1},
		{"123", "12.3e1", 0},
		{"1e999999999999999999", "9e18", 1},
		{"-9223372036854775808", "-9223372036854775807", -1},
	}
	for _, tc := range tests {
		a, _ := parseDecimal([]byte(tc.a))
		b, _ := parseDecimal([]byte(tc.b))
		if got := a.cmp(b); got != tc.want {
			t.Errorf("cmp(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := b.cmp(a); got != -tc.want {
			t.Errorf("cmp(%s, %s) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

// FuzzDecodeExtensions: with raw values, open objects and bounds, what
// Decode accepts is valid JSON, passes Validate, and Marshal writes JSON
// that decodes to the same value.
func FuzzDecodeExtensions(f *testing.F) {
	for _, s := range []string{`{"vendorId":"v"}`, `{"vendorId":"v","data":{"a":[1,null]},"items":["x",2]}`,
		`{"vendorId":"v","customData":{"vendorId":"a","x":{"y":[]}},"limit":-1e-3,"share":99.5,"evseIds":[0,3],"phases":3}`,
		`{"vendorId":"v","data":1e999,"limit":-0}`} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, lenient bool) {
		var v transfer
		if _, err := Decode(data, &v, Options{Lenient: lenient}); err != nil {
			if code(err) == "not an *ocppj.Error" {
				t.Fatalf("bad error type: %v", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if lenient {
			return // over-long strings are kept and would not validate
		}
		out, err := Marshal(v)
		if err != nil {
			t.Fatalf("decoded %q but Marshal refuses %+v: %v", data, v, err)
		}
		var again transfer
		if _, err := Decode(out, &again, Options{}); err != nil {
			t.Fatalf("Marshal wrote %s, which Decode refuses: %v", out, err)
		}
		if !reflect.DeepEqual(v, again) {
			t.Fatalf("round trip of %q through %s changed\n%#v\nto\n%#v", data, out, v, again)
		}
	})
}
