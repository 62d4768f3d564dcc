package load_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/fleet/fleettest"
	"github.com/constellation-ev/constellation/cloud/watchtower"
	"github.com/constellation-ev/constellation/tools/fleetsim/load"
)

var ctx = context.Background()

// engines are the stores a watchtower under test runs on: SQLite always,
// PostgreSQL when fleettest.EnvPostgres is set (skipped with a reason otherwise).
var engines = []struct {
	name  string
	store func(tb testing.TB) store
}{
	{fleet.SQLite, func(testing.TB) store { return store{Driver: fleet.SQLite} }},
	{fleet.Postgres, func(tb testing.TB) store { return store{Driver: fleet.Postgres, DSN: fleettest.Postgres(tb)} }},
}

// store is a watchtower's store configuration ("" DSN: the default).
type store struct{ Driver, DSN string }

// startTower starts a watchtower on loopback with the given store and
// returns it with an API client holding the operator's token.
func startTower(tb testing.TB, st store) (*watchtower.Watchtower, *load.API) {
	tb.Helper()
	dir := tb.TempDir()
	const token = "operator-token-for-fleetsim-tests"
	if err := os.WriteFile(filepath.Join(dir, "op"), []byte(token+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	var cfg watchtower.Config
	cfg.DataDir, cfg.OperatorTokenFile = dir, filepath.Join(dir, "op")
	cfg.MQTT.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.Driver, cfg.Store.DSN = st.Driver, st.DSN
	// The tests enroll dozens of sites from one address at once.
	cfg.Limits.AuthPerMinute = -1
	w, err := watchtower.Start(ctx, cfg, nil, logger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(w.Close)
	return w, &load.API{Base: "http://" + w.HTTPAddr(), Token: token}
}

// logger passes errors to the test's log: the info lines of a load run
// (a connect per site) and mochi's warning at every clean disconnect
// with will would drown them.
func logger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelError}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(p))
	return len(p), nil
}
