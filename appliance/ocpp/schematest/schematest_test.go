package schematest

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

func TestFile(t *testing.T) {
	tests := []struct {
		v        ocppj.Version
		action   string
		response bool
		want     string
	}{
		{ocppj.V16, "Authorize", false, "1.6/Authorize.json"},
		{ocppj.V16, "Authorize", true, "1.6/AuthorizeResponse.json"},
		{ocppj.V201, "Authorize", false, "2.0.1/AuthorizeRequest.json"},
		{ocppj.V21, "Authorize", true, "2.1/AuthorizeResponse.json"},
	}
	for _, tc := range tests {
		if got := File("root", tc.v, tc.action, tc.response); got != filepath.Join("root", filepath.FromSlash(tc.want)) {
			t.Errorf("File(%s, %s, %t) = %s, want root/%s", tc.v, tc.action, tc.response, got, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		v        ocppj.Version
		action   string
		response bool
		payload  string
		valid    bool
	}{
		{"1.6 request", ocppj.V16, "Authorize", false, `{"idTag":"ABC"}`, true},
		{"1.6 maxLength", ocppj.V16, "Authorize", false, `{"idTag":"123456789012345678901"}`, false},
		{"1.6 extra property", ocppj.V16, "Authorize", false, `{"idTag":"A","x":1}`, false},
		{"1.6 date-time format", ocppj.V16, "Heartbeat", true, `{"currentTime":"yesterday"}`, false},
		{"1.6 response", ocppj.V16, "Heartbeat", true, `{"currentTime":"2025-01-01T00:00:00Z"}`, true},
		{"2.0.1 request", ocppj.V201, "Heartbeat", false, `{}`, true},
		{"2.0.1 enum", ocppj.V201, "Authorize", false, `{"idToken":{"idToken":"A","type":"Nope"}}`, false},
		{"2.1 request", ocppj.V21, "Authorize", false, `{"idToken":{"idToken":"A","type":"ISO14443"}}`, true},
		{"not JSON", ocppj.V16, "Heartbeat", false, `{`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(t, tc.v, tc.action, tc.response, []byte(tc.payload))
			if (err == nil) != tc.valid {
				t.Errorf("Check(%s) = %v, want valid %t", tc.payload, err, tc.valid)
			}
		})
	}
}

func TestCheckMissingSchema(t *testing.T) {
	err := Check(t, ocppj.V16, "TransactionEvent", false, []byte(`{}`))
	if !errors.Is(err, ErrNoSchema) {
		t.Errorf("Check of an action 1.6 lacks = %v, want ErrNoSchema", err)
	}
	if err := Check(t, "ocpp9", "Heartbeat", false, []byte(`{}`)); err == nil {
		t.Error("Check of an unknown version succeeded")
	}
}

func TestSchemaCached(t *testing.T) {
	a := Schema(t, ocppj.V16, "BootNotification", false)
	b := Schema(t, ocppj.V16, "BootNotification", false)
	if a != b {
		t.Error("Schema compiled the same file twice")
	}
}

// TestValidateFails checks that Validate reports an invalid payload, using
// a recorder in place of the real test.
func TestValidateFails(t *testing.T) {
	Dir(t)
	r := &recorder{TB: t}
	Validate(r, ocppj.V16, "Authorize", false, []byte(`{}`))
	if !r.failed {
		t.Error("Validate accepted a payload without the required idTag")
	}
	r = &recorder{TB: t}
	Validate(r, ocppj.V16, "Authorize", false, []byte(`{"idTag":"A"}`))
	if r.failed {
		t.Error("Validate refused a valid payload")
	}
}

type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Helper()               {}

func TestFileSend(t *testing.T) {
	dir := Dir(t)
	if got, want := File(dir, ocppj.V21, "NotifyPeriodicEventStream", false), filepath.Join(dir, "2.1", "NotifyPeriodicEventStream.json"); got != want {
		t.Errorf("File = %s, want %s", got, want)
	}
	if _, err := compile(dir, ocppj.V21, "NotifyPeriodicEventStream", true); !errors.Is(err, ErrNoSchema) {
		t.Errorf("response of a SEND message: %v, want ErrNoSchema", err)
	}
}

// TestExample: both examples of a few payloads are schema-valid (Example
// checks) and have the shape documented.
func TestExample(t *testing.T) {
	for _, v := range []ocppj.Version{ocppj.V201, ocppj.V21} {
		minimal := Example(t, v, "BootNotification", false, false)
		if got := string(minimal); got != `{"chargingStation":{"model":"x","vendorName":"x"},"reason":"ApplicationReset"}` {
			t.Errorf("%s minimal = %s", v, got)
		}
		full := string(Example(t, v, "BootNotification", false, true))
		for _, want := range []string{`"vendorExtension":{"any":[1,"two",null,true]}`, `"reason":"Watchdog"`, `"model":"é` + strings.Repeat("x", 19) + `"`} {
			if !strings.Contains(full, want) {
				t.Errorf("%s full example lacks %s: %s", v, want, full)
			}
		}
		if full := string(Example(t, v, "DataTransfer", false, true)); !strings.Contains(full, `"data":[1.5,"two",null,false,[]]`) {
			t.Errorf("%s DataTransfer full = %s", v, full)
		}
	}
	Example(t, ocppj.V16, "StopTransaction", false, true)
	Example(t, ocppj.V21, "NotifyPeriodicEventStream", false, true)
}

func TestHasDuplicateKeys(t *testing.T) {
	for data, want := range map[string]bool{
		`{"a":1,"b":2}`:                  false,
		`{"a":1,"a":2}`:                  true,
		`{"a":1,"\u0061":2}`:             true,
		`{"a":{"b":1},"c":{"b":2}}`:      false,
		`{"a":[{"b":1,"b":2}]}`:          true,
		`{"a":{"x":1},"a":[]}`:           true,
		`[{"a":1},{"a":1}]`:              false,
		`{"a":[1,{"c":2}],"b":{"c":{}}}`: false,
		`{"a":1,`:                        false,
	} {
		if got := HasDuplicateKeys([]byte(data)); got != want {
			t.Errorf("HasDuplicateKeys(%s) = %v, want %v", data, got, want)
		}
	}
}
