package e2e

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/cloudsync"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/watchtower"
	"github.com/constellation-ev/constellation/syncproto"
	"github.com/constellation-ev/constellation/tools/chargesim/sim"
)

// TestSyncKill kills the appliance under 20 OCPP 1.6 stations, as
// TestKill does, while it syncs with a watchtower: nothing acknowledged
// to a charger is lost on the way to the cloud, nothing is duplicated
// there, and the cloud ends up holding what the appliance stored.
func TestSyncKill(t *testing.T) { runKill(t, ocppj.V16, killOptions{sync: true}) }

const (
	// syncSite is the site the appliance syncs as.
	syncSite = "e2e-kill"
	// syncBatch holds live readings back briefly, so that batched
	// readings travel (and are cut by kills) during the run.
	syncBatch = time.Second
	// syncStall bounds waiting for the sync: it fails only when nothing
	// moved for this long, so a slow drain on a loaded machine is no
	// failure and a stuck one is.
	syncStall = 2 * time.Minute
	// txPage is how many sessions fleet.Store.Transactions returns at
	// most; it has no paging, so each charger's sessions must fit.
	txPage = 1000
)

// cloudSite is TestSyncKill's cloud: a watchtower in the test process
// (embedded broker and SQLite, on loopback) and the site enrolled in it
// that the appliance syncs as.
type cloudSite struct {
	tw      *watchtower.Watchtower
	site    string
	pwFile  string // the site's MQTT password (mode 0600)
	logPath string // the watchtower's log
}

// startCloud starts a watchtower until the test ends and enrolls a site
// through its fleet store, writing the password to a file.
func startCloud(t *testing.T) *cloudSite {
	t.Helper()
	dir := t.TempDir()
	c := &cloudSite{site: syncSite, pwFile: filepath.Join(dir, "mqtt-password"), logPath: filepath.Join(dir, "watchtower.log")}
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	// Debug: the log then says which record keys were applied, which is
	// what a failure needs.
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var cfg watchtower.Config
	cfg.DataDir = filepath.Join(dir, "watchtower")
	cfg.MQTT.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	ctx := context.WithoutCancel(t.Context()) // the watchtower stops in Close, after the test
	if c.tw, err = watchtower.Start(ctx, cfg, nil, log); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.tw.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("watchtower log (tail):\n%s", tail(c.logPath, 8192))
		}
	})

	if _, err := c.tw.Store.CreateSite(ctx, c.site, "kill test"); err != nil {
		t.Fatal(err)
	}
	token, _, err := c.tw.Store.IssueToken(ctx, c.site, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	password, err := c.tw.Store.Enroll(ctx, c.site, token)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// env is the child appliance's sync configuration.
func (c *cloudSite) env() []string {
	return []string{
		envSyncBroker + "=tcp://" + c.tw.MQTTAddr(),
		envSyncSite + "=" + c.site,
		envSyncPasswordFile + "=" + c.pwFile,
		envSyncBatch + "=" + syncBatch.String(),
	}
}

// syncStatus is the appliance's GET /api/v1/sync.
func syncStatus(t *testing.T, api *apiClient) cloudsync.Status {
	t.Helper()
	var st cloudsync.Status
	api.get(t, "/api/v1/sync", &st)
	return st
}

// poll calls cond until it returns true, every 50 ms: cond decides
// whether to go on waiting (and fails the test when it should not).
func poll(t *testing.T, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-t.Context().Done():
			t.Fatal("the test ended while waiting for the sync")
		case <-tick.C:
		}
	}
}

// waitConnected waits until the appliance's sync link is up.
func (c *cloudSite) waitConnected(t *testing.T, api *apiClient) {
	t.Helper()
	deadline := time.Now().Add(syncStall)
	poll(t, func() bool {
		st := syncStatus(t, api)
		if !st.Connected && time.Now().After(deadline) {
			t.Fatalf("the sync link was not up within %v: %+v", syncStall, st)
		}
		return st.Connected
	})
}

