package watchtower_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/cloudsync"
	"github.com/constellation-ev/constellation/appliance/store"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/cloud/watchtower"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
)

// guard bounds every wait: a test that waits longer has hung.
const guard = 2 * time.Minute

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// tower is a watchtower on loopback with SQLite, and its operator token.
type tower struct {
	*watchtower.Watchtower
	op    string
	clock *cloudtest.Clock
	logs  *cloudtest.Logs
}

// startTower starts a watchtower with the embedded broker, or with opts
// changing its configuration (see onMosquitto).
func startTower(t testing.TB, opts ...func(*watchtower.Config)) *tower {
	t.Helper()
	dir := t.TempDir()
	tw := &tower{op: "operator-token-for-tests", clock: cloudtest.NewClock(t0), logs: &cloudtest.Logs{}}
	must(t, os.WriteFile(filepath.Join(dir, "op"), []byte(tw.op+"\n"), 0o600))
	var cfg watchtower.Config
	cfg.DataDir, cfg.OperatorTokenFile = dir, filepath.Join(dir, "op")
	cfg.MQTT.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	for _, o := range opts {
		o(&cfg)
	}
	w, err := watchtower.Start(ctx, cfg, tw.clock, tw.logs.Logger())
	must(t, err)
	t.Cleanup(w.Close)
	wctx, cancel := context.WithTimeout(ctx, guard)
	defer cancel()
	must(t, w.WaitBroker(wctx))
	tw.Watchtower = w
	return tw
}

// onMosquitto points the watchtower at m, as docs/watchtower.md
// configures it (the dynamic security plugin's administrator).
func onMosquitto(t *testing.T, m *cloudtest.Mosquitto) func(*watchtower.Config) {
	pwFile := filepath.Join(t.TempDir(), "mqtt-password")
	must(t, os.WriteFile(pwFile, []byte(m.AdminPassword+"\n"), 0o600))
	clientID, group := "watchtower-"+fleet.NewSecret()[:8], "wt"+fleet.NewSecret()[:8]
	return func(cfg *watchtower.Config) {
		cfg.MQTT.Broker, cfg.MQTT.Username, cfg.MQTT.PasswordFile = m.URL, m.Admin, pwFile
		cfg.MQTT.ClientID, cfg.MQTT.ShareGroup = clientID, group
	}
}

// brokers runs test on the embedded broker and on Mosquitto.
func brokers(t *testing.T, test func(t *testing.T, opts ...func(*watchtower.Config))) {
	t.Run("embedded", func(t *testing.T) { test(t) })
	t.Run("mosquitto", func(t *testing.T) { test(t, onMosquitto(t, cloudtest.StartMosquitto(t))) })
}

// call makes an API request with the operator's token (op false: none)
// and decodes the JSON answer into out (if not nil); it returns the status.
func (tw *tower) call(t *testing.T, op bool, method, path string, body any, out any) int {
	t.Helper()
	authz := ""
	if op {
		authz = "Bearer " + tw.op
	}
	return tw.as(t, authz, method, path, body, out)
}

// as makes an API request with the Authorization header authz ("": none)
// and decodes the JSON answer into out (if not nil); it returns the status.
func (tw *tower) as(t *testing.T, authz, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		must(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+tw.HTTPAddr()+path, rd)
	must(t, err)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	must(t, err)
	// A CSV answer is not decoded.
	if out != nil && len(data) > 0 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// enroll creates a site through the API and trades its token for the
// password.
func (tw *tower) enroll(t *testing.T, site string) string {
	t.Helper()
	if code := tw.call(t, true, "POST", "/api/v1/sites", map[string]string{"id": site}, nil); code != http.StatusCreated {
		t.Fatalf("create site %s: %d", site, code)
	}
	var tok struct{ Token string }
	if code := tw.call(t, true, "POST", "/api/v1/sites/"+site+"/tokens", map[string]string{"ttl": "1h"}, &tok); code != http.StatusCreated {
		t.Fatalf("token for %s: %d", site, code)
	}
	var creds struct{ Username, Password string }
	if code := tw.call(t, false, "POST", "/api/v1/enroll", map[string]string{"site": site, "token": tok.Token}, &creds); code != http.StatusOK {
		t.Fatalf("enroll %s: %d", site, code)
	}
	if creds.Username != site || creds.Password == "" {
		t.Fatalf("credentials %+v", creds)
	}
	return creds.Password
}

// waitFor polls cond (a condition, not a timing) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not after %v", what, guard)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// executor answers every command Accepted.
type executor struct {
	mu    sync.Mutex
	calls []charging.Command
}

func (x *executor) Execute(_ context.Context, _ charging.ChargerID, cmd charging.Command) (charging.CommandReply, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.calls = append(x.calls, cmd)
	return charging.CommandReply{Kind: cmd.Kind, Action: "ClearCache", Status: "Accepted", Response: json.RawMessage(`{"status":"Accepted"}`)}, nil
}

var _ cloudsync.Executor = (*executor)(nil)

// appliance is a site's appliance: a charging service on a temp bbolt
// store and the real sync client.
type appliance struct {
	site   string
	clock  *charging.FakeClock
	db     *store.DB
	svc    *charging.Service
	client *cloudsync.Client
	exec   *executor
	stop   func()
}

func startAppliance(t *testing.T, broker, site, password string) *appliance {
	t.Helper()
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "mqtt-password")
	must(t, os.WriteFile(pwFile, []byte(password+"\n"), 0o600))
	return startApplianceWith(t, dir, cloudsync.Options{Broker: broker, Site: site, PasswordFile: pwFile})
}

