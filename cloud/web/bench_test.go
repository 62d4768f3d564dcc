package web_test

import (
	"os"
	"testing"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/fleet/fleettest"
	"github.com/constellation-ev/constellation/cloud/watchtower"
)

// BenchmarkDashboard measures the server's time to render the fleet
// overview over 10,000 sites and the sessions list over 1,000,000
// sessions (fleettest.SeedFleet), on PostgreSQL: a signed-in GET over
// loopback, so the session check, the API call in the process, the
// queries and the template are all in it.
func BenchmarkDashboard(b *testing.B) {
	if os.Getenv(fleettest.EnvPostgres) == "" {
		b.Skipf("%s is not set: the dashboard benchmark runs on PostgreSQL only", fleettest.EnvPostgres)
	}
	dsn := fleettest.Postgres(b)
	d := startDashboard(b, func(c *watchtower.Config) { c.Store.Driver, c.Store.DSN = fleet.Postgres, dsn })
	fleettest.SeedFleet(b, dsn)
	d.user(b, "ada", auth.Viewer, "ada's password 1")
	br := d.signIn(b, "ada", "ada's password 1")
	for _, bc := range []struct{ name, path string }{
		{"overview", "/"},
		{"overview-search", "/?q=depot+12"},
		{"overview-faulted", "/?state=faulted"},
		{"sessions", "/sessions"},
		{"sessions-site", "/sessions?site=site-04242"},
		{"sessions-token", "/sessions?token=TAG4242"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				br.page(b, bc.path)
			}
		})
	}
}
