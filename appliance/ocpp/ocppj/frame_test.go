package ocppj

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		in   string
		want Message
	}{
		{`[2,"19223201","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"SingleSocketCharger"}]`,
			Message{Type: Call, ID: "19223201", Action: "BootNotification",
				Payload: json.RawMessage(`{"chargePointVendor":"VendorX","chargePointModel":"SingleSocketCharger"}`)}},
		{" [ 2 , \"a\\u0062\" , \"Heartbeat\" , { } ] \n",
			Message{Type: Call, ID: "ab", Action: "Heartbeat", Payload: json.RawMessage(`{ }`)}},
		{`[3,"x",{"currentTime":"2024-01-01T00:00:00Z","n":[1,-2.5e3,true,null,{"a":[]}]}]`,
			Message{Type: CallResult, ID: "x", Payload: json.RawMessage(`{"currentTime":"2024-01-01T00:00:00Z","n":[1,-2.5e3,true,null,{"a":[]}]}`)}},
		{`[4,"x","FormationViolation","bad",{}]`,
			Message{Type: CallError, ID: "x", Error: &Error{Code: FormatViolation, Description: "bad"}}},
		{`[4,"x","GenericError","",{"k":"v"}]`,
			Message{Type: CallError, ID: "x", Error: &Error{Code: GenericError, Details: map[string]any{"k": "v"}}}},
		{`[5,"x","InternalError","d",{}]`,
			Message{Type: CallResultError, ID: "x", Error: &Error{Code: InternalError, Description: "d"}}},
		{`[6,"x","NotifyPeriodicEventStream",{}]`,
			Message{Type: Send, ID: "x", Action: "NotifyPeriodicEventStream", Payload: json.RawMessage(`{}`)}},
		{`[2,"` + strings.Repeat("é", 36) + `","A",{}]`,
			Message{Type: Call, ID: strings.Repeat("é", 36), Action: "A", Payload: json.RawMessage(`{}`)}},
	}
	for _, tt := range tests {
		got, err := Parse([]byte(tt.in))
		if err != nil {
			t.Errorf("Parse(%s): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%s) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in     string
		code   ErrorCode
		id     string
		msType MessageType
	}{
		{``, FormatViolation, "", 0},
		{`[2,"a","B",{]`, FormatViolation, "", 0},
		{`[2,"a","B",{}] x`, FormatViolation, "", 0},
		{`[2,"a","B",{}`, FormatViolation, "", 0},
		{`[2,"a\x01","B",{}]`, FormatViolation, "", 0},
		{`[2,"a","B",{"k":01}]`, FormatViolation, "", 0},
		{`{"a":1}`, RPCFrameworkError, "", 0},
		{`[]`, RPCFrameworkError, "", 0},
		{`["2","a","B",{}]`, RPCFrameworkError, "a", 0},
		{`[2.5,"a","B",{}]`, RPCFrameworkError, "a", 0},
		{`[2,7,"B",{}]`, RPCFrameworkError, "", Call},
		{`[2]`, RPCFrameworkError, "", Call},
		{`[2,""]`, RPCFrameworkError, "", Call},
		{`[2,"` + strings.Repeat("x", 37) + `","B",{}]`, RPCFrameworkError, strings.Repeat("x", 37), Call},
		{`[9,"a","B",{}]`, MessageTypeNotSupported, "a", 9},
		{`[2,"a","B"]`, ProtocolError, "a", Call},
		{`[2,"a"]`, ProtocolError, "a", Call},
		{`[2,"a","B",{},1]`, ProtocolError, "a", Call},
		{`[3,"a"]`, ProtocolError, "a", CallResult},
		{`[4,"a","GenericError",""]`, ProtocolError, "a", CallError},
		{`[2,"a",5,{}]`, FormatViolation, "a", Call},
		{`[2,"a","",{}]`, FormatViolation, "a", Call},
		{`[2,"a","B",[]]`, FormatViolation, "a", Call},
		{`[2,"a","B","{}"]`, FormatViolation, "a", Call},
		{`[3,"a",null]`, FormatViolation, "a", CallResult},
		{`[4,"a",1,"",{}]`, FormatViolation, "a", CallError},
		{`[4,"a","X","",[]]`, FormatViolation, "a", CallError},
		{`[2,"a","B",` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `]`, FormatViolation, "a", Call},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) error = %v, want *ParseError", tt.in, err)
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != tt.code || pe.ID != tt.id || pe.Type != tt.msType {
			t.Errorf("Parse(%q) = {type %d id %q code %s}, want {type %d id %q code %s}",
				tt.in, pe.Type, pe.ID, pe.Err.Code, tt.msType, tt.id, tt.code)
		}
	}
}

