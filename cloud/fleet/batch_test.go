package fleet_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/syncproto"
)

func event(site, key string) *syncproto.Event {
	return &syncproto.Event{Header: hdr(site, key), Event: syncproto.EventBoot, Charger: "CP1", At: t0}
}

// notUpstream passes the key check but fails inside the SQL transaction
// (a downstream kind is no record to apply): a record that sinks its batch.
func notUpstream(site, key string) syncproto.Message {
	return &syncproto.Desired{Header: hdr(site, key), Version: 1, Settings: map[string]string{}}
}

// A batch applies each key once, its first time, even within the batch;
// a key applied before changes nothing.
func TestApplyBatchEachKeyOnce(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		apply(t, s, event("a", "old"))
		res := s.ApplyBatch(ctx, []syncproto.Message{event("a", "e1"), event("a", "e2"), event("a", "e1"), event("a", "old")})
		want := []bool{true, true, false, false}
		for i, r := range res {
			if r.Err != nil || r.Applied != want[i] {
				t.Errorf("record %d: applied %v, %v; want %v", i, r.Applied, r.Err, want[i])
			}
		}
		if n, err := s.EventCount(ctx, "a"); err != nil || n != 3 {
			t.Errorf("%d events, %v; want 3", n, err)
		}
	})
}

// A record that fails does not take the others of its batch with it:
// they are applied, the bad one alone fails, and a key repeated in the
// batch is still applied once.
func TestApplyBatchBadRecordFailsAlone(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		noKey := event("a", "")
		res := s.ApplyBatch(ctx, []syncproto.Message{event("a", "e1"), notUpstream("a", "bad"), event("a", "e2"), noKey, event("a", "e1")})
		for i, want := range []struct {
			applied, fails bool
		}{{true, false}, {false, true}, {true, false}, {false, true}, {false, false}} {
			if res[i].Applied != want.applied || (res[i].Err != nil) != want.fails {
				t.Errorf("record %d: applied %v, err %v", i, res[i].Applied, res[i].Err)
			}
		}
		if !errors.Is(res[1].Err, syncproto.ErrInvalid) || !errors.Is(res[3].Err, syncproto.ErrInvalid) {
			t.Errorf("errors %v, %v: want syncproto.ErrInvalid", res[1].Err, res[3].Err)
		}
		if n, err := s.EventCount(ctx, "a"); err != nil || n != 2 {
			t.Errorf("%d events, %v; want 2", n, err)
		}
		// The failed record's key was rolled back with it: fixed, it applies.
		if !apply(t, s, event("a", "bad")) {
			t.Error("the failed record's key stayed marked applied")
		}
	})
}

// Concurrent callers of a GroupCommit: every record is applied, a key
// sent by several callers at once takes effect once (one caller hears
// applied), and a bad record fails alone.
func TestGroupCommitConcurrent(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		g := fleet.NewGroupCommit(s)
		const callers = 40
		var wg sync.WaitGroup
		applied := make([]bool, callers)
		errs := make([]error, callers)
		for i := range callers {
			wg.Go(func() {
				var m syncproto.Message
				switch {
				case i == 7:
					m = notUpstream("a", "bad")
				case i%4 == 0:
					m = event("a", "shared") // ten callers, one key
				default:
					m = event("a", fmt.Sprint("e", i))
				}
				applied[i], errs[i] = g.Apply(ctx, m)
			})
		}
		wg.Wait()
		shared := 0
		for i := range callers {
			switch {
			case i == 7:
				if errs[i] == nil {
					t.Error("the bad record was applied")
				}
			case errs[i] != nil:
				t.Errorf("caller %d: %v", i, errs[i])
			case i%4 == 0:
				if applied[i] {
					shared++
				}
			case !applied[i]:
				t.Errorf("caller %d: not applied", i)
			}
		}
		if shared != 1 {
			t.Errorf("the shared key applied for %d callers, want 1", shared)
		}
		if n, err := s.EventCount(ctx, "a"); err != nil || n != callers-10 { // 29 own keys and the shared one
			t.Errorf("%d events, %v; want %d", n, err, callers-10)
		}
	})
}

// gatedBatcher holds its first batch until released, and records the
// size of every batch.
type gatedBatcher struct {
	fleet.Batcher
	release chan struct{}
	mu      sync.Mutex
	sizes   []int
}

