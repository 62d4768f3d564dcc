package device

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock/clocktest"
	"github.com/constellation-ev/constellation/appliance/internal/testlog"
)

var (
	t0         = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	errGone    = errors.New("no device")
	errBroken  = errors.New("bus error")
	errAnother = errors.New("another bus error")
)

// newTracker returns a Tracker on a fake clock that logs at DEBUG into logs.
func newTracker(o TrackerOptions) (*Tracker, *clocktest.Clock, *testlog.Buffer) {
	c := clocktest.New(t0)
	logs := &testlog.Buffer{}
	o.Clock = c
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return NewTracker("test device", o), c, logs
}

func TestTrackerBackoff(t *testing.T) {
	tests := []struct {
		name     string
		min, max time.Duration
		want     []time.Duration
	}{
		{"defaults", 0, 0, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}},
		{"capped", time.Second, 10 * time.Second, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}},
		{"max below min takes the default max", 2 * time.Minute, time.Second, []time.Duration{2 * time.Minute, 2 * time.Minute}},
		{"min only", 10 * time.Second, 0, []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, c, _ := newTracker(TrackerOptions{BackoffMin: tt.min, BackoffMax: tt.max})
			var got []time.Duration
			for range tt.want {
				wait := tr.Fail(StateMissing, errGone)
				if h := tr.Health(); !h.NextRetry.Equal(c.Now().Add(wait)) {
					t.Fatalf("NextRetry %s, want now + %s", h.NextRetry, wait)
				}
				got = append(got, wait)
				c.Advance(wait)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("waits %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTrackerFailAndRecover(t *testing.T) {
	tr, c, logs := newTracker(TrackerOptions{})
	if h := tr.Health(); h != (Health{State: StateStarting, Since: t0}) {
		t.Fatalf("new: %+v", h)
	}

	tr.Fail(StateMissing, errGone)
	c.Advance(time.Second)
	tr.Fail(StateMissing, errGone)
	h := tr.Health()
	if h.State != StateMissing || !h.Since.Equal(t0) || h.Failures != 2 || h.LastError != "no device" ||
		!h.LastErrorAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("missing twice: %+v", h)
	}

	c.Advance(2 * time.Second)
	if was := tr.OK(); was != StateMissing {
		t.Errorf("OK() = %s, want missing", was)
	}
	h = tr.Health()
	if h.State != StateOK || !h.Since.Equal(c.Now()) || !h.NextRetry.IsZero() || h.Failures != 2 || h.LastError != "no device" {
		t.Fatalf("recovered: %+v", h)
	}
	if was := tr.OK(); was != StateOK {
		t.Errorf("OK() again = %s, want ok", was)
	}
	if h2 := tr.Health(); !h2.Since.Equal(h.Since) {
		t.Errorf("Since moved without a state change: %s", h2.Since)
	}

	// After a success the backoff starts from the bottom again.
	if wait := tr.Fail(StateFailing, errBroken); wait != time.Second {
		t.Errorf("first failure after a recovery waits %s, want 1s", wait)
	}
	tr.Fail(StateFailing, errAnother)
	tr.Fail(StateMissing, errGone)

	want := []string{
		`level=WARN msg="test device missing" err="no device" retry_in=1s`,
		`level=DEBUG msg="test device still missing" err="no device" retry_in=2s`,
		`level=WARN msg="test device failing" err="bus error" retry_in=1s`,
		`level=DEBUG msg="test device still failing" err="another bus error" retry_in=2s`,
		`level=WARN msg="test device missing" err="no device" retry_in=4s`,
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("logged:\n%s\nwant %d lines", logs, len(want))
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("log line %d = %q, want %q", i+1, lines[i], w)
		}
	}
}

func TestTrackerStop(t *testing.T) {
	tr, c, _ := newTracker(TrackerOptions{})
	tr.Fail(StateFailing, errBroken)
	c.Advance(time.Second)
	tr.Stop()
	h := tr.Health()
	if h.State != StateStopped || !h.Since.Equal(c.Now()) || !h.NextRetry.IsZero() || h.Failures != 1 {
		t.Fatalf("stopped: %+v", h)
	}
}

func TestTrackerWithoutOptions(t *testing.T) {
	before := time.Now()
	tr := NewTracker("device", TrackerOptions{}) // wall clock, log discarded
	if wait := tr.Fail(StateMissing, errGone); wait != DefaultBackoffMin {
		t.Errorf("first wait %s, want %s", wait, DefaultBackoffMin)
	}
	if h := tr.Health(); h.Since.Before(before) {
		t.Errorf("Since %s is before the start %s", h.Since, before)
	}
}

// TestHealthJSON: the field names that the local API documents.
func TestHealthJSON(t *testing.T) {
	tests := []struct {
		name string
		h    Health
		want string
	}{
		{"zero times and no error are left out", Health{State: StateOK}, `{"state":"ok","failures":0}`},
		{"all", Health{State: StateFailing, Since: t0, LastError: "bus error", LastErrorAt: t0, NextRetry: t0.Add(time.Second), Failures: 3},
			`{"state":"failing","since":"2026-03-01T12:00:00Z","lastError":"bus error","lastErrorAt":"2026-03-01T12:00:00Z","nextRetry":"2026-03-01T12:00:01Z","failures":3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.h)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("JSON %s, want %s", b, tt.want)
			}
		})
	}
}
