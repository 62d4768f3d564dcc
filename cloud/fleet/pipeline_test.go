package fleet_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/syncproto"
)

// mixedBatch is a batch of every upstream kind for site a and a few for
// site b, keys starting with prefix, readings of session 42 from sample
// from on.
func mixedBatch(prefix string, from int) []syncproto.Message {
	col := syncproto.Column{Measurand: "Energy.Active.Import.Register", Unit: "Wh"}
	power := syncproto.Column{Measurand: "Power.Active.Import", Unit: "W"}
	readings := func(site, key, charger string, from, to int) *syncproto.Readings {
		r := &syncproto.Readings{Header: hdr(site, prefix+key), Charger: charger, Connector: 1, TransactionID: 42}
		for i := from; i < to; i++ {
			at := t0.Add(time.Duration(i) * 15 * time.Second)
			r.AddReadings(syncproto.Reading{Time: at, Column: col, Value: fmt.Sprint(1000 + i)},
				syncproto.Reading{Time: at, Column: power, Value: "7400"})
		}
		return r
	}
	tx := func(site, key string, id int64, rev int, event string) *syncproto.Transaction {
		m := &syncproto.Transaction{Header: hdr(site, prefix+key), Event: event, Rev: rev, ID: id, Charger: "CP1", Connector: 1,
			IDTag: fmt.Sprint("rev", rev), Start: t0, MeterStartWh: 10}
		if event == syncproto.TxStopped {
			m.Stop, m.MeterStopWh = t0.Add(time.Hour), new(int64(500))
		}
		return m
	}
	status := func(site, key, charger, st string) *syncproto.ChargerStatus {
		return &syncproto.ChargerStatus{Header: hdr(site, prefix+key), Charger: charger, Connected: true, Vendor: prefix,
			Connectors: []syncproto.Connector{{ID: 1, Status: st}, {ID: 2, Status: "Available"}}}
	}
	return []syncproto.Message{
		status("a", "s1", "CP1", "Preparing"),
		tx("a", "t1", 42, 1, syncproto.TxStarted),
		readings("a", "r1", "CP1", from, from+10),
		event("a", prefix+"e1"),
		tx("a", "t2", 42, 2, syncproto.TxUpdated),
		readings("a", "r2", "CP1", from+10, from+20),
		&syncproto.Reported{Header: hdr("a", prefix+"rep"), DesiredVersion: 3, Applied: true, Settings: map[string]string{"v": prefix}},
		&syncproto.ChargerConfig{Header: hdr("a", prefix+"cfg"), Charger: "CP1", Configuration: map[string]syncproto.ConfigValue{"K": {Value: prefix}}},
		&syncproto.CommandResult{Header: hdr("a", prefix+"cmd"), CommandID: "no-such-command", Status: syncproto.CommandAccepted},
		tx("a", "t3", 43, 1, syncproto.TxStopped), // a session with a meter stop beside one without
		status("a", "s2", "CP2", "Charging"),
		status("b", "s1", "CP1", "Faulted"),
		tx("b", "t1", 42, 1, syncproto.TxStarted),
		readings("b", "r1", "CP1", from, from+3),
		event("a", prefix+"e1"), // a key repeated within the batch
	}
}

// A batch of every kind takes two flushes of its statements (on
// PostgreSQL, two round trips): one for the keys that are new and the
// reading groups it locks, one for the rest and the commit. Readings
// that overlap what is stored take one more, for the stored series.
func TestApplyBatchFlushesTwice(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		for _, site := range []string{"a", "b"} {
			_, err := s.CreateSite(ctx, site, "")
			must(t, err)
		}
		flushes := func(what string, ms []syncproto.Message, want int64, applied ...bool) {
			t.Helper()
			before := fleet.Flushes(s)
			for i, r := range s.ApplyBatch(ctx, ms) {
				must(t, r.Err)
				if i < len(applied) && r.Applied != applied[i] {
					t.Errorf("%s: record %d applied %v, want %v", what, i, r.Applied, applied[i])
				}
			}
			if got := fleet.Flushes(s) - before; got != want {
				t.Errorf("%s: %d flushes, want %d", what, got, want)
			}
		}
		batch := mixedBatch("x", 0)
		flushes("a batch of every kind", batch, 2)
		flushes("the batch again", batch, 2, false, false, false)
		flushes("one record", mixedBatch("y", 100)[:1], 2, true)
		// Readings of samples 15 to 24, under a new key: they overlap
		// what is stored (0 to 19).
		flushes("overlapping readings", mixedBatch("z", 15)[2:3], 3, true)
		rs, err := s.Readings(ctx, "a", 42)
		must(t, err)
		if len(rs) != 2*25 {
			t.Errorf("%d readings, want %d", len(rs), 2*25)
		}
	})
}

