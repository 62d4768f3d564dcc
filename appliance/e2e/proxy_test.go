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
	// Action is the CALL's action, also for CALLRESULTs and CALLERRORs
	// (the action of the CALL they answer; empty if that is unknown).
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
		case ocppj.CallResult, ocppj.CallError:
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
