// Package cloudtest helps the watchtower's tests: a fake clock, a log
// buffer, and fleet stores on every engine this machine offers (SQLite
// always, PostgreSQL when EnvPostgres is set), each test on its own
// database or schema.
package cloudtest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/fleet/fleettest"
)

// EnvPostgres names the variable with the PostgreSQL URL tests use
// (postgres://postgres@127.0.0.1:5432/test?sslmode=disable); .ci/run sets it.
const EnvPostgres = fleettest.EnvPostgres

// Clock is a settable clock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var _ fleet.Clock = (*Clock)(nil)

// Logs is a concurrency-safe log buffer.
type Logs struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was logged.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Logger returns a debug logger writing to l.
func (l *Logs) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Engine is a store configuration for one test.
type Engine struct {
	Driver, DSN string
}

// Engines returns SQLite (a file in a temp dir) and, when EnvPostgres is
// set, PostgreSQL in a schema of its own, dropped when the test ends.
func Engines(t testing.TB) map[string]func(t testing.TB) Engine {
	t.Helper()
	out := map[string]func(t testing.TB) Engine{
		fleet.SQLite: func(t testing.TB) Engine {
			return Engine{Driver: fleet.SQLite, DSN: filepath.Join(t.TempDir(), "watchtower.db")}
		},
	}
	pg := os.Getenv(EnvPostgres)
	if pg == "" {
		t.Logf("%s is not set: the PostgreSQL variant is skipped (run with %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvPostgres, EnvPostgres)
		return out
	}
	out[fleet.Postgres] = func(t testing.TB) Engine { return Engine{Driver: fleet.Postgres, DSN: PostgresSchema(t, pg)} }
	return out
}

// PostgresSchema creates a schema of its own for the test and returns
// base with its search_path set to it.
func PostgresSchema(t testing.TB, base string) string { return fleettest.Schema(t, base) }

// Open opens a store on e.
func (e Engine) Open(t testing.TB, clock fleet.Clock, log *slog.Logger) *fleet.Store {
	t.Helper()
	s, err := fleet.Open(context.Background(), fleet.Options{Driver: e.Driver, DSN: e.DSN, Clock: clock, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
