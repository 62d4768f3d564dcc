package rpc

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/gorilla/websocket"
)

// fakeClock fires timers only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Duration
	timers []*fakeTimer
	added  chan struct{}
}

type fakeTimer struct {
	c      *fakeClock
	when   time.Duration
	f      func()
	active bool
}

func newFakeClock() *fakeClock { return &fakeClock{added: make(chan struct{}, 1000)} }

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	t := &fakeTimer{c: c, when: c.now + d, f: f, active: true}
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	c.added <- struct{}{}
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = true
	t.when = t.c.now + d
	return was
}

// Advance moves time forward and runs due timers (outside the lock).
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now += d
	var due []*fakeTimer
	for _, t := range c.timers {
		if t.active && t.when <= c.now {
			t.active = false
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// waitTimers waits until n timers were created.
func (c *fakeClock) waitTimers(t *testing.T, n int) {
	t.Helper()
	for range n {
		<-c.added
	}
}

// observer records lifecycle events.
type observer struct {
	Handler
	events chan string
	errs   chan error
}

func newObserver(h Handler) *observer {
	return &observer{Handler: h, events: make(chan string, 100), errs: make(chan error, 100)}
}

func (o *observer) Connected(c *Conn) {
	o.events <- "connected " + c.ID() + " " + c.RemoteAddr().String()
}
func (o *observer) Disconnected(c *Conn, err error) {
	o.events <- "disconnected " + c.ID() + " " + c.RemoteAddr().String()
	o.errs <- err
}

type testServer struct {
	*Server
	http *httptest.Server
}

func startServer(t *testing.T, opts ServerOptions) *testServer {
	t.Helper()
	s := NewServer(opts)
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		_ = s.Shutdown(context.Background())
		hs.Close()
	})
	return &testServer{Server: s, http: hs}
}

func (ts *testServer) url(id string) string {
	return "ws" + strings.TrimPrefix(ts.http.URL, "http") + "/ocpp/" + id
}

// rawDial opens a plain gorilla websocket, to act as a misbehaving or
// precisely scripted charger.
func rawDial(t *testing.T, url string, protos ...string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: protos}
	ws, resp, err := d.Dial(url, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws
}

func send(t *testing.T, ws *websocket.Conn, frame string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func recv(t *testing.T, ws *websocket.Conn) ocppj.Message {
	t.Helper()
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	m, err := ocppj.Parse(data)
	if err != nil {
		t.Fatalf("parse %s: %v", data, err)
	}
	return m
}

func recvRaw(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(data)
}

// closeCode reads until the peer's close frame and returns its code.
func closeCode(t *testing.T, ws *websocket.Conn) (int, string) {
	t.Helper()
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if ce, ok := err.(*websocket.CloseError); ok {
			return ce.Code, ce.Text
		}
		t.Fatalf("connection ended without close frame: %v", err)
	}
}

// waitUntil polls an internal condition that has no channel to wait on.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

func serverConn(t *testing.T, ts *testServer, id string) *Conn {
	t.Helper()
	var c *Conn
	waitUntil(t, func() bool {
		var ok bool
		c, ok = ts.Conn(id)
		return ok
	})
	return c
}

var heartbeat = HandlerFunc(func(_ context.Context, _ *Conn, action string, _ json.RawMessage) (json.RawMessage, error) {
	return json.RawMessage(`{"currentTime":"2024-01-01T00:00:00Z"}`), nil
})

var _ http.Handler = (*Server)(nil)
