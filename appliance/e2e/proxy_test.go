package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
)

// frame is one OCPP-J message that crossed the proxy.
type frame struct {
	Station  string
	FromCSMS bool // sent by the appliance (else by the station)
	Msg      ocppj.Message
	// Action is the CALL's (or SEND's) action, also for CALLRESULTs and
	// CALLERRORs (the action of the CALL they answer; empty if that is
	// unknown).
	Action string
	// Request is, for a CALLRESULT or CALLERROR, the payload of the CALL
	// it answers.
	Request json.RawMessage
	Raw     []byte
}

// recorder keeps every frame that crossed the proxy, in order.
type recorder struct {
	mu      sync.Mutex
	frames  []frame
	calls   map[string]frame // open CALLs by sender, station and message id
	changed chan struct{}    // closed (and replaced) when a frame is added
}

func newRecorder() *recorder {
	return &recorder{calls: map[string]frame{}, changed: make(chan struct{})}
}

func callKey(station string, fromCSMS bool, id string) string {
	return fmt.Sprintf("%s|%t|%s", station, fromCSMS, id)
}

// add records a frame; a frame that does not parse is recorded with a
// zero Msg.Type, so the checks fail on it.
func (r *recorder) add(station string, fromCSMS bool, raw []byte) frame {
	f := frame{Station: station, FromCSMS: fromCSMS, Raw: raw}
	m, err := ocppj.Parse(raw)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		f.Msg = m
		switch m.Type {
		case ocppj.Call:
			f.Action = m.Action
			r.calls[callKey(station, fromCSMS, m.ID)] = f
		case ocppj.Send: // 2.1: never answered
			f.Action = m.Action
		case ocppj.CallResult, ocppj.CallError, ocppj.CallResultError:
			k := callKey(station, !fromCSMS, m.ID)
			if c, ok := r.calls[k]; ok {
				f.Action, f.Request = c.Action, c.Msg.Payload
				delete(r.calls, k)
			}
		}
	}
	r.frames = append(r.frames, f)
	close(r.changed)
	r.changed = make(chan struct{})
	return f
}

// mark is the position of the next frame, for waitFor.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.frames)
}

func (r *recorder) all() []frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]frame(nil), r.frames...)
}

// waitFor returns the first frame at or after since that match accepts,
// waiting for it (bounded, as a guard against a hang).
func (r *recorder) waitFor(t testing.TB, since int, what string, match func(frame) bool) frame {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		r.mu.Lock()
		for i := since; i < len(r.frames); i++ {
			if match(r.frames[i]) {
				f := r.frames[i]
				r.mu.Unlock()
				return f
			}
		}
		since = len(r.frames)
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no %s came within 30s", what)
		case <-t.Context().Done():
			t.Fatalf("test ended waiting for %s", what)
		}
	}
}

// result waits for the appliance's CALLRESULT to the station's CALL of
// action whose request match accepts (nil: any), and returns it.
func (r *recorder) result(t testing.TB, since int, action string, match func(req json.RawMessage) bool) frame {
	t.Helper()
	f := r.waitFor(t, since, "CALLRESULT to "+action, func(f frame) bool {
		return f.FromCSMS && (f.Msg.Type == ocppj.CallResult || f.Msg.Type == ocppj.CallError) &&
			f.Action == action && (match == nil || match(f.Request))
	})
	if f.Msg.Type != ocppj.CallResult {
		t.Fatalf("the appliance answered %s %s with %s", action, f.Request, f.Raw)
	}
	return f
}

// proxy is a websocket-level man in the middle between stations and the
// appliance's OCPP endpoint: it relays every message both ways unchanged
// and records it.
type proxy struct {
	target string // the appliance's OCPP host:port
	rec    *recorder
}

