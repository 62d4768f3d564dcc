package cloudsync

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/cloudsync/synctest"
	"github.com/constellation-ev/constellation/appliance/internal/testlog"
	"github.com/constellation-ev/constellation/appliance/store"
	"github.com/constellation-ev/constellation/syncproto"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
)

// fakeExecutor answers every command with status, and records it.
type fakeExecutor struct {
	mu     sync.Mutex
	status string
	err    error
	calls  []executed
}

type executed struct {
	Charger charging.ChargerID
	Command charging.Command
}

func (f *fakeExecutor) Execute(_ context.Context, charger charging.ChargerID, cmd charging.Command) (charging.CommandReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, executed{charger, cmd})
	if f.err != nil {
		return charging.CommandReply{}, f.err
	}
	return charging.CommandReply{Kind: cmd.Kind, Action: "Action", Status: orDefault(f.status, "Accepted"), Response: json.RawMessage(`{}`)}, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (f *fakeExecutor) executed() []executed {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

var _ Executor = (*fakeExecutor)(nil)

// env is an appliance's storage, charging service and sync client, with
// a fake clock.
type env struct {
	path   string
	opts   Options
	clock  *charging.FakeClock
	logs   *testlog.Buffer
	exec   *fakeExecutor
	db     *store.DB
	svc    *charging.Service
	client *Client
	stop   func() error // stops Run; nil when not running
}

// newEnv opens an appliance on a temp store; broker "" makes a client
// that is never run.
func newEnv(t testing.TB, broker string, mutate func(*Options)) *env {
	t.Helper()
	e := &env{path: filepath.Join(t.TempDir(), "constellation.db"), clock: charging.NewFakeClock(t0),
		logs: &testlog.Buffer{}, exec: &fakeExecutor{}}
	if broker == "" {
		broker = "tcp://127.0.0.1:1" // never dialled
	}
	e.opts = Options{Broker: broker, Site: synctest.Site(t), Clock: e.clock,
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if mutate != nil {
		mutate(&e.opts)
	}
	e.open(t)
	t.Cleanup(func() { e.close(t) })
	return e
}

func (e *env) open(t testing.TB) {
	t.Helper()
	db, err := store.Open(e.path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(ctx, db, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := charging.NewService(ctx, db, charging.Config{Clock: e.opts.Clock, OnChange: c.OnChange,
		Policy: charging.PolicyConfig{Default: charging.AuthPolicy{Mode: charging.PolicyOpen}}})
	if err != nil {
		t.Fatal(err)
	}
	e.db, e.client, e.svc = db, c, svc
}

// run starts the client.
func (e *env) run(t *testing.T) {
	t.Helper()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.client.Run(rctx, e.svc, e.exec) }()
	e.stop = sync.OnceValue(func() error {
		cancel()
		return <-done
	})
}

// close stops the client and closes the store.
func (e *env) close(t testing.TB) {
	t.Helper()
	if e.stop != nil {
		if err := e.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
		e.stop = nil
	}
	if e.db != nil {
		if err := e.db.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
		e.db = nil
	}
}

// reopen is a restart of the appliance: the client and store are closed
// and opened again on the same file.
func (e *env) reopen(t *testing.T) {
	t.Helper()
	e.close(t)
	e.open(t)
}

// waitStatus waits until cond holds of the client's status.
func (e *env) waitStatus(t *testing.T, what string, cond func(Status) bool) Status {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := e.client.Status()
		if err != nil {
			t.Fatal(err)
		}
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: status %+v", what, st)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not timing anything
	}
}

// subscribe listens to everything the site publishes.
func (e *env) subscribe(t *testing.T, broker string) *synctest.Subscriber {
	t.Helper()
	return synctest.Subscribe(t, broker, syncproto.Prefix+e.opts.Site+"/up/+")
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// session records a whole 1.6-style session on charger's connector:
// status changes, a start, n meter values 15 s apart (two measurands),
// and a stop with its own readings. It returns the transaction id; the
// clock ends after the session.
func (e *env) session(t *testing.T, charger charging.ChargerID, connector, n int) int64 {
	t.Helper()
	start := e.clock.Now()
	must(t, e.svc.UpdateConnectorStatus(ctx, charging.StatusUpdate{ChargerID: charger, ConnectorID: connector, Status: charging.StatusPreparing, Timestamp: start}))
	tx, _, err := e.svc.StartTransaction(ctx, charging.StartRequest{ChargerID: charger, ConnectorID: connector, IDTag: "CARD-" + string(charger),
		MeterStartWh: 1000, Timestamp: start})
	must(t, err)
	must(t, e.svc.UpdateConnectorStatus(ctx, charging.StatusUpdate{ChargerID: charger, ConnectorID: connector, Status: charging.StatusCharging, Timestamp: start}))
	at := start
	for i := 1; i <= n; i++ {
		at = start.Add(time.Duration(i) * 15 * time.Second)
		e.clock.Set(at)
		must(t, e.svc.RecordMeterValues(ctx, charging.MeterValues{ChargerID: charger, ConnectorID: connector, TransactionID: tx.ID,
			Readings: meterValues(at, 1000+int64(i)*30)}))
	}
	at = at.Add(15 * time.Second)
	e.clock.Set(at)
	_, _, err = e.svc.StopTransaction(ctx, charging.StopRequest{ChargerID: charger, TransactionID: tx.ID, MeterStopWh: 1000 + int64(n+1)*30,
		Timestamp: at, Reason: "Local", Readings: meterValues(at, 1000+int64(n+1)*30)})
	must(t, err)
	must(t, e.svc.UpdateConnectorStatus(ctx, charging.StatusUpdate{ChargerID: charger, ConnectorID: connector, Status: charging.StatusAvailable, Timestamp: at}))
	return tx.ID
}

func meterValues(at time.Time, wh int64) []charging.MeterReading {
	return []charging.MeterReading{
		{Timestamp: at, Value: strconv.FormatInt(wh, 10), Measurand: charging.MeasurandEnergyImportRegister, Unit: "Wh", Context: "Sample.Periodic", Location: "Outlet", Format: "Raw"},
		{Timestamp: at, Value: "7400.5", Measurand: "Power.Active.Import", Unit: "W", Context: "Sample.Periodic", Location: "Outlet", Format: "Raw"},
	}
}

// row identifies one reading: its session, time, series and value.
type row struct {
	tx    int64
	at    int64
	col   syncproto.Column
	value string
}

// wantRows are the readings the appliance stored for the transactions.
func (e *env) wantRows(t *testing.T, txs []int64) map[row]bool {
	t.Helper()
	want := map[row]bool{}
	for _, id := range txs {
		_, rs, err := e.svc.Transaction(ctx, id)
		must(t, err)
		for _, r := range rs {
			want[row{id, r.Timestamp.UnixMilli(), syncproto.Column{Measurand: r.Measurand, Phase: r.Phase, Unit: r.Unit,
				Context: r.Context, Location: r.Location, Format: r.Format}, r.Value}] = true
		}
	}
	return want
}

// gotRows are the readings that arrived.
func gotRows(msgs []synctest.Message) map[row]bool {
	got := map[row]bool{}
	for _, m := range msgs {
		if r, ok := m.Msg.(*syncproto.Readings); ok {
			for _, x := range r.Rows() {
				got[row{r.TransactionID, x.Time.UnixMilli(), x.Column, x.Value}] = true
			}
		}
	}
	return got
}

// stopped reports whether the stop of every transaction arrived.
func stopped(msgs []synctest.Message, txs []int64) bool {
	seen := map[int64]bool{}
	for _, m := range msgs {
		if tx, ok := m.Msg.(*syncproto.Transaction); ok && tx.Event == syncproto.TxStopped {
			seen[tx.ID] = true
		}
	}
	for _, id := range txs {
		if !seen[id] {
			return false
		}
	}
	return true
}

// allArrived reports whether every transaction's stop and every reading arrived.
func allArrived(want map[row]bool, txs []int64) func([]synctest.Message) bool {
	return func(msgs []synctest.Message) bool {
		if !stopped(msgs, txs) {
			return false
		}
		got := gotRows(msgs)
		for r := range want {
			if !got[r] {
				return false
			}
		}
		return true
	}
}

// seqOf is the outbox sequence of a key (the first, for merged readings).
func seqOf(t *testing.T, key string) uint64 {
	t.Helper()
	parts := strings.Split(key, "-")
	if len(parts) < 2 {
		t.Fatalf("key %q: want {store}-{seq}", key)
	}
	n, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		t.Fatalf("key %q: %v", key, err)
	}
	return n
}

// checkOrder checks that each charger's keyed records arrived in outbox
// order, a resend of a record being its earlier key again; readings are
// left out when withReadings is false (held back, they may be overtaken).
// Records sent twice must be the same record.
func checkOrder(t *testing.T, msgs []synctest.Message, withReadings bool) {
	t.Helper()
	last := map[string]uint64{}
	first := map[string][]byte{}
	for _, m := range msgs {
		if m.Msg == nil {
			t.Fatalf("undecodable message on %s: %v", m.Topic, m.Err)
		}
		key := m.Msg.Head().Key
		if key == "" {
			continue
		}
		body := comparable(t, m.Msg)
		if prev, ok := first[key]; ok {
			if string(prev) != string(body) {
				t.Errorf("key %s sent twice with different content:\n%s\n%s", key, prev, body)
			}
			continue
		}
		first[key] = body
		if _, ok := m.Msg.(*syncproto.Readings); ok && !withReadings {
			continue
		}
		lane := laneOf(m.Msg)
		seq := seqOf(t, key)
		if seq <= last[lane] {
			t.Errorf("charger %q: record %s arrived after record %d", lane, key, last[lane])
		}
		last[lane] = seq
	}
}

// comparable is a message's content without its send-time fields.
func comparable(t *testing.T, m syncproto.Message) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	must(t, err)
	return b
}

// outboxKeys lists the keys of the records waiting in the outbox, with
// their kinds.
func (e *env) outboxKeys(t *testing.T) map[string]syncproto.Kind {
	t.Helper()
	keys := map[string]syncproto.Kind{}
	err := e.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bkOutbox).ForEach(func(k, v []byte) error {
			m, err := decodeEntry(v)
			if err != nil {
				return fmt.Errorf("record %x: %w", k, err)
			}
			keys[m.Head().Key] = m.Kind()
			return nil
		})
	})
	must(t, err)
	return keys
}