func (g *gatedBatcher) ApplyBatch(ctx context.Context, ms []syncproto.Message) []fleet.ApplyResult {
	g.mu.Lock()
	first := len(g.sizes) == 0
	g.sizes = append(g.sizes, len(ms))
	g.mu.Unlock()
	if first {
		<-g.release
	}
	return g.Batcher.ApplyBatch(ctx, ms)
}

// Records that arrive while a batch commits go together in the next one;
// a caller that gives up gets its context's error and its record is left
// out of the batch.
func TestGroupCommitBatchesWhatWaits(t *testing.T) {
	s := cloudtest.Engines(t)[fleet.SQLite](t).Open(t, nil, nil)
	_, err := s.CreateSite(ctx, "a", "")
	must(t, err)
	b := &gatedBatcher{Batcher: s, release: make(chan struct{})}
	g := fleet.NewGroupCommit(b)
	var wg sync.WaitGroup
	wg.Go(func() {
		if ok, err := g.Apply(ctx, event("a", "first")); !ok || err != nil {
			t.Errorf("first: %v, %v", ok, err)
		}
	})
	waitUntil(t, "the first batch", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.sizes) == 1 })
	const waiting = 10
	for i := range waiting {
		wg.Go(func() {
			if ok, err := g.Apply(ctx, event("a", fmt.Sprint("e", i))); !ok || err != nil {
				t.Errorf("e%d: %v, %v", i, ok, err)
			}
		})
	}
	gone, cancel := context.WithCancel(ctx)
	wg.Go(func() {
		if _, err := g.Apply(gone, event("a", "gone")); !errors.Is(err, context.Canceled) {
			t.Errorf("a caller that gave up: %v", err)
		}
	})
	waitUntil(t, "the records queued", func() bool { return g.Pending() == waiting+1 })
	cancel()
	close(b.release)
	wg.Wait()
	if fmt.Sprint(b.sizes) != fmt.Sprint([]int{1, waiting}) {
		t.Errorf("batches of %v, want [1 %d]", b.sizes, waiting)
	}
	if n, err := s.EventCount(ctx, "a"); err != nil || n != 1+waiting {
		t.Errorf("%d events, %v; want %d", n, err, 1+waiting)
	}
}

