package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/constellation-ev/constellation/appliance/app"
	"github.com/constellation-ev/constellation/appliance/config"
)

// appliance is an appliance running in this process on loopback ports.
type appliance struct {
	addrs app.Addrs
	ocpp  string // ws://host:port/ocpp/
	api   string // http://host:port
	// stop shuts the appliance down and returns app.Run's error; the test's
	// cleanup calls it too.
	stop func() error
}

// startAppliance runs the whole appliance on a temp data dir until the
// test ends, with cfg adjusted by mutate.
func startAppliance(t *testing.T, mutate func(*config.Config)) *appliance {
	t.Helper()
	return startApplianceLogging(t, mutate, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// startApplianceLogging is startAppliance logging to log.
func startApplianceLogging(t *testing.T, mutate func(*config.Config), log *slog.Logger) *appliance {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.OCPP.Addr = "127.0.0.1:0"
	cfg.API.Addr = "127.0.0.1:0"
	cfg.OCPP.UnknownChargers = "accept"
	cfg.Auth.UnknownTokens = "open"
	cfg.OCPP.MaxFrameBytes = 16 << 10
	// The raw chargers of these tests read the CALLs they expect; the
	// local list's own CALLs are tested where it is turned on.
	cfg.Auth.LocalList = false
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan app.Addrs, 1)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg, log, func(a app.Addrs) { ready <- a }) }()
	stop := sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("app.Run: %v", err)
		}
	})
	select {
	case a := <-ready:
		return &appliance{addrs: a, ocpp: "ws://" + a.OCPP + "/ocpp/", api: "http://" + a.API, stop: stop}
	case err := <-done:
		t.Fatalf("app.Run ended before it was ready: %v", err)
	}
	return nil
}

// rawCharger is a websocket client that sends whatever it is told to.
type rawCharger struct {
	t    *testing.T
	id   string
	ws   *websocket.Conn
	seq  int
	read chan frameOrClose
}

type frameOrClose struct {
	typ  int
	data []byte
	err  error
}

func dialRaw(t *testing.T, a *appliance, id string) *rawCharger {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"ocpp1.6"}, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(a.ocpp+id, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", id, err)
	}
	resp.Body.Close()
	if ws.Subprotocol() != "ocpp1.6" {
		t.Fatalf("negotiated %q, want ocpp1.6", ws.Subprotocol())
	}
	c := &rawCharger{t: t, id: id, ws: ws, read: make(chan frameOrClose, 64)}
	go func() {
		for {
			typ, data, err := ws.ReadMessage()
			c.read <- frameOrClose{typ, data, err}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { ws.Close() })
	return c
}

func (c *rawCharger) send(typ int, data []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(typ, data); err != nil {
		c.t.Fatalf("%s: write: %v", c.id, err)
	}
}

// next returns the next frame the CSMS sent, or its close.
func (c *rawCharger) next() frameOrClose {
	c.t.Helper()
	select {
	case f := <-c.read:
		return f
	case <-time.After(10 * time.Second):
		c.t.Fatalf("%s: no frame from the CSMS", c.id)
		return frameOrClose{}
	}
}

// call sends a CALL and returns the parsed answer array.
func (c *rawCharger) call(action, payload string) []json.RawMessage {
	c.t.Helper()
	c.seq++
	id := fmt.Sprintf("%s-%d", c.id, c.seq)
	c.send(websocket.TextMessage, fmt.Appendf(nil, `[2,%q,%q,%s]`, id, action, payload))
	return c.answerTo(id)
}

