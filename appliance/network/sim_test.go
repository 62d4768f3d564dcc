package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock/clocktest"
)

// simEnv is a running Sim.
type simEnv struct {
	t     *testing.T
	sim   *Sim
	clock *clocktest.Clock
	dir   string
}

func startSim(t *testing.T, dir string, o Options) *simEnv {
	t.Helper()
	e := &simEnv{t: t, clock: clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), dir: dir}
	o.Clock, o.DataDir = e.clock, dir
	if o.Initial == (Settings{}) {
		o.Initial = validSettings()
	}
	sim, err := NewSim(o)
	if err != nil {
		t.Fatal(err)
	}
	e.sim = sim
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return e
}

// settle lets the loop run, firing its waits, until cond holds.
func (e *simEnv) settle(what string, cond func(Status) bool) Status {
	e.t.Helper()
	var st Status
	if !e.clock.RunUntil(10*time.Second, func() bool { st = e.sim.Status(context.Background()); return cond(st) }) {
		e.t.Fatalf("never %s: %+v", what, st)
	}
	return st
}

func simUp(st Status) bool { return st.Reachable && st.AP.State == APUp }

func TestSimPlausibleState(t *testing.T) {
	e := startSim(t, t.TempDir(), Options{})
	st := e.settle("up", simUp)
	if st.AP.SSID != "Chargers" || st.AP.Security != SecurityNameSAE || st.Uplink.Kind != UplinkEthernet || st.Uplink.Connectivity != ConnectivityFull {
		t.Errorf("status = %+v", st)
	}
}

func TestSimApply(t *testing.T) {
	tests := []struct {
		name         string
		prepare      func(*Sim)
		edit         func(*Settings)
		outcome      Outcome
		err          error
		reason       string
		applied      bool
		advanceClock bool
	}{
		{name: "applied", edit: func(s *Settings) { s.AP.SSID = "Renamed" }, outcome: OutcomeApplied, applied: true},
		{
			name: "access point refused", prepare: func(s *Sim) { s.FailAP(refuseChannel(36)) },
			edit: func(s *Settings) { s.AP.Band, s.AP.Channel = Band5GHz, 36 }, outcome: OutcomeRolledBack, err: ErrCheckFailed,
			reason: "access point failed: channel 36 refused by the driver",
		},
		{
			name: "access point refused, and the rollback too", prepare: func(s *Sim) { s.FailAP(func(APConfig) string { return "radio broken" }) },
			edit: func(s *Settings) { s.AP.SSID = "Renamed" }, outcome: OutcomeFailed, err: ErrCheckFailed,
			reason: "rolling back failed too: access point failed: radio broken",
		},
		{
			name: "uplink never reaches the cloud", prepare: func(s *Sim) { s.SetConnectivity(ConnectivityLimited) },
			edit: func(s *Settings) {
				s.Uplinks.Cellular = UplinkConfig{Enabled: true, Priority: 3, APN: "internet"}
			},
			outcome: OutcomeRolledBack, err: ErrCheckFailed, reason: "not within 30s: connectivity is limited", advanceClock: true,
		},
		{name: "invalid", edit: func(s *Settings) { s.AP.Password = "x" }, outcome: OutcomeFailed, err: ErrInvalid, reason: "ap.password"},
		{
			name: "NetworkManager gone", prepare: func(s *Sim) { s.SetReachable(false) },
			edit: func(s *Settings) { s.AP.SSID = "Renamed" }, outcome: OutcomeFailed, err: ErrUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startSim(t, t.TempDir(), Options{})
			e.settle("up", simUp)
			if tt.prepare != nil {
				tt.prepare(e.sim)
				if tt.err == ErrUnavailable {
					e.settle("unreachable", func(st Status) bool { return !st.Reachable })
				}
			}
			before := e.sim.Settings()
			next := validSettings()
			tt.edit(&next)

			done := make(chan applyResult, 1)
			go func() {
				res, err := e.sim.Apply(context.Background(), next)
				done <- applyResult{res, err}
			}()
			var r applyResult
			if tt.advanceClock {
				r = e.drive(done)
			} else {
				r = <-done
			}
			if r.res.Outcome != tt.outcome || !errors.Is(r.err, tt.err) || !strings.Contains(r.res.Reason, tt.reason) {
				t.Errorf("Apply = %+v, %v; want %s, %v, reason with %q", r.res, r.err, tt.outcome, tt.err, tt.reason)
			}
			want := before
			if tt.applied {
				want = next.Normalize()
			}
			if got := e.sim.Settings(); got != want {
				t.Errorf("settings in force = %+v, want %+v", got, want)
			}
			if tt.err != ErrInvalid && tt.err != ErrUnavailable {
				if got := e.sim.Applied(); got != want {
					t.Errorf("settings held by NetworkManager = %+v, want %+v", got, want)
				}
			}
			if lc := e.sim.Status(context.Background()).LastChange; lc == nil || *lc != r.res {
				t.Errorf("status last change = %+v, want %+v", lc, r.res)
			}
		})
	}
}

