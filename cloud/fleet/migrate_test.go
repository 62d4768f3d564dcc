package fleet_test

import (
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/syncproto"
)

// Replicas starting together on one empty PostgreSQL schema migrate it
// once: each waits for the others' migration instead of failing on it.
func TestConcurrentMigrations(t *testing.T) {
	engines := cloudtest.Engines(t)
	newEngine, ok := engines[fleet.Postgres]
	if !ok {
		t.Skipf("%s is not set: concurrent migrations are a PostgreSQL matter", cloudtest.EnvPostgres)
	}
	e := newEngine(t)
	const replicas = 6
	var wg sync.WaitGroup
	errs := make(chan error, replicas)
	for range replicas {
		wg.Go(func() {
			s, err := fleet.Open(ctx, fleet.Options{Driver: e.Driver, DSN: e.DSN})
			if err == nil {
				_, err = s.Sites(ctx)
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a replica: %v", err)
		}
	}
}

// Migration 0003 turns the readings stored one row per value into
// series: every session's readings read back the same, in the same
// order, the sites' counts stay, and readings applied afterwards are
// stored once each, the migrated ones included.
func TestMigrationToReadingSeries(t *testing.T) {
	for name, engine := range cloudtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			e := engine(t)
			s, err := fleet.OpenUpTo(ctx, fleet.Options{Driver: e.Driver, DSN: e.DSN}, 2)
			must(t, err)
			driver := map[string]string{fleet.SQLite: "sqlite", fleet.Postgres: "pgx"}[e.Driver]
			db, err := sql.Open(driver, e.DSN)
			must(t, err)
			defer db.Close()
			// The sites as version 2's store wrote them (its Site reads the
			// readings table, which the new one does not know).
			_, err = db.ExecContext(ctx, `INSERT INTO sites (id, created_at) VALUES ('a', 1), ('b', 1)`)
			must(t, err)
			energy := syncproto.Column{Measurand: "Energy.Active.Import.Register", Unit: "Wh", Context: "Sample.Periodic", Location: "Outlet"}
			l1 := syncproto.Column{Measurand: "Current.Import", Phase: "L1", Unit: "A"}
			l1n := syncproto.Column{Measurand: "Current.Import", Phase: "L1-N", Unit: "A"}
			type row struct {
				site, charger string
				connector     int
				tx            int64
				at            time.Time
				col           syncproto.Column
				value         string
			}
			var rows []row
			for i := range 5 {
				at := t0.Add(time.Duration(i) * 15 * time.Second)
				rows = append(rows,
					row{"a", "CP1", 1, 7, at, energy, fmt.Sprint(1000 + i)},
					row{"a", "CP1", 1, 7, at, l1n, "16.1"},
					row{"a", "CP1", 1, 7, at, l1, fmt.Sprint(16 + i)},
					row{"a", "CP2", 2, 7, at.Add(time.Second), energy, "7"}, // another charger in the same session
					row{"a", "CP1", 1, 0, at, energy, fmt.Sprint(i)},        // outside a session
					row{"b", "CP1", 1, 7, at, energy, fmt.Sprint(2000 + i)})
			}
			// Values that JSON escapes or writes differently.
			for i, v := range []string{`a"b`, `c\d`, `é ü`, `<&>`, `'`, ``} {
				rows = append(rows, row{"a", "CP3", 1, 9, t0.Add(time.Duration(i) * time.Minute), energy, v})
			}
			quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
			for _, r := range rows {
				c := r.col
				_, err := db.ExecContext(ctx, fmt.Sprintf(`INSERT INTO readings (site, charger, connector, tx, at, measurand, phase, unit, context, location, format, value)
					VALUES (%s, %s, %d, %d, %d, %s, %s, %s, %s, %s, %s, %s)`, quote(r.site), quote(r.charger), r.connector, r.tx, r.at.UnixMilli(),
					quote(c.Measurand), quote(c.Phase), quote(c.Unit), quote(c.Context), quote(c.Location), quote(c.Format), quote(r.value)))
				must(t, err)
			}
			sessions := []struct {
				site string
				tx   int64
			}{{"a", 7}, {"a", 0}, {"a", 9}, {"b", 7}, {"b", 8}}
			// What the store's query read before the migration.
			before := map[string][]fleet.Reading{}
			for _, ss := range sessions {
				rs, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT at, measurand, phase, unit, context, location, format, value FROM readings
					WHERE site = %s AND tx = %d ORDER BY at, measurand, phase, unit, context, location, format`, quote(ss.site), ss.tx))
				must(t, err)
				out := []fleet.Reading{}
				for rs.Next() {
					var r fleet.Reading
					var at int64
					c := &r.Column
					must(t, rs.Scan(&at, &c.Measurand, &c.Phase, &c.Unit, &c.Context, &c.Location, &c.Format, &r.Value))
					r.Time = time.UnixMilli(at).UTC()
					out = append(out, r)
				}
				must(t, rs.Err())
				rs.Close()
				before[fmt.Sprint(ss.site, "/", ss.tx)] = out
			}
			counts := map[string]int64{}
			for _, site := range []string{"a", "b"} {
				var n int64
				must(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM readings WHERE site = `+quote(site)).Scan(&n))
				counts[site] = n
			}
			must(t, s.Close())

			s, err = fleet.Open(ctx, fleet.Options{Driver: e.Driver, DSN: e.DSN})
			must(t, err)
			defer s.Close()
			for _, ss := range sessions {
				key := fmt.Sprint(ss.site, "/", ss.tx)
				after, err := s.Readings(ctx, ss.site, ss.tx)
				must(t, err)
				if !reflect.DeepEqual(after, before[key]) {
					t.Errorf("%s: after the migration\n%v\nbefore\n%v", key, after, before[key])
				}
			}
			for site, n := range counts {
				st, err := s.Site(ctx, site)
				must(t, err)
				if st.Readings != n {
					t.Errorf("site %s: %d readings after the migration, %d before", site, st.Readings, n)
				}
			}
			if _, err := db.ExecContext(ctx, `SELECT 1 FROM readings`); err == nil {
				t.Error("the readings table is still there")
			}

			// A resend overlapping the migrated readings adds only what is new.
			m := &syncproto.Readings{Header: hdr("a", "resend"), Charger: "CP1", Connector: 1, TransactionID: 7}
			for i := range 7 {
				m.AddReadings(syncproto.Reading{Time: t0.Add(time.Duration(i) * 15 * time.Second), Column: energy, Value: fmt.Sprint("new", i)})
			}
			apply(t, s, m)
			rs, err := s.Readings(ctx, "a", 7)
			must(t, err)
			var energyValues []string
			for _, r := range rs {
				if r.Column == energy && r.Value != "7" {
					energyValues = append(energyValues, r.Value)
				}
			}
			if want := []string{"1000", "1001", "1002", "1003", "1004", "new5", "new6"}; !slices.Equal(energyValues, want) {
				t.Errorf("CP1's energy after the resend: %v, want %v", energyValues, want)
			}
			st, err := s.Site(ctx, "a")
			must(t, err)
			if st.Readings != counts["a"]+2 {
				t.Errorf("site a: %d readings after the resend, want %d", st.Readings, counts["a"]+2)
			}
		})
	}
}