func (a *appliance) status(t *testing.T) cloudsync.Status {
	t.Helper()
	st, err := a.client.Status()
	must(t, err)
	return st
}

// session records a whole session of n meter values 15 s apart on
// charger's connector 1, and returns its id.
func (a *appliance) session(t *testing.T, charger charging.ChargerID, n int) int64 {
	t.Helper()
	start := a.clock.Now()
	tx, _, err := a.svc.StartTransaction(ctx, charging.StartRequest{ChargerID: charger, ConnectorID: 1, IDTag: "CARD-" + string(charger),
		MeterStartWh: 1000, Timestamp: start})
	must(t, err)
	must(t, a.svc.UpdateConnectorStatus(ctx, charging.StatusUpdate{ChargerID: charger, ConnectorID: 1, Status: charging.StatusCharging, Timestamp: start}))
	at := start
	for i := 1; i <= n; i++ {
		at = start.Add(time.Duration(i) * 15 * time.Second)
		a.clock.Set(at)
		must(t, a.svc.RecordMeterValues(ctx, charging.MeterValues{ChargerID: charger, ConnectorID: 1, TransactionID: tx.ID,
			Readings: meterValues(at, 1000+int64(i)*30)}))
	}
	at = at.Add(15 * time.Second)
	a.clock.Set(at)
	_, _, err = a.svc.StopTransaction(ctx, charging.StopRequest{ChargerID: charger, TransactionID: tx.ID, MeterStopWh: 1000 + int64(n+1)*30,
		Timestamp: at, Reason: "Local", Readings: meterValues(at, 1000+int64(n+1)*30)})
	must(t, err)
	must(t, a.svc.UpdateConnectorStatus(ctx, charging.StatusUpdate{ChargerID: charger, ConnectorID: 1, Status: charging.StatusAvailable, Timestamp: at}))
	a.clock.Advance(time.Minute)
	return tx.ID
}

func meterValues(at time.Time, wh int64) []charging.MeterReading {
	return []charging.MeterReading{
		{Timestamp: at, Value: strconv.FormatInt(wh, 10), Measurand: charging.MeasurandEnergyImportRegister, Unit: "Wh", Context: "Sample.Periodic", Location: "Outlet", Format: "Raw"},
		{Timestamp: at, Value: "7400.5", Measurand: "Power.Active.Import", Unit: "W", Context: "Sample.Periodic", Location: "Outlet", Format: "Raw"},
	}
}

// readings lists the appliance's readings of txs as comparable rows.
func (a *appliance) readings(t *testing.T, txs []int64) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, id := range txs {
		_, rs, err := a.svc.Transaction(ctx, id)
		must(t, err)
		for _, r := range rs {
			out[fmt.Sprint(id, r.Timestamp.UnixMilli(), r.Measurand, r.Phase, r.Unit, r.Context, r.Location, r.Format, r.Value)] = true
		}
	}
	return out
}

// onEngine runs the watchtower's store on e.
func onEngine(e cloudtest.Engine) func(*watchtower.Config) {
	return func(cfg *watchtower.Config) { cfg.Store.Driver, cfg.Store.DSN = e.Driver, e.DSN }
}

