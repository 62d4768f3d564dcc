package fleet_test

import (
	"encoding/base64"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/fleet/fleettest"
)

// seedBenchFleet seeds the dashboard's fleet (fleettest.SeedFleet) in a
// schema of b's own.
func seedBenchFleet(b *testing.B) *fleet.Store {
	b.Helper()
	if os.Getenv(fleettest.EnvPostgres) == "" {
		b.Skipf("%s is not set: the fleet views' benchmarks run on PostgreSQL only (%s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable)",
			fleettest.EnvPostgres, fleettest.EnvPostgres)
	}
	dsn := fleettest.Postgres(b)
	s, err := fleet.Open(ctx, fleet.Options{Driver: fleet.Postgres, DSN: dsn})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	start := time.Now()
	fleettest.SeedFleet(b, dsn)
	b.Logf("seeded %d sites and %d sessions in %v", fleettest.SeedSites, fleettest.SeedSessions, time.Since(start).Round(time.Second))
	return s
}

// BenchmarkFleetViews seeds the fleet once and runs the dashboard's
// queries on it: FleetOverview (first page and totals, a search, a
// state past the middle) and Sessions (first page, of a site, of an id
// tag, half way down the cursor chain, a day's range, the open ones).
func BenchmarkFleetViews(b *testing.B) {
	s := seedBenchFleet(b)
	b.Run("FleetOverview", func(b *testing.B) { benchOverview(b, s) })
	b.Run("Sessions", func(b *testing.B) { benchSessionPages(b, s) })
}

func benchOverview(b *testing.B, s *fleet.Store) {
	for _, bc := range []struct {
		name string
		f    fleet.OverviewFilter
	}{
		{"first-page", fleet.OverviewFilter{}},
		{"search", fleet.OverviewFilter{Search: "depot 12"}},
		{"in-use", fleet.OverviewFilter{State: fleet.StateInUse, After: "site-05000"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				o, err := s.FleetOverview(ctx, bc.f)
				if err != nil || len(o.Sites) == 0 {
					b.Fatal(err, len(o.Sites))
				}
			}
		})
	}
}

func benchSessionPages(b *testing.B, s *fleet.Store) {
	// A cursor halfway down the list: session 500,000's key.
	deep := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%d.site-%05d", int64(1767225600000+500000*60000), 500000, 500000%10000+1))
	for _, bc := range []struct {
		name string
		f    fleet.SessionFilter
	}{
		{"first-page", fleet.SessionFilter{}},
		{"site", fleet.SessionFilter{Site: "site-04242"}},
		{"token", fleet.SessionFilter{Token: "TAG4242"}},
		{"deep", fleet.SessionFilter{Cursor: deep}},
		{"range", fleet.SessionFilter{From: time.UnixMilli(1767225600000 + 300000*60000), To: time.UnixMilli(1767225600000 + 301440*60000)}},
		{"open", fleet.SessionFilter{Open: new(true)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				p, err := s.Sessions(ctx, bc.f)
				if err != nil || len(p.Sessions) == 0 {
					b.Fatal(err, len(p.Sessions))
				}
			}
		})
	}
}
