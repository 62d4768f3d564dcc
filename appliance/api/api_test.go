package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/cloudsync"
	"github.com/constellation-ev/constellation/appliance/internal/testlog"
	"github.com/constellation-ev/constellation/appliance/store"
)

var (
	_ Domain    = (*charging.Service)(nil)
	_ Commander = (*fakeCommander)(nil)
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fakeCommander records commands and answers with resp or err.
type fakeCommander struct {
	mu    sync.Mutex
	calls []command
	resp  json.RawMessage
	err   error
}

type command struct {
	Charger charging.ChargerID
	Action  string
	Payload string
	Command charging.Command
}

// Execute records cmd and answers resp as the reply's response.
func (f *fakeCommander) Execute(_ context.Context, charger charging.ChargerID, cmd charging.Command) (charging.CommandReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, command{Charger: charger, Command: cmd})
	return charging.CommandReply{Kind: cmd.Kind, Action: "Action", Status: "Accepted", Response: f.resp}, f.err
}

func (f *fakeCommander) Send(_ context.Context, charger charging.ChargerID, action string, payload json.RawMessage) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, command{Charger: charger, Action: action, Payload: string(payload)})
	return f.resp, f.err
}

func (f *fakeCommander) set(resp string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resp, f.err, f.calls = json.RawMessage(resp), err, nil
}

func (f *fakeCommander) recorded() []command {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]command(nil), f.calls...)
}

type env struct {
	svc   *charging.Service
	cmd   *fakeCommander
	ready atomic.Bool
	logs  *testlog.Buffer
	srv   *httptest.Server
	txs   []int64 // transaction ids, oldest first
}

// newEnv serves the API over a real service on a temp store, populated with
// two chargers, tokens, transactions with readings and a reservation.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, func(d Domain) Domain { return d })
}