// enrollInStore creates site and trades an enrollment token for its
// password in the fleet store directly: enroll does the same through
// the API, which needs a *testing.T.
func (tw *tower) enrollInStore(tb testing.TB, site string) string {
	tb.Helper()
	_, err := tw.Store.CreateSite(ctx, site, "")
	must(tb, err)
	token, _, err := tw.Store.IssueToken(ctx, site, time.Hour)
	must(tb, err)
	password, err := tw.Store.Enroll(ctx, site, token)
	must(tb, err)
	return password
}

// openAppliance opens an appliance on the bbolt file at path (created
// when missing) with its sync client configured for broker but not
// running: a site whose link is down, its changes waiting in the outbox.
// Readings are batched as the configuration's default does. password ""
// sets no password file. run starts the client; the store is closed when
// the test ends, or by a.stop.
func openAppliance(tb testing.TB, path, broker, site, password string, clock *charging.FakeClock) *appliance {
	tb.Helper()
	opts := cloudsync.Options{Broker: broker, Site: site, Clock: clock, ReadingsBatch: cloudsync.DefaultReadingsBatch,
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 200 * time.Millisecond, Logger: (&cloudtest.Logs{}).Logger()}
	if password != "" {
		opts.PasswordFile = filepath.Join(tb.TempDir(), "mqtt-password")
		must(tb, os.WriteFile(opts.PasswordFile, []byte(password+"\n"), 0o600))
	}
	a := &appliance{site: site, clock: clock, exec: &executor{}}
	db, err := store.Open(path, store.Options{})
	must(tb, err)
	a.db = db
	a.stop = sync.OnceFunc(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close the appliance's store: %v", err)
		}
	})
	tb.Cleanup(func() { a.stop() })
	a.client, err = cloudsync.New(ctx, db, opts)
	must(tb, err)
	a.svc, err = charging.NewService(ctx, db, charging.Config{Clock: clock, OnChange: a.client.OnChange,
		Policy: charging.PolicyConfig{Default: charging.AuthPolicy{Mode: charging.PolicyOpen}}})
	must(tb, err)
	return a
}

// run starts the sync client of an appliance from openAppliance; a.stop
// then stops it before closing the store.
func (a *appliance) run(tb testing.TB) {
	tb.Helper()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.client.Run(rctx, a.svc, a.exec) }()
	closeStore := a.stop
	a.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("sync client: %v", err)
		}
		closeStore()
	})
}

// siteToken creates a site through the API and returns a new enrollment
// token for it, valid for ttl (a Go duration).
func (tw *tower) siteToken(t *testing.T, site, ttl string) string {
	t.Helper()
	if code := tw.call(t, true, "POST", "/api/v1/sites", map[string]string{"id": site}, nil); code != http.StatusCreated {
		t.Fatalf("create site %s: %d", site, code)
	}
	var tok struct{ Token string }
	if code := tw.call(t, true, "POST", "/api/v1/sites/"+site+"/tokens", map[string]string{"ttl": ttl}, &tok); code != http.StatusCreated || tok.Token == "" {
		t.Fatalf("token for %s: %d", site, code)
	}
	return tok.Token
}

// startApplianceWith starts an appliance whose store and files are in
// dir (a restart reuses it), with opts completed as startAppliance does:
// the fake clock, fast reconnects, a log unless opts has one.
func startApplianceWith(t *testing.T, dir string, opts cloudsync.Options) *appliance {
	t.Helper()
	a := &appliance{site: opts.Site, clock: charging.NewFakeClock(t0), exec: &executor{}}
	db, err := store.Open(filepath.Join(dir, "constellation.db"), store.Options{})
	must(t, err)
	a.db = db
	if opts.Logger == nil {
		opts.Logger = (&cloudtest.Logs{}).Logger()
	}
	opts.Clock, opts.ReconnectMin, opts.ReconnectMax = a.clock, 10*time.Millisecond, 200*time.Millisecond
	a.client, err = cloudsync.New(ctx, db, opts)
	must(t, err)
	a.svc, err = charging.NewService(ctx, db, charging.Config{Clock: a.clock, OnChange: a.client.OnChange,
		Policy: charging.PolicyConfig{Default: charging.AuthPolicy{Mode: charging.PolicyOpen}}})
	must(t, err)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.client.Run(rctx, a.svc, a.exec) }()
	a.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sync client: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("close the appliance's store: %v", err)
		}
	})
	t.Cleanup(a.stop)
	return a
}
