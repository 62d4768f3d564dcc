// Package fleettest gives tests and benchmarks of the fleet store, in the
// watchtower and in tools, a PostgreSQL schema of their own.
package fleettest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// EnvPostgres names the variable with the PostgreSQL URL tests use
// (postgres://postgres@127.0.0.1:5432/test?sslmode=disable); .ci/run sets it.
const EnvPostgres = "CONSTELLATION_PG_URL"

// Postgres returns a PostgreSQL URL with a schema of its own (see
// Schema), or skips tb when EnvPostgres is not set.
func Postgres(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		tb.Skipf("%s is not set: skipping the PostgreSQL variant (run with %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvPostgres, EnvPostgres)
	}
	return Schema(tb, base)
}

// Schema creates a schema of its own for tb, dropped when it ends, and
// returns base with its search_path set to it.
func Schema(tb testing.TB, base string) string {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("%s: create a schema: %v", EnvPostgres, err)
	}
	tb.Cleanup(func() { _, _ = db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
