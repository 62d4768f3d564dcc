package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/store"
	"github.com/constellation-ev/constellation/tools/chargesim/sim"
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
	sc := func(server, action string, paced bool, n int) Scenario {
		return Scenario{Server: server, Version: ocppj.V16, Action: action, Paced: paced, N: n}
	}
	rep := Report{Version: ocppj.V16, Results: []Result{
		// Side by side: 900/1000, 950/1000, 700/800 → median 90 %. The
		// best of each (950 vs 1000) would say 95 %.
		{Scenario: sc(Appliance, "Heartbeat", false, 1000), PerSecond: 900},
		{Scenario: sc(BareWS, "Heartbeat", false, 1000), PerSecond: 1000},
		{Scenario: sc(Appliance, "Heartbeat", false, 1000), PerSecond: 950},
		{Scenario: sc(BareWS, "Heartbeat", false, 1000), PerSecond: 1000},
		{Scenario: sc(Appliance, "Heartbeat", false, 1000), PerSecond: 700},
		{Scenario: sc(BareWS, "Heartbeat", false, 1000), PerSecond: 800},
		// Latency: judged on the median p99 (900µs passes; the MeterValues
		// median 12ms misses although its best run, 8ms, is within 10ms).
		{Scenario: sc(Appliance, "Heartbeat", true, 5000), P99: 2 * time.Millisecond},
		{Scenario: sc(Appliance, "Heartbeat", true, 5000), P99: 800 * time.Microsecond},
		{Scenario: sc(Appliance, "Heartbeat", true, 5000), P99: 900 * time.Microsecond},
		{Scenario: sc(Appliance, "MeterValues", true, 5000), P99: 8 * time.Millisecond},
		{Scenario: sc(Appliance, "MeterValues", true, 5000), P99: 12 * time.Millisecond},
		{Scenario: sc(Appliance, "MeterValues", true, 5000), P99: 15 * time.Millisecond},
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

func TestVersionFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"-h"}, &out, &errOut); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	if !strings.Contains(errOut.String(), "-ocpp") || !strings.Contains(errOut.String(), "2.0.1") {
		t.Errorf("usage lacks -ocpp:\n%s", errOut.String())
	}
	err := run([]string{"-ocpp", "3.0"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "-ocpp") || !strings.Contains(err.Error(), `"3.0"`) {
		t.Errorf("-ocpp 3.0: %v", err)
	}
	if out.Len() > 0 {
		t.Errorf("a usage error ran something:\n%s", out.String())
	}
}

