// Command ocppbench is the CSMS load benchmark that `make bench` runs. It
// measures the appliance (app.Run: bbolt, charging domain, CSMS) against
// two bare websocket servers that answer every CALL with an empty
// CALLRESULT, at several numbers of concurrent chargers, saturated and at
// one call per charger per second: calls/s, round-trip p50/p99/max, server
// CPU, disk bytes per durable call, and memory per idle connected charger.
//
// The chargers speak one OCPP version (-ocpp, default 1.6), which every
// server negotiates. The scenarios are Heartbeat and the version's durable
// call: MeterValues in a transaction in 1.6, TransactionEvent Updated with
// a meter value in 2.0.1 and 2.1.
//
// Each server runs in a child process (this binary re-executed) so that
// /proc gives its memory, CPU time and disk writes alone; the load
// generator (tools/chargesim/sim.Load) runs in this process. See
// docs/benchmarks.md for the method and the numbers of one run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/constellation-ev/constellation/tools/chargesim/sim"
)

func main() {
	if kind := os.Getenv(childEnv); kind != "" {
		os.Exit(childMain(kind))
	}
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ocppbench:", err)
		}
		os.Exit(1)
	}
}

// run parses args, runs the benchmark and prints the summary.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ocppbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		version  = fs.String("ocpp", "1.6", "OCPP version of every charger, negotiated by every server: 1.6, 2.0.1 or 2.1 (the durable call is MeterValues in 1.6, TransactionEvent Updated in 2.x)")
		counts   = fs.String("n", "1,100,1000,5000", "comma-separated numbers of concurrent chargers")
		servers  = fs.String("servers", strings.Join(ServerKinds, ","), "comma-separated servers to measure: appliance, bare-rpc, bare-ws")
		duration = fs.Duration("duration", 6*time.Second, "measured window per scenario")
		warmup   = fs.Duration("warmup", 1500*time.Millisecond, "warm-up per scenario (same load, not counted)")
		memN     = fs.String("mem-n", "", "comma-separated idle charger counts for the memory measurement (default: the -n values ≥ 100; \"none\" skips)")
		mvSat    = fs.Bool("mv-saturated", true, "also run the durable call (MeterValues; 2.x: TransactionEvent) saturated against the appliance")
		quick    = fs.Bool("quick", false, "smoke run: -n 1,10 -duration 1s -warmup 200ms -mem-n 10 -repeat 1 unless set")
		markdown = fs.String("markdown", "", "also write the results as Markdown tables to this file")
		repeat   = fs.Int("repeat", 3, "runs per scenario; the summary keeps the best (quick: 1)")
		noFsync  = fs.Bool("no-fsync-probe", false, "skip measuring the storage floor (pwrite+fdatasync)")
		profDir  = fs.String("cpuprofile", "", "directory for one server CPU profile per scenario")
		traceDir = fs.String("trace", "", "directory for one server runtime trace per scenario (go tool trace)")
		logFile  = fs.String("server-log", "", "file for the servers' logs (default stderr)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		if !set["n"] {
			*counts = "1,10"
		}
		if !set["duration"] {
			*duration = time.Second
		}
		if !set["warmup"] {
			*warmup = 200 * time.Millisecond
		}
		if !set["mem-n"] {
			*memN = "10"
		}
		if !set["repeat"] {
			*repeat = 1
		}
	}
	opts := Options{Duration: *duration, Warmup: *warmup, MeterValuesSaturated: *mvSat,
		Repeat: *repeat, FsyncProbe: !*noFsync,
		ProfileDir: *profDir, TraceDir: *traceDir, Out: stdout, ServerLog: stderr}
	var err error
	if opts.Version, err = sim.ParseVersion(*version); err != nil {
		return fmt.Errorf("-ocpp: %w", err)
	}
	if opts.Counts, err = parseCounts(*counts); err != nil {
		return fmt.Errorf("-n: %w", err)
	}
	switch *memN {
	case "":
	case "none":
		opts.MemCounts = []int{}
	default:
		if opts.MemCounts, err = parseCounts(*memN); err != nil {
			return fmt.Errorf("-mem-n: %w", err)
		}
	}
	for s := range strings.SplitSeq(*servers, ",") {
		s = strings.TrimSpace(s)
		if s != Appliance && s != BareRPC && s != BareWS {
			return fmt.Errorf("-servers: unknown server %q", s)
		}
		opts.Servers = append(opts.Servers, s)
	}
	if *profDir != "" {
		if err := os.MkdirAll(*profDir, 0o755); err != nil {
			return err
		}
	}
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			return err
		}
		defer f.Close()
		opts.ServerLog = f
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	start := time.Now()
	rep, err := Run(ctx, opts)
	if len(rep.Results) > 0 || len(rep.Memory) > 0 {
		printTargets(stdout, rep)
		fmt.Fprintf(stdout, "\ntotal time %s\n", time.Since(start).Round(time.Second))
		if *markdown != "" {
			f, ferr := os.Create(*markdown)
			if ferr != nil {
				return errors.Join(err, ferr)
			}
			writeMarkdown(f, rep, opts)
			if cerr := f.Close(); cerr != nil {
				return errors.Join(err, cerr)
			}
		}
	}
	return err
}

func parseCounts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(f, "_", "")))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}
