package nm

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock/clocktest"
	"github.com/constellation-ev/constellation/appliance/internal/testlog"
	"github.com/constellation-ev/constellation/appliance/network"
	"github.com/constellation-ev/constellation/appliance/network/nmfake"
)

// Test passwords: they must never appear in the logs.
const (
	apPassword   = "charger-secret-1"
	wifiPassword = "uplink-secret-22"
)

func baseSettings() network.Settings {
	s := network.Settings{AP: network.APConfig{
		Enabled: true, SSID: "Constellation-Chargers", Password: apPassword,
		Band: network.Band24GHz, Channel: 6,
	}}
	s.Uplinks.Ethernet.Enabled = true
	return s.Normalize()
}

// env is one test's private bus, fake NetworkManager and controller.
type env struct {
	t     *testing.T
	bus   *nmfake.Bus
	fake  *nmfake.NM
	clock *clocktest.Clock
	ctl   *network.Controller
	logs  *testlog.Buffer
	dir   string
}

type envOptions struct {
	fake     nmfake.Options
	settings network.Settings
	absent   bool // NetworkManager not started
}

// start runs a Controller over the nm backend against a fake
// NetworkManager; it stops when the test ends and then checks that no
// password reached the logs.
func start(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{t: t, clock: clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), logs: &testlog.Buffer{}, dir: t.TempDir()}
	e.bus = nmfake.StartBus(t)
	e.fake = nmfake.New(t, e.bus, o.fake)
	if !o.absent {
		if err := e.fake.Start(); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctl, err := network.NewController(NewBackend(Options{Logger: log}), network.Options{
		Initial: o.settings, DataDir: e.dir, Clock: e.clock, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.ctl = ctl
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		status, _ := json.Marshal(ctl.Status(context.Background()))
		for _, secret := range []string{apPassword, wifiPassword, "tampered-pass-1"} {
			if strings.Contains(e.logs.String(), secret) || strings.Contains(string(status), secret) {
				t.Errorf("a password appears in the logs or the status:\n%s\n%s", e.logs.String(), status)
			}
		}
	})
	return e
}

// settle lets the controller's loop run, firing each of its waits, until
// cond holds. The long guard only turns a hang into a failure; it times
// nothing.
func (e *env) settle(what string, cond func(network.Status) bool) network.Status {
	e.t.Helper()
	var st network.Status
	if !e.clock.RunUntil(20*time.Second, func() bool { st = e.ctl.Status(context.Background()); return cond(st) }) {
		e.t.Fatalf("never %s; status %+v\nlogs:\n%s", what, st, e.logs.String())
	}
	return st
}

func apUp(st network.Status) bool { return st.Reachable && st.AP.State == network.APUp }

// get returns a stored setting's value.
func get(s nmfake.ConnSettings, setting, key string) any {
	v, ok := s[setting][key]
	if !ok {
		return nil
	}
	return v.Value()
}
