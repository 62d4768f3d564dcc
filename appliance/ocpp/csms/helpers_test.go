package csms_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/internal/testlog"
	"github.com/constellation-ev/constellation/appliance/ocpp/csms"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
	"github.com/constellation-ev/constellation/appliance/store"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// env is a CSMS on a real charging service and store, served over a
// loopback websocket.
type env struct {
	svc   *charging.Service
	db    *store.DB
	cs    *csms.CSMS
	url   string
	clock *manualClock // the CSMS's rpc clock: call timeouts fire only when told
	logs  *testlog.Buffer
}

type envOptions struct {
	versions []ocppj.Version
	lenient  func(string) bool
	now      func() time.Time // the CSMS's clock; nil: time.Now
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{clock: newManualClock(), logs: &testlog.Buffer{}}
	db, err := store.Open(filepath.Join(t.TempDir(), "constellation.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	e.db = db
	e.svc, err = charging.NewService(ctx, db, charging.Config{
		Clock:             charging.NewFakeClock(t0),
		HeartbeatInterval: 120 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.PutToken(ctx, charging.IDToken{ID: "TAG1", Status: charging.AuthAccepted, ParentID: "GROUP"}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.cs, err = csms.New(csms.Options{
		Domain: e.svc,
		RPC: rpc.ServerOptions{
			Config:       rpc.Config{Clock: e.clock},
			Versions:     o.versions,
			PingInterval: -1,
		},
		Lenient: o.lenient,
		Logger:  log,
		Now:     o.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.cs)
	t.Cleanup(func() {
		if err := e.cs.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		srv.Close()
	})
	e.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/ocpp/"
	return e
}

// dial connects charger id speaking version v (1.6 when empty), answering
// the CSMS's calls with h, and waits until the CSMS serves it.
func (e *env) dial(t *testing.T, id string, v ocppj.Version, h rpc.Handler) *rpc.Conn {
	t.Helper()
	if v == "" {
		v = ocppj.V16
	}
	c, err := rpc.Dial(context.Background(), e.url+id, rpc.DialOptions{Versions: []ocppj.Version{v}, Config: rpc.Config{Handler: h}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(1000, "test done") })
	if c.Version() != v {
		t.Fatalf("negotiated %s, want %s", c.Version(), v)
	}
	// Any answer proves the CSMS registered the connection and reported it
	// connected (Connected runs before the first frame is read).
	if _, err := c.Call(context.Background(), "Heartbeat", json.RawMessage(`{}`)); err != nil && v == ocppj.V16 {
		t.Fatalf("first Heartbeat: %v", err)
	}
	return c
}

// call sends a 1.6 CALL that must succeed, checking the request and the
// CSMS's answer against the official schemas.
func call(t *testing.T, c *rpc.Conn, action, payload string) json.RawMessage {
	t.Helper()
	schematest.Validate(t, ocppj.V16, action, false, []byte(payload))
	resp, err := c.Call(context.Background(), action, json.RawMessage(payload))
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	schematest.Validate(t, ocppj.V16, action, true, resp)
	return resp
}

// callError sends a CALL that must be answered with a CALLERROR.
func callError(t *testing.T, c *rpc.Conn, action, payload string) *ocppj.Error {
	t.Helper()
	resp, err := c.Call(context.Background(), action, json.RawMessage(payload))
	var oe *ocppj.Error
	if !errors.As(err, &oe) {
		t.Fatalf("%s %s: got %s, %v; want a CALLERROR", action, payload, resp, err)
	}
	return oe
}

func decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	return v
}

// manualClock is an rpc.Clock whose timers fire only when the test fires them.
type manualClock struct{ timers chan *manualTimer }

func newManualClock() *manualClock { return &manualClock{timers: make(chan *manualTimer, 64)} }

func (c *manualClock) AfterFunc(_ time.Duration, f func()) rpc.Timer {
	t := &manualTimer{f: f}
	select {
	case c.timers <- t:
	default: // nobody is watching this many timers
	}
	return t
}

type manualTimer struct {
	mu      sync.Mutex
	f       func()
	stopped bool
}

func (t *manualTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (t *manualTimer) Reset(time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := !t.stopped
	t.stopped = false
	return was
}

// fire runs the timer's function unless it was stopped.
func (t *manualTimer) fire() {
	t.mu.Lock()
	stopped := t.stopped
	t.stopped = true
	t.mu.Unlock()
	if !stopped {
		t.f()
	}
}