// boom makes the inserts into table of rows whose column is value fail,
// on e's store, until the function it returns is called.
func boom(t *testing.T, e cloudtest.Engine, table, column, value string) (remove func()) {
	t.Helper()
	driver := map[string]string{fleet.SQLite: "sqlite", fleet.Postgres: "pgx"}[e.Driver]
	db, err := sql.Open(driver, e.DSN)
	must(t, err)
	t.Cleanup(func() { db.Close() })
	stmts := []string{fmt.Sprintf(`CREATE TRIGGER boom BEFORE INSERT ON %s WHEN NEW.%s = '%s' BEGIN SELECT RAISE(ABORT, 'boom'); END`, table, column, value)}
	drop := `DROP TRIGGER boom`
	if e.Driver == fleet.Postgres {
		stmts = []string{
			fmt.Sprintf(`CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN IF NEW.%s = '%s' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$`, column, value),
			fmt.Sprintf(`CREATE TRIGGER boom BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION boom()`, table),
		}
		drop = `DROP TRIGGER boom ON ` + table
	}
	for _, stmt := range stmts {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return func() {
		if _, err := db.ExecContext(ctx, drop); err != nil {
			t.Fatalf("%s: %v", drop, err)
		}
	}
}

// A statement that fails in the middle of a batch, in its first flush
// (the reading groups) or its last (the connectors, after every other
// table was written), rolls the whole batch back: then each record is
// applied alone, and the store holds what applying the good records one
// by one leaves, nothing of the failed attempt; the bad record's key is
// not kept, and the store goes on working.
func TestApplyBatchFailureLeavesNothingHalfWritten(t *testing.T) {
	cases := []struct {
		table, column, value string
		bad                  syncproto.Message
	}{
		{"reading_groups", "charger", "CP-boom", &syncproto.Readings{Header: hdr("a", "bad"), Charger: "CP-boom", Connector: 1, TransactionID: 42,
			Start: t0, Columns: []syncproto.Column{{Measurand: "Voltage", Unit: "V"}}, Samples: []syncproto.Sample{{Values: []string{"230"}}}}},
		{"connectors", "status", "Boom", &syncproto.ChargerStatus{Header: hdr("a", "bad"), Charger: "CP-boom", Connected: true,
			Connectors: []syncproto.Connector{{ID: 1, Status: "Available"}, {ID: 2, Status: "Boom"}}}},
	}
	for name, engine := range cloudtest.Engines(t) {
		for _, c := range cases {
			t.Run(name+"/"+c.table, func(t *testing.T) {
				good := mixedBatch("x", 0)
				// The bad record in the middle of the good ones.
				records := append(append(append([]syncproto.Message{}, good[:7]...), c.bad), good[7:]...)
				open := func() (*fleet.Store, cloudtest.Engine, *cloudtest.Logs) {
					e := engine(t)
					logs := &cloudtest.Logs{}
					s := e.Open(t, nil, logs.Logger())
					for _, site := range []string{"a", "b"} {
						_, err := s.CreateSite(ctx, site, "")
						must(t, err)
					}
					return s, e, logs
				}
				// What the good records leave, applied one by one.
				ref, refEngine, _ := open()
				for _, m := range good {
					_, err := ref.Apply(ctx, m)
					must(t, err)
				}
				want := dump(t, ref, refEngine)
				wantSite, err := ref.Site(ctx, "a")
				must(t, err)

				s, e, logs := open()
				remove := boom(t, e, c.table, c.column, c.value)
				res := s.ApplyBatch(ctx, records)
				if !strings.Contains(logs.String(), "one by one") {
					t.Errorf("the batch did not fail:\n%s", logs)
				}
				for i, r := range res {
					switch {
					case records[i] == c.bad:
						if r.Err == nil || !strings.Contains(r.Err.Error(), "boom") {
							t.Errorf("the bad record: applied %v, err %v; want boom", r.Applied, r.Err)
						}
					case r.Err != nil:
						t.Errorf("record %d: %v", i, r.Err)
					case r.Applied != (i != len(records)-1): // the last repeats a key
						t.Errorf("record %d: applied %v", i, r.Applied)
					}
				}
				if got := dump(t, s, e); got != want {
					t.Errorf("after the failed batch:\n%s\nwant what the good records leave:\n%s", got, want)
				}
				st, err := s.Site(ctx, "a")
				must(t, err)
				if st.Readings != wantSite.Readings || st.Chargers != wantSite.Chargers {
					t.Errorf("site a counts %d readings, %d chargers; want %d, %d", st.Readings, st.Chargers, wantSite.Readings, wantSite.Chargers)
				}
				// The bad record's key went with it: once the cause is
				// gone, it applies.
				remove()
				if ok, err := s.Apply(ctx, c.bad); err != nil || !ok {
					t.Errorf("the bad record again: applied %v, %v", ok, err)
				}
				for _, r := range s.ApplyBatch(ctx, mixedBatch("y", 100)) {
					must(t, r.Err)
				}
			})
		}
	}
}

// A batch far larger than one statement takes on SQLite (its parameter
// limit cuts it) is applied whole, every row once, in two flushes still.
func TestApplyBatchLarge(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		col := syncproto.Column{Measurand: "Energy.Active.Import.Register", Unit: "Wh"}
		power := syncproto.Column{Measurand: "Power.Active.Import", Unit: "W"}
		var batch []syncproto.Message
		const events, readings, sessions = 9000, 2400, 600
		for i := range events {
			batch = append(batch, event("a", fmt.Sprint("e", i)))
		}
		for i := range readings {
			// Sessions of 4 records each, 3 samples in two columns.
			m := &syncproto.Readings{Header: hdr("a", fmt.Sprint("r", i)), Charger: fmt.Sprint("CP", i%sessions), Connector: 1, TransactionID: int64(i % sessions)}
			for j := range 3 {
				at := t0.Add(time.Duration(i/sessions*3+j) * time.Second)
				m.AddReadings(syncproto.Reading{Time: at, Column: col, Value: fmt.Sprint(j)}, syncproto.Reading{Time: at, Column: power, Value: "1"})
			}
			batch = append(batch, m)
		}
		for i := range sessions {
			m := &syncproto.Transaction{Header: hdr("a", fmt.Sprint("t", i)), Event: syncproto.TxStarted, Rev: 1, ID: int64(i),
				Charger: fmt.Sprint("CP", i), Connector: 1, Start: t0}
			if i%2 == 0 {
				m.Event, m.Stop, m.MeterStopWh = syncproto.TxStopped, t0.Add(time.Hour), new(int64(i))
			}
			batch = append(batch, m,
				&syncproto.ChargerStatus{Header: hdr("a", fmt.Sprint("s", i)), Charger: fmt.Sprint("CP", i), Connected: i%3 == 0,
					Connectors: []syncproto.Connector{{ID: 1, Status: "Charging"}, {ID: 2, Status: "Available"}}})
		}
		before := fleet.Flushes(s)
		for i, r := range s.ApplyBatch(ctx, batch) {
			if r.Err != nil || !r.Applied {
				t.Fatalf("record %d: applied %v, %v", i, r.Applied, r.Err)
			}
		}
		if got := fleet.Flushes(s) - before; got != 2 {
			t.Errorf("%d flushes, want 2", got)
		}
		if n, err := s.EventCount(ctx, "a"); err != nil || n != events {
			t.Errorf("%d events, %v; want %d", n, err, events)
		}
		st, err := s.Site(ctx, "a")
		must(t, err)
		if st.Readings != readings*3*2 || st.Transactions != sessions || st.Chargers != sessions {
			t.Errorf("site counts %d readings, %d sessions, %d chargers", st.Readings, st.Transactions, st.Chargers)
		}
		txs, err := s.Transactions(ctx, fleet.TxFilter{Site: "a", Charger: "CP2"}, true)
		must(t, err)
		if len(txs) != 1 || txs[0].Record.MeterStopWh == nil || *txs[0].Record.MeterStopWh != 2 || len(txs[0].Readings) != 4*3*2 {
			t.Errorf("session 2: %+v", txs)
		}
		txs, err = s.Transactions(ctx, fleet.TxFilter{Site: "a", Charger: "CP3"}, true)
		must(t, err)
		if len(txs) != 1 || txs[0].Record.MeterStopWh != nil {
			t.Errorf("session 3: %+v", txs)
		}
		cs, err := s.Chargers(ctx, "a")
		must(t, err)
		for _, c := range cs {
			if len(c.Connectors) != 2 {
				t.Fatalf("charger %+v", c)
			}
		}
	})
}
