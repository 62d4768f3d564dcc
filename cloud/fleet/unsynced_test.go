package fleet_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/syncproto"
)

// Records an appliance made before its clock was synchronised keep their
// mark where their times are stored: an event's, a charger's status (in
// Chargers) and a transaction's record; records without it are stored
// unmarked, and so are the rows stored before migration 0004.
func TestUnsyncedMarkStored(t *testing.T) {
	for name, engine := range cloudtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			e := engine(t)
			s, err := fleet.OpenUpTo(ctx, fleet.Options{Driver: e.Driver, DSN: e.DSN}, 3)
			must(t, err)
			s.Close()
			driver := map[string]string{fleet.SQLite: "sqlite", fleet.Postgres: "pgx"}[e.Driver]
			db, err := sql.Open(driver, e.DSN)
			must(t, err)
			defer db.Close()
			// A site and an event as version 3's store wrote them (its
			// CreateSite reads tables of later versions).
			_, err = db.ExecContext(ctx, `INSERT INTO sites (id, created_at) VALUES ('a', 1)`)
			must(t, err)
			_, err = db.ExecContext(ctx, `INSERT INTO events (site, key, event, charger, at, code, detail) VALUES ('a', 'old', 'boot', 'CP1', 1, '', 'null')`)
			must(t, err)
			s = e.Open(t, nil, nil)

			behind := t0.AddDate(0, 0, -3)
			marked := func(key string) syncproto.Header {
				return syncproto.Header{Version: syncproto.Version, Site: "a", Key: key, Time: behind, Unsynced: true}
			}
			apply(t, s, &syncproto.Event{Header: marked("k1"), Event: syncproto.EventDiagnostics, Charger: "CP1", At: behind, Code: "Uploaded"})
			apply(t, s, &syncproto.Event{Header: hdr("a", "k2"), Event: syncproto.EventDiagnostics, Charger: "CP1", At: t0, Code: "Idle"})
			apply(t, s, &syncproto.ChargerStatus{Header: marked("k3"), Charger: "CP1", Connected: true, LastSeen: behind})
			apply(t, s, &syncproto.Transaction{Header: marked("k4"), Event: syncproto.TxStarted, Rev: 1, ID: 7, Charger: "CP1",
				Connector: 1, Start: behind})

			rows, err := db.QueryContext(ctx, `SELECT key, unsynced FROM events WHERE site = 'a' ORDER BY key`)
			must(t, err)
			got := map[string]bool{}
			for rows.Next() {
				var key string
				var unsynced bool
				must(t, rows.Scan(&key, &unsynced))
				got[key] = unsynced
			}
			must(t, rows.Err())
			rows.Close()
			if want := map[string]bool{"old": false, "k1": true, "k2": false}; len(got) != len(want) || got["old"] || !got["k1"] || got["k2"] {
				t.Errorf("events' marks %v, want %v", got, want)
			}

			chargers, err := s.Chargers(ctx, "a")
			must(t, err)
			if len(chargers) != 1 || !chargers[0].Unsynced || !chargers[0].LastSeen.Equal(behind) {
				t.Errorf("chargers %+v: want CP1 marked", chargers)
			}
			txs, err := s.Transactions(ctx, fleet.TxFilter{Site: "a"}, false)
			must(t, err)
			if len(txs) != 1 || !txs[0].Record.Unsynced {
				t.Errorf("transactions %+v: want the record marked", txs)
			}

			// A later status, made with the clock synchronised, clears it.
			apply(t, s, &syncproto.ChargerStatus{Header: syncproto.Header{Version: syncproto.Version, Site: "a", Key: "k5", Time: t0.Add(time.Minute)},
				Charger: "CP1", Connected: true, LastSeen: t0.Add(time.Minute)})
			chargers, err = s.Chargers(ctx, "a")
			must(t, err)
			if len(chargers) != 1 || chargers[0].Unsynced {
				t.Errorf("chargers %+v: want CP1 unmarked", chargers)
			}
		})
	}
}