// waitSynced waits until the appliance's outbox is empty with the link
// up, then checks that it dropped nothing: a dropped record is one the
// cloud never gets.
func (c *cloudSite) waitSynced(t *testing.T, api *apiClient) {
	t.Helper()
	started := time.Now()
	least, moved := uint64(math.MaxUint64), time.Now()
	var st cloudsync.Status
	poll(t, func() bool {
		st = syncStatus(t, api)
		if st.Connected && st.Backlog == 0 {
			return true
		}
		if st.Backlog < least {
			least, moved = st.Backlog, time.Now()
		}
		if time.Since(moved) > syncStall {
			t.Fatalf("the sync's backlog has not shrunk for %v: %+v", syncStall, st)
		}
		return false
	})
	t.Logf("sync drained %v after the stations finished: %+v", time.Since(started).Round(time.Millisecond), st)
	if st.Dropped != (cloudsync.Dropped{}) || st.Refused != 0 {
		t.Errorf("the sync dropped records or refused messages: %+v", st)
	}
}

// progress summarises what the cloud holds so far, for the log.
func (c *cloudSite) progress(t *testing.T) string {
	t.Helper()
	st, err := c.tw.Store.Site(t.Context(), c.site)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("cloud: %d sessions, %d readings, bdSeq %d", st.Transactions, st.Readings, st.BdSeq)
}

