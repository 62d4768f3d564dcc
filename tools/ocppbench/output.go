package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

const rowFormat = "%-9s  %-5s  %-26s %5s %6s %8s %7s %9s %8s %8s %8s %19s %11s %s\n"

func printHeader(w io.Writer) {
	fmt.Fprintf(w, rowFormat, "server", "OCPP", "scenario", "N", "conn", "calls", "failed", "calls/s", "p50", "p99", "max", "CPU srv/cli/irq/oth", "disk B/call", "")
}

func printResult(w io.Writer, r Result) {
	fmt.Fprintf(w, rowFormat, r.Server, versionName(r.Version), r.Name(), fmt.Sprint(r.N), fmt.Sprint(r.Connected), fmt.Sprint(r.Calls),
		fmt.Sprint(r.Failed), fmt.Sprintf("%.0f", r.PerSecond), fmtDur(r.P50), fmtDur(r.P99), fmtDur(r.Max),
		cpuShare(r), diskPerCall(r), r.Err)
}

// diskPerCall is the disk column: bytes per durable call, or "-".
func diskPerCall(r Result) string {
	if r.Durable() && r.DiskPerCall > 0 {
		return fmt.Sprintf("%.0f", r.DiskPerCall)
	}
	return "-"
}

// cpuShare is the CPU use of the server, the load generator, interrupts
// (loopback networking) and the rest of the machine over the measured
// run, in percent of one core (the machine has 200). The run
// includes connecting and setting up the chargers, so the shares are
// approximate for the largest counts.
func cpuShare(r Result) string {
	if r.Elapsed <= 0 {
		return "-"
	}
	pc := func(d time.Duration) int { return int(100*float64(d)/float64(r.Elapsed) + 0.5) }
	return fmt.Sprintf("%d/%d/%d/%d", pc(r.ServerCPU), pc(r.ClientCPU), pc(r.IRQCPU), pc(r.OtherCPU))
}

const memFormat = "%-9s %5s %6s %9s %9s %12s %10s %10s %12s %9s\n"

func printMemHeader(w io.Writer) {
	fmt.Fprintf(w, memFormat, "server", "N", "conn", "RSS 0", "RSS N", "RSS/charger", "heap 0", "heap N", "heap/charger", "gor/chg")
}

func printMem(w io.Writer, m MemResult) {
	fmt.Fprintf(w, memFormat, m.Server, fmt.Sprint(m.N), fmt.Sprint(m.Connected), mib(m.RSS0), mib(m.RSSN),
		fmt.Sprintf("%.1f KB", m.PerChargerRSS()/1000), mib(m.Heap0), mib(m.HeapN),
		fmt.Sprintf("%.1f KB", m.PerChargerHeap()/1000),
		fmt.Sprintf("%.2f", float64(m.GoroutineN-m.Goroutines0)/float64(max(m.Connected, 1))))
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func printTargets(w io.Writer, rep Report) {
	if len(rep.Results) > len(rep.Best()) {
		fmt.Fprintln(w, "\nbest run of each scenario (highest calls/s saturated, lowest p99 paced):")
		printHeader(w)
		for _, r := range rep.Best() {
			printResult(w, r)
		}
	}
	fmt.Fprintf(w, "\ntargets (informational, OCPP %s):\n", versionName(rep.Version))
	for _, t := range rep.Targets() {
		fmt.Fprintf(w, "  %-4s  %-62s want %-22s got %s\n", t.Status, t.Name, t.Want, t.Got)
	}
}

// writeMarkdown writes the results, memory and targets as Markdown tables.
func writeMarkdown(w io.Writer, rep Report, opts Options) {
	fmt.Fprintf(w, "%s.\n\n", describeVersion(rep.Version))
	fmt.Fprintf(w, "Measured window %s per scenario after a %s warm-up; best of %d runs per scenario.\n\n", opts.Duration, opts.Warmup, opts.Repeat)
	if rep.Fsync.Count > 0 {
		fs := rep.Fsync
		fmt.Fprintf(w, "Storage floor: 4 KiB pwrite + fdatasync in %s, %d times: p50 %s, p99 %s, max %s.\n\n", fs.Dir, fs.Count, fmtDur(fs.P50), fmtDur(fs.P99), fmtDur(fs.Max))
	}
	writeRuns(w, rep.Best())
	if len(rep.Results) > len(rep.Best()) {
		fmt.Fprintln(w, "\nEvery run, in order (the table above keeps the best of each scenario):")
		fmt.Fprintln(w)
		writeRuns(w, rep.Results)
	}
	if len(rep.Memory) > 0 {
		fmt.Fprintln(w, "\n| server | idle chargers | RSS at 0 | RSS at N | RSS per charger | Go heap+stacks at 0 | at N | heap+stacks per charger | goroutines per charger |")
		fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
		for _, m := range rep.Memory {
			fmt.Fprintf(w, "| %s | %d | %s | %s | %.1f KB | %s | %s | %.1f KB | %.2f |\n",
				m.Server, m.Connected, mib(m.RSS0), mib(m.RSSN), m.PerChargerRSS()/1000,
				mib(m.Heap0), mib(m.HeapN), m.PerChargerHeap()/1000,
				float64(m.GoroutineN-m.Goroutines0)/float64(max(m.Connected, 1)))
		}
	}
	fmt.Fprintln(w, "\n| target | want | got | |")
	fmt.Fprintln(w, "| --- | --- | --- | --- |")
	for _, t := range rep.Targets() {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.Name, t.Want, strings.ReplaceAll(t.Got, "|", "/"), t.Status)
	}
}

func writeRuns(w io.Writer, rs []Result) {
	fmt.Fprintln(w, "| server | OCPP | scenario | chargers | connected | calls | failed | calls/s | p50 | p99 | max | CPU % server/client/irq/other | disk B/durable call |")
	fmt.Fprintln(w, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rs {
		name := r.Name()
		if r.Err != "" {
			name += " (" + r.Err + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %d | %d | %.0f | %s | %s | %s | %s | %s |\n",
			r.Server, versionName(r.Version), name, r.N, r.Connected, r.Calls, r.Failed, r.PerSecond,
			fmtDur(r.P50), fmtDur(r.P99), fmtDur(r.Max), cpuShare(r), diskPerCall(r))
	}
}