func newEnvWith(t *testing.T, wrapDomain func(Domain) Domain) *env {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(filepath.Join(t.TempDir(), "constellation.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	svc, err := charging.NewService(ctx, db, charging.Config{Clock: charging.NewFakeClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{svc: svc, cmd: &fakeCommander{}, logs: &testlog.Buffer{}}
	e.ready.Store(true)
	e.populate(t)
	s, err := New(Options{
		Domain:    wrapDomain(svc),
		Commander: e.cmd,
		Ready:     e.ready.Load,
		Logger:    slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(s)
	t.Cleanup(e.srv.Close)
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) populate(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	svc := e.svc
	svc.ChargerConnected(ctx, "CP1", "ocpp1.6")
	_, err := svc.Boot(ctx, "CP1", charging.BootInfo{Vendor: "ACME", Model: "Wallbox", SerialNumber: "S1", FirmwareVersion: "1.2"})
	must(t, err)
	_, err = svc.Boot(ctx, "CP2", charging.BootInfo{Vendor: "ACME", Model: "Pole"})
	must(t, err)
	must(t, svc.RecordConfiguration(ctx, "CP1", map[string]charging.ConfigValue{"HeartbeatInterval": {Value: "300"}}, true))
	must(t, svc.UpdateConnectorStatus(ctx, charging.StatusUpdate{ChargerID: "CP1", ConnectorID: 1, Status: charging.StatusCharging}))
	must(t, svc.UpdateConnectorStatus(ctx, charging.StatusUpdate{ChargerID: "CP1", ConnectorID: 2, Status: charging.StatusAvailable}))
	must(t, svc.PutToken(ctx, charging.IDToken{ID: "TAG1", Status: charging.AuthAccepted, Expiry: t0.Add(24 * time.Hour), ParentID: "FLEET"}))
	must(t, svc.PutToken(ctx, charging.IDToken{ID: "TAG2", Status: charging.AuthAccepted}))
	must(t, svc.RecordReservation(ctx, charging.Reservation{ID: 7, ChargerID: "CP2", ConnectorID: 1, IDTag: "TAG2", Expiry: t0.Add(time.Hour)}))

	// tx1: CP1 connector 1, stopped, with readings. tx2: CP2, active. tx3: CP1 connector 2, active.
	tx1, _, err := svc.StartTransaction(ctx, charging.StartRequest{ChargerID: "CP1", ConnectorID: 1, IDTag: "TAG1", MeterStartWh: 1000, Timestamp: t0})
	must(t, err)
	must(t, svc.RecordMeterValues(ctx, charging.MeterValues{ChargerID: "CP1", ConnectorID: 1, TransactionID: tx1.ID,
		Readings: []charging.MeterReading{{Timestamp: t0.Add(time.Minute), Value: "2000", Unit: "Wh"}}}))
	_, _, err = svc.StopTransaction(ctx, charging.StopRequest{ChargerID: "CP1", TransactionID: tx1.ID, MeterStopWh: 5000, Timestamp: t0.Add(time.Hour), Reason: "Local",
		Readings: []charging.MeterReading{{Timestamp: t0.Add(time.Hour), Value: "5000", Unit: "Wh"}}})
	must(t, err)
	tx2, _, err := svc.StartTransaction(ctx, charging.StartRequest{ChargerID: "CP2", ConnectorID: 1, IDTag: "TAG2", MeterStartWh: 0, Timestamp: t0.Add(2 * time.Hour)})
	must(t, err)
	tx3, _, err := svc.StartTransaction(ctx, charging.StartRequest{ChargerID: "CP1", ConnectorID: 2, IDTag: "TAG1", MeterStartWh: 10, Timestamp: t0.Add(3 * time.Hour)})
	must(t, err)
	e.txs = []int64{tx1.ID, tx2.ID, tx3.ID}
}

// response is an answer as the client saw it.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) do(t *testing.T, method, path string, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: res.StatusCode, header: res.Header, body: b}
	if res.StatusCode != http.StatusNoContent {
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s: Content-Type %q, body %s", method, path, ct, b)
		}
		if !json.Valid(b) {
			t.Fatalf("%s %s: answer is not JSON: %s", method, path, b)
		}
	}
	return r
}

func (e *env) get(t *testing.T, path string) response { return e.do(t, http.MethodGet, path, nil) }

// decode decodes r's body into v, failing on a status other than want.
func (r response) decode(t *testing.T, want int, v any) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// wantError checks r is an error answer with status and a message containing want.
func (r response) wantError(t *testing.T, status int, want string) {
	t.Helper()
	var eb struct {
		Error string `json:"error"`
	}
	r.decode(t, status, &eb)
	if !strings.Contains(eb.Error, want) {
		t.Fatalf("error %q does not contain %q", eb.Error, want)
	}
}

func TestNewNeedsDomain(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without Domain succeeded")
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	e.ready.Store(false)
	var h Health
	e.get(t, "/healthz").decode(t, http.StatusServiceUnavailable, &h)
	if h.Status != "starting" {
		t.Fatalf("not ready: %+v", h)
	}
	e.ready.Store(true)
	e.get(t, "/healthz").decode(t, http.StatusOK, &h)
	if h.Status != "ok" {
		t.Fatalf("ready: %+v", h)
	}
}

func TestChargers(t *testing.T) {
	e := newEnv(t)
	var list ChargerList
	e.get(t, "/api/v1/chargers").decode(t, http.StatusOK, &list)
	if len(list.Chargers) != 2 || list.Chargers[0].ID != "CP1" || list.Chargers[1].ID != "CP2" {
		t.Fatalf("chargers %+v", list.Chargers)
	}
	if !list.Chargers[0].Connected || list.Chargers[1].Connected {
		t.Fatalf("connected flags: CP1 %v, CP2 %v", list.Chargers[0].Connected, list.Chargers[1].Connected)
	}

	var c charging.Charger
	e.get(t, "/api/v1/chargers/CP1").decode(t, http.StatusOK, &c)
	if c.Vendor != "ACME" || c.Model != "Wallbox" || c.Protocol != "ocpp1.6" || !c.Connected {
		t.Fatalf("CP1 %+v", c)
	}
	if len(c.Connectors) != 2 || c.Connectors[0].Status != charging.StatusCharging || c.Connectors[1].Status != charging.StatusAvailable {
		t.Fatalf("CP1 connectors %+v", c.Connectors)
	}
	if c.Configuration["HeartbeatInterval"].Value != "300" {
		t.Fatalf("CP1 configuration %+v", c.Configuration)
	}

	// A charger without connectors lists them as [], not null.
	r := e.get(t, "/api/v1/chargers/CP2")
	if !bytes.Contains(r.body, []byte(`"connectors":[]`)) {
		t.Fatalf("CP2 %s", r.body)
	}
	e.get(t, "/api/v1/chargers/NOPE").wantError(t, http.StatusNotFound, `charger "NOPE" not found`)
	e.get(t, "/api/v1/chargers/CP%2F1").wantError(t, http.StatusNotFound, `charger "CP/1" not found`)
}

func txIDs(txs []charging.Transaction) []int64 {
	ids := []int64{}
	for _, t := range txs {
		ids = append(ids, t.ID)
	}
	return ids
}

func TestTransactions(t *testing.T) {
	e := newEnv(t)
	tx1, tx2, tx3 := e.txs[0], e.txs[1], e.txs[2]
	tests := []struct {
		query string
		want  []int64
		next  int64
	}{
		{"", []int64{tx3, tx2, tx1}, 0},
		{"?charger=CP1", []int64{tx3, tx1}, 0},
		{"?charger=CP2", []int64{tx2}, 0},
		{"?charger=CP9", []int64{}, 0},
		{"?active=true", []int64{tx3, tx2}, 0},
		{"?active=false", []int64{tx3, tx2, tx1}, 0},
		{"?active=true&charger=CP1", []int64{tx3}, 0},
		{"?limit=2", []int64{tx3, tx2}, tx2},
		{"?limit=2&after=" + fmt.Sprint(tx2), []int64{tx1}, 0},
		{"?limit=1&after=" + fmt.Sprint(tx3), []int64{tx2}, tx2},
		{"?limit=3", []int64{tx3, tx2, tx1}, 0},
		{"?limit=500", []int64{tx3, tx2, tx1}, 0},
		{"?after=" + fmt.Sprint(tx1), []int64{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var list TransactionList
			r := e.get(t, "/api/v1/transactions"+tt.query)
			r.decode(t, http.StatusOK, &list)
			if got := txIDs(list.Transactions); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ids %v, want %v", got, tt.want)
			}
			if list.NextAfter != tt.next {
				t.Fatalf("nextAfter %d, want %d", list.NextAfter, tt.next)
			}
			if !bytes.Contains(r.body, []byte(`"transactions":[`)) {
				t.Fatalf("transactions not a list: %s", r.body)
			}
		})
	}

	bad := []struct{ query, want string }{
		{"?limit=0", "limit:"},
		{"?limit=501", "limit:"},
		{"?limit=-1", "limit:"},
		{"?limit=ten", "limit:"},
		{"?limit=1&limit=2", "limit: given 2 times"},
		{"?after=0", "after:"},
		{"?after=x", "after:"},
		{"?after=99999999999999999999", "after:"},
		{"?active=yes", "active:"},
		{"?active=", "active:"},
		{"?charger=", "charger: empty"},
		{"?charger=" + strings.Repeat("a", 256), "charger: longer than 255 bytes"},
		{"?charger=%FF", "charger: not UTF-8"},
		{"?chargerId=CP1", `"chargerId": unknown query parameter`},
	}
	for _, tt := range bad {
		t.Run("bad"+tt.query, func(t *testing.T) {
			e.get(t, "/api/v1/transactions"+tt.query).wantError(t, http.StatusBadRequest, tt.want)
		})
	}
}

func TestTransactionDetail(t *testing.T) {
	e := newEnv(t)
	var d TransactionDetail
	e.get(t, fmt.Sprintf("/api/v1/transactions/%d", e.txs[0])).decode(t, http.StatusOK, &d)
	if d.Transaction.ID != e.txs[0] || d.Transaction.ChargerID != "CP1" || d.Transaction.MeterStopWh == nil || *d.Transaction.MeterStopWh != 5000 {
		t.Fatalf("transaction %+v", d.Transaction)
	}
	if len(d.Readings) != 2 || d.Readings[0].Value != "2000" || d.Readings[1].Value != "5000" {
		t.Fatalf("readings %+v", d.Readings)
	}

	var active TransactionDetail
	r := e.get(t, fmt.Sprintf("/api/v1/transactions/%d", e.txs[1]))
	r.decode(t, http.StatusOK, &active)
	if !active.Transaction.Active() || !bytes.Contains(r.body, []byte(`"readings":[]`)) {
		t.Fatalf("active transaction %s", r.body)
	}

	for _, tt := range []struct {
		id     string
		status int
		want   string
	}{
		{"999", http.StatusNotFound, "transaction 999 not found"},
		{"0", http.StatusBadRequest, "id:"},
		{"-3", http.StatusBadRequest, "id:"},
		{"abc", http.StatusBadRequest, `id: "abc"`},
		{"1.5", http.StatusBadRequest, "id:"},
	} {
		t.Run(tt.id, func(t *testing.T) {
			e.get(t, "/api/v1/transactions/"+tt.id).wantError(t, tt.status, tt.want)
		})
	}
}

func (e *env) tokens(t *testing.T) map[string]charging.IDToken {
	t.Helper()
	var list TokenList
	e.get(t, "/api/v1/tokens").decode(t, http.StatusOK, &list)
	out := map[string]charging.IDToken{}
	for _, tk := range list.Tokens {
		out[tk.ID] = tk
	}
	return out
}

func TestTokenList(t *testing.T) {
	e := newEnv(t)
	toks := e.tokens(t)
	if len(toks) != 2 || toks["TAG1"].ParentID != "FLEET" || !toks["TAG1"].Expiry.Equal(t0.Add(24*time.Hour)) || toks["TAG2"].Status != charging.AuthAccepted {
		t.Fatalf("tokens %+v", toks)
	}
}

func TestPutToken(t *testing.T) {
	e := newEnv(t)
	var got charging.IDToken
	e.do(t, http.MethodPut, "/api/v1/tokens/NEW1", strings.NewReader(`{"status":"Accepted","expiry":"2026-01-02T03:04:05+01:00","parentId":"P"}`)).
		decode(t, http.StatusOK, &got)
	want := charging.IDToken{ID: "NEW1", Status: charging.AuthAccepted, Expiry: time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC),
		ParentID: "P", Source: TokenSource, UpdatedAt: t0}
	if !got.Expiry.Equal(want.Expiry) || !got.UpdatedAt.Equal(t0) {
		t.Fatalf("answer %+v, want %+v", got, want)
	}
	got.Expiry, got.UpdatedAt, want.Expiry, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Fatalf("answer %+v, want %+v", got, want)
	}
	if e.tokens(t)["NEW1"].Source != TokenSource {
		t.Fatal("token not listed")
	}

	// Replacing drops what the new body does not say, and the domain now answers from it.
	var replaced charging.IDToken
	e.do(t, http.MethodPut, "/api/v1/tokens/TAG1", strings.NewReader(`{"status":"Expired"}`)).decode(t, http.StatusOK, &replaced)
	if replaced.Status != charging.AuthExpired || replaced.ParentID != "" || !replaced.Expiry.IsZero() {
		t.Fatalf("replaced %+v", replaced)
	}
	auth, err := e.svc.Authorize(context.Background(), "CP1", "TAG1")
	if err != nil || auth.Status != charging.AuthExpired {
		t.Fatalf("authorize after put: %+v, %v", auth, err)
	}

	bad := []struct {
		name, id, body string
		status         int
		want           string
	}{
		{"no status", "X", `{}`, 400, "status: required"},
		{"empty status", "X", `{"status":""}`, 400, "status: required"},
		{"unknown status", "X", `{"status":"ConcurrentTx"}`, 400, `status: "ConcurrentTx" is not one of`},
		{"status type", "X", `{"status":1}`, 400, "status: want a string, got JSON number"},
		{"expiry", "X", `{"status":"Accepted","expiry":"tomorrow"}`, 400, `expiry: "tomorrow" is not an RFC 3339 time`},
		{"expiry type", "X", `{"status":"Accepted","expiry":5}`, 400, "expiry: want a string"},
		{"parent too long", "X", `{"status":"Accepted","parentId":"` + strings.Repeat("p", 256) + `"}`, 400, "parentId: longer than 255 bytes"},
		{"unknown field", "X", `{"status":"Accepted","sauce":"x"}`, 400, `unknown field "sauce"`},
		{"array", "X", `[{"status":"Accepted"}]`, 400, "body: want a JSON object"},
		{"null", "X", `null`, 400, "body: want a JSON object"},
		{"empty", "X", ``, 400, "body: empty"},
		{"syntax", "X", `{"status":}`, 400, "body: invalid JSON at byte"},
		{"truncated", "X", `{"status":"Accepted"`, 400, "body: truncated JSON"},
		{"trailing", "X", `{"status":"Accepted"} {}`, 400, "body: unexpected data after the JSON object"},
		{"id too long", strings.Repeat("i", 256), `{"status":"Accepted"}`, 400, "token id: longer than 255 bytes"},
		{"too large", "X", `{"status":"Accepted","parentId":"` + strings.Repeat("p", MaxBodyBytes) + `"}`, 413, "body: larger than 65536 bytes"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			e.do(t, http.MethodPut, "/api/v1/tokens/"+tt.id, strings.NewReader(tt.body)).wantError(t, tt.status, tt.want)
		})
	}
	if toks := e.tokens(t); len(toks) != 3 {
		t.Fatalf("refused bodies changed the tokens: %+v", toks)
	}
}

