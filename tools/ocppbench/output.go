package main

import (
	"fmt"
	"io"
	"strings"
)

const rowFormat = "%-9s  %-21s %5s %6s %8s %7s %9s %8s %8s %8s %7s %11s %s\n"

func printHeader(w io.Writer) {
	fmt.Fprintf(w, rowFormat, "server", "scenario", "N", "conn", "calls", "failed", "calls/s", "p50", "p99", "max", "srv CPU", "disk B/call", "")
}

func printResult(w io.Writer, r Result) {
	disk := "-"
	if r.Action == "MeterValues" && r.DiskPerCall > 0 {
		disk = fmt.Sprintf("%.0f", r.DiskPerCall)
	}
	fmt.Fprintf(w, rowFormat, r.Server, r.Name(), fmt.Sprint(r.N), fmt.Sprint(r.Connected), fmt.Sprint(r.Calls),
		fmt.Sprint(r.Failed), fmt.Sprintf("%.0f", r.PerSecond), fmtDur(r.P50), fmtDur(r.P99), fmtDur(r.Max),
		cpuShare(r), disk, r.Err)
}

// cpuShare is the server's CPU use over the window as a percentage of one core.
func cpuShare(r Result) string {
	if r.Elapsed <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(r.ServerCPU)/float64(r.Elapsed))
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
	fmt.Fprintln(w, "\ntargets (informational):")
	for _, t := range rep.Targets() {
		fmt.Fprintf(w, "  %-4s  %-62s want %-22s got %s\n", t.Status, t.Name, t.Want, t.Got)
	}
}

// writeMarkdown writes the results, memory and targets as Markdown tables.
func writeMarkdown(w io.Writer, rep Report, opts Options) {
	fmt.Fprintf(w, "Measured window %s per scenario after a %s warm-up.\n\n", opts.Duration, opts.Warmup)
	fmt.Fprintln(w, "| server | scenario | chargers | connected | calls | failed | calls/s | p50 | p99 | max | server CPU | disk B/MeterValues |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rep.Results {
		disk := "-"
		if r.Action == "MeterValues" && r.DiskPerCall > 0 {
			disk = fmt.Sprintf("%.0f", r.DiskPerCall)
		}
		name := r.Name()
		if r.Err != "" {
			name += " (" + r.Err + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %.0f | %s | %s | %s | %s | %s |\n",
			r.Server, name, r.N, r.Connected, r.Calls, r.Failed, r.PerSecond,
			fmtDur(r.P50), fmtDur(r.P99), fmtDur(r.Max), cpuShare(r), disk)
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
