package fleettest

import (
	"context"
	"database/sql"
	"testing"
)

// The fleet the dashboard's benchmarks run on: 10,000 sites of 2
// chargers × 2 connectors (a quarter offline, a tenth with a faulted
// connector, a third charging with live power) and 1,000,000 sessions
// (100 a site, a minute apart across the fleet, 50,000 id tags).
const (
	SeedSites    = 10_000
	SeedSessions = 1_000_000
)

// SeedFleet fills the fleet store of the PostgreSQL dsn (migrated
// already) in bulk SQL: ApplyBatch would take minutes.
func SeedFleet(tb testing.TB, dsn string) {
	tb.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	for _, q := range seed {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			tb.Fatalf("seeding the fleet: %s: %v", q, err)
		}
	}
}

// seed fills the fleet: session n (1..1,000,000) is of site
// n % 10,000, starts n minutes after 2026-01-01 UTC, lasts 30
// minutes; the last session of every third site is open, drawing 7 kW.
var seed = []string{
	`INSERT INTO sites (id, name, password_hash, created_at, online, last_seen, software)
	SELECT 'site-' || lpad(i::text, 5, '0'), 'Depot ' || i, 'h', 0, i % 4 <> 0, 1, '1.4.0' FROM generate_series(1, 10000) i`,
	`INSERT INTO chargers (site, id, connected, protocol, vendor, model, serial, firmware, last_seen, updated_at)
	SELECT 'site-' || lpad(i::text, 5, '0'), 'CP' || c, i % 4 <> 0, 'ocpp1.6', 'V', 'M', 'S', 'F', 1, 1
	FROM generate_series(1, 10000) i, generate_series(1, 2) c`,
	`INSERT INTO connectors (site, charger, id, status, error_code, info, at)
	SELECT 'site-' || lpad(i::text, 5, '0'), 'CP' || c, k,
		CASE WHEN i % 10 = 0 AND c = 1 AND k = 1 THEN 'Faulted' WHEN i % 3 = 0 AND c = 1 AND k = 1 THEN 'Charging' ELSE 'Available' END,
		CASE WHEN i % 10 = 0 AND c = 1 AND k = 1 THEN 'GroundFailure' ELSE 'NoError' END, '', 1
	FROM generate_series(1, 10000) i, generate_series(1, 2) c, generate_series(1, 2) k`,
	`INSERT INTO transactions (site, id, rev, event, charger, connector, id_tag, start_at, stop_at, meter_start_wh, meter_stop_wh, record)
	SELECT 'site-' || lpad((n % 10000 + 1)::text, 5, '0'), n, 2, 'stopped', 'CP' || (n % 2 + 1), 1, 'TAG' || (n % 50000),
		1767225600000 + n * 60000,
		CASE WHEN n > 990000 AND (n % 10000 + 1) % 3 = 0 THEN 0 ELSE 1767225600000 + n * 60000 + 1800000 END,
		0, CASE WHEN n > 990000 AND (n % 10000 + 1) % 3 = 0 THEN NULL ELSE 11000 END, '{"stopReason":"Local"}'
	FROM generate_series(1::bigint, 1000000) n`,
	`INSERT INTO live_power (site, charger, connector, power_w, power_at, power_tx, energy_wh, energy_at, energy_tx)
	SELECT site, charger, connector, 7000, start_at + 60000, id, 5000, start_at + 60000, id FROM transactions WHERE stop_at = 0`,
	`UPDATE sites SET price_per_kwh = 295000, currency = 'EUR' WHERE id LIKE '%1'`,
	`ANALYZE`,
}