func newProxy(target string, rec *recorder) *proxy {
	return &proxy{target: target, rec: rec}
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	station, err := rpc.ParseIdentity(r.URL.EscapedPath())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	d := websocket.Dialer{Subprotocols: websocket.Subprotocols(r), HandshakeTimeout: 10 * time.Second}
	hdr := http.Header{}
	if a := r.Header.Get("Authorization"); a != "" {
		hdr.Set("Authorization", a)
	}
	back, resp, err := d.DialContext(r.Context(), (&url.URL{Scheme: "ws", Host: p.target, Path: r.URL.Path, RawPath: r.URL.RawPath}).String(), hdr)
	if err != nil {
		status := http.StatusBadGateway
		if resp != nil {
			status = resp.StatusCode
		}
		http.Error(w, err.Error(), status)
		return
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	if sp := back.Subprotocol(); sp != "" {
		up.Subprotocols = []string{sp}
	}
	front, err := up.Upgrade(w, r, nil)
	if err != nil {
		back.Close()
		return
	}
	done := make(chan struct{})
	go func() { // station → appliance
		defer close(done)
		defer back.Close()
		for {
			typ, data, err := front.ReadMessage()
			if err != nil {
				return
			}
			p.rec.add(station, false, data)
			if err := back.WriteMessage(typ, data); err != nil {
				return
			}
		}
	}()
	// appliance → station
	for {
		typ, data, err := back.ReadMessage()
		if err != nil {
			break
		}
		p.rec.add(station, true, data)
		if err := front.WriteMessage(typ, data); err != nil {
			break
		}
	}
	front.Close()
	<-done
}

// coverage is what a test must show on the wire: the commands the
// appliance sent and the station answered, the charger messages the
// appliance answered, and the messages stations sent with SEND (2.1).
type coverage struct {
	commands, messages, sends []string
}

// checkCoverage fails unless every action of want made its round trip
// (or, for a SEND, crossed the wire) and nothing was answered with a
// CALLERROR; it names every one missing.
func checkCoverage(t *testing.T, frames []frame, want coverage) {
	t.Helper()
	commands, messages, sends := map[string]int{}, map[string]int{}, map[string]int{}
	for _, f := range frames {
		switch f.Msg.Type {
		case ocppj.CallError, ocppj.CallResultError:
			t.Errorf("CALLERROR (from the appliance: %t) to %s %s: %s", f.FromCSMS, f.Action, f.Request, f.Raw)
		case ocppj.CallResult:
			if f.FromCSMS {
				messages[f.Action]++
			} else {
				commands[f.Action]++
			}
		case ocppj.Send:
			sends[f.Action]++
		}
	}
	for _, c := range []struct {
		what  string
		names []string
		got   map[string]int
	}{
		{"command %s was never answered by the station", want.commands, commands},
		{"charger message %s was never answered by the appliance", want.messages, messages},
		{"SEND %s never crossed the wire", want.sends, sends},
	} {
		for _, name := range c.names {
			if c.got[name] == 0 {
				t.Errorf(c.what, name)
			}
		}
	}
	t.Logf("round trips: commands %v; charger messages %v; sends %v", commands, messages, sends)
}

// validateFrames checks every frame on the wire against the official
// schemas of version v: CALLs and SENDs by their action, CALLRESULTs by the
// action of the CALL they answer; the appliance's frames and, as a check
// on chargesim, the stations'.
func validateFrames(t *testing.T, v ocppj.Version, frames []frame) {
	checked := map[bool]int{}
	for _, f := range frames {
		who := "station " + f.Station
		if f.FromCSMS {
			who = "appliance"
		}
		switch f.Msg.Type {
		case ocppj.Call, ocppj.CallResult, ocppj.Send:
		case ocppj.CallError, ocppj.CallResultError:
			continue // reported by checkCoverage
		default:
			t.Errorf("%s sent a frame that does not parse: %s", who, f.Raw)
			continue
		}
		if f.Action == "" {
			t.Errorf("%s answered a CALL nobody sent: %s", who, f.Raw)
			continue
		}
		response := f.Msg.Type == ocppj.CallResult
		if err := checkSchema(t, v, f.Action, response, f.Msg.Payload); err != nil {
			kind := "request"
			if response {
				kind = "response"
			}
			t.Errorf("%s's %s %s does not match the official %s schema: %v\nframe: %s", who, f.Action, kind, v, err, f.Raw)
		}
		checked[f.FromCSMS]++
	}
	if checked[true] == 0 {
		t.Error("no frame from the appliance was checked")
	}
	t.Logf("validated %d frames from the appliance and %d from the stations against the %s schemas", checked[true], checked[false], v)
}
