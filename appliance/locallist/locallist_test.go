package locallist_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/internal/testlog"
	"github.com/constellation-ev/constellation/appliance/locallist"
	"github.com/constellation-ev/constellation/appliance/ocpp/csms"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/v16"
	"github.com/constellation-ev/constellation/appliance/store"
	"github.com/constellation-ev/constellation/tools/chargesim/sim"
)

// env is a pusher on a real charging service and CSMS, served over a
// loopback websocket, as the appliance wires them.
type env struct {
	svc    *charging.Service
	cs     *csms.CSMS
	pusher *locallist.Pusher
	url    string
	logs   *testlog.Buffer
}

func newEnv(t *testing.T, opts locallist.Options) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{logs: &testlog.Buffer{}}
	db, err := store.Open(filepath.Join(t.TempDir(), "constellation.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if e.svc, err = charging.NewService(ctx, db, charging.Config{}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Source, opts.Logger = e.svc, log.With("area", "locallist")
	opts.Settle, opts.Retry = 10*time.Millisecond, 20*time.Millisecond
	if e.pusher, err = locallist.New(opts); err != nil {
		t.Fatal(err)
	}
	e.cs, err = csms.New(csms.Options{Domain: e.svc, RPC: rpc.ServerOptions{PingInterval: -1}, Logger: log,
		Observers: []csms.ConnectionObserver{e.pusher}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.pusher.Run(ctx, e.cs) }()
	srv := httptest.NewServer(e.cs)
	t.Cleanup(func() {
		_ = e.cs.Shutdown(context.Background())
		srv.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	e.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/ocpp/"
	return e
}

func (e *env) put(t *testing.T, id string, status charging.AuthStatus) {
	t.Helper()
	if err := e.svc.PutToken(context.Background(), charging.IDToken{ID: id, Status: status, ParentID: "FLEET"}); err != nil {
		t.Fatal(err)
	}
}

// cacheAsList is the cache as a charger's list holds it: id -> status.
func (e *env) cacheAsList() (int, map[string]string) {
	l, _ := e.svc.LocalList()
	m := map[string]string{}
	for _, tok := range l.Tokens {
		m[tok.ID] = string(tok.Status)
	}
	return int(l.Version), m
}

// listCharger is a 1.6 charger with a local list, over a real websocket:
// it keeps the list the CSMS sends and records every SendLocalList.
type listCharger struct {
	mu        sync.Mutex
	version   int
	list      map[string]string // id tag -> status
	parents   map[string]string
	sent      []v16.SendLocalListRequest
	noList    bool // answers listVersion -1
	fail      int  // SendLocalLists still to answer Failed
	perMsg    int  // SendLocalListMaxLength it reports (0: none)
	conn      *rpc.Conn
	changedCh chan struct{}
}

func newListCharger() *listCharger {
	return &listCharger{list: map[string]string{}, parents: map[string]string{}, changedCh: make(chan struct{}, 1)}
}

func (c *listCharger) HandleCall(_ context.Context, _ *rpc.Conn, action string, payload json.RawMessage) (json.RawMessage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch action {
	case "GetLocalListVersion":
		if c.noList {
			return json.RawMessage(`{"listVersion":-1}`), nil
		}
		return json.Marshal(v16.GetLocalListVersionResponse{ListVersion: c.version})
	case "GetConfiguration":
		if c.perMsg == 0 {
			return json.RawMessage(`{}`), nil
		}
		return json.RawMessage(fmt.Sprintf(`{"configurationKey":[{"key":"SendLocalListMaxLength","readonly":true,"value":"%d"}]}`, c.perMsg)), nil
	case "SendLocalList":
		var r v16.SendLocalListRequest
		if err := json.Unmarshal(payload, &r); err != nil {
			return nil, ocppj.Errorf(ocppj.FormatViolation, "%v", err)
		}
		c.sent = append(c.sent, r)
		defer c.changed()
		if c.fail > 0 {
			c.fail--
			return json.RawMessage(`{"status":"Failed"}`), nil
		}
		if r.UpdateType == v16.UpdateTypeFull {
			clear(c.list)
		} else if r.ListVersion <= c.version {
			return json.RawMessage(`{"status":"VersionMismatch"}`), nil
		}
		for _, d := range r.LocalAuthorizationList {
			if d.IdTagInfo == nil {
				delete(c.list, d.IdTag)
				continue
			}
			c.list[d.IdTag] = string(d.IdTagInfo.Status)
			c.parents[d.IdTag] = d.IdTagInfo.ParentIdTag
		}
		c.version = r.ListVersion
		return json.RawMessage(`{"status":"Accepted"}`), nil
	}
	return nil, ocppj.Errorf(ocppj.NotImplemented, "%s", action)
}

func (c *listCharger) changed() {
	select {
	case c.changedCh <- struct{}{}:
	default:
	}
}

// connect dials the CSMS as charger id and waits until it is served.
func (c *listCharger) connect(t *testing.T, e *env, id string) {
	t.Helper()
	conn, err := rpc.Dial(context.Background(), e.url+id, rpc.DialOptions{Versions: []ocppj.Version{ocppj.V16}, Config: rpc.Config{Handler: c}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(1000, "test done") })
	if _, err := conn.Call(context.Background(), "Heartbeat", json.RawMessage(`{}`)); err != nil {
		t.Fatalf("first Heartbeat: %v", err)
	}
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
}

// waitFor waits until the charger's list is what the cache says.
func (c *listCharger) waitFor(t *testing.T, e *env) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		version, want := e.cacheAsList()
		c.mu.Lock()
		have, got := c.version, maps.Clone(c.list)
		c.mu.Unlock()
		if have == version && maps.Equal(got, want) {
			return
		}
		select {
		case <-c.changedCh:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("charger has list version %d %v; the cache is version %d %v\n%s", have, got, version, want, e.logs)
		}
	}
}

func (c *listCharger) messages() []v16.SendLocalListRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]v16.SendLocalListRequest(nil), c.sent...)
}