func TestBlockToken(t *testing.T) {
	e := newEnv(t)
	var got charging.IDToken
	e.do(t, http.MethodPost, "/api/v1/tokens/TAG1/block", nil).decode(t, http.StatusOK, &got)
	if got.Status != charging.AuthBlocked || got.ParentID != "FLEET" || !got.Expiry.Equal(t0.Add(24*time.Hour)) || got.Source != TokenSource {
		t.Fatalf("blocked %+v", got)
	}
	auth, err := e.svc.Authorize(context.Background(), "CP1", "TAG1")
	if err != nil || auth.Status != charging.AuthBlocked {
		t.Fatalf("authorize after block: %+v, %v", auth, err)
	}
	// Unknown tokens are added blocked.
	e.do(t, http.MethodPost, "/api/v1/tokens/SEEN9/block", nil).decode(t, http.StatusOK, &got)
	if got.ID != "SEEN9" || got.Status != charging.AuthBlocked {
		t.Fatalf("blocked unknown %+v", got)
	}
	if e.tokens(t)["SEEN9"].Status != charging.AuthBlocked {
		t.Fatal("blocked unknown token not listed")
	}
	e.do(t, http.MethodPost, "/api/v1/tokens/"+strings.Repeat("i", 256)+"/block", nil).wantError(t, http.StatusBadRequest, "token id")
}

