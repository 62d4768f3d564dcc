package charging

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseCommand(t *testing.T) {
	ok := []struct {
		kind, body string
		want       Command
	}{
		{"clear-cache", "", Command{Kind: ClearCache}},
		{"clear-cache", " {} ", Command{Kind: ClearCache}},
		{"remote-start", `{"connectorId":2,"idTag":"X"}`, Command{Kind: RemoteStart, ConnectorID: 2, IDTag: "X"}},
		{"reserve", `{"idTag":"X","expiry":"2025-06-01T13:00:00Z"}`, Command{Kind: Reserve, IDTag: "X", Expiry: t0.Add(time.Hour)}},
		{"send-local-list", `{"listVersion":3,"entries":[{"idTag":"A","status":"Accepted","expiry":"2025-06-01T13:00:00Z"}]}`,
			Command{Kind: SendLocalList, ListVersion: 3, Entries: []LocalListEntry{{IDTag: "A", Status: AuthAccepted, Expiry: t0.Add(time.Hour)}}}},
		{"send-local-list", `{"listVersion":4,"updateType":"Differential","entries":[{"idTag":"A"}]}`,
			Command{Kind: SendLocalList, ListVersion: 4, UpdateType: UpdateDifferential, Entries: []LocalListEntry{{IDTag: "A"}}}},
		{"get-local-list-version", `{}`, Command{Kind: GetLocalListVersion}},
		{"set-power-limit", `{"limitW":22000}`, Command{Kind: SetPowerLimit, LimitW: ptr(22000)}},
		{"set-power-limit", `{"limitW":0}`, Command{Kind: SetPowerLimit, LimitW: ptr(0)}},
		{"clear-power-limit", ``, Command{Kind: ClearPowerLimit}},
	}
	for _, tt := range ok {
		got, err := ParseCommand(tt.kind, []byte(tt.body))
		if err != nil {
			t.Fatalf("%s %s: %v", tt.kind, tt.body, err)
		}
		if got.Kind != tt.want.Kind || got.ConnectorID != tt.want.ConnectorID || got.IDTag != tt.want.IDTag || !got.Expiry.Equal(tt.want.Expiry) ||
			got.ListVersion != tt.want.ListVersion || got.UpdateType != tt.want.UpdateType || !reflect.DeepEqual(got.Entries, tt.want.Entries) ||
			!reflect.DeepEqual(got.LimitW, tt.want.LimitW) {
			t.Fatalf("%s %s: %+v, want %+v", tt.kind, tt.body, got, tt.want)
		}
	}
	bad := []struct {
		kind, body string
		sentinel   error
		want       string
	}{
		{"launch", `{}`, ErrUnknownCommand, `unknown command: "launch" is not one of remote-start, remote-stop`},
		{"reset", `{}`, ErrInvalidCommand, "invalid command: reset: type: required"},
		{"reset", `{"type":"Soft","kind":"x"}`, ErrInvalidCommand, `invalid command: body: unknown field "kind"`},
		{"remote-start", `{"idTag":"X","connectorId":"2"}`, ErrInvalidCommand, "invalid command: connectorId: want a number"},
		{"reserve", `{"idTag":"X","expiry":"tomorrow"}`, ErrInvalidCommand, `invalid command: expiry: "tomorrow" is not an RFC 3339 time`},
		{"unlock", `[]`, ErrInvalidCommand, "invalid command: body: want a JSON object"},
		{"send-local-list", `{"entries":[]}`, ErrInvalidCommand, "invalid command: send-local-list: listVersion: required"},
		{"send-local-list", `{"listVersion":-1}`, ErrInvalidCommand, "invalid command: send-local-list: listVersion: -1 is not between 0 and 2147483647"},
		{"send-local-list", `{"listVersion":1,"updateType":"Patch"}`, ErrInvalidCommand, `invalid command: send-local-list: updateType: "Patch" is not Full or Differential`},
		{"send-local-list", `{"listVersion":1,"entries":[{"idTag":"A"}]}`, ErrInvalidCommand, "invalid command: send-local-list: entries[0].status: required in a Full update"},
		{"send-local-list", `{"listVersion":1,"entries":[{"idTag":"A","status":"Accepted"},{"idTag":"A","status":"Blocked"}]}`,
			ErrInvalidCommand, `invalid command: send-local-list: entries[1].idTag: "A" is listed twice`},
		{"send-local-list", `{"listVersion":1,"entries":[{"status":"Accepted"}]}`, ErrInvalidCommand, "invalid command: send-local-list: entries[0].idTag: required"},
		{"send-local-list", `{"listVersion":1,"entries":[{"idTag":"A","status":"ConcurrentTx"}]}`,
			ErrInvalidCommand, `invalid command: send-local-list: entries[0].status: "ConcurrentTx" is not one of Accepted, Blocked, Expired, Invalid`},
		{"send-local-list", `{"listVersion":1,"entries":[{"idTag":"A","status":"Accepted","expiry":"soon"}]}`, ErrInvalidCommand, `invalid command: entries[0].expiry: "soon" is not an RFC 3339 time`},
		{"get-local-list-version", `{"listVersion":1}`, ErrInvalidCommand, "invalid command: get-local-list-version: listVersion: not used by this command (it takes no fields)"},
		{"set-power-limit", `{}`, ErrInvalidCommand, "invalid command: set-power-limit: limitW: required"},
		{"set-power-limit", `{"limitW":-1}`, ErrInvalidCommand, "invalid command: set-power-limit: limitW: -1 is not between 0 and 2147483647"},
		{"set-power-limit", `{"limitW":7.5}`, ErrInvalidCommand, "invalid command: limitW:"},
		{"set-power-limit", `{"limitW":1000,"connectorId":1}`, ErrInvalidCommand, "invalid command: set-power-limit: connectorId: not used by this command (it takes limitW)"},
		{"clear-power-limit", `{"limitW":1000}`, ErrInvalidCommand, "invalid command: clear-power-limit: limitW: not used by this command (it takes no fields)"},
	}
	for _, tt := range bad {
		_, err := ParseCommand(tt.kind, []byte(tt.body))
		if !errors.Is(err, tt.sentinel) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s %s: error %v, want %v starting %q", tt.kind, tt.body, err, tt.sentinel, tt.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// FuzzParseCommand: any body is a valid command or an error wrapping
// ErrInvalidCommand that names a field; never a panic.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{`{"connectorId":2,"idTag":"ABC"}`, ``, `{}`, `{"type":"Soft"}`, `{"expiry":"2026-01-02T03:04:05Z","idTag":"A"}`,
		`{"since":"yesterday","location":"ftp://x"}`, `{"keys":["a",""]}`, `{"connectorId":-1}`, `{"value":null,"key":"k"}`, `[]`,
		`{"listVersion":2,"updateType":"Differential","entries":[{"idTag":"A"},{"idTag":"B","status":"Blocked","expiry":"2026-01-02T03:04:05Z"}]}`} {
		for i := range CommandKinds {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, k uint8, body []byte) {
		kind := CommandKinds[int(k)%len(CommandKinds)]
		cmd, err := ParseCommand(string(kind), body)
		if err != nil {
			if !errors.Is(err, ErrInvalidCommand) {
				t.Fatalf("error %v does not wrap ErrInvalidCommand", err)
			}
			return
		}
		if cmd.Kind != kind {
			t.Fatalf("parsed %s as %s", kind, cmd.Kind)
		}
		if err := cmd.Validate(); err != nil {
			t.Fatalf("accepted %s %q, which does not validate: %v", kind, body, err)
		}
	})
}

