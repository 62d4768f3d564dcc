package v2_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/internal/testlog"
	"github.com/constellation-ev/constellation/appliance/ocpp/csms"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
	"github.com/constellation-ev/constellation/appliance/store"
)

// The adapters are tested here over real websockets, through the CSMS
// that routes to them, against a real charging service and store.

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// versions are the two versions the package serves.
var versions = []ocppj.Version{ocppj.V201, ocppj.V21}

type env struct {
	svc  *charging.Service
	cs   *csms.CSMS
	url  string
	logs *testlog.Buffer

	mu       sync.Mutex
	readings []charging.MeterValues // committed meter value reports, in order
}

type envOptions struct {
	lenient      func(string) bool
	maxFrameSize int64
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{logs: &testlog.Buffer{}}
	db, err := store.Open(filepath.Join(t.TempDir(), "constellation.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	e.svc, err = charging.NewService(ctx, db, charging.Config{
		Clock:             charging.NewFakeClock(t0),
		HeartbeatInterval: 120 * time.Second,
		OnChange: func(tx *bbolt.Tx, c charging.Change) error {
			if mv, ok := c.Record.(charging.MeterValues); ok && c.Kind == charging.ChangeMeterValues {
				tx.OnCommit(func() {
					e.mu.Lock()
					defer e.mu.Unlock()
					e.readings = append(e.readings, mv)
				})
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.PutToken(ctx, charging.IDToken{ID: "TAG1", Status: charging.AuthAccepted, ParentID: "GROUP"}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.cs, err = csms.New(csms.Options{
		Domain:  e.svc,
		RPC:     rpc.ServerOptions{PingInterval: -1, Config: rpc.Config{MaxFrameSize: o.maxFrameSize}},
		Lenient: o.lenient,
		Logger:  log,
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

// lastReadings returns the last committed meter value report.
func (e *env) lastReadings(t *testing.T) charging.MeterValues {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.readings) == 0 {
		t.Fatal("no meter values stored")
	}
	return e.readings[len(e.readings)-1]
}

// dial connects charger id speaking version v, answering the CSMS's calls
// with h, and waits until the CSMS serves it.
func (e *env) dial(t *testing.T, id string, v ocppj.Version, h rpc.Handler) *rpc.Conn {
	t.Helper()
	c, err := rpc.Dial(context.Background(), e.url+id, rpc.DialOptions{Versions: []ocppj.Version{v}, Config: rpc.Config{Handler: h}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(1000, "test done") })
	if c.Version() != v {
		t.Fatalf("negotiated %s, want %s", c.Version(), v)
	}
	if _, err := c.Call(context.Background(), "Heartbeat", json.RawMessage(`{}`)); err != nil {
		t.Fatalf("first Heartbeat: %v", err)
	}
	return c
}

// call sends a CALL of version v that must succeed, checking the request
// and the CSMS's answer against the official schemas.
func call(t *testing.T, c *rpc.Conn, action, payload string) json.RawMessage {
	t.Helper()
	schematest.Validate(t, c.Version(), action, false, []byte(payload))
	resp, err := c.Call(context.Background(), action, json.RawMessage(payload))
	if err != nil {
		t.Fatalf("%s %s: %v", c.Version(), action, err)
	}
	schematest.Validate(t, c.Version(), action, true, resp)
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

func (e *env) charger(t *testing.T, id charging.ChargerID) charging.Charger {
	t.Helper()
	ch, err := e.svc.Charger(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func (e *env) session(t *testing.T, id charging.ChargerID, chargerTxID string) (charging.Transaction, []charging.MeterReading) {
	t.Helper()
	ctx := context.Background()
	tx, err := e.svc.TransactionByChargerTxID(ctx, id, chargerTxID)
	if err != nil {
		t.Fatalf("session %s of %s: %v", chargerTxID, id, err)
	}
	tx, rs, err := e.svc.Transaction(ctx, tx.ID)
	if err != nil {
		t.Fatal(err)
	}
	return tx, rs
}

// variables returns charger id's device model by configuration key.
func (e *env) variables(t *testing.T, id charging.ChargerID) map[string]charging.VariableReport {
	t.Helper()
	vs, err := e.svc.Variables(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]charging.VariableReport, len(vs))
	for _, v := range vs {
		m[charging.ConfigKey(v)] = v
	}
	return m
}

// snapshot is everything stored, to check that refused input changed nothing.
func (e *env) snapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	chargers, err := e.svc.Chargers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range chargers {
		chargers[i].Connected, chargers[i].LastSeen = false, time.Time{}
	}
	txs, err := e.svc.Transactions(ctx, charging.TransactionFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var readings [][]charging.MeterReading
	for _, tx := range txs {
		_, rs, err := e.svc.Transaction(ctx, tx.ID)
		if err != nil {
			t.Fatal(err)
		}
		readings = append(readings, rs)
	}
	res, err := e.svc.Reservations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	n := len(e.readings)
	e.mu.Unlock()
	b, err := json.Marshal([]any{chargers, txs, readings, res, n})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rawCharger is a websocket client that sends whatever it is told to.
type rawCharger struct {
	t    *testing.T
	id   string
	ws   *websocket.Conn
	seq  int
	read chan rawFrame
}

type rawFrame struct {
	data []byte
	err  error
}

func (e *env) dialRaw(t *testing.T, id string, v ocppj.Version) *rawCharger {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{string(v)}, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(e.url+id, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", id, err)
	}
	resp.Body.Close()
	if ws.Subprotocol() != string(v) {
		t.Fatalf("negotiated %q, want %s", ws.Subprotocol(), v)
	}
	c := &rawCharger{t: t, id: id, ws: ws, read: make(chan rawFrame, 64)}
	go func() {
		for {
			_, data, err := ws.ReadMessage()
			c.read <- rawFrame{data, err}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { ws.Close() })
	return c
}

func (c *rawCharger) send(frame string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		c.t.Fatalf("%s: write: %v", c.id, err)
	}
}

// next returns the next frame the CSMS sent, or the connection's end.
func (c *rawCharger) next() rawFrame {
	c.t.Helper()
	select {
	case f := <-c.read:
		return f
	case <-time.After(10 * time.Second):
		c.t.Fatalf("%s: no frame from the CSMS", c.id)
		return rawFrame{}
	}
}

// call sends a CALL and returns the answer's elements.
func (c *rawCharger) call(action, payload string) []json.RawMessage {
	c.t.Helper()
	c.seq++
	id := fmt.Sprintf("%s-%d", c.id, c.seq)
	c.send(fmt.Sprintf(`[2,%q,%q,%s]`, id, action, payload))
	return c.answerTo(id)
}

// answerTo reads the next frame, which must answer message id.
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
	_ = json.Unmarshal(arr[1], &got)
	if got != id {
		c.t.Fatalf("%s: answer %s is not for %s", c.id, f.data, id)
	}
	return arr
}

// probe proves the connection still works and nothing else was answered
// before: the next frame is the Heartbeat's result.
func (c *rawCharger) probe() {
	c.t.Helper()
	if ans := c.call("Heartbeat", "{}"); string(ans[0]) != "3" {
		c.t.Fatalf("%s: Heartbeat probe answered %s", c.id, ans)
	}
}

// errorCode returns the code of a CALLERROR answer, failing on a result.
func errorCode(t *testing.T, ans []json.RawMessage) string {
	t.Helper()
	if string(ans[0]) != "4" || len(ans) != 5 {
		t.Fatalf("answer %s, want a CALLERROR", ans)
	}
	var code string
	_ = json.Unmarshal(ans[2], &code)
	return code
}

// chargerSim answers the CSMS's calls with the responses queued with
// respond and hands every CALL it receives to the test.
type chargerSim struct {
	got  chan received
	next chan json.RawMessage
}

type received struct {
	action  string
	payload json.RawMessage
}

func newChargerSim() *chargerSim {
	return &chargerSim{got: make(chan received, 64), next: make(chan json.RawMessage, 1)}
}

func (s *chargerSim) HandleCall(_ context.Context, _ *rpc.Conn, action string, payload json.RawMessage) (json.RawMessage, error) {
	s.got <- received{action, slices.Clone(payload)}
	select {
	case resp := <-s.next:
		return resp, nil
	default:
		return nil, ocppj.Errorf(ocppj.GenericError, "no scripted answer for %s", action)
	}
}

func (s *chargerSim) respond(resp string) { s.next <- json.RawMessage(resp) }