// waitUntil polls cond (a condition, not a timing) until it holds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not after a minute", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A batch leaves what applying its records one by one leaves, where
// several records write one row: revisions out of order and repeated, a
// charger's statuses, readings merged differently, reports and
// configurations, two sites.
func TestApplyBatchAsOneByOne(t *testing.T) {
	for name, engine := range cloudtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			col := syncproto.Column{Measurand: "Energy.Active.Import.Register", Unit: "Wh"}
			readings := func(site, key string, from, to int) *syncproto.Readings {
				r := &syncproto.Readings{Header: hdr(site, key), Charger: "CP1", Connector: 1, TransactionID: 42}
				var rows []syncproto.Reading
				for i := from; i < to; i++ {
					rows = append(rows, syncproto.Reading{Time: t0.Add(time.Duration(i) * 15 * time.Second), Column: col, Value: fmt.Sprint(1000 + i)})
				}
				r.AddReadings(rows...)
				return r
			}
			tx := func(site, key string, rev int, event, tag string) *syncproto.Transaction {
				m := &syncproto.Transaction{Header: hdr(site, key), Event: event, Rev: rev, ID: 42, Charger: "CP1", Connector: 1,
					IDTag: tag, Start: t0, MeterStartWh: 10}
				if event == syncproto.TxStopped {
					m.Stop, m.MeterStopWh = t0.Add(time.Hour), new(int64(500))
				}
				return m
			}
			status := func(site, key, vendor string, conns ...syncproto.Connector) *syncproto.ChargerStatus {
				return &syncproto.ChargerStatus{Header: hdr(site, key), Charger: "CP1", Connected: true, Vendor: vendor, Connectors: conns}
			}
			records := []syncproto.Message{
				status("a", "s1", "first", syncproto.Connector{ID: 1, Status: "Available"}, syncproto.Connector{ID: 2, Status: "Available"}),
				tx("a", "t1", 1, syncproto.TxStarted, "rev1"),
				readings("a", "r-1-10", 0, 10),
				tx("a", "t3", 3, syncproto.TxStopped, "rev3"),
				status("a", "s2", "second", syncproto.Connector{ID: 1, Status: "Charging"}),
				tx("a", "t2", 2, syncproto.TxUpdated, "late"),
				tx("a", "t3b", 3, syncproto.TxStopped, "same rev, later"),
				readings("a", "r-5-15", 5, 15),
				event("a", "e1"),
				event("a", "e1"), // the same key again
				&syncproto.Reported{Header: hdr("a", "rep2"), DesiredVersion: 2, Applied: true, Settings: map[string]string{"v": "2"}},
				&syncproto.Reported{Header: hdr("a", "rep1"), DesiredVersion: 1, Applied: true, Settings: map[string]string{"v": "1"}},
				&syncproto.ChargerConfig{Header: hdr("a", "c1"), Charger: "CP1", Configuration: map[string]syncproto.ConfigValue{"K": {Value: "1"}}},
				&syncproto.ChargerConfig{Header: hdr("a", "c2"), Charger: "CP1", Configuration: map[string]syncproto.ConfigValue{"K": {Value: "2"}}},
				status("b", "s1", "site b", syncproto.Connector{ID: 1, Status: "Faulted"}),
				tx("b", "t1", 1, syncproto.TxStarted, "b"),
				readings("b", "r-1-3", 0, 3),
			}
			var state [2]string
			var outcomes [2][]bool
			for i, batched := range []bool{false, true} {
				e := engine(t)
				logs := &cloudtest.Logs{}
				s := e.Open(t, nil, logs.Logger())
				for _, site := range []string{"a", "b"} {
					_, err := s.CreateSite(ctx, site, "")
					must(t, err)
				}
				if batched {
					for _, r := range s.ApplyBatch(ctx, records) {
						must(t, r.Err)
						outcomes[i] = append(outcomes[i], r.Applied)
					}
				} else {
					for _, m := range records {
						outcomes[i] = append(outcomes[i], apply(t, s, m))
					}
				}
				state[i] = dump(t, s, e)
				if strings.Contains(logs.String(), "one by one") {
					t.Fatalf("the batch failed:\n%s", logs)
				}
			}
			if fmt.Sprint(outcomes[0]) != fmt.Sprint(outcomes[1]) {
				t.Errorf("applied one by one %v, batched %v", outcomes[0], outcomes[1])
			}
			if state[0] != state[1] {
				t.Errorf("one by one:\n%s\nbatched:\n%s", state[0], state[1])
			}
			for _, want := range []string{"vendor=second", "1:Charging 2:Available", "rev=3 tag=rev3", "readings=15", "events=1", "reported=2", `config={"K":{"value":"2"}}`, "1:Faulted"} {
				if !strings.Contains(state[1], want) {
					t.Errorf("state lacks %q:\n%s", want, state[1])
				}
			}
		})
	}
}

// dump describes what the store holds of sites a and b.
func dump(t *testing.T, s *fleet.Store, e cloudtest.Engine) string {
	t.Helper()
	var b strings.Builder
	// The store has no reader of charger configurations (yet).
	driver := map[string]string{fleet.SQLite: "sqlite", fleet.Postgres: "pgx"}[e.Driver]
	db, err := sql.Open(driver, e.DSN)
	must(t, err)
	defer db.Close()
	var config string
	must(t, db.QueryRowContext(ctx, `SELECT configuration FROM charger_config WHERE site = 'a' AND charger = 'CP1'`).Scan(&config))
	fmt.Fprintf(&b, "a CP1 config=%s\n", config)
	for _, site := range []string{"a", "b"} {
		cs, err := s.Chargers(ctx, site)
		must(t, err)
		for _, c := range cs {
			fmt.Fprintf(&b, "%s %s vendor=%s", site, c.ID, c.Vendor)
			for _, conn := range c.Connectors {
				fmt.Fprintf(&b, " %d:%s", conn.ID, conn.Status)
			}
			b.WriteByte('\n')
		}
		txs, err := s.Transactions(ctx, fleet.TxFilter{Site: site}, true)
		must(t, err)
		for _, tx := range txs {
			fmt.Fprintf(&b, "%s tx %d rev=%d tag=%s readings=%d", site, tx.Record.ID, tx.Record.Rev, tx.Record.IDTag, len(tx.Readings))
			for _, r := range tx.Readings {
				fmt.Fprintf(&b, " %s", r.Value)
			}
			b.WriteByte('\n')
		}
		n, err := s.EventCount(ctx, site)
		must(t, err)
		d, err := s.Desired(ctx, site)
		must(t, err)
		fmt.Fprintf(&b, "%s events=%d", site, n)
		if d.Reported != nil {
			fmt.Fprintf(&b, " reported=%d", d.Reported.DesiredVersion)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
