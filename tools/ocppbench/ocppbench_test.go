package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the child server, as the real
// binary does: ocppbench re-executes itself.
func TestMain(m *testing.M) {
	if kind := os.Getenv(childEnv); kind != "" {
		os.Exit(childMain(kind))
	}
	os.Exit(m.Run())
}

func TestScanCall(t *testing.T) {
	for _, tc := range []struct {
		in, id, action string
		ok             bool
	}{
		{`[2,"abc","Heartbeat",{}]`, "abc", "Heartbeat", true},
		{`[ 2, "x1" , "MeterValues", {"connectorId":1}]`, "x1", "MeterValues", true},
		{`[3,"abc",{}]`, "", "", false},
		{`[2,"a\"b","Heartbeat",{}]`, "", "", false},
		{`[2,"abc"`, "", "", false},
	} {
		id, action, ok := scanCall([]byte(tc.in))
		if ok != tc.ok || string(id) != tc.id || string(action) != tc.action {
			t.Errorf("scanCall(%s) = %q, %q, %v", tc.in, id, action, ok)
		}
	}
}

func TestParseCounts(t *testing.T) {
	got, err := parseCounts("1, 100,1_000")
	if err != nil || len(got) != 3 || got[2] != 1000 {
		t.Fatalf("parseCounts = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "x", "1,,2"} {
		if _, err := parseCounts(bad); err == nil {
			t.Errorf("parseCounts(%q) accepted", bad)
		}
	}
}

func TestBestAndTargets(t *testing.T) {
	rep := Report{Results: []Result{
		// Side by side: 900/1000, 950/1000, 700/800 → median 90 %. The
		// best of each (950 vs 1000) would say 95 %.
		{Scenario: Scenario{Appliance, "Heartbeat", false, 1000}, PerSecond: 900},
		{Scenario: Scenario{BareWS, "Heartbeat", false, 1000}, PerSecond: 1000},
		{Scenario: Scenario{Appliance, "Heartbeat", false, 1000}, PerSecond: 950},
		{Scenario: Scenario{BareWS, "Heartbeat", false, 1000}, PerSecond: 1000},
		{Scenario: Scenario{Appliance, "Heartbeat", false, 1000}, PerSecond: 700},
		{Scenario: Scenario{BareWS, "Heartbeat", false, 1000}, PerSecond: 800},
		// Latency: judged on the median p99 (900µs passes; the MeterValues
		// median 12ms misses although its best run, 8ms, is within 10ms).
		{Scenario: Scenario{Appliance, "Heartbeat", true, 5000}, P99: 2 * time.Millisecond},
		{Scenario: Scenario{Appliance, "Heartbeat", true, 5000}, P99: 800 * time.Microsecond},
		{Scenario: Scenario{Appliance, "Heartbeat", true, 5000}, P99: 900 * time.Microsecond},
		{Scenario: Scenario{Appliance, "MeterValues", true, 5000}, P99: 8 * time.Millisecond},
		{Scenario: Scenario{Appliance, "MeterValues", true, 5000}, P99: 12 * time.Millisecond},
		{Scenario: Scenario{Appliance, "MeterValues", true, 5000}, P99: 15 * time.Millisecond},
	}, Memory: []MemResult{{Server: Appliance, N: 5000, Connected: 5000, RSS0: 10e6, RSSN: 10e6 + 5000*15000}}}
	if b := rep.Best(); len(b) != 4 || b[0].PerSecond != 950 || b[2].P99 != 800*time.Microsecond || b[3].P99 != 8*time.Millisecond {
		t.Fatalf("Best = %+v", b)
	}
	status := map[string]string{}
	for _, tg := range rep.Targets() {
		status[tg.Name] = tg.Status
		if strings.HasSuffix(tg.Name, "vs bare-ws") && !strings.HasPrefix(tg.Got, "90% (median of runs side by side: 90%, 95%, 88%)") {
			t.Errorf("paired ratio: %s", tg.Got)
		}
	}
	want := map[string]string{
		"saturated Heartbeat calls/s, 1,000 chargers, appliance vs bare-ws":  "PASS",
		"saturated Heartbeat calls/s, 1,000 chargers, appliance vs bare-rpc": "n/a",
		"Heartbeat p99, 5,000 chargers paced":                                "PASS",
		"durable MeterValues p99, 5,000 chargers paced":                      "MISS",
		"appliance memory per connected charger (RSS, 5000 chargers)":        "PASS",
	}
	for name, st := range want {
		if status[name] != st {
			t.Errorf("%s: %q, want %q (all: %v)", name, status[name], st, status)
		}
	}
}

// TestQuickRun runs the real thing small: every server as a child
// process, 1 and 10 chargers over loopback, and checks that calls were
// made and the results parsed. No timing assertions.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	md := filepath.Join(t.TempDir(), "bench.md")
	var out, logs bytes.Buffer
	err := run([]string{"-quick", "-duration", "300ms", "-warmup", "50ms", "-markdown", md}, &out, &logs)
	if err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), logs.String())
	}
	text := out.String()
	for _, s := range []string{"appliance  Heartbeat saturated", "bare-rpc   Heartbeat paced", "bare-ws    Heartbeat saturated",
		"appliance  MeterValues paced", "storage floor", "targets (informational)", "RSS/charger"} {
		if !strings.Contains(text, s) {
			t.Errorf("output lacks %q:\n%s", s, text)
		}
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "| appliance | MeterValues paced | 10 | 10 |") {
		t.Errorf("markdown:\n%s", b)
	}
}

// TestRunResults checks the parsed results of a small run directly.
func TestRunResults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	var logs bytes.Buffer
	rep, err := Run(t.Context(), Options{
		Counts: []int{10}, Servers: []string{Appliance, BareWS}, Duration: 300 * time.Millisecond,
		MemCounts: []int{10}, ServerLog: &logs,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, logs.String())
	}
	if len(rep.Results) != 5 { // appliance: HB sat, HB paced, MV paced; bare-ws: HB sat, HB paced
		t.Fatalf("%d results: %+v", len(rep.Results), rep.Results)
	}
	for _, r := range rep.Results {
		if r.Connected != 10 || r.OK == 0 || r.Failed != 0 || r.PerSecond <= 0 || r.P50 > r.P99 || r.P99 > r.Max {
			t.Errorf("%s %s: %+v", r.Server, r.Name(), r)
		}
		if r.Server == Appliance && r.Action == "MeterValues" && r.DiskBytes <= 0 {
			t.Errorf("appliance MeterValues wrote %d bytes to disk", r.DiskBytes)
		}
	}
	if len(rep.Memory) != 2 {
		t.Fatalf("memory: %+v", rep.Memory)
	}
	for _, m := range rep.Memory {
		if m.Connected != 10 || m.RSS0 == 0 || m.RSSN == 0 || m.GoroutineN <= m.Goroutines0 {
			t.Errorf("memory %+v", m)
		}
	}
}