func TestDeleteToken(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, http.MethodDelete, "/api/v1/tokens/TAG2", nil)
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if _, ok := e.tokens(t)["TAG2"]; ok {
		t.Fatal("deleted token still listed")
	}
	e.do(t, http.MethodDelete, "/api/v1/tokens/TAG2", nil).wantError(t, http.StatusNotFound, `token "TAG2" not found`)
}

func TestReservations(t *testing.T) {
	e := newEnv(t)
	var list ReservationList
	e.get(t, "/api/v1/reservations").decode(t, http.StatusOK, &list)
	if len(list.Reservations) != 1 {
		t.Fatalf("reservations %+v", list.Reservations)
	}
	r := list.Reservations[0]
	if r.ID != 7 || r.ChargerID != "CP2" || r.IDTag != "TAG2" || r.Status != "Accepted" || !r.Expiry.Equal(t0.Add(time.Hour)) {
		t.Fatalf("reservation %+v", r)
	}
}

// TestVariables: the device model a 2.x charger reported is listed by
// configuration key; a 1.6 charger's list is empty, not null.
func TestVariables(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	maxLimit := 22000.0
	err := e.svc.RecordVariables(ctx, "CP2", []charging.VariableReport{
		{Component: "OCPPCommCtrlr", Variable: "HeartbeatInterval", Value: "60", Mutability: charging.MutabilityReadWrite, Unit: "s", DataType: "integer"},
		{Component: "EVSE", EVSEID: 1, Variable: "Power", AttributeType: charging.AttributeMaxSet, Value: "22000", Mutability: charging.MutabilityReadOnly, MaxLimit: &maxLimit},
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	var list VariableList
	e.get(t, "/api/v1/chargers/CP2/variables").decode(t, http.StatusOK, &list)
	if len(list.Variables) != 2 || list.Variables[0].Key != "EVSE@1/Power:MaxSet" || list.Variables[1].Key != "OCPPCommCtrlr/HeartbeatInterval" {
		t.Fatalf("variables %+v", list.Variables)
	}
	if v := list.Variables[0]; v.EVSEID != 1 || v.Value != "22000" || v.MaxLimit == nil || *v.MaxLimit != maxLimit || v.Mutability != charging.MutabilityReadOnly {
		t.Fatalf("EVSE power %+v", v)
	}
	if v := list.Variables[1]; v.Unit != "s" || v.DataType != "integer" || v.Value != "60" {
		t.Fatalf("heartbeat interval %+v", v)
	}
	if r := e.get(t, "/api/v1/chargers/CP1/variables"); !bytes.Contains(r.body, []byte(`{"variables":[]}`)) {
		t.Fatalf("1.6 charger's variables: %s", r.body)
	}
	e.get(t, "/api/v1/chargers/NOPE/variables").wantError(t, http.StatusNotFound, `charger "NOPE" not found`)
}

func TestCommand(t *testing.T) {
	e := newEnv(t)
	e.cmd.set(`{"status":"Accepted"}`, nil)
	var res CommandResult
	e.do(t, http.MethodPost, "/api/v1/chargers/CP1/ocpp/RemoteStartTransaction", strings.NewReader(` {"connectorId":1,"idTag":"ABC"} `)).
		decode(t, http.StatusOK, &res)
	if res.Action != "RemoteStartTransaction" || string(res.Response) != `{"status":"Accepted"}` {
		t.Fatalf("result %+v", res)
	}
	want := []command{{Charger: "CP1", Action: "RemoteStartTransaction", Payload: `{"connectorId":1,"idTag":"ABC"}`}}
	if got := e.cmd.recorded(); !reflect.DeepEqual(got, want) {
		t.Fatalf("sent %+v, want %+v", got, want)
	}

	// An empty body is the empty payload; an empty answer is {}.
	e.cmd.set(``, nil)
	e.do(t, http.MethodPost, "/api/v1/chargers/CP1/ocpp/ClearCache", nil).decode(t, http.StatusOK, &res)
	if string(res.Response) != `{}` {
		t.Fatalf("empty answer as %s", res.Response)
	}
	if got := e.cmd.recorded(); len(got) != 1 || got[0].Payload != `{}` {
		t.Fatalf("empty body sent as %+v", got)
	}
}

// TestNeutralCommand: a version-neutral command's body becomes the
// charging.Command handed to the commander, and its reply is answered as
// the commander gave it.
func TestNeutralCommand(t *testing.T) {
	e := newEnv(t)
	e.cmd.set(`{"status":"Accepted"}`, nil)
	var reply charging.CommandReply
	e.do(t, http.MethodPost, "/api/v1/chargers/CP1/commands/remote-start", strings.NewReader(`{"connectorId":2,"idTag":"X"}`)).
		decode(t, http.StatusOK, &reply)
	if reply.Kind != charging.RemoteStart || reply.Status != "Accepted" || string(reply.Response) != `{"status":"Accepted"}` {
		t.Fatalf("reply %+v", reply)
	}
	want := []command{{Charger: "CP1", Command: charging.Command{Kind: charging.RemoteStart, ConnectorID: 2, IDTag: "X"}}}
	if got := e.cmd.recorded(); !reflect.DeepEqual(got, want) {
		t.Fatalf("executed %+v, want %+v", got, want)
	}

	e.cmd.set(`{}`, nil)
	e.do(t, http.MethodPost, "/api/v1/chargers/CP1/commands/clear-cache", nil).decode(t, http.StatusOK, &reply)
	e.do(t, http.MethodPost, "/api/v1/chargers/CP1/commands/reserve",
		strings.NewReader(`{"idTag":"X","expiry":"2025-06-01T13:00:00+02:00","connectorId":1}`)).decode(t, http.StatusOK, &reply)
	e.do(t, http.MethodPost, "/api/v1/chargers/CP1/commands/set-configuration",
		strings.NewReader(`{"key":"HeartbeatInterval","value":""}`)).decode(t, http.StatusOK, &reply)
	got := e.cmd.recorded()
	if len(got) != 3 || got[0].Command.Kind != charging.ClearCache || !got[1].Command.Expiry.Equal(t0.Add(-time.Hour)) ||
		got[2].Command.Value == nil || *got[2].Command.Value != "" {
		t.Fatalf("executed %+v", got)
	}

	// Bad input is refused, naming the field, before anything is sent.
	e.cmd.set(`{}`, nil)
	for _, tt := range []struct {
		path, body string
		status     int
		want       string
	}{
		{"/api/v1/chargers/CP1/commands/launch", `{}`, 404, `command: "launch" is not one of remote-start, remote-stop`},
		{"/api/v1/chargers/CP1/commands/Reset", `{}`, 404, "/ocpp/{action}"},
		{"/api/v1/chargers/CP1/commands/reset", `{}`, 400, "reset: type: required"},
		{"/api/v1/chargers/CP1/commands/reset", `{"type":"Sideways"}`, 400, `reset: type: "Sideways" is not Soft or Hard`},
		{"/api/v1/chargers/CP1/commands/reset", `{"type":"Soft","connectorId":1}`, 400, "reset: connectorId: not used by this command (it takes type)"},
		{"/api/v1/chargers/CP1/commands/reset", `{"type":"Soft","kind":"x"}`, 400, `body: unknown field "kind"`},
		{"/api/v1/chargers/CP1/commands/remote-start", `{"idTag":"X","connectorId":"2"}`, 400, "connectorId: want a number"},
		{"/api/v1/chargers/CP1/commands/remote-stop", `{"transactionId":0}`, 400, "remote-stop: transactionId: required"},
		{"/api/v1/chargers/CP1/commands/reserve", `{"idTag":"X","expiry":"tomorrow"}`, 400, `expiry: "tomorrow" is not an RFC 3339 time`},
		{"/api/v1/chargers/CP1/commands/get-configuration", `{"keys":[""]}`, 400, "get-configuration: keys[0]: empty"},
		{"/api/v1/chargers/CP1/commands/unlock", `[]`, 400, "body: want a JSON object"},
	} {
		e.do(t, http.MethodPost, tt.path, strings.NewReader(tt.body)).wantError(t, tt.status, tt.want)
	}
	if got := e.cmd.recorded(); len(got) != 0 {
		t.Fatalf("refused commands were executed: %+v", got)
	}
	e.cmd.set("", fmt.Errorf("csms: %w", charging.ErrNotConnected))
	e.do(t, http.MethodPost, "/api/v1/chargers/CP9/commands/clear-cache", nil).wantError(t, http.StatusConflict, "charger is not connected")
}

func TestCommandErrors(t *testing.T) {
	e := newEnv(t)
	const path = "/api/v1/chargers/CP1/ocpp/Reset"
	tests := []struct {
		name   string
		err    error
		status int
		want   string
	}{
		{"invalid command", fmt.Errorf("payload: type: required: %w", charging.ErrInvalidCommand), 400, "invalid command"},
		{"not connected", fmt.Errorf("ocpp: %w", charging.ErrNotConnected), 409, "charger is not connected"},
		{"no answer", fmt.Errorf("ocpp: after 30s: %w", charging.ErrNoAnswer), 504, "did not answer in time"},
		{"charger error", fmt.Errorf("NotSupported: %w", charging.ErrChargerError), 502, "NotSupported"},
		{"domain invalid", fmt.Errorf("x: %w", charging.ErrInvalid), 400, "invalid"},
		{"domain not found", fmt.Errorf("x: %w", charging.ErrNotFound), 404, "not found"},
		{"other", errors.New("secret detail"), 500, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.cmd.set("", tt.err)
			r := e.do(t, http.MethodPost, path, strings.NewReader(`{"type":"Soft"}`))
			r.wantError(t, tt.status, tt.want)
			if tt.status == 500 {
				if bytes.Contains(r.body, []byte("secret")) {
					t.Fatalf("detail leaked: %s", r.body)
				}
				if !strings.Contains(e.logs.String(), "secret detail") {
					t.Fatalf("detail not logged: %s", e.logs.String())
				}
			}
		})
	}

	e.cmd.set(`{"status":`, nil)
	e.do(t, http.MethodPost, path, strings.NewReader(`{}`)).wantError(t, 500, "internal error")

	// Bad input is refused before anything is sent.
	e.cmd.set(`{}`, nil)
	bad := []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"array", path, `[1]`, 400, "body: want a JSON object"},
		{"string", path, `"Soft"`, 400, "body: want a JSON object"},
		{"null", path, `null`, 400, "body: want a JSON object"},
		{"syntax", path, `{"type":Soft}`, 400, "body: invalid JSON at byte"},
		{"trailing", path, `{} {}`, 400, "body: invalid JSON"},
		{"truncated", path, `{"type":`, 400, "body:"},
		{"too large", path, `{"data":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, 413, "body: larger than 65536 bytes"},
		{"action", "/api/v1/chargers/CP1/ocpp/Re-set", `{}`, 400, `action: "Re-set"`},
		{"long action", "/api/v1/chargers/CP1/ocpp/" + strings.Repeat("A", 65), `{}`, 400, "action:"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			e.do(t, http.MethodPost, tt.path, strings.NewReader(tt.body)).wantError(t, tt.status, tt.want)
		})
	}
	if got := e.cmd.recorded(); len(got) != 0 {
		t.Fatalf("refused commands were sent: %+v", got)
	}
}

func TestCommandsUnavailable(t *testing.T) {
	e := newEnv(t)
	s, err := New(Options{Domain: e.svc})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	e.srv = srv
	e.do(t, http.MethodPost, "/api/v1/chargers/CP1/ocpp/Reset", strings.NewReader(`{}`)).wantError(t, http.StatusServiceUnavailable, "commands are not available")
	e.get(t, "/healthz").decode(t, http.StatusOK, &Health{}) // nil Ready: ready
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/", 404, ""},
		{"GET", "/api/v1/nothing", 404, ""},
		{"GET", "/api/v2/chargers", 404, ""},
		{"GET", "/api/v1/chargers/CP1/connectors", 404, ""},
		{"DELETE", "/api/v1/chargers", 405, "GET, HEAD"},
		{"POST", "/healthz", 405, "GET, HEAD"},
		{"GET", "/api/v1/tokens/TAG1", 405, "DELETE, PUT"},
		{"GET", "/api/v1/chargers/CP1/ocpp/Reset", 405, "POST"},
		{"GET", "/api/v1/chargers/CP1/commands/reset", 405, "POST"},
		{"PUT", "/api/v1/transactions/1", 405, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			r := e.do(t, tt.method, tt.path, nil)
			r.wantError(t, tt.status, tt.path)
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Fatalf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

// failingDomain fails or panics on listing chargers and tokens.
type failingDomain struct {
	Domain
	err error
}

func (f failingDomain) Chargers(context.Context) ([]charging.Charger, error) { return nil, f.err }
func (f failingDomain) Tokens(context.Context) ([]charging.IDToken, error) {
	panic("tokens exploded")
}

func TestDomainFailures(t *testing.T) {
	e := newEnvWith(t, func(d Domain) Domain { return failingDomain{d, errors.New("disk on fire")} })
	r := e.get(t, "/api/v1/chargers")
	r.wantError(t, http.StatusInternalServerError, "internal error")
	if bytes.Contains(r.body, []byte("disk")) || !strings.Contains(e.logs.String(), "disk on fire") {
		t.Fatalf("detail leaked or not logged: body %s, logs %s", r.body, e.logs.String())
	}
	e.get(t, "/api/v1/tokens").wantError(t, http.StatusInternalServerError, "internal error")
	if !strings.Contains(e.logs.String(), "tokens exploded") {
		t.Fatalf("panic not logged: %s", e.logs.String())
	}
	// The server still answers.
	e.get(t, "/api/v1/reservations").decode(t, http.StatusOK, &ReservationList{})
}

// TestDocsCoverRoutes keeps docs/api.md and docs/openapi.yaml in step with the routes.
func TestDocsCoverRoutes(t *testing.T) {
	md, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The paths of openapi.yaml, each with its methods.
	methods := map[string][]string{}
	var path string
	for _, line := range strings.Split(string(spec), "\n") {
		if p, ok := strings.CutPrefix(line, "  /"); ok && strings.HasSuffix(p, ":") {
			path = "/" + strings.TrimSuffix(p, ":")
			continue
		}
		if m, ok := strings.CutPrefix(line, "    "); ok && path != "" && strings.HasSuffix(m, ":") && !strings.HasPrefix(m, " ") {
			methods[path] = append(methods[path], strings.ToUpper(strings.TrimSuffix(m, ":")))
		}
		if !strings.HasPrefix(line, " ") {
			path = ""
		}
	}
	documented := 0
	for _, r := range routeTable {
		method, p, _ := strings.Cut(r.pattern, " ")
		if !bytes.Contains(md, []byte("### `"+r.pattern+"`")) {
			t.Errorf("docs/api.md has no section for %s", r.pattern)
		}
		if !slices.Contains(methods[p], method) {
			t.Errorf("docs/openapi.yaml has no %s for %s (has %v)", method, p, methods[p])
		}
	}
	for _, ms := range methods {
		for _, m := range ms {
			if m != "PARAMETERS" {
				documented++
			}
		}
	}
	if documented != len(routeTable) {
		t.Errorf("docs/openapi.yaml describes %d operations, the API has %d", documented, len(routeTable))
	}
}

// fakeSync answers a fixed status, or fails.
type fakeSync struct {
	st  cloudsync.Status
	err error
}

func (f fakeSync) Status() (cloudsync.Status, error) { return f.st, f.err }

func TestSyncStatus(t *testing.T) {
	e := newEnv(t)
	var st cloudsync.Status
	e.get(t, "/api/v1/sync").decode(t, http.StatusOK, &st)
	if st.Enabled || st.Connected {
		t.Fatalf("without sync: %+v", st)
	}

	want := cloudsync.Status{Enabled: true, Connected: true, Site: "depot-7", Broker: "tls://broker:8883", LastSync: t0,
		Backlog: 12, BacklogBytes: 3400, Dropped: cloudsync.Dropped{Readings: 3}, DesiredVersion: 4, AuthListVersion: 9}
	for _, tt := range []struct {
		sync   fakeSync
		status int
	}{{fakeSync{st: want}, http.StatusOK}, {fakeSync{err: errors.New("disk on fire")}, http.StatusInternalServerError}} {
		s, err := New(Options{Domain: e.svc, Sync: tt.sync})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s)
		e.srv = srv
		r := e.get(t, "/api/v1/sync")
		srv.Close()
		if r.status != tt.status {
			t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
		}
		if tt.status != http.StatusOK {
			continue
		}
		var got cloudsync.Status
		r.decode(t, http.StatusOK, &got)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
}