// The cloud changes the heartbeat interval and the unknown-token policy
// of a running service.
func TestRuntimeSettings(t *testing.T) {
	e := newEnv(t, Config{HeartbeatInterval: time.Minute, Policy: PolicyConfig{
		Default:    AuthPolicy{Mode: PolicyStrict},
		PerCharger: map[ChargerID]AuthPolicy{"CP9": {Mode: PolicyStrict}},
	}})
	if err := e.svc.SetHeartbeatInterval(90 * time.Second); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Boot(ctx, "CP1", BootInfo{})
	if err != nil || res.Interval != 90*time.Second {
		t.Fatalf("boot after SetHeartbeatInterval: %+v, %v", res, err)
	}
	for _, d := range []time.Duration{0, time.Millisecond, 25 * time.Hour} {
		if err := e.svc.SetHeartbeatInterval(d); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetHeartbeatInterval(%v) = %v, want ErrInvalid", d, err)
		}
	}

	if a, _ := e.svc.Authorize(ctx, "CP1", "NEW1"); a.Status != AuthInvalid {
		t.Fatalf("strict: %s", a.Status)
	}
	if err := e.svc.SetUnknownTokenPolicy(PolicyOpen); err != nil {
		t.Fatal(err)
	}
	if a, _ := e.svc.Authorize(ctx, "CP1", "NEW2"); a.Status != AuthAccepted {
		t.Fatalf("open: %s", a.Status)
	}
	if a, _ := e.svc.Authorize(ctx, "CP9", "NEW3"); a.Status != AuthInvalid {
		t.Fatalf("a charger's own policy must stay: %s", a.Status)
	}
	for _, m := range []PolicyMode{"", "maybe"} {
		if err := e.svc.SetUnknownTokenPolicy(m); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetUnknownTokenPolicy(%q) = %v, want ErrInvalid", m, err)
		}
	}
}
