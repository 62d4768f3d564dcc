package e2e

// The kill tests: the appliance runs as a child process (this test binary
// re-executed into TestHelperAppliance) on a fixed data directory and OCPP
// port, and is SIGKILLed at random moments while 20 simulated chargers run
// charging sessions against it: OCPP 1.6 chargers in TestKill, 2.0.1 ones
// (TransactionEvent) in TestKill201. After each restart, and in full at
// the end, every message a charger got a CALLRESULT for must be stored
// exactly once. TestSyncKill (sync_kill_test.go) does the same with 1.6
// chargers while the appliance syncs with a watchtower running in the
// test process, and then checks the cloud too: everything acknowledged
// is in the watchtower's store exactly once, and it holds what the
// appliance stored.
//
// Environment:
//
//	CONSTELLATION_KILLS=300      number of kills of each test (default 5); the long run uses hundreds
//	CONSTELLATION_KILL_SEED=42   seed of the random kill moments (default: the clock; always logged)
//
// For example:
//
//	CONSTELLATION_KILLS=300 go test -race -run '^TestKill(201)?$' -timeout 60m ./appliance/e2e
//
// and the long run of the sync kill test (at most 240 kills: it reads
// each charger's sessions from the watchtower in one page of 1000):
//
//	CONSTELLATION_KILLS=200 go test -race -run '^TestSyncKill$' -timeout 60m ./appliance/e2e

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
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	v16 "github.com/constellation-ev/constellation/appliance/ocpp/v16"
	v21 "github.com/constellation-ev/constellation/appliance/ocpp/v21"
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
	// The child's sync settings (TestSyncKill): sync is on when
	// envSyncBroker is set.
	envSyncBroker       = "CONSTELLATION_E2E_SYNC_BROKER"
	envSyncSite         = "CONSTELLATION_E2E_SYNC_SITE"
	envSyncPasswordFile = "CONSTELLATION_E2E_SYNC_PASSWORD_FILE"
	envSyncBatch        = "CONSTELLATION_E2E_SYNC_READINGS_BATCH"
	readyLine           = "E2E-APPLIANCE-READY"

	killStations = 20
	defaultKills = 5
)