func TestEncode(t *testing.T) {
	if got := string(EncodeCall("1", "Heartbeat", nil)); got != `[2,"1","Heartbeat",{}]` {
		t.Errorf("EncodeCall = %s", got)
	}
	if got := string(EncodeResult("1", []byte(`{"a":1}`))); got != `[3,"1",{"a":1}]` {
		t.Errorf("EncodeResult = %s", got)
	}
	if got := string(EncodeError(V16, "1", Errorf(FormatViolation, "bad"))); got != `[4,"1","FormationViolation","bad",{}]` {
		t.Errorf("EncodeError 1.6 = %s", got)
	}
	if got := string(EncodeError(V201, "1", Errorf(FormatViolation, "bad"))); got != `[4,"1","FormatViolation","bad",{}]` {
		t.Errorf("EncodeError 2.0.1 = %s", got)
	}
	if got := string(EncodeError(V201, "q\"", &Error{Code: GenericError, Details: map[string]any{"a": 1}})); got != `[4,"q\"","GenericError","",{"a":1}]` {
		t.Errorf("EncodeError details = %s", got)
	}
	long := EncodeError(V201, "1", &Error{Code: GenericError, Description: strings.Repeat("ü", 300)})
	m, err := Parse(long)
	if err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(m.Error.Description)); n != MaxDescriptionLen {
		t.Errorf("description has %d runes, want %d", n, MaxDescriptionLen)
	}
	// Invalid UTF-8 in strings still yields valid JSON.
	if b := EncodeCall("\xff", "A", nil); !json.Valid(b) {
		t.Errorf("EncodeCall with bad UTF-8 produced invalid JSON %q", b)
	}
}

// reencode encodes m back into a frame.
func reencode(m Message) []byte {
	switch m.Type {
	case Call:
		return EncodeCall(m.ID, m.Action, m.Payload)
	case Send:
		return EncodeSend(m.ID, m.Action, m.Payload)
	case CallResult:
		return EncodeResult(m.ID, m.Payload)
	case CallError:
		return EncodeError(V201, m.ID, m.Error)
	case CallResultError:
		return EncodeResultError(m.ID, m.Error)
	}
	return nil
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`[2,"19223201","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"S"}]`,
		`[3,"19223201",{"status":"Accepted","currentTime":"2013-02-01T20:53:32.486Z","interval":300}]`,
		`[4,"162376037","NotSupported","SetDisplayMessageRequest not implemented",{}]`,
		`[5,"a","InternalError","",{"x":[1,2]}]`,
		`[6,"a","NotifyPeriodicEventStream",{"data":[{"t":1,"v":"2"}]}]`,
		`[2,"a\u00e9","B",{"s":"\ud83d\ude00"}]`,
		`[9,"a"]`, `[2,"a"]`, `{}`, `[`, `"x"`, `[2,"a","B",{},[]]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Err == nil {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		m2, err := Parse(reencode(m))
		if err != nil {
			t.Fatalf("re-encoded %q does not parse: %v", reencode(m), err)
		}
		if m.Error != nil && m.Error.Details != nil {
			// Details went through map[string]any; compare encodings.
			a, _ := json.Marshal(m.Error.Details)
			b, _ := json.Marshal(m2.Error.Details)
			if !bytes.Equal(a, b) {
				t.Fatalf("details changed: %s vs %s", a, b)
			}
			m.Error.Details, m2.Error.Details = nil, nil
		}
		if m.Error != nil && len([]rune(m.Error.Description)) > MaxDescriptionLen {
			m.Error.Description = truncate(m.Error.Description, MaxDescriptionLen)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed message: %+v vs %+v", m, m2)
		}
	})
}

var sinkMsg Message

func BenchmarkParse(b *testing.B) {
	frames := map[string][]byte{
		"Heartbeat": []byte(`[2,"7d4f1a0c-3f0e-4a7b-9a53-1c2d3e4f5a6b","Heartbeat",{}]`),
		"MeterValues": []byte(`[2,"7d4f1a0c-3f0e-4a7b-9a53-1c2d3e4f5a6b","MeterValues",{"connectorId":1,"transactionId":42,` +
			`"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[{"value":"12345.6","measurand":"Energy.Active.Import.Register","unit":"Wh"},` +
			`{"value":"16.1","measurand":"Current.Import","phase":"L1","unit":"A"},{"value":"230.2","measurand":"Voltage","phase":"L1-N","unit":"V"}]}]}]`),
	}
	for name, frame := range frames {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				m, err := Parse(frame)
				if err != nil {
					b.Fatal(err)
				}
				sinkMsg = m
			}
		})
	}
}

var sinkBytes []byte

func BenchmarkEncodeResult(b *testing.B) {
	payload := []byte(`{"currentTime":"2024-05-01T12:00:00Z"}`)
	b.ReportAllocs()
	for b.Loop() {
		sinkBytes = EncodeResult("7d4f1a0c-3f0e-4a7b-9a53-1c2d3e4f5a6b", payload)
	}
}

func BenchmarkEncodeError(b *testing.B) {
	e := Errorf(FormatViolation, "payload does not match schema")
	b.ReportAllocs()
	for b.Loop() {
		sinkBytes = EncodeError(V16, "7d4f1a0c-3f0e-4a7b-9a53-1c2d3e4f5a6b", e)
	}
}