// answerTo reads frames until the answer to id, failing on anything else.
func (c *rawCharger) answerTo(id string) []json.RawMessage {
	c.t.Helper()
	f := c.next()
	if f.err != nil {
		c.t.Fatalf("%s: waiting for the answer to %s: %v", c.id, id, f.err)
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(f.data, &arr); err != nil || len(arr) < 3 {
		c.t.Fatalf("%s: unparseable answer %s", c.id, f.data)
	}
	var got string
	json.Unmarshal(arr[1], &got)
	if got != id {
		c.t.Fatalf("%s: answer %s is not for %s", c.id, f.data, id)
	}
	return arr
}

// probe proves the connection still works: a Heartbeat gets its result.
func (c *rawCharger) probe() {
	c.t.Helper()
	if ans := c.call("Heartbeat", "{}"); string(ans[0]) != "3" {
		c.t.Fatalf("%s: Heartbeat probe answered %s", c.id, ans)
	}
}

// snapshot is what the local API shows of stored data.
func snapshot(t *testing.T, a *appliance) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, path := range []string{"/api/v1/transactions?limit=500", "/api/v1/tokens", "/api/v1/reservations"} {
		resp, err := http.Get(a.api + path)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		resp.Body.Close()
		out[path] = v
	}
	resp, err := http.Get(a.api + "/api/v1/chargers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var chargers struct {
		Chargers []struct {
			ID         string `json:"id"`
			Connectors any    `json:"connectors"`
			Vendor     string `json:"vendor"`
		} `json:"chargers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&chargers); err != nil {
		t.Fatal(err)
	}
	out["chargers"] = chargers
	return out
}

const (
	boot      = `{"chargePointVendor":"Acme","chargePointModel":"X1"}`
	startTx   = `{"connectorId":1,"idTag":"CARD1","meterStart":100,"timestamp":"2026-11-28T10:00:00Z"}`
	tooLongID = "0123456789012345678901234567890123456"
)

// TestHostileInput sends malformed and hostile frames to a running
// appliance. Each gets the spec's CALLERROR (or close code); where the
// spec allows, the connection stays usable; nothing stored changes; and a
// well-behaved charger on the same appliance is not affected.
func TestHostileInput(t *testing.T) {
	a := startAppliance(t, nil)

	// A well-behaved charger with a transaction in progress: its data is
	// what must not change.
	good := dialRaw(t, a, "GOOD-1")
	good.call("BootNotification", boot)
	good.call("StatusNotification", `{"connectorId":1,"errorCode":"NoError","status":"Charging"}`)
	good.call("StartTransaction", startTx)

	type expect struct {
		code string // CALLERROR code; "" means no answer at all
	}
	cases := []struct {
		name  string
		frame string
		want  expect
	}{
		// Framing.
		{"invalid JSON", `[2,"x1","Heartbeat",{`, expect{}},
		{"not an array", `{"id":"x2"}`, expect{}},
		{"empty array", `[]`, expect{}},
		{"string instead of array", `"hello"`, expect{}},
		{"unknown message type", `[7,"x5","Heartbeat",{}]`, expect{code: "ProtocolError"}},
		{"CALL with too few elements", `[2,"x6","Heartbeat"]`, expect{code: "ProtocolError"}},
		{"CALL with too many elements", `[2,"x7","Heartbeat",{},{}]`, expect{code: "ProtocolError"}},
		{"message id not a string", `[2,17,"Heartbeat",{}]`, expect{}},
		{"message id too long", `[2,"` + tooLongID + `","Heartbeat",{}]`, expect{code: "ProtocolError"}},
		{"action not a string", `[2,"x10",5,{}]`, expect{code: "FormationViolation"}},
		{"payload not an object", `[2,"x11","Heartbeat",[]]`, expect{code: "FormationViolation"}},
		{"payload null", `[2,"x12","Heartbeat",null]`, expect{code: "FormationViolation"}},
		{"SEND is not 1.6", `[6,"x13","Heartbeat",{}]`, expect{code: "ProtocolError"}},
		// Actions.
		{"unknown action", `[2,"x20","Teleport",{}]`, expect{code: "NotImplemented"}},
		{"CSMS-only action from a charger", `[2,"x21","Reset",{"type":"Hard"}]`, expect{code: "NotSupported"}},
		{"empty action", `[2,"x22","",{}]`, expect{code: "FormationViolation"}},
		// Payloads.
		{"missing required field", `[2,"x30","BootNotification",{"chargePointVendor":"Acme"}]`, expect{code: "OccurenceConstraintViolation"}},
		{"over-long string", `[2,"x31","BootNotification",{"chargePointVendor":"AcmeAcmeAcmeAcmeAcme1","chargePointModel":"X"}]`, expect{code: "PropertyConstraintViolation"}},
		{"wrong field type", `[2,"x32","BootNotification",{"chargePointVendor":7,"chargePointModel":"X"}]`, expect{code: "TypeConstraintViolation"}},
		{"unknown field", `[2,"x33","Heartbeat",{"extra":1}]`, expect{code: "FormationViolation"}},
		{"connector id as string", `[2,"x34","StartTransaction",{"connectorId":"1","idTag":"C","meterStart":1,"timestamp":"2026-11-28T10:00:00Z"}]`, expect{code: "TypeConstraintViolation"}},
		{"negative meterStart", `[2,"x35","StartTransaction",{"connectorId":1,"idTag":"C","meterStart":-5,"timestamp":"2026-11-28T10:00:00Z"}]`, expect{code: "PropertyConstraintViolation"}},
		{"bad timestamp", `[2,"x36","StartTransaction",{"connectorId":1,"idTag":"C","meterStart":1,"timestamp":"yesterday"}]`, expect{code: "PropertyConstraintViolation"}},
		{"fractional integer", `[2,"x37","StartTransaction",{"connectorId":1.5,"idTag":"C","meterStart":1,"timestamp":"2026-11-28T10:00:00Z"}]`, expect{code: "PropertyConstraintViolation"}},
		{"negative energy register", `[2,"x38","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-11-28T10:01:00Z","sampledValue":[{"value":"-3"}]}]}]`, expect{code: "PropertyConstraintViolation"}},
		{"empty sampledValue", `[2,"x39","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-11-28T10:01:00Z","sampledValue":[]}]}]`, expect{code: "OccurenceConstraintViolation"}},
		{"missing meterValue", `[2,"x40","MeterValues",{"connectorId":1}]`, expect{code: "OccurenceConstraintViolation"}},
		{"non-numeric reading", `[2,"x41","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-11-28T10:01:00Z","sampledValue":[{"value":"lots"}]}]}]`, expect{code: "PropertyConstraintViolation"}},
		{"status not in enum", `[2,"x42","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Sleeping"}]`, expect{code: "PropertyConstraintViolation"}},
		{"negative connector", `[2,"x43","StatusNotification",{"connectorId":-1,"errorCode":"NoError","status":"Available"}]`, expect{code: "PropertyConstraintViolation"}},
		{"over-long idTag", `[2,"x44","Authorize",{"idTag":"ABCDEFGHIJKLMNOPQRSTU"}]`, expect{code: "PropertyConstraintViolation"}},
		{"stop without transactionId", `[2,"x45","StopTransaction",{"meterStop":5,"timestamp":"2026-11-28T10:00:00Z"}]`, expect{code: "OccurenceConstraintViolation"}},
		{"negative meterStop", `[2,"x46","StopTransaction",{"transactionId":1,"meterStop":-5,"timestamp":"2026-11-28T10:00:00Z"}]`, expect{code: "PropertyConstraintViolation"}},
		{"deeply nested unknown field", `[2,"x47","Heartbeat",{"a":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}]`, expect{code: "FormationViolation"}},
		{"duplicate key", `[2,"x48","Authorize",{"idTag":"A","idTag":"B"}]`, expect{code: "FormationViolation"}},
		// Answers nobody asked for are ignored.
		{"CALLRESULT for unknown id", `[3,"nobody-asked",{}]`, expect{}},
		{"CALLERROR for unknown id", `[4,"nobody-asked","GenericError","",{}]`, expect{}},
	}

	ev := dialRaw(t, a, "EVIL-1")
	ev.call("BootNotification", boot)
	before := snapshot(t, a)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev.t = t
			ev.send(websocket.TextMessage, []byte(tc.frame))
			if tc.want.code == "" {
				// No answer: the next frame must be the probe's result.
				ev.probe()
			} else {
				f := ev.next()
				if f.err != nil {
					t.Fatalf("connection lost: %v", f.err)
				}
				var arr []json.RawMessage
				if err := json.Unmarshal(f.data, &arr); err != nil || len(arr) != 5 || string(arr[0]) != "4" {
					t.Fatalf("answer %s, want a CALLERROR %s", f.data, tc.want.code)
				}
				var code string
				json.Unmarshal(arr[2], &code)
				if code != tc.want.code {
					t.Fatalf("answer %s: code %q, want %q", f.data, code, tc.want.code)
				}
				ev.probe()
			}
			good.t = t
			good.probe()
		})
	}
	ev.t, good.t = t, t
	if after := snapshot(t, a); !reflect.DeepEqual(before, after) {
		t.Errorf("stored data changed:\nbefore %v\nafter  %v", before, after)
	}
}

// TestHostileConnections covers what ends a connection: binary and
// oversized frames, floods, slow clients and bad handshakes. Other
// chargers keep working through all of it.
func TestHostileConnections(t *testing.T) {
	a := startAppliance(t, func(c *config.Config) {
		c.OCPP.Chargers = []config.Charger{{ID: "LOCKED", SecurityProfile: 1, PasswordHash: hashOf(t, "correct-horse-battery-staple")}}
	})
	good := dialRaw(t, a, "GOOD-2")
	good.call("BootNotification", boot)

	t.Run("binary frame closes with 1003", func(t *testing.T) {
		c := dialRaw(t, a, "BIN-1")
		c.send(websocket.BinaryMessage, []byte{2, 0, 1})
		expectClose(t, c, websocket.CloseUnsupportedData)
		good.t = t
		good.probe()
	})
	t.Run("huge frame closes with 1009", func(t *testing.T) {
		c := dialRaw(t, a, "BIG-1")
		// The CSMS may close before the whole frame is written.
		c.ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `[2,"b1","DataTransfer",{"vendorId":"v","data":%q}]`, strings.Repeat("x", 64<<10)))
		expectClose(t, c, websocket.CloseMessageTooBig)
		good.t = t
		good.probe()
	})
	t.Run("flood of calls: each answered once, connection usable", func(t *testing.T) {
		c := dialRaw(t, a, "FLOOD-1")
		const n = 200
		for i := range n {
			c.send(websocket.TextMessage, fmt.Appendf(nil, `[2,"f%d","Heartbeat",{}]`, i))
		}
		answered := map[string]string{}
		for len(answered) < n {
			f := c.next()
			if f.err != nil {
				t.Fatalf("connection lost after %d answers: %v", len(answered), f.err)
			}
			var arr []json.RawMessage
			if err := json.Unmarshal(f.data, &arr); err != nil {
				t.Fatalf("bad answer %s", f.data)
			}
			var id string
			json.Unmarshal(arr[1], &id)
			if _, dup := answered[id]; dup {
				t.Fatalf("call %s answered twice", id)
			}
			answered[id] = string(arr[0])
			if string(arr[0]) == "4" && !strings.Contains(string(f.data), "GenericError") {
				t.Fatalf("refused call %s with %s, want GenericError", id, f.data)
			}
		}
		c.t = t
		c.probe()
		good.t = t
		good.probe()
	})
	t.Run("slow client stalled mid-frame does not block others", func(t *testing.T) {
		conn, err := net.Dial("tcp", a.addrs.OCPP)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /ocpp/SLOW-1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n")
		buf := make([]byte, 512)
		if n, err := conn.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "101") {
			t.Fatalf("upgrade: %q %v", buf[:n], err)
		}
		// A masked text frame header announcing 100 bytes, then silence.
		conn.Write([]byte{0x81, 0x80 | 100, 1, 2, 3, 4, '['})
		good.t = t
		good.probe()
		other := dialRaw(t, a, "OTHER-1")
		other.probe()
	})
	t.Run("a reconnect replaces the old socket with 1008", func(t *testing.T) {
		first := dialRaw(t, a, "TWICE-1")
		second := dialRaw(t, a, "TWICE-1")
		expectClose(t, first, websocket.ClosePolicyViolation)
		second.t = t
		second.probe()
	})
	for _, tc := range []struct {
		name, path string
		header     http.Header
		status     int
	}{
		{"empty identity", "/ocpp/", nil, http.StatusBadRequest},
		{"identity too long", "/ocpp/" + strings.Repeat("A", 49), nil, http.StatusBadRequest},
		{"identity with control character", "/ocpp/A%01B", nil, http.StatusBadRequest},
		{"known charger without password", "/ocpp/LOCKED", nil, http.StatusUnauthorized},
		{"known charger with wrong password", "/ocpp/LOCKED", basic("LOCKED", "wrong-password-0000"), http.StatusUnauthorized},
		{"only unsupported subprotocols", "/ocpp/PROTO-1", http.Header{"Sec-Websocket-Protocol": {"ocpp1.5"}}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil || h.Get("Sec-WebSocket-Protocol") == "" {
				if h == nil {
					h = http.Header{}
				}
				h.Set("Sec-WebSocket-Protocol", "ocpp1.6")
			}
			d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
			ws, resp, err := d.Dial("ws://"+a.addrs.OCPP+tc.path, h)
			if err == nil {
				ws.Close()
				t.Fatalf("handshake succeeded, want HTTP %d", tc.status)
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("handshake: %v, response %v; want HTTP %d", err, resp, tc.status)
			}
			good.t = t
			good.probe()
		})
	}
}

func expectClose(t *testing.T, c *rawCharger, code int) {
	t.Helper()
	c.t = t
	for {
		f := c.next()
		if f.err == nil {
			continue // answers already in flight
		}
		if !websocket.IsCloseError(f.err, code) {
			t.Fatalf("connection ended with %v, want close code %d", f.err, code)
		}
		return
	}
}

func basic(user, pw string) http.Header {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pw)
	return http.Header{"Authorization": r.Header["Authorization"]}
}
