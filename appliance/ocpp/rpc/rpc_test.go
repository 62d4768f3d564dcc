package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/gorilla/websocket"
)

func TestNegotiation(t *testing.T) {
	tests := []struct {
		name    string
		enabled []ocppj.Version
		offered []string
		want    string // negotiated subprotocol header, or "400"
		version ocppj.Version
	}{
		{"none offered is 1.6", nil, nil, "", ocppj.V16},
		{"prefers 2.1", nil, []string{"ocpp1.6", "ocpp2.1", "ocpp2.0.1"}, "ocpp2.1", ocppj.V21},
		{"prefers 2.0.1 over 1.6", nil, []string{"ocpp1.6", "ocpp2.0.1"}, "ocpp2.0.1", ocppj.V201},
		{"only enabled", []ocppj.Version{ocppj.V16}, []string{"ocpp2.0.1", "ocpp1.6"}, "ocpp1.6", ocppj.V16},
		{"unsupported", nil, []string{"ocpp1.5", "foo"}, "400", ""},
		{"none offered, 1.6 disabled", []ocppj.Version{ocppj.V201}, nil, "400", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, ServerOptions{Versions: tt.enabled})
			d := websocket.Dialer{Subprotocols: tt.offered}
			ws, resp, err := d.Dial(ts.url("CP1"), nil)
			if tt.want == "400" {
				if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("got err %v resp %v, want HTTP 400", err, resp)
				}
				body, _ := io.ReadAll(resp.Body)
				if len(tt.offered) > 0 && !strings.Contains(string(body), "no supported OCPP subprotocol (offered: ocpp1.5, foo)") {
					t.Errorf("body %q", body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			if ws.Subprotocol() != tt.want {
				t.Errorf("subprotocol %q, want %q", ws.Subprotocol(), tt.want)
			}
			if c := serverConn(t, ts, "CP1"); c.Version() != tt.version {
				t.Errorf("server version %q, want %q", c.Version(), tt.version)
			}
		})
	}
}

func TestParseIdentity(t *testing.T) {
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"/ocpp/CP1", "CP1", true},
		{"/some/other/prefix/CP-2", "CP-2", true},
		{"/ocpp/a%20b%2Fc", "a b/c", true},
		{"/ocpp/" + strings.Repeat("x", 48), strings.Repeat("x", 48), true},
		{"/ocpp/" + strings.Repeat("x", 49), "", false},
		{"/ocpp/", "", false},
		{"/ocpp/%zz", "", false},
		{"/ocpp/a%0Ab", "", false},
		{"/ocpp/%FF", "", false},
	}
	for _, tt := range tests {
		got, err := ParseIdentity(tt.path)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseIdentity(%q) = %q, %v; want %q ok=%v", tt.path, got, err, tt.want, tt.ok)
		}
	}
	// Over HTTP the refusal is a 400 with the reason.
	ts := startServer(t, ServerOptions{})
	_, resp, err := websocket.DefaultDialer.Dial(ts.url(strings.Repeat("x", 49)), nil)
	if err == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("long identity: err %v, want HTTP 400", err)
	}
}

type authFunc func(r *http.Request, id string) error

func (f authFunc) Authenticate(r *http.Request, id string) error { return f(r, id) }