func refuseChannel(ch uint32) func(APConfig) string {
	return func(ap APConfig) string {
		if ap.Channel == ch {
			return fmt.Sprintf("channel %d refused by the driver", ch)
		}
		return ""
	}
}

type applyResult struct {
	res ChangeResult
	err error
}

// drive fires the clock's waits until the result arrives.
func (e *simEnv) drive(done <-chan applyResult) applyResult {
	e.t.Helper()
	var r applyResult
	returned := e.clock.RunUntil(10*time.Second, func() bool {
		select {
		case r = <-done:
			return true
		default:
			return false
		}
	})
	if !returned {
		e.t.Fatal("Apply never returned")
	}
	return r
}

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	e := startSim(t, dir, Options{})
	e.settle("up", simUp)
	next := validSettings()
	next.AP.SSID = "From-The-Cloud"
	if _, err := e.sim.Apply(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, StateFileName))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, %v; want mode 0600", info, err)
	}

	t.Run("last good wins over the initial settings", func(t *testing.T) {
		sim, err := NewSim(Options{Initial: validSettings(), DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if got := sim.Settings().AP.SSID; got != "From-The-Cloud" {
			t.Errorf("SSID in force = %q, want the last good", got)
		}
	})

	t.Run("interrupted change rolled back", func(t *testing.T) {
		pending := next
		pending.AP.SSID = "Never-Checked"
		data, _ := json.Marshal(savedState{Version: stateVersion, Good: next, Pending: &pending})
		if err := os.WriteFile(filepath.Join(dir, StateFileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		sim, err := NewSim(Options{Initial: validSettings(), DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		st := sim.Status(context.Background())
		if sim.Settings() != next || st.LastChange == nil || st.LastChange.Outcome != OutcomeRolledBack {
			t.Errorf("settings %+v, last change %+v; want the last good and a rollback", sim.Settings(), st.LastChange)
		}
		saved, ok, err := stateFile{dir: dir}.load()
		if err != nil || !ok || saved.Pending != nil {
			t.Errorf("state after recovery = %+v, %v, %v; want no pending change", saved, ok, err)
		}
	})

	t.Run("corrupt file reported, initial settings used", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, StateFileName), []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		sim, err := NewSim(Options{Initial: validSettings(), DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if sim.Settings() != validSettings() || !strings.Contains(sim.Status(context.Background()).LastError, "decode state") {
			t.Errorf("settings %+v, status %+v", sim.Settings(), sim.Status(context.Background()))
		}
	})
}

func TestNewControllerRefusesInvalidInitial(t *testing.T) {
	s := validSettings()
	s.AP.SSID = ""
	if _, err := NewSim(Options{Initial: s}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "ap.ssid") {
		t.Errorf("NewSim = %v, want ErrInvalid naming ap.ssid", err)
	}
}

func TestSimReconnects(t *testing.T) {
	e := startSim(t, "", Options{})
	e.settle("up", simUp)
	e.sim.SetReachable(false)
	st := e.settle("unreachable", func(st Status) bool { return !st.Reachable })
	if st.AP.State != APDown || st.LastError == "" {
		t.Errorf("status = %+v", st)
	}
	e.sim.SetReachable(true)
	e.settle("back", simUp)
}