// verify checks what the watchtower stored after the final run drained
// the outbox: every session the stations were acknowledged for is there
// exactly once with its acknowledged start and stop, every acknowledged
// reading exactly once and none else, and the cloud's sessions and
// readings are the appliance's (stored, read through svc); the watchtower
// refused no message.
func (c *cloudSite) verify(t *testing.T, e *acked, svc *charging.Service, stored []charging.Transaction) {
	ctx := t.Context()
	st, err := c.tw.Store.Site(ctx, c.site)
	if err != nil {
		t.Fatal(err)
	}

	// The cloud's sessions, read per charger (the store has no paging),
	// and their readings.
	var (
		records []*syncproto.Transaction
		txs     []charging.Transaction // the records as the appliance's type, for checkStored
		rs      = map[int64][]fleet.Reading{}
	)
	for i := range killStations {
		id := sim.StationID(killPrefix[e.version], i)
		page, err := c.tw.Store.Transactions(ctx, fleet.TxFilter{Site: c.site, Charger: id, Limit: txPage}, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == txPage {
			t.Fatalf("charger %s has %d sessions in the cloud or more: fleet.Store.Transactions cannot list them all; run fewer kills", id, txPage)
		}
		for _, tx := range page {
			records = append(records, tx.Record)
			txs = append(txs, fromCloud(tx.Record))
			if rs[tx.Record.ID], err = c.tw.Store.Readings(ctx, c.site, tx.Record.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if int64(len(records)) != st.Transactions {
		t.Errorf("cloud: %d sessions listed by charger, %d in the site: sessions of other chargers", len(records), st.Transactions)
	}

	// Against what the stations were acknowledged for: each session
	// once, stopped as acknowledged (the stations finished every session),
	// with each acknowledged reading once and nothing else.
	byKey := checkStored(t, "cloud", e, txs)
	rc := readingCheck{where: "cloud"}
	for _, r := range records {
		k := keyOf(e.version, fromCloud(r))
		a, ok := e.txs[k]
		if !ok || r.Event != syncproto.TxStopped {
			t.Errorf("cloud: session %+v: want it stopped, acknowledged %+v", r, a)
		}
		if !ok {
			continue
		}
		var got []readingKey
		for _, rd := range rs[r.ID] {
			got = append(got, readingKey{rd.Time.UnixMilli(), rd.Column.Measurand, rd.Column.Phase, rd.Column.Context, rd.Column.Unit, canonical(rd.Value)})
		}
		rc.session(t, k, a, got)
	}
	rc.report(t)
	// The site's count of readings includes any stored under a session
	// the listing above did not show.
	if st.Readings != int64(rc.acked) {
		t.Errorf("cloud: %d readings stored for the site, %d distinct readings acknowledged", st.Readings, rc.acked)
	}

	// Against the appliance's store: the same sessions, field for field
	// (what syncproto carries), with the same readings.
	if len(byKey) != len(stored) {
		t.Errorf("cloud: %d sessions, the appliance stored %d", len(byKey), len(stored))
	}
	diffs := 0
	for _, tx := range stored {
		k := keyOf(e.version, tx)
		got, ok := byKey[k]
		if !ok {
			t.Errorf("cloud: session %s of %s, stored at the appliance, is missing", k.id, k.station)
			continue
		}
		if d := fieldDiff(got, carried(tx)); d != "" {
			if diffs++; diffs <= 10 {
				t.Errorf("cloud: session %s of %s differs from the appliance's (cloud ≠ appliance):\n%s", k.id, k.station, d)
			}
			continue
		}
		// The values as written: 1.6 readings have no multiplier, which
		// the sync would apply.
		want := map[cloudReading]bool{}
		for _, r := range storedReadings(t, svc, tx.ID) {
			want[cloudReading{r.Timestamp.UnixMilli(), syncproto.Column{Measurand: cmp.Or(r.Measurand, charging.DefaultMeasurand),
				Phase: r.Phase, Unit: r.Unit, Context: r.Context, Location: r.Location, Format: r.Format}, r.Value}] = true
		}
		have := map[cloudReading]bool{}
		for _, r := range rs[tx.ID] {
			have[cloudReading{r.Time.UnixMilli(), r.Column, r.Value}] = true
		}
		if !maps.Equal(have, want) {
			if diffs++; diffs <= 10 {
				t.Errorf("cloud: session %s of %s: %d readings, the appliance's %d; only in the cloud: %v; only at the appliance: %v",
					k.id, k.station, len(have), len(want), except(have, want), except(want, have))
			}
		}
	}
	if diffs > 0 {
		t.Errorf("cloud: %d sessions differ from the appliance's", diffs)
	}
	chargers, err := c.tw.Store.Chargers(ctx, c.site)
	if err != nil {
		t.Fatal(err)
	}
	if len(chargers) != killStations {
		t.Errorf("cloud: %d chargers, want %d", len(chargers), killStations)
	}
	t.Logf("cloud: %d sessions, %d readings, %d connections (bdSeq)", st.Transactions, st.Readings, st.BdSeq)

	// The watchtower refused nothing the appliance sent: a refused record
	// is dropped by the appliance, lost to the cloud.
	logText, err := os.ReadFile(c.logPath)
	if err != nil {
		t.Fatal(err)
	}
	var refused, storeErrors []string
	for line := range strings.Lines(string(logText)) {
		switch {
		case strings.Contains(line, "refused"):
			refused = append(refused, line)
		case strings.Contains(line, "level=ERROR"):
			storeErrors = append(storeErrors, line)
		}
	}
	if len(refused) > 0 {
		t.Errorf("the watchtower refused %d messages or connections, first:\n%s", len(refused), strings.Join(refused[:min(len(refused), 10)], ""))
	}
	if len(storeErrors) > 0 {
		// A store failure is answered 0x80 and the record sent again: no
		// loss, but worth seeing.
		t.Logf("the watchtower logged %d errors, first:\n%s", len(storeErrors), strings.Join(storeErrors[:min(len(storeErrors), 5)], ""))
	}
}

// cloudReading is a reading as the cloud stores it, comparable.
type cloudReading struct {
	at     int64 // Unix ms
	column syncproto.Column
	value  string
}

// fromCloud is a cloud session record as the appliance's type, with the
// fields syncproto carries.
func fromCloud(r *syncproto.Transaction) charging.Transaction {
	return charging.Transaction{ID: r.ID, ChargerTxID: r.ChargerTxID, ChargerID: charging.ChargerID(r.Charger), Protocol: r.Protocol,
		ConnectorID: r.Connector, EVSEConnectorID: r.EVSEConnector, IDTag: r.IDTag, StartTime: r.Start, MeterStartWh: r.MeterStartWh,
		ReservationID: r.ReservationID, StopTime: r.Stop, MeterStopWh: r.MeterStopWh, StopIDTag: r.StopIDTag, StopReason: r.StopReason,
		Orphan: r.Orphan, StartedImplicitly: r.StartedImplicitly, Offline: r.Offline, SeqNoGaps: r.SeqNoGaps}
}

// carried is what syncproto carries of a stored session: all but the
// appliance's own bookkeeping. A field added to charging.Transaction
// shows up here as a difference until the sync carries it or it is
// listed.
func carried(tx charging.Transaction) charging.Transaction {
	tx.MissingSeqNos, tx.OutOfOrderEvents, tx.Authorization, tx.RecordedAt = nil, 0, "", time.Time{}
	return tx
}

// except lists (up to 5 of) the readings of a that are not in b.
func except(a, b map[cloudReading]bool) []cloudReading {
	var out []cloudReading
	for r := range a {
		if !b[r] && len(out) < 5 {
			out = append(out, r)
		}
	}
	return out
}