func TestAuthenticator(t *testing.T) {
	ts := startServer(t, ServerOptions{Authenticator: authFunc(func(r *http.Request, id string) error {
		switch id {
		case "nocreds":
			return fmt.Errorf("no password: %w", ErrUnauthorized)
		case "unknown":
			return fmt.Errorf("not registered: %w", ErrForbidden)
		case "broken":
			return errors.New("database down")
		}
		return nil
	})})
	for id, status := range map[string]int{"nocreds": 401, "unknown": 403, "broken": 500} {
		_, err := Dial(context.Background(), ts.url(id), DialOptions{})
		var he *HandshakeError
		if !errors.As(err, &he) || he.StatusCode != status {
			t.Errorf("%s: err %v, want HTTP %d", id, err, status)
		}
	}
	_, resp, _ := websocket.DefaultDialer.Dial(ts.url("nocreds"), nil)
	if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="OCPP"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	c, err := Dial(context.Background(), ts.url("ok"), DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close(websocket.CloseNormalClosure, "")
}

func TestRoundTripBothWays(t *testing.T) {
	ts := startServer(t, ServerOptions{Config: Config{Handler: heartbeat}})
	client, err := Dial(context.Background(), ts.url("CP1"), DialOptions{
		Versions: []ocppj.Version{ocppj.V201},
		Config: Config{Handler: HandlerFunc(func(_ context.Context, c *Conn, action string, p json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{"status":"Accepted","echo":` + string(p) + `}`), nil
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(websocket.CloseNormalClosure, "")
	if client.ID() != "CP1" || client.Version() != ocppj.V201 {
		t.Errorf("client id %q version %q", client.ID(), client.Version())
	}
	got, err := client.Call(context.Background(), "Heartbeat", nil)
	if err != nil || string(got) != `{"currentTime":"2024-01-01T00:00:00Z"}` {
		t.Fatalf("Heartbeat = %s, %v", got, err)
	}
	got, err = serverConn(t, ts, "CP1").Call(context.Background(), "Reset", json.RawMessage(`{"type":"Immediate"}`))
	if err != nil || string(got) != `{"status":"Accepted","echo":{"type":"Immediate"}}` {
		t.Fatalf("Reset = %s, %v", got, err)
	}
	if _, err := client.Call(context.Background(), "X", json.RawMessage(`[1]`)); err == nil {
		t.Error("Call accepted a non-object payload")
	}
}

func TestCallOneOutstandingFIFO(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	ws := rawDial(t, ts.url("CP1"), "ocpp2.0.1")
	c := serverConn(t, ts, "CP1")

	results := make(chan string, 3)
	call := func(action string) {
		p, err := c.Call(context.Background(), action, nil)
		if err != nil {
			results <- action + " " + err.Error()
			return
		}
		results <- action + " " + string(p)
	}
	go call("A")
	first := recv(t, ws)
	go call("B")
	waitUntil(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.callWaiters) == 1 })
	go call("C")
	waitUntil(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.callWaiters) == 2 })
	// B and C are waiting, so nothing else was sent while A is outstanding.
	for i, want := range []string{"A", "B", "C"} {
		m := first
		if i > 0 {
			m = recv(t, ws)
		}
		if m.Type != ocppj.Call || m.Action != want {
			t.Fatalf("call %d: got %+v, want action %s", i, m, want)
		}
		send(t, ws, string(ocppj.EncodeResult(m.ID, []byte(`{"n":`+fmt.Sprint(i)+`}`))))
		if got := <-results; got != fmt.Sprintf(`%s {"n":%d}`, want, i) {
			t.Errorf("result %q", got)
		}
	}
}

func TestCallTimeoutAndErrors(t *testing.T) {
	clk := newFakeClock()
	ts := startServer(t, ServerOptions{Config: Config{Clock: clk, CallTimeout: 5 * time.Second}, PingInterval: -1})
	ws := rawDial(t, ts.url("CP1"), "ocpp1.6")
	c := serverConn(t, ts, "CP1")

	errc := make(chan error, 1)
	go func() { _, err := c.Call(context.Background(), "Reset", nil); errc <- err }()
	late := recv(t, ws) // sent, so its timer exists
	clk.Advance(5 * time.Second)
	if err := <-errc; !errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
	// The late answer has an unknown id now: ignored, connection stays.
	send(t, ws, string(ocppj.EncodeResult(late.ID, nil)))
	send(t, ws, `[4,"no-such-id","GenericError","",{}]`)

	go func() { _, err := c.Call(context.Background(), "Reset", nil); errc <- err }()
	m := recv(t, ws)
	send(t, ws, `[4,"`+m.ID+`","NotSupported","nope",{}]`)
	err := <-errc
	var re *ocppj.Error
	if !errors.As(err, &re) || re.Code != ocppj.NotSupported || re.Description != "nope" {
		t.Fatalf("err %v, want *ocppj.Error NotSupported", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, err := c.Call(ctx, "Reset", nil); errc <- err }()
	recv(t, ws)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}

	go func() { _, err := c.Call(context.Background(), "Reset", nil); errc <- err }()
	recv(t, ws)
	c.Close(websocket.CloseNormalClosure, "bye")
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("err %v, want ErrClosed", err)
	}
	if _, err := c.Call(context.Background(), "Reset", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("call on closed conn: %v", err)
	}
}

func TestHandlerErrorsAndBadFrames(t *testing.T) {
	h := HandlerFunc(func(_ context.Context, _ *Conn, action string, _ json.RawMessage) (json.RawMessage, error) {
		switch action {
		case "Bad":
			return nil, ocppj.Errorf(ocppj.FormatViolation, "missing field")
		case "Boom":
			return nil, errors.New("secret database path /var/lib/x")
		case "Panic":
			panic("handler bug")
		case "NotObject":
			return json.RawMessage(`[]`), nil
		}
		return nil, nil
	})
	ts := startServer(t, ServerOptions{Config: Config{Handler: h}})
	ws := rawDial(t, ts.url("CP1"), "ocpp1.6")
	for _, tt := range []struct{ in, want string }{
		{`[2,"1","Bad",{}]`, `[4,"1","FormationViolation","missing field",{}]`},
		{`[2,"2","Boom",{}]`, `[4,"2","InternalError","internal error",{}]`},
		{`[2,"3","Panic",{}]`, `[4,"3","InternalError","internal error",{}]`},
		{`[2,"4","NotObject",{}]`, `[4,"4","InternalError","internal error",{}]`},
		{`[2,"5","Fine",{}]`, `[3,"5",{}]`},
		{`[2,"6","Fine"]`, `[4,"6","ProtocolError","expected 4 elements",{}]`},
		{`[2,"7","Fine",[]]`, `[4,"7","FormationViolation","payload is not a JSON object",{}]`},
		{`[7,"8",{}]`, `[4,"8","ProtocolError","message type 7 not supported",{}]`},
		{`[6,"9","Fine",{}]`, `[4,"9","ProtocolError","message type 6 not supported",{}]`},
		{`not json`, ``}, // dropped: no id to answer
		{`[2,"10","Fine",{}]`, `[3,"10",{}]`},
	} {
		send(t, ws, tt.in)
		if tt.want == "" {
			continue
		}
		if got := recvRaw(t, ws); got != tt.want {
			t.Errorf("%s -> %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestDedupAcrossReconnect(t *testing.T) {
	var calls atomic.Int32
	h := HandlerFunc(func(context.Context, *Conn, string, json.RawMessage) (json.RawMessage, error) {
		n := calls.Add(1)
		return json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)), nil
	})
	ts := startServer(t, ServerOptions{Config: Config{Handler: h}})
	ws := rawDial(t, ts.url("CP1"), "ocpp2.0.1")
	send(t, ws, `[2,"m1","StatusNotification",{}]`)
	a := recvRaw(t, ws)
	send(t, ws, `[2,"m1","StatusNotification",{}]`)
	if b := recvRaw(t, ws); b != a {
		t.Errorf("retransmission answered %s, first answer %s", b, a)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("handler called %d times, want 1", n)
	}
	// Same charger on a new socket: still deduplicated.
	ws.Close()
	ws2 := rawDial(t, ts.url("CP1"), "ocpp2.0.1")
	send(t, ws2, `[2,"m1","StatusNotification",{}]`)
	if b := recvRaw(t, ws2); b != a {
		t.Errorf("after reconnect answered %s, want %s", b, a)
	}
	// Same id with another action is a new call; another charger has its own cache.
	send(t, ws2, `[2,"m1","Heartbeat",{}]`)
	if b := recvRaw(t, ws2); b != `[3,"m1",{"n":2}]` {
		t.Errorf("new action answered %s", b)
	}
	ws3 := rawDial(t, ts.url("CP2"), "ocpp2.0.1")
	send(t, ws3, `[2,"m1","StatusNotification",{}]`)
	if b := recvRaw(t, ws3); b != `[3,"m1",{"n":3}]` {
		t.Errorf("other charger answered %s", b)
	}
}

// TestFloodIsAnsweredInOrder: CALLs sent without waiting for answers are
// read one at a time, each after the previous one's answer, so every one
// is answered, in order, and the connection stays usable.
func TestFloodIsAnsweredInOrder(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var handled []string
	h := HandlerFunc(func(_ context.Context, _ *Conn, _ string, p json.RawMessage) (json.RawMessage, error) {
		<-release
		mu.Lock()
		handled = append(handled, string(p))
		mu.Unlock()
		return p, nil
	})
	ts := startServer(t, ServerOptions{Config: Config{Handler: h}})
	ws := rawDial(t, ts.url("CP1"), "ocpp1.6")
	const n = 50
	for i := range n {
		send(t, ws, fmt.Sprintf(`[2,"%d","DataTransfer",{"n":%d}]`, i, i))
	}
	close(release)
	for i := range n {
		if m := recv(t, ws); m.Type != ocppj.CallResult || m.ID != fmt.Sprint(i) || string(m.Payload) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("answer %d: %+v", i, m)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, p := range handled {
		if p != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("handled out of order: %v", handled)
		}
	}
}

// TestCallInHandlerFails: a handler waiting for a peer's answer would stall
// its own connection, so Call with its context fails at once, on its own
// connection and on another; from AfterAnswer the same call goes through.
func TestCallInHandlerFails(t *testing.T) {
	type result struct {
		same, other error
	}
	results := make(chan result, 1)
	after := make(chan error, 1)
	var ts *testServer
	h := HandlerFunc(func(ctx context.Context, c *Conn, action string, _ json.RawMessage) (json.RawMessage, error) {
		if action != "Heartbeat" {
			return nil, nil
		}
		other, _ := ts.Conn("CP2")
		var r result
		_, r.same = c.Call(ctx, "GetLocalListVersion", nil)
		_, r.other = other.Call(ctx, "GetLocalListVersion", nil)
		results <- r
		AfterAnswer(ctx, func() {
			_, err := c.Call(ctx, "GetLocalListVersion", nil)
			after <- err
		})
		return nil, nil
	})
	ts = startServer(t, ServerOptions{Config: Config{Handler: h}})
	rawDial(t, ts.url("CP2"), "ocpp1.6")
	serverConn(t, ts, "CP2")
	cp1 := rawDial(t, ts.url("CP1"), "ocpp1.6")
	send(t, cp1, `[2,"h1","Heartbeat",{}]`)
	r := <-results
	if !errors.Is(r.same, ErrCallInHandler) || !errors.Is(r.other, ErrCallInHandler) {
		t.Fatalf("Call in handler = %v / %v, want ErrCallInHandler", r.same, r.other)
	}
	if m := recv(t, cp1); m.Type != ocppj.CallResult || m.ID != "h1" {
		t.Fatalf("answer %+v", m)
	}
	call := recv(t, cp1) // the call made from AfterAnswer
	if call.Type != ocppj.Call || call.Action != "GetLocalListVersion" {
		t.Fatalf("after the answer: %+v", call)
	}
	send(t, cp1, `[3,"`+call.ID+`",{"listVersion":1}]`)
	if err := <-after; err != nil {
		t.Fatalf("Call from AfterAnswer: %v", err)
	}
}

func TestFrameLimits(t *testing.T) {
	ts := startServer(t, ServerOptions{Config: Config{MaxFrameSize: 1024}})
	ws := rawDial(t, ts.url("CP1"), "ocpp2.0.1")
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte(`[2,"1","Heartbeat",{}]`)); err != nil {
		t.Fatal(err)
	}
	if code, _ := closeCode(t, ws); code != websocket.CloseUnsupportedData {
		t.Errorf("binary frame: close %d, want 1003", code)
	}
	ws = rawDial(t, ts.url("CP2"), "ocpp2.0.1")
	send(t, ws, `[2,"1","DataTransfer",{"data":"`+strings.Repeat("x", 2000)+`"}]`)
	if code, _ := closeCode(t, ws); code != websocket.CloseMessageTooBig {
		t.Errorf("oversize frame: close %d, want 1009", code)
	}
}

func TestReconnectReplaces(t *testing.T) {
	obs := newObserver(heartbeat)
	ts := startServer(t, ServerOptions{Config: Config{Handler: obs}})
	ws1 := rawDial(t, ts.url("CP1"), "ocpp2.0.1")
	ev1 := <-obs.events
	c1 := serverConn(t, ts, "CP1")
	errc := make(chan error, 1)
	go func() { _, err := c1.Call(context.Background(), "GetVariables", nil); errc <- err }()
	recv(t, ws1) // the call is outstanding

	ws2 := rawDial(t, ts.url("CP1"), "ocpp2.0.1")
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("pending call on replaced conn: %v, want ErrClosed", err)
	}
	code, reason := closeCode(t, ws1)
	if code != websocket.ClosePolicyViolation || reason != "replaced by new connection" {
		t.Errorf("old socket closed with %d %q", code, reason)
	}
	ev2, ev3 := <-obs.events, <-obs.events
	local1, local2 := ws1.LocalAddr().String(), ws2.LocalAddr().String()
	want := []string{"connected CP1 " + local1, "disconnected CP1 " + local1, "connected CP1 " + local2}
	if got := []string{ev1, ev2, ev3}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events %q, want %q", got, want)
	}
	if err := <-obs.errs; !errors.Is(err, ErrReplaced) {
		t.Errorf("Disconnected err %v, want ErrReplaced", err)
	}
	if c2, _ := ts.Conn("CP1"); c2 == c1 {
		t.Error("Server.Conn still returns the replaced connection")
	}
	send(t, ws2, `[2,"1","Heartbeat",{}]`)
	if m := recv(t, ws2); m.Type != ocppj.CallResult {
		t.Errorf("new connection answered %+v", m)
	}
}

func TestHalfOpenDetection(t *testing.T) {
	clk := newFakeClock()
	obs := newObserver(heartbeat)
	ts := startServer(t, ServerOptions{
		Config:       Config{Handler: obs, Clock: clk},
		PingInterval: 30 * time.Second, PongWait: 10 * time.Second,
	})

	// A live charger answers the ping (here with a frame) and stays.
	live := rawDial(t, ts.url("LIVE"), "ocpp2.0.1")
	pinged := make(chan struct{}, 10)
	live.SetPingHandler(func(string) error { pinged <- struct{}{}; return nil })
	frames := make(chan string, 10)
	go func() {
		for {
			_, d, err := live.ReadMessage()
			if err != nil {
				close(frames)
				return
			}
			frames <- string(d)
		}
	}()
	clk.waitTimers(t, 1)
	<-obs.events
	clk.Advance(30 * time.Second)
	<-pinged
	send(t, live, `[2,"1","Heartbeat",{}]`)
	<-frames // processed by the server, so activity was seen
	clk.Advance(10 * time.Second)
	send(t, live, `[2,"2","Heartbeat",{}]`)
	if f, ok := <-frames; !ok || !strings.HasPrefix(f, `[3,"2"`) {
		t.Fatalf("live charger was disconnected: %q", f)
	}

	// A silent charger (half-open) is closed after PongWait.
	silent := rawDial(t, ts.url("SILENT"), "ocpp2.0.1")
	silent.SetPingHandler(func(string) error { pinged <- struct{}{}; return nil })
	go func() {
		for {
			if _, _, err := silent.ReadMessage(); err != nil {
				return
			}
		}
	}()
	clk.waitTimers(t, 1)
	<-obs.events
	c := serverConn(t, ts, "SILENT")
	clk.Advance(30 * time.Second) // pings both
	<-pinged
	<-pinged
	send(t, live, `[2,"3","Heartbeat",{}]`)
	<-frames
	clk.Advance(10 * time.Second)
	<-c.Done()
	if ev := <-obs.events; !strings.HasPrefix(ev, "disconnected SILENT") {
		t.Errorf("event %q", ev)
	}
	if err := <-obs.errs; !errors.Is(err, ErrHalfOpen) {
		t.Errorf("Disconnected err %v, want ErrHalfOpen", err)
	}
	if lc, ok := ts.Conn("LIVE"); !ok {
		t.Error("live charger gone")
	} else {
		select {
		case <-lc.Done():
			t.Error("live charger closed")
		default:
		}
	}
}

func TestShutdownFinishesHandlers(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	obs := newObserver(HandlerFunc(func(context.Context, *Conn, string, json.RawMessage) (json.RawMessage, error) {
		close(started)
		<-release
		return json.RawMessage(`{"ok":true}`), nil
	}))
	ts := startServer(t, ServerOptions{Config: Config{Handler: obs}})
	ws := rawDial(t, ts.url("CP1"), "ocpp2.0.1")
	send(t, ws, `[2,"1","StopTransaction",{}]`)
	<-started
	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(context.Background()) }()
	waitUntil(t, func() bool { c := serverConn(t, ts, "CP1"); c.mu.Lock(); defer c.mu.Unlock(); return c.draining })
	close(release)
	if got := recvRaw(t, ws); got != `[3,"1",{"ok":true}]` {
		t.Errorf("in-flight answer %s", got)
	}
	if code, _ := closeCode(t, ws); code != websocket.CloseGoingAway {
		t.Errorf("close code %d, want 1001", code)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	_, resp, err := websocket.DefaultDialer.Dial(ts.url("CP2"), nil)
	if err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after shutdown: %v", err)
	}
}

func FuzzParseIdentity(f *testing.F) {
	for _, s := range []string{"/ocpp/CP1", "/ocpp/a%20b", "/", "", "/x/%zz", "/ocpp/%FF"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		id, err := ParseIdentity(path)
		if err != nil {
			return
		}
		if id == "" || len([]rune(id)) > MaxIdentityLen {
			t.Fatalf("accepted identity %q", id)
		}
	})
}

// TestSlowHandlerIsNotHalfOpen: while a handler runs, the reader cannot
// take the pong; the connection is not closed as half-open for that.
func TestSlowHandlerIsNotHalfOpen(t *testing.T) {
	clk := newFakeClock()
	started, release := make(chan struct{}), make(chan struct{})
	h := HandlerFunc(func(context.Context, *Conn, string, json.RawMessage) (json.RawMessage, error) {
		close(started)
		<-release
		return nil, nil
	})
	ts := startServer(t, ServerOptions{
		Config:       Config{Handler: h, Clock: clk},
		PingInterval: 30 * time.Second, PongWait: 10 * time.Second,
	})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the server's cleanup, which waits for the handler
	ws := rawDial(t, ts.url("SLOW"), "ocpp1.6")
	pinged := make(chan struct{}, 1)
	ws.SetPingHandler(func(data string) error {
		pinged <- struct{}{}
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	frames := make(chan string, 1)
	go func() {
		for {
			_, d, err := ws.ReadMessage()
			if err != nil {
				close(frames)
				return
			}
			frames <- string(d)
		}
	}()
	clk.waitTimers(t, 1)
	c := serverConn(t, ts, "SLOW")
	send(t, ws, `[2,"s1","Heartbeat",{}]`)
	<-started
	clk.Advance(30 * time.Second)
	<-pinged
	clk.Advance(10 * time.Second) // no pong read: the reader is in the handler
	select {
	case <-c.Done():
		t.Fatal("closed as half-open while a handler ran")
	default:
	}
	free()
	if f, ok := <-frames; !ok || !strings.HasPrefix(f, `[3,"s1"`) {
		t.Fatalf("answer %q", f)
	}
}
