package e2e

// The kill test: the appliance runs as a child process (this test binary
// re-executed into TestHelperAppliance) on a fixed data directory and OCPP
// port, and is SIGKILLed at random moments while 20 simulated chargers run
// charging sessions against it. After each restart, and in full at the
// end, every message a charger got a CALLRESULT for must be stored exactly
// once.
//
// Environment:
//
//	CONSTELLATION_KILLS=300      number of kills (default 5); the long run uses hundreds
//	CONSTELLATION_KILL_SEED=42   seed of the random kill moments (default: the clock; always logged)
//
// For example:
//
//	CONSTELLATION_KILLS=300 go test -race -run '^TestKill$' -timeout 30m ./appliance/e2e

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/api"
	"github.com/constellation-ev/constellation/appliance/app"
	"github.com/constellation-ev/constellation/appliance/charging"
	v16 "github.com/constellation-ev/constellation/appliance/ocpp/v16"
	"github.com/constellation-ev/constellation/appliance/store"
	"github.com/constellation-ev/constellation/tools/chargesim/sim"
)

const (
	envKills    = "CONSTELLATION_KILLS"
	envKillSeed = "CONSTELLATION_KILL_SEED"

	// The child's configuration.
	envHelper   = "CONSTELLATION_E2E_HELPER"
	envDataDir  = "CONSTELLATION_E2E_DATA_DIR"
	envOCPPAddr = "CONSTELLATION_E2E_OCPP_ADDR"
	readyLine   = "E2E-APPLIANCE-READY"

	killStations = 20
	defaultKills = 5
)

// TestHelperAppliance is the appliance process of TestKill; it does
// nothing unless TestKill re-executed the test binary into it. It runs the
// appliance until SIGTERM, after printing its listening addresses.
func TestHelperAppliance(t *testing.T) {
	if os.Getenv(envHelper) != "1" {
		t.Skip("the appliance child process of TestKill; runs only when re-executed by it")
	}
	cfg := testConfig(os.Getenv(envDataDir))
	cfg.OCPP.Addr = os.Getenv(envOCPPAddr)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	err := app.Run(ctx, cfg, log, func(a app.Addrs) {
		fmt.Printf("%s ocpp=%s api=%s\n", readyLine, a.OCPP, a.API)
	})
	if err != nil {
		t.Fatalf("app.Run: %v", err)
	}
}

// child is one run of the appliance process.
type child struct {
	cmd    *exec.Cmd
	ready  chan string // the API address, once
	exited chan struct{}
	err    error // Wait's result, set before exited closes
}

func startChild(t *testing.T, dataDir, ocppAddr string, logFile *os.File) *child {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppliance$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"=1", envDataDir+"="+dataDir, envOCPPAddr+"="+ocppAddr)
	cmd.Stdout = pw
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the appliance: %v", err)
	}
	pw.Close()
	c := &child{cmd: cmd, ready: make(chan string, 1), exited: make(chan struct{})}
	go func() {
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), readyLine+" "); ok {
				for f := range strings.FieldsSeq(line) {
					if a, ok := strings.CutPrefix(f, "api="); ok {
						c.ready <- a
					}
				}
			}
		}
	}()
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c
}

// waitReady returns the child's API address once it listens.
func (c *child) waitReady(t *testing.T, logPath string) string {
	t.Helper()
	select {
	case a := <-c.ready:
		return a
	case <-c.exited:
		t.Fatalf("the appliance exited before it was ready: %v\nlog:\n%s", c.err, tail(logPath, 4096))
	case <-time.After(60 * time.Second):
		t.Fatalf("the appliance did not become ready within a minute\nlog:\n%s", tail(logPath, 4096))
	}
	return ""
}

func (c *child) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.exited
}

// ackLog records every CALLRESULT the stations received, in order.
type ackLog struct {
	mu   sync.Mutex
	acks []sim.Ack
}

func (l *ackLog) add(a sim.Ack) {
	l.mu.Lock()
	l.acks = append(l.acks, a)
	l.mu.Unlock()
}

// snapshot returns the acks received so far.
func (l *ackLog) snapshot() []sim.Ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clip(l.acks)
}

func TestKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the appliance; skipped with -short")
	}
	kills := defaultKills
	if v := os.Getenv(envKills); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("%s=%q: want a number of kills", envKills, v)
		}
		kills = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(envKillSeed); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want an unsigned integer", envKillSeed, v)
		}
		seed = n
	}
	t.Logf("kills=%d seed=%d (rerun with %s=%d %s=%d)", kills, seed, envKills, kills, envKillSeed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	dataDir := filepath.Join(t.TempDir(), "data")
	logPath := filepath.Join(t.TempDir(), "appliance.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("appliance log (tail):\n%s", tail(logPath, 8192))
		}
	})

	// One OCPP port for every run, so the stations reconnect to the same URL.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ocppAddr := ln.Addr().String()
	ln.Close()

	acks := &ackLog{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// A kill cycle (start, 100-800 ms up, kill) takes about 0.55 s, a
	// session with its pause 0.35 s: the connectors' sessions outlast the
	// kill phase, so every kill lands in sessions. Short sessions mean many
	// StartTransactions, so some kills land between a start's commit and
	// its CALLRESULT, and its replay must find the stored one. The stations
	// keep going while the appliance is down (transaction messages queue
	// and are replayed after the reconnect).
	sessions := 3 + 2*kills
	type result struct {
		id  string
		err error
	}
	done := make(chan result, killStations)
	for i := range killStations {
		id := sim.StationID("KILL", i)
		st, err := sim.NewStation(sim.Options{
			ID: id, URL: sim.StationURL("ws://"+ocppAddr, id),
			Connectors: 2, MeterInterval: 75 * time.Millisecond, SessionLength: 300 * time.Millisecond,
			Sessions: sessions, Pause: 50 * time.Millisecond, Tags: []string{id + "A", id + "B"},
			HeartbeatInterval: time.Hour, RetryInterval: 100 * time.Millisecond, CallTimeout: 20 * time.Second,
			ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
			OnAck: acks.add,
		})
		if err != nil {
			t.Fatal(err)
		}
		go func() { done <- result{id, st.Run(ctx)} }()
	}
	running := killStations
	defer func() {
		cancel()
		for ; running > 0; running-- {
			<-done
		}
	}()

	var cur *child
	defer func() {
		if cur != nil {
			cur.kill()
		}
	}()
	exp := newAcked() // the acks received before the last kill
	for k := range kills {
		started := time.Now()
		cur = startChild(t, dataDir, ocppAddr, logFile)
		apiAddr := cur.waitReady(t, logPath)
		startup := time.Since(started)
		up := time.Duration(100+rng.IntN(701)) * time.Millisecond
		timer := time.NewTimer(up)
		// What was acknowledged before the previous kill must have
		// survived it: check through the restarted appliance's API.
		verifyAPI(t, newAPIClient(apiAddr), exp)
		<-timer.C
		exp.add(t, acks.snapshot())
		cur.kill()
		cur = nil
		t.Logf("kill %d after %v up (ready %v after start): %d acks so far", k+1, up, startup.Round(time.Millisecond), exp.n)
		if t.Failed() {
			return
		}
	}

	// The final run: the stations finish their sessions, then the
	// appliance stops cleanly.
	cur = startChild(t, dataDir, ocppAddr, logFile)
	apiAddr := cur.waitReady(t, logPath)
	verifyAPI(t, newAPIClient(apiAddr), exp)
	stillRunning := running - len(done) // stations still in their sessions at the final start
	for ; running > 0; running-- {
		select {
		case r := <-done:
			if r.err != nil {
				t.Errorf("station %s: %v", r.id, r.err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("%d stations did not finish their sessions within 2 minutes", running)
		}
	}
	if err := cur.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-cur.exited
	if cur.err != nil {
		t.Errorf("the appliance did not stop cleanly on SIGTERM: %v", cur.err)
	}
	cur = nil

	all := acks.snapshot()
	counts := map[string]int{}
	for _, a := range all {
		counts[a.Action]++
	}
	t.Logf("%d kills; %d stations still running at the final start; acks: %d in all, %v", kills, stillRunning, len(all), counts)
	if counts["StartTransaction"] == 0 || counts["StopTransaction"] == 0 || counts["MeterValues"] == 0 {
		t.Fatalf("the stations got no transaction messages acknowledged: %v", counts)
	}
	exp.add(t, all)
	verifyDB(t, filepath.Join(dataDir, app.DBFile), exp)
}

// acked is what the stations' acknowledged transaction messages say must
// be stored.
type acked struct {
	starts map[int64]*v16.StartTransactionRequest // by the transactionId given
	owner  map[int64]string                       // the station each id was given to
	stops  map[int64]*v16.StopTransactionRequest
	meters map[int64][]v16.MeterValue // MeterValues and stop transactionData, by transaction
	other  int                        // MeterValues without a transaction
	n      int                        // acks added so far
	seen   map[string]bool            // station/seq of the transaction messages
}

func newAcked() *acked {
	return &acked{starts: map[int64]*v16.StartTransactionRequest{}, owner: map[int64]string{},
		stops: map[int64]*v16.StopTransactionRequest{}, meters: map[int64][]v16.MeterValue{}, seen: map[string]bool{}}
}

// add takes in the acks after the first e.n of all, decoding the
// acknowledged messages from the payloads as they were sent (the wire
// form, with millisecond timestamps).
func (e *acked) add(t *testing.T, all []sim.Ack) {
	t.Helper()
	acks := all[e.n:]
	e.n = len(all)
	seen := e.seen
	for _, a := range acks {
		switch a.Action {
		case "StartTransaction", "StopTransaction", "MeterValues":
		default:
			continue
		}
		key := a.Station + "/" + strconv.FormatUint(a.Seq, 10)
		if seen[key] {
			t.Errorf("%s %s seq %d acknowledged twice", a.Station, a.Action, a.Seq)
		}
		seen[key] = true
		req, _, err := v16.DecodeRequest(a.Action, a.RequestJSON, false)
		if err != nil {
			t.Fatalf("%s %s as sent: %v", a.Station, a.Action, err)
		}
		switch r := req.(type) {
		case *v16.StartTransactionRequest:
			resp, _, err := v16.DecodeResponse(a.Action, a.ResponseJSON, false)
			if err != nil {
				t.Fatalf("%s StartTransaction answer %s: %v", a.Station, a.ResponseJSON, err)
			}
			id := int64(resp.(*v16.StartTransactionResponse).TransactionId)
			if prev, dup := e.starts[id]; dup {
				t.Errorf("transaction id %d given to two starts: %s %+v and %s %+v", id, e.owner[id], prev, a.Station, r)
			}
			e.starts[id], e.owner[id] = r, a.Station
		case *v16.StopTransactionRequest:
			id := int64(r.TransactionId)
			if _, dup := e.stops[id]; dup {
				t.Errorf("%s: transaction %d stopped twice", a.Station, id)
			}
			e.stops[id] = r
			e.meters[id] = append(e.meters[id], r.TransactionData...)
		case *v16.MeterValuesRequest:
			if r.TransactionId == nil {
				e.other++
				continue
			}
			e.meters[int64(*r.TransactionId)] = append(e.meters[int64(*r.TransactionId)], r.MeterValue...)
		}
	}
	for id := range e.stops {
		if _, ok := e.starts[id]; !ok {
			t.Errorf("transaction %d: stop acknowledged, start not", id)
		}
	}
}

// checkStarts compares stored transactions with the acknowledged starts
// and stops: each start stored exactly once under the id it was given,
// each stop recorded with the meter value sent, ids unique.
func checkStarts(t *testing.T, where string, e *acked, stored []charging.Transaction) map[int64]charging.Transaction {
	t.Helper()
	byID := map[int64]charging.Transaction{}
	type startKey struct {
		charger   charging.ChargerID
		connector int
		tag       string
		ts        int64
		meter     int64
	}
	byKey := map[startKey]int{}
	for _, tx := range stored {
		if _, dup := byID[tx.ID]; dup {
			t.Errorf("%s: transaction id %d stored twice", where, tx.ID)
		}
		byID[tx.ID] = tx
		byKey[startKey{tx.ChargerID, tx.ConnectorID, tx.IDTag, tx.StartTime.UnixNano(), tx.MeterStartWh}]++
	}
	failures := 0
	fail := func(format string, args ...any) {
		if failures++; failures <= 20 {
			t.Errorf(where+": "+format, args...)
		}
	}
	for id, r := range e.starts {
		k := startKey{charging.ChargerID(e.owner[id]), r.ConnectorId, r.IdTag, r.Timestamp.UnixNano(), int64(r.MeterStart)}
		if n := byKey[k]; n != 1 {
			fail("acknowledged start %+v of %s (id %d) stored %d times", r, e.owner[id], id, n)
		}
		tx, ok := byID[id]
		switch {
		case !ok:
			fail("acknowledged transaction %d (%s %+v) is missing", id, e.owner[id], r)
			continue
		case string(tx.ChargerID) != e.owner[id] || tx.ConnectorID != r.ConnectorId || tx.IDTag != r.IdTag ||
			!tx.StartTime.Equal(r.Timestamp.Time) || tx.MeterStartWh != int64(r.MeterStart):
			fail("transaction %d stored as %+v, acknowledged start was %s %+v", id, tx, e.owner[id], r)
		}
		if s, ok := e.stops[id]; ok {
			if tx.MeterStopWh == nil || *tx.MeterStopWh != int64(s.MeterStop) || !tx.StopTime.Equal(s.Timestamp.Time) {
				fail("transaction %d: acknowledged stop (meterStop %d at %v) stored as %+v", id, s.MeterStop, s.Timestamp, tx)
			}
		}
	}
	if failures > 20 {
		t.Errorf("%s: %d failures in all", where, failures)
	}
	return byID
}

// verifyAPI checks, through a running appliance's API, that the starts and
// stops among acks (all acknowledged before the previous kill) are stored.
func verifyAPI(t *testing.T, c *apiClient, e *acked) {
	t.Helper()
	var stored []charging.Transaction
	after := int64(0)
	for {
		var page api.TransactionList
		path := "/api/v1/transactions?limit=500"
		if after > 0 {
			path += "&after=" + strconv.FormatInt(after, 10)
		}
		c.get(t, path, &page)
		stored = append(stored, page.Transactions...)
		if page.NextAfter == 0 {
			break
		}
		after = page.NextAfter
	}
	checkStarts(t, "after restart", e, stored)
}

// verifyDB opens the database of the stopped appliance and checks that
// everything acknowledged is stored exactly once, and nothing else.
func verifyDB(t *testing.T, path string, e *acked) {
	t.Helper()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	svc, err := charging.NewService(ctx, db, charging.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var stored []charging.Transaction
	after := int64(0)
	for {
		page, err := svc.Transactions(ctx, charging.TransactionFilter{Limit: 1000, After: after})
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].ID
	}
	byID := checkStarts(t, "final", e, stored)

	// The stations finished every session, so every stored transaction is
	// one they started and got acknowledged, and it is stopped.
	extra := 0
	for _, tx := range stored {
		if _, ok := e.starts[tx.ID]; !ok || tx.Orphan || tx.Active() {
			if extra++; extra <= 20 {
				t.Errorf("stored transaction %+v: acknowledged start %t, orphan %t, active %t", tx, ok, tx.Orphan, tx.Active())
			}
		}
	}
	if len(e.stops) != len(e.starts) {
		t.Errorf("%d starts but %d stops acknowledged, though every station finished its sessions", len(e.starts), len(e.stops))
	}

	type readingKey struct {
		ts                                 int64
		value, measurand, phase, ctx, unit string
	}
	readings, missing, doubled := 0, 0, 0
	for id := range byID {
		_, rs, err := svc.Transaction(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		n := map[readingKey]int{}
		for _, r := range rs {
			n[readingKey{r.Timestamp.UnixNano(), r.Value, r.Measurand, r.Phase, r.Context, r.Unit}]++
		}
		for _, mv := range e.meters[id] {
			for _, sv := range mv.SampledValue {
				readings++
				// The 1.6 defaults are stored explicitly.
				k := readingKey{mv.Timestamp.UnixNano(), sv.Value,
					cmp.Or(string(sv.Measurand), string(v16.MeasurandEnergyActiveImportRegister)), string(sv.Phase),
					cmp.Or(string(sv.Context), string(v16.ContextSamplePeriodic)), cmp.Or(string(sv.Unit), string(v16.UnitWh))}
				switch got := n[k]; {
				case got == 0:
					if missing++; missing <= 10 {
						t.Errorf("transaction %d: acknowledged reading %+v at %v is missing", id, sv, mv.Timestamp)
					}
				case got > 1:
					if doubled++; doubled <= 10 {
						t.Errorf("transaction %d: acknowledged reading %+v at %v stored %d times", id, sv, mv.Timestamp, got)
					}
				}
			}
		}
	}
	if missing > 0 || doubled > 0 {
		t.Errorf("readings: %d acknowledged, %d missing, %d stored more than once", readings, missing, doubled)
	}
	t.Logf("stored: %d transactions, %d acknowledged readings checked, %d MeterValues without a transaction", len(stored), readings, e.other)

	chargers, err := svc.Chargers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(chargers) != killStations {
		t.Errorf("%d chargers stored, want %d", len(chargers), killStations)
	}
}