// TestVersionNamed checks that every row, the text and the Markdown name
// the version and the durable call, and file names the version unless 1.6.
func TestVersionNamed(t *testing.T) {
	for _, tc := range []struct {
		v                  ocppj.Version
		name, durable, row string
		stem               string
	}{
		{ocppj.V16, "1.6", "MeterValues", "appliance  1.6    MeterValues paced", "appliance-MeterValues-paced-10"},
		{ocppj.V201, "2.0.1", "TransactionEvent", "appliance  2.0.1  TransactionEvent paced", "appliance-2.0.1-TransactionEvent-paced-10"},
		{ocppj.V21, "2.1", "TransactionEvent", "appliance  2.1    TransactionEvent paced", "appliance-2.1-TransactionEvent-paced-10"},
	} {
		sc := scenarios(10, Options{Version: tc.v, Servers: ServerKinds})
		if len(sc) != 7 || sc[6].Action != tc.durable || sc[6].Server != Appliance || !sc[6].Paced || sc[6].Version != tc.v {
			t.Fatalf("%s scenarios: %+v", tc.name, sc)
		}
		if got := sc[6].fileStem(); got != tc.stem {
			t.Errorf("fileStem = %q, want %q", got, tc.stem)
		}
		rep := Report{Version: tc.v, Results: []Result{{Scenario: sc[6], Connected: 10}}}
		var text, md bytes.Buffer
		printResult(&text, rep.Results[0])
		printTargets(&text, rep)
		writeMarkdown(&md, rep, Options{})
		for _, want := range []string{tc.row, "targets (informational, OCPP " + tc.name + ")", "durable " + tc.durable + " p99"} {
			if !strings.Contains(text.String(), want) {
				t.Errorf("text lacks %q:\n%s", want, text.String())
			}
		}
		for _, want := range []string{"OCPP " + tc.name + ": Heartbeat, and as the durable call " + tc.durable,
			"| appliance | " + tc.name + " | " + tc.durable + " paced | 10 | 10 |"} {
			if !strings.Contains(md.String(), want) {
				t.Errorf("markdown lacks %q:\n%s", want, md.String())
			}
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
	for _, s := range []string{"OCPP 1.6: Heartbeat", "appliance  1.6    Heartbeat saturated", "bare-rpc   1.6    Heartbeat paced",
		"bare-ws    1.6    Heartbeat saturated", "appliance  1.6    MeterValues paced", "storage floor", "targets (informational, OCPP 1.6)",
		"idle connected OCPP 1.6 chargers", "RSS/charger"} {
		if !strings.Contains(text, s) {
			t.Errorf("output lacks %q:\n%s", s, text)
		}
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "| appliance | 1.6 | MeterValues paced | 10 | 10 |") {
		t.Errorf("markdown:\n%s", b)
	}
}

// TestRunResults checks the parsed results of a small run of each version
// against every server: each negotiates the version (the load generator
// offers only that one) and answers every call.
func TestRunResults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	for _, v := range []ocppj.Version{ocppj.V16, ocppj.V201, ocppj.V21} {
		t.Run(versionName(v), func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			rep, err := Run(t.Context(), Options{
				Version: v, Counts: []int{10}, Duration: 300 * time.Millisecond,
				MemCounts: []int{10}, ServerLog: &logs,
			})
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, logs.String())
			}
			// appliance: HB sat, HB paced, durable paced; bare-rpc and bare-ws: HB sat, HB paced
			if len(rep.Results) != 7 || rep.Version != v {
				t.Fatalf("%s: %d results: %+v", rep.Version, len(rep.Results), rep.Results)
			}
			durable := 0
			for _, r := range rep.Results {
				if r.Version != v || r.Connected != 10 || r.OK == 0 || r.Failed != 0 || r.PerSecond <= 0 || r.P50 > r.P99 || r.P99 > r.Max {
					t.Errorf("%s %s: %+v", r.Server, r.Name(), r)
				}
				if r.Durable() {
					durable++
					if r.Server != Appliance || r.Action != durableAction(v) {
						t.Errorf("durable scenario %+v", r.Scenario)
					}
					if r.DiskBytes <= 0 {
						t.Errorf("appliance %s wrote %d bytes to disk", r.Action, r.DiskBytes)
					}
				}
			}
			if durable != 1 {
				t.Errorf("%d durable scenarios", durable)
			}
			if len(rep.Memory) != 3 {
				t.Fatalf("memory: %+v", rep.Memory)
			}
			for _, m := range rep.Memory {
				if m.Connected != 10 || m.RSS0 == 0 || m.RSSN == 0 || m.GoroutineN <= m.Goroutines0 {
					t.Errorf("memory %+v", m)
				}
			}
		})
	}
}

// TestApplianceStoresReadings runs each version's durable scenario against
// the appliance and reads its database afterwards: every acknowledged call's
// reading is in its transaction.
func TestApplianceStoresReadings(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	const stations, calls = 3, 4
	for _, v := range []ocppj.Version{ocppj.V16, ocppj.V201, ocppj.V21} {
		t.Run(versionName(v), func(t *testing.T) {
			ctx := t.Context()
			var logs bytes.Buffer
			srv, err := startServer(ctx, Appliance, &logs)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.close()
			cfg := loadConfig(srv, Scenario{Server: Appliance, Version: v, Action: durableAction(v), N: stations}, "store-", time.Minute)
			cfg.CallsPerStation = calls
			res, err := sim.Load(ctx, cfg)
			srv.stop() // logs complete, database closed
			if err != nil || res.Connected != stations || res.OK != stations*calls || res.Failed != 0 {
				t.Fatalf("load: %v, %s\n%s", err, res, logs.String())
			}

			db, err := store.Open(srv.dbPath(), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			svc, err := charging.NewService(ctx, db, charging.Config{})
			if err != nil {
				t.Fatal(err)
			}
			txs, err := svc.Transactions(ctx, charging.TransactionFilter{})
			if err != nil || len(txs) != stations {
				t.Fatalf("transactions: %v, %+v", err, txs)
			}
			for _, tx := range txs {
				_, readings, err := svc.Transaction(ctx, tx.ID)
				if err != nil {
					t.Fatal(err)
				}
				periodic := 0
				for _, r := range readings {
					if r.Context == "Sample.Periodic" {
						periodic++
					}
				}
				if tx.Protocol != string(v) || periodic != calls {
					t.Errorf("transaction %d of %s (%s): %d periodic readings, want %d: %+v", tx.ID, tx.ChargerID, tx.Protocol, periodic, calls, readings)
				}
			}
		})
	}
}