// waitState waits until the pusher reports state for charger id (with
// list version version, unless it is negative).
func waitState(t *testing.T, e *env, id charging.ChargerID, state string, version int64) locallist.ChargerState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, s := range e.pusher.States() {
			if s.ChargerID == id && s.State == state && (version < 0 || s.ListVersion != nil && *s.ListVersion == version) {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("charger %s never %s (version %d): states %+v\n%s", id, state, version, e.pusher.States(), e.logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestListFollowsTheCache: a charger that connects gets the cache as a
// Full list with its version; every later change (a token added,
// blocked, deleted) reaches it too.
func TestListFollowsTheCache(t *testing.T) {
	e := newEnv(t, locallist.Options{})
	e.put(t, "TAG-A", charging.AuthAccepted)
	e.put(t, "TAG-B", charging.AuthAccepted)
	c := newListCharger()
	c.connect(t, e, "CP1")
	c.waitFor(t, e)
	if m := c.messages(); len(m) != 1 || m[0].UpdateType != v16.UpdateTypeFull || len(m[0].LocalAuthorizationList) != 2 {
		t.Fatalf("sent %+v, want one Full list of 2", m)
	}
	if c.parents["TAG-A"] != "FLEET" {
		t.Errorf("TAG-A's parent on the charger is %q, want FLEET", c.parents["TAG-A"])
	}
	waitState(t, e, "CP1", locallist.StateCurrent, 2)

	e.put(t, "TAG-B", charging.AuthBlocked)
	e.put(t, "TAG-C", charging.AuthAccepted)
	c.waitFor(t, e)
	if err := e.svc.DeleteToken(context.Background(), "TAG-A"); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, e)
	if c.list["TAG-B"] != "Blocked" || c.list["TAG-A"] != "" {
		t.Errorf("charger's list %v", c.list)
	}
}

// TestLongListInSeveralMessages: a list longer than the charger takes in
// one message (the limit it reports) goes as a Full update and
// Differential ones, numbered so the last carries the cache's version.
func TestLongListInSeveralMessages(t *testing.T) {
	e := newEnv(t, locallist.Options{EntriesPerMessage: 100})
	c := newListCharger()
	c.perMsg = 2
	c.noList = true // not yet: the pusher leaves it alone until we ask its configuration
	c.connect(t, e, "CP1")
	waitState(t, e, "CP1", locallist.StateUnsupported, -1)
	if _, err := e.cs.Execute(context.Background(), "CP1", charging.Command{Kind: charging.GetConfiguration}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"T1", "T2", "T3", "T4", "T5"} {
		e.put(t, id, charging.AuthAccepted)
	}
	c.conn.Close(1000, "reconnecting")
	c.mu.Lock()
	c.noList = false
	c.mu.Unlock()
	c.connect(t, e, "CP1")
	c.waitFor(t, e)
	var got []string
	for _, m := range c.messages() {
		got = append(got, fmt.Sprintf("%s v%d %d", m.UpdateType, m.ListVersion, len(m.LocalAuthorizationList)))
	}
	want := "Full v3 2, Differential v4 2, Differential v5 1"
	if strings.Join(got, ", ") != want {
		t.Errorf("sent %s, want %s", strings.Join(got, ", "), want)
	}
}

// TestCurrentListIsNotResent: a charger that already holds the cache's
// version gets nothing, after a reconnect too.
func TestCurrentListIsNotResent(t *testing.T) {
	e := newEnv(t, locallist.Options{})
	e.put(t, "TAG-A", charging.AuthAccepted)
	c := newListCharger()
	c.connect(t, e, "CP1")
	c.waitFor(t, e)
	c.conn.Close(1000, "reconnecting")
	c.connect(t, e, "CP1")
	waitState(t, e, "CP1", locallist.StateCurrent, -1)
	if m := c.messages(); len(m) != 1 {
		t.Errorf("sent %d lists, want 1", len(m))
	}
}

// TestNoLocalList: a charger without a local list (1.6 version -1, or no
// GetLocalListVersion at all) is left alone.
func TestNoLocalList(t *testing.T) {
	e := newEnv(t, locallist.Options{})
	e.put(t, "TAG-A", charging.AuthAccepted)
	c := newListCharger()
	c.noList = true
	c.connect(t, e, "CP1")
	waitState(t, e, "CP1", locallist.StateUnsupported, -1)

	bare, err := rpc.Dial(context.Background(), e.url+"CP2", rpc.DialOptions{Versions: []ocppj.Version{ocppj.V16},
		Config: rpc.Config{Handler: rpc.HandlerFunc(func(context.Context, *rpc.Conn, string, json.RawMessage) (json.RawMessage, error) {
			return nil, ocppj.Errorf(ocppj.NotImplemented, "no")
		})}})
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close(1000, "done")
	waitState(t, e, "CP2", locallist.StateUnsupported, -1)
	e.put(t, "TAG-B", charging.AuthAccepted)
	if m := c.messages(); len(m) != 0 {
		t.Errorf("sent %+v to a charger without a list", m)
	}
}

// TestFailedPushIsRetried: a charger that answers Failed gets the list
// again after the retry wait; its state says why meanwhile.
func TestFailedPushIsRetried(t *testing.T) {
	e := newEnv(t, locallist.Options{})
	e.put(t, "TAG-A", charging.AuthAccepted)
	c := newListCharger()
	c.fail = 2
	c.connect(t, e, "CP1")
	c.waitFor(t, e)
	if m := c.messages(); len(m) != 3 {
		t.Errorf("sent %d lists, want 3 (two answered Failed)", len(m))
	}
	if !strings.Contains(e.logs.String(), "charger answered Failed") {
		t.Errorf("the failure is not logged:\n%s", e.logs)
	}
	waitState(t, e, "CP1", locallist.StateCurrent, -1)
}

// TestChargesimChargers: chargesim's 1.6, 2.0.1 and 2.1 chargers end up
// with the cache's version, and follow a change.
func TestChargesimChargers(t *testing.T) {
	e := newEnv(t, locallist.Options{})
	e.put(t, "TAG-A", charging.AuthAccepted)
	e.put(t, "TAG-B", charging.AuthBlocked)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	ids := map[ocppj.Version]charging.ChargerID{ocppj.V16: "SIM16", ocppj.V201: "SIM201", ocppj.V21: "SIM21"}
	for v, id := range ids {
		st, err := sim.NewStation(sim.Options{ID: string(id), URL: sim.StationURL(e.url, string(id)), Version: v,
			Sessions: 1, Pause: -1, SessionLength: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = st.Run(ctx) }()
	}
	// Each charger reaches the cache's version, by the pusher's account
	// and by its own.
	check := func() {
		t.Helper()
		version, _ := e.cacheAsList()
		for v, id := range ids {
			waitState(t, e, id, locallist.StateCurrent, int64(version))
			reply, err := e.cs.Execute(ctx, id, charging.Command{Kind: charging.GetLocalListVersion})
			if err != nil || reply.ListVersion == nil || *reply.ListVersion != version {
				t.Errorf("%s: the charger says version %v (%v), want %d", v, reply.ListVersion, err, version)
			}
		}
	}
	check()
	e.put(t, "TAG-C", charging.AuthAccepted)
	check()
}