// TestHelperAppliance is the appliance process of the kill tests; it does
// nothing unless one re-executed the test binary into it. It runs the
// appliance until SIGTERM, after printing its listening addresses.
func TestHelperAppliance(t *testing.T) {
	if os.Getenv(envHelper) != "1" {
		t.Skip("the appliance child process of the kill tests; runs only when re-executed by one")
	}
	cfg := testConfig(os.Getenv(envDataDir))
	cfg.OCPP.Addr = os.Getenv(envOCPPAddr)
	if broker := os.Getenv(envSyncBroker); broker != "" {
		batch, err := time.ParseDuration(os.Getenv(envSyncBatch))
		if err != nil {
			t.Fatalf("%s: %v", envSyncBatch, err)
		}
		cfg.Sync.Enabled, cfg.Sync.Broker, cfg.Sync.ReadingsBatch.Duration = true, broker, batch
		cfg.Sync.Site, cfg.Sync.PasswordFile = os.Getenv(envSyncSite), os.Getenv(envSyncPasswordFile)
	}
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

// startChild starts the appliance on dataDir and ocppAddr, env adding to
// its configuration (the sync's settings), its log going to logFile.
func startChild(t *testing.T, dataDir, ocppAddr string, env []string, logFile *os.File) *child {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppliance$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"=1", envDataDir+"="+dataDir, envOCPPAddr+"="+ocppAddr)
	cmd.Env = append(cmd.Env, env...)
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

// TestKill kills the appliance under 20 OCPP 1.6 stations.
func TestKill(t *testing.T) { runKill(t, ocppj.V16, killOptions{}) }

// TestKill201 kills the appliance under 20 OCPP 2.0.1 stations, whose
// sessions are TransactionEvents.
func TestKill201(t *testing.T) { runKill(t, ocppj.V201, killOptions{}) }

// killOptions vary a kill test.
type killOptions struct {
	// sync runs a watchtower in the test process that the appliance
	// syncs with throughout (see startCloud): every kill lands while the
	// link is up, the final run waits until the outbox is drained, and
	// the watchtower's store is checked like the appliance's.
	sync bool
}

// runKill is a kill test with stations of version v.
func runKill(t *testing.T, v ocppj.Version, opts killOptions) {
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
	t.Logf("%s: kills=%d seed=%d (rerun with %s=%d %s=%d)", v, kills, seed, envKills, kills, envKillSeed, seed)
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

	var (
		cloud *cloudSite
		env   []string // the child's sync settings
	)
	if opts.sync {
		cloud = startCloud(t)
		env = cloud.env()
	}

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
	// session starts, so some kills land between a start's commit and
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
		id := sim.StationID(killPrefix[v], i)
		st, err := sim.NewStation(sim.Options{
			ID: id, URL: sim.StationURL("ws://"+ocppAddr, id), Version: v,
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
	exp := newAcked(v) // the acks received before the last kill
	for k := range kills {
		started := time.Now()
		cur = startChild(t, dataDir, ocppAddr, env, logFile)
		apiAddr := cur.waitReady(t, logPath)
		startup := time.Since(started)
		up := time.Duration(100+rng.IntN(701)) * time.Millisecond
		timer := time.NewTimer(up)
		// What was acknowledged before the previous kill must have
		// survived it: check through the restarted appliance's API.
		verifyAPI(t, newAPIClient(apiAddr), exp)
		<-timer.C
		if cloud != nil {
			// The kill is to land in a live sync: past the timer, it
			// waits for the link if that is not up yet.
			cloud.waitConnected(t, newAPIClient(apiAddr))
		}
		exp.add(t, acks.snapshot())
		cur.kill()
		cur = nil
		progress := ""
		if cloud != nil {
			progress = "; " + cloud.progress(t)
		}
		t.Logf("kill %d after %v up (ready %v after start): %d acks so far%s", k+1, up, startup.Round(time.Millisecond), exp.n, progress)
		if t.Failed() {
			return
		}
	}

	// The final run: the stations finish their sessions, the sync (if
	// any) sends everything, then the appliance stops cleanly.
	finalStart := time.Now()
	cur = startChild(t, dataDir, ocppAddr, env, logFile)
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
	t.Logf("final run: the stations finished %v after its start", time.Since(finalStart).Round(time.Millisecond))
	if cloud != nil {
		cloud.waitSynced(t, newAPIClient(apiAddr))
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
	exp.add(t, all)
	started, stopped, readings := exp.totals()
	t.Logf("%d kills; %d stations still running at the final start; acks: %d in all, %v; sessions: %d started, %d stopped, %d readings",
		kills, stillRunning, len(all), counts, started, stopped, readings)
	if started == 0 || stopped == 0 || readings == 0 {
		t.Fatalf("the stations got no transaction messages acknowledged: %v", counts)
	}
	svc, stored := storedSessions(t, filepath.Join(dataDir, app.DBFile))
	verifyDB(t, svc, stored, exp)
	if cloud != nil {
		cloud.verify(t, exp, svc, stored)
	}
}

// killPrefix names the kill tests' stations by version.
var killPrefix = map[ocppj.Version]string{ocppj.V16: "KILL", ocppj.V201: "KILL201-"}

// txKey names a session in the stations' acknowledged messages and in
// the appliance's records: the station, and the 1.6 transactionId the
// appliance gave (in decimal) or the 2.x charger's transactionId.
type txKey struct{ station, id string }

// keyOf is the txKey of a stored session of version v.
func keyOf(v ocppj.Version, tx charging.Transaction) txKey {
	if v == ocppj.V16 {
		return txKey{string(tx.ChargerID), strconv.FormatInt(tx.ID, 10)}
	}
	return txKey{string(tx.ChargerID), tx.ChargerTxID}
}

// ackedTx is one session as its acknowledged messages describe it.
type ackedTx struct {
	started    bool
	connector  int // 1.6 connector, 2.x EVSE
	tag        string
	start      time.Time
	meterStart int64
	stopped    bool
	stop       time.Time
	meterStop  int64
	reason     string
	readings   []readingKey
	offline    bool         // 2.x: an event was flagged as queued offline
	seqNos     map[int]bool // 2.x
}

// acked is what the stations' acknowledged transaction messages say must
// be stored: 1.6 StartTransaction, MeterValues and StopTransaction, or 2.x
// TransactionEvents.
type acked struct {
	version ocppj.Version
	txs     map[txKey]*ackedTx
	given   map[int]string  // 1.6: the station each transactionId was given to
	other   int             // 1.6 MeterValues without a transaction
	n       int             // acks added so far
	seen    map[string]bool // station/seq of the transaction messages
}

func newAcked(v ocppj.Version) *acked {
	return &acked{version: v, txs: map[txKey]*ackedTx{}, given: map[int]string{}, seen: map[string]bool{}}
}

func (e *acked) tx(k txKey) *ackedTx {
	a, ok := e.txs[k]
	if !ok {
		a = &ackedTx{seqNos: map[int]bool{}}
		e.txs[k] = a
	}
	return a
}

// totals counts the sessions started and stopped, and the readings.
func (e *acked) totals() (started, stopped, readings int) {
	for _, a := range e.txs {
		if a.started {
			started++
		}
		if a.stopped {
			stopped++
		}
		readings += len(a.readings)
	}
	return started, stopped, readings
}

// add takes in the acks after the first e.n of all, decoding the
// acknowledged messages from the payloads as they were sent (the wire
// form, with millisecond timestamps).
func (e *acked) add(t *testing.T, all []sim.Ack) {
	t.Helper()
	acks := all[e.n:]
	e.n = len(all)
	for _, a := range acks {
		switch a.Action {
		case "StartTransaction", "StopTransaction", "MeterValues", "TransactionEvent":
		default:
			continue
		}
		key := a.Station + "/" + strconv.FormatUint(a.Seq, 10)
		if e.seen[key] {
			t.Errorf("%s %s seq %d acknowledged twice", a.Station, a.Action, a.Seq)
		}
		e.seen[key] = true
		if a.Action == "TransactionEvent" {
			e.addEvent(t, a)
		} else {
			e.add16(t, a)
		}
	}
	for k, a := range e.txs {
		if !a.started {
			t.Errorf("%s session %s: later messages acknowledged, the start not", k.station, k.id)
		}
	}
}

// add16 takes in an acknowledged 1.6 transaction message.
func (e *acked) add16(t *testing.T, a sim.Ack) {
	t.Helper()
	req, _, err := v16.DecodeRequest(a.Action, a.RequestJSON, false)
	if err != nil {
		t.Fatalf("%s %s as sent: %v", a.Station, a.Action, err)
	}
	meter := func(tx *ackedTx, mvs []v16.MeterValue) {
		for _, mv := range mvs {
			for _, sv := range mv.SampledValue {
				// The 1.6 defaults are stored explicitly.
				tx.readings = append(tx.readings, readingKey{mv.Timestamp.UnixMilli(),
					cmp.Or(string(sv.Measurand), string(v16.MeasurandEnergyActiveImportRegister)), string(sv.Phase),
					cmp.Or(string(sv.Context), string(v16.ContextSamplePeriodic)), cmp.Or(string(sv.Unit), string(v16.UnitWh)),
					canonical(sv.Value)})
			}
		}
	}
	id := func(n int) txKey { return txKey{a.Station, strconv.Itoa(n)} }
	switch r := req.(type) {
	case *v16.StartTransactionRequest:
		resp, _, err := v16.DecodeResponse(a.Action, a.ResponseJSON, false)
		if err != nil {
			t.Fatalf("%s StartTransaction answer %s: %v", a.Station, a.ResponseJSON, err)
		}
		n := resp.(*v16.StartTransactionResponse).TransactionId
		if prev, dup := e.given[n]; dup {
			t.Errorf("transaction id %d given to two starts: %s %+v and %s %+v", n, prev, e.txs[id(n)], a.Station, r)
		}
		e.given[n] = a.Station
		tx := e.tx(id(n))
		tx.started, tx.connector, tx.tag, tx.start, tx.meterStart = true, r.ConnectorId, r.IdTag, r.Timestamp.Time, int64(r.MeterStart)
	case *v16.StopTransactionRequest:
		tx := e.tx(id(r.TransactionId))
		if tx.stopped {
			t.Errorf("%s: transaction %d stopped twice", a.Station, r.TransactionId)
		}
		tx.stopped, tx.stop, tx.meterStop, tx.reason = true, r.Timestamp.Time, int64(r.MeterStop), string(r.Reason)
		meter(tx, r.TransactionData)
	case *v16.MeterValuesRequest:
		if r.TransactionId == nil {
			e.other++
			return
		}
		meter(e.tx(id(*r.TransactionId)), r.MeterValue)
	}
}

// addEvent takes in an acknowledged 2.x TransactionEvent.
func (e *acked) addEvent(t *testing.T, a sim.Ack) {
	t.Helper()
	ev := decode[v21.TransactionEventRequest](t, a.RequestJSON)
	tx := e.tx(txKey{a.Station, ev.TransactionInfo.TransactionId})
	if tx.seqNos[ev.SeqNo] {
		t.Errorf("%s session %s: seqNo %d acknowledged twice", a.Station, ev.TransactionInfo.TransactionId, ev.SeqNo)
	}
	tx.seqNos[ev.SeqNo] = true
	tx.offline = tx.offline || (ev.Offline != nil && *ev.Offline)
	switch ev.EventType {
	case v21.TransactionEventStarted:
		tx.started, tx.start, tx.meterStart = true, ev.Timestamp.Time, registerWh(t, ev, v21.ReadingContextTransactionBegin)
		if ev.Evse != nil {
			tx.connector = ev.Evse.Id
		}
		if ev.IdToken != nil {
			tx.tag = ev.IdToken.IdToken
		}
	case v21.TransactionEventEnded:
		tx.stopped, tx.stop, tx.reason = true, ev.Timestamp.Time, string(ev.TransactionInfo.StoppedReason)
		tx.meterStop = registerWh(t, ev, v21.ReadingContextTransactionEnd)
	}
	for _, mv := range ev.MeterValue {
		for _, sv := range mv.SampledValue {
			unit := charging.DefaultUnit
			if sv.UnitOfMeasure != nil {
				unit = cmp.Or(sv.UnitOfMeasure.Unit, unit)
			}
			tx.readings = append(tx.readings, readingKey{mv.Timestamp.UnixMilli(),
				cmp.Or(string(sv.Measurand), charging.DefaultMeasurand), string(sv.Phase),
				cmp.Or(string(sv.Context), charging.DefaultContext), unit, canonical(strconv.FormatFloat(sv.Value, 'f', -1, 64))})
		}
	}
}

// checkStored compares stored sessions with the acknowledged ones: each
// acknowledged start stored exactly once under its key, with the start
// and, once acknowledged, the stop that was sent. It returns the stored
// sessions by key.
func checkStored(t *testing.T, where string, e *acked, stored []charging.Transaction) map[txKey]charging.Transaction {
	t.Helper()
	byKey := map[txKey]charging.Transaction{}
	type startKey struct {
		charger   charging.ChargerID
		connector int
		tag       string
		ts        int64
		meter     int64
	}
	starts := map[startKey]int{}
	for _, tx := range stored {
		k := keyOf(e.version, tx)
		if _, dup := byKey[k]; dup {
			t.Errorf("%s: session %s of %s stored twice", where, k.id, k.station)
		}
		byKey[k] = tx
		starts[startKey{tx.ChargerID, tx.ConnectorID, tx.IDTag, tx.StartTime.UnixNano(), tx.MeterStartWh}]++
	}
	failures := 0
	fail := func(format string, args ...any) {
		if failures++; failures <= 20 {
			t.Errorf(where+": "+format, args...)
		}
	}
	for k, a := range e.txs {
		if !a.started {
			continue
		}
		if n := starts[startKey{charging.ChargerID(k.station), a.connector, a.tag, a.start.UnixNano(), a.meterStart}]; n != 1 {
			fail("acknowledged start %+v of %s (id %s) stored %d times", a, k.station, k.id, n)
		}
		tx, ok := byKey[k]
		switch {
		case !ok:
			fail("acknowledged session %s of %s (%+v) is missing", k.id, k.station, a)
			continue
		case tx.ConnectorID != a.connector || tx.IDTag != a.tag || !tx.StartTime.Equal(a.start) || tx.MeterStartWh != a.meterStart:
			fail("session %s of %s stored as %+v, acknowledged start was %+v", k.id, k.station, tx, a)
		}
		if a.stopped && (tx.MeterStopWh == nil || *tx.MeterStopWh != a.meterStop || !tx.StopTime.Equal(a.stop) || tx.StopReason != a.reason) {
			fail("session %s of %s: acknowledged stop (meter %d at %v, %s) stored as %+v", k.id, k.station, a.meterStop, a.stop, a.reason, tx)
		}
	}
	if failures > 20 {
		t.Errorf("%s: %d failures in all", where, failures)
	}
	return byKey
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
	checkStored(t, "after restart", e, stored)
}

// storedSessions opens the database of the stopped appliance (until the
// test ends) and returns a charging service on it and every stored
// session.
func storedSessions(t *testing.T, path string) (*charging.Service, []charging.Transaction) {
	t.Helper()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close %s: %v", path, err)
		}
	})
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
	return svc, stored
}

// storedReadings returns the readings the appliance stored of session id.
func storedReadings(t *testing.T, svc *charging.Service, id int64) []charging.MeterReading {
	t.Helper()
	_, rs, err := svc.Transaction(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// verifyDB checks the stopped appliance's sessions (stored, read through
// svc): everything acknowledged is stored exactly once, and nothing else.
func verifyDB(t *testing.T, svc *charging.Service, stored []charging.Transaction, e *acked) {
	t.Helper()
	byKey := checkStored(t, "final", e, stored)

	// The stations finished every session, so every stored session is one
	// they started and got acknowledged, it is stopped, and (2.x) every
	// event of it arrived, in order.
	extra := 0
	for k, tx := range byKey {
		a, ok := e.txs[k]
		bad := !ok || !a.stopped || tx.Orphan || tx.Active() || tx.Protocol != string(e.version)
		if e.version != ocppj.V16 && ok {
			bad = bad || tx.EVSEConnectorID != 1 || tx.StartedImplicitly || tx.SeqNoGaps != 0 || len(tx.MissingSeqNos) != 0 ||
				tx.OutOfOrderEvents != 0 || tx.Offline != a.offline
		}
		if bad {
			if extra++; extra <= 20 {
				t.Errorf("stored session %+v: acknowledged %+v", tx, a)
			}
		}
	}
	started, stopped, _ := e.totals()
	if stopped != started {
		t.Errorf("%d starts but %d stops acknowledged, though every station finished its sessions", started, stopped)
	}

	rc := readingCheck{where: "final"}
	for k, tx := range byKey {
		a := e.txs[k]
		if a == nil {
			continue // reported above
		}
		var got []readingKey
		for _, r := range storedReadings(t, svc, tx.ID) {
			got = append(got, readingKey{r.Timestamp.UnixMilli(), r.Measurand, r.Phase, r.Context, r.Unit, canonical(r.Value)})
		}
		rc.session(t, k, a, got)
	}
	rc.report(t)
	t.Logf("stored: %d sessions, %d acknowledged readings checked, %d MeterValues without a transaction", len(stored), rc.acked, e.other)

	chargers, err := svc.Chargers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(chargers) != killStations {
		t.Errorf("%d chargers stored, want %d", len(chargers), killStations)
	}
}

// readingCheck compares the readings stored of sessions with their
// acknowledged ones: each acknowledged reading stored exactly once, and
// no reading that was not acknowledged. It counts over every session and
// reports the first few differences of each kind.
type readingCheck struct {
	where                            string // in failure messages
	acked, missing, doubled, unacked int    // acked: distinct acknowledged readings
}

// session checks the readings stored of session k, acknowledged as a.
func (c *readingCheck) session(t *testing.T, k txKey, a *ackedTx, stored []readingKey) {
	t.Helper()
	n := map[readingKey]int{}
	for _, r := range stored {
		n[r]++
	}
	want := map[readingKey]bool{}
	for _, r := range a.readings {
		if want[r] {
			continue
		}
		want[r] = true
		switch got := n[r]; {
		case got == 0:
			if c.missing++; c.missing <= 10 {
				t.Errorf("%s: session %s of %s: acknowledged reading %+v is missing", c.where, k.id, k.station, r)
			}
		case got > 1:
			if c.doubled++; c.doubled <= 10 {
				t.Errorf("%s: session %s of %s: acknowledged reading %+v stored %d times", c.where, k.id, k.station, r, got)
			}
		}
	}
	c.acked += len(want)
	for r, got := range n {
		if !want[r] {
			if c.unacked += got; c.unacked <= 10 {
				t.Errorf("%s: session %s of %s: reading %+v stored, never acknowledged", c.where, k.id, k.station, r)
			}
		}
	}
}

// report fails the test with the totals if a session's check failed.
func (c *readingCheck) report(t *testing.T) {
	t.Helper()
	if c.missing > 0 || c.doubled > 0 || c.unacked > 0 {
		t.Errorf("%s: readings: %d acknowledged, %d missing, %d stored more than once, %d stored but not acknowledged",
			c.where, c.acked, c.missing, c.doubled, c.unacked)
	}
}
