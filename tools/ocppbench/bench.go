package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/tools/chargesim/sim"
)

// Options configure a benchmark run.
type Options struct {
	// Version is the OCPP version every charger offers, and so every server
	// negotiates (default 1.6).
	Version ocppj.Version
	// Counts are the numbers of concurrent chargers.
	Counts []int
	// Servers are the server kinds to measure (default all).
	Servers []string
	// Duration is each scenario's measured window; Warmup runs before it
	// with the same load and is not counted.
	Duration, Warmup time.Duration
	// MemCounts are the charger counts for the memory measurement
	// (default the counts of at least 100).
	MemCounts []int
	// MeterValuesSaturated adds saturated scenarios of the durable call
	// (see durableAction).
	MeterValuesSaturated bool
	// Repeat runs each scenario this many times; the summary keeps the
	// best (highest calls/s saturated, lowest p99 paced).
	Repeat int
	// FsyncProbe measures the storage floor (pwrite+fdatasync) first.
	FsyncProbe bool
	// ProfileDir, if set, receives one CPU profile of the server per
	// scenario run.
	ProfileDir string
	// TraceDir, if set, receives one runtime execution trace of the server
	// per scenario run (for `go tool trace`).
	TraceDir string
	// Out receives the progress table; ServerLog the children's logs.
	Out, ServerLog io.Writer
}

// Scenario is one measured load.
type Scenario struct {
	Server  string
	Version ocppj.Version
	Action  string // Heartbeat, or the version's durable call (see durableAction)
	Paced   bool   // each charger one call a second; otherwise saturated
	N       int
}

// Durable reports whether the scenario's call is stored before it is
// answered.
func (s Scenario) Durable() bool { return s.Action != "Heartbeat" }

// Name is the scenario without the server, e.g. "Heartbeat saturated".
func (s Scenario) Name() string {
	if s.Paced {
		return s.Action + " paced"
	}
	return s.Action + " saturated"
}

// fileStem names the scenario in file names, e.g.
// "appliance-Heartbeat-saturated-1000" or, for another version than 1.6,
// "appliance-2.0.1-Heartbeat-saturated-1000".
func (s Scenario) fileStem() string {
	server := s.Server
	if !is16(s.Version) {
		server += "-" + versionName(s.Version)
	}
	return fmt.Sprintf("%s-%s-%d", server, strings.ReplaceAll(s.Name(), " ", "-"), s.N)
}

// durableAction is the call that carries a transaction's meter values, each
// stored before it is answered: MeterValues in 1.6; TransactionEvent
// (eventType Updated) in 2.x, where a charger reports a transaction's
// readings in its events and MeterValues is for readings outside one.
func durableAction(v ocppj.Version) string {
	if is16(v) {
		return "MeterValues"
	}
	return "TransactionEvent"
}

// is16 reports whether v is OCPP 1.6; the zero Version is the default, 1.6.
func is16(v ocppj.Version) bool { return v == ocppj.V16 || v == "" }

// versionName is the version as people write it ("2.0.1").
func versionName(v ocppj.Version) string {
	return strings.TrimPrefix(string(cmp.Or(v, ocppj.V16)), "ocpp")
}

// describeVersion says what a run of version v measures.
func describeVersion(v ocppj.Version) string {
	durable := durableAction(v)
	if !is16(v) {
		durable += " (eventType Updated)"
	}
	return fmt.Sprintf("OCPP %s: Heartbeat, and as the durable call %s with one Energy.Active.Import.Register sample of a transaction started before the window",
		versionName(v), durable)
}

// Result is a scenario's outcome.
type Result struct {
	Scenario
	Connected             int
	Calls, OK, Failed     int64
	PerSecond             float64
	P50, P99, Max         time.Duration
	Elapsed               time.Duration
	ServerCPU             time.Duration // user+system of the server process over the measured run
	ClientCPU             time.Duration // of this process (the load generator)
	IRQCPU                time.Duration // interrupts and softirqs (loopback networking)
	OtherCPU              time.Duration // of everything else on the machine, steal included
	DiskBytes             int64         // write_bytes of the server in the whole run (setup included)
	DiskPerCall           float64       // durable calls only: bytes per acknowledged call, setup subtracted
	DBGrowth              int64         // growth of the database file over the run
	Err                   string
	Repeat                int
	setupBytes, setupCall int64
}

// MemResult is the memory of one server with N idle connected chargers.
type MemResult struct {
	Server                  string
	N, Connected            int
	RSS0, RSSN              uint64
	Heap0, HeapN            uint64 // HeapInuse + StackInuse
	Goroutines0, GoroutineN int
}

// PerChargerRSS is (RSS_N - RSS_0) / N in bytes.
func (m MemResult) PerChargerRSS() float64 {
	return (float64(m.RSSN) - float64(m.RSS0)) / float64(max(m.Connected, 1))
}

// PerChargerHeap is the Go heap + stacks growth per charger in bytes.
func (m MemResult) PerChargerHeap() float64 {
	return (float64(m.HeapN) - float64(m.Heap0)) / float64(max(m.Connected, 1))
}

// Report is a whole run.
type Report struct {
	Version ocppj.Version // of every scenario and memory measurement
	Results []Result      // every run, repeats included
	Memory  []MemResult
	Fsync   FsyncResult
}

// Best returns one result per scenario: of its repeats, the one with the
// highest calls/s (saturated) or the lowest p99 (paced), in run order.
func (rep Report) Best() []Result {
	var out []Result
	idx := map[Scenario]int{}
	for _, r := range rep.Results {
		i, ok := idx[r.Scenario]
		if !ok {
			idx[r.Scenario] = len(out)
			out = append(out, r)
			continue
		}
		b := out[i]
		if (r.Paced && r.P99 < b.P99) || (!r.Paced && r.PerSecond > b.PerSecond) {
			out[i] = r
		}
	}
	return out
}

// scenarios lists the scenarios of one charger count, in run order.
func scenarios(n int, opts Options) []Scenario {
	var out []Scenario
	durable := durableAction(opts.Version)
	for _, sc := range []Scenario{
		{Action: "Heartbeat", N: n}, {Action: "Heartbeat", Paced: true, N: n},
		{Action: durable, Paced: true, N: n}, {Action: durable, N: n},
	} {
		if sc.Durable() && !sc.Paced && !opts.MeterValuesSaturated {
			continue
		}
		sc.Version = opts.Version
		for _, kind := range opts.Servers {
			// The durable call is about storage: the appliance only.
			if sc.Durable() && kind != Appliance {
				continue
			}
			sc.Server = kind
			out = append(out, sc)
		}
	}
	return out
}

// Run runs every scenario and memory measurement and prints as it goes.
// All servers run at once (idle ones cost nothing) and each scenario runs
// against them in turn, Repeat times, so that load from elsewhere on the
// machine hits them alike.
func Run(ctx context.Context, opts Options) (Report, error) {
	var rep Report
	v, err := sim.ParseVersion(string(cmp.Or(opts.Version, ocppj.V16)))
	if err != nil {
		return rep, err
	}
	opts.Version, rep.Version = v, v
	if len(opts.Servers) == 0 {
		opts.Servers = ServerKinds
	}
	opts.Repeat = max(opts.Repeat, 1)
	if opts.MemCounts == nil {
		for _, n := range opts.Counts {
			if n >= 100 {
				opts.MemCounts = append(opts.MemCounts, n)
			}
		}
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if _, ok := opts.ServerLog.(*os.File); !ok && opts.ServerLog != nil {
		// exec copies a non-file writer from a goroutine per child, and
		// several children run at once.
		opts.ServerLog = &lockedWriter{w: opts.ServerLog}
	}
	fmt.Fprintf(opts.Out, "%s\n\n", describeVersion(opts.Version))
	if opts.FsyncProbe {
		fs, err := probeFsync(200)
		if err != nil {
			return rep, fmt.Errorf("fsync probe: %w", err)
		}
		rep.Fsync = fs
		fmt.Fprintf(opts.Out, "storage floor: 4 KiB pwrite+fdatasync in %s, %d times: p50 %s p99 %s max %s\n\n",
			fs.Dir, fs.Count, fmtDur(fs.P50), fmtDur(fs.P99), fmtDur(fs.Max))
	}
	servers := map[string]*server{}
	defer func() {
		for _, s := range servers {
			s.close()
		}
	}()
	for _, kind := range opts.Servers {
		s, err := startServer(ctx, kind, opts.ServerLog)
		if err != nil {
			return rep, err
		}
		servers[kind] = s
	}
	printHeader(opts.Out)
	for _, n := range opts.Counts {
		scs := scenarios(n, opts)
		for i := 0; i < len(scs); {
			// One group: the same scenario against every server.
			j := i + 1
			for j < len(scs) && scs[j].Action == scs[i].Action && scs[j].Paced == scs[i].Paced {
				j++
			}
			for k := range opts.Repeat {
				for _, sc := range scs[i:j] {
					r, err := runScenario(ctx, servers[sc.Server], sc, fmt.Sprintf("n%d-", n), opts)
					r.Repeat = k
					if err != nil {
						return rep, err
					}
					rep.Results = append(rep.Results, r)
					printResult(opts.Out, r)
				}
			}
			i = j
		}
	}
	for _, s := range servers {
		s.close()
	}
	clear(servers)
	if len(opts.MemCounts) > 0 {
		fmt.Fprintf(opts.Out, "\nmemory with N idle connected OCPP %s chargers (each booted, then 16 Heartbeats), after GC and FreeOSMemory:\n",
			versionName(opts.Version))
		printMemHeader(opts.Out)
	}
	for _, n := range opts.MemCounts {
		for _, kind := range opts.Servers {
			m, err := measureMemory(ctx, kind, n, opts.Version, opts.ServerLog)
			if err != nil {
				return rep, err
			}
			rep.Memory = append(rep.Memory, m)
			printMem(opts.Out, m)
		}
	}
	return rep, nil
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// loadConfig is the sim.Load configuration of a scenario.
func loadConfig(srv *server, sc Scenario, prefix string, d time.Duration) sim.LoadConfig {
	cfg := sim.LoadConfig{
		URL: srv.url, Stations: sc.N, IDPrefix: prefix, Version: sc.Version, Action: sc.Action,
		Duration: d, CallTimeout: 30 * time.Second,
	}
	if sc.Paced {
		cfg.Rate = float64(sc.N)
	}
	if sc.N > 1000 {
		// Stay under the listen backlog (somaxconn, often 4096).
		cfg.Ramp = 20 * time.Microsecond
	}
	return cfg
}

func runScenario(ctx context.Context, srv *server, sc Scenario, prefix string, opts Options) (Result, error) {
	r := Result{Scenario: sc}
	if opts.Warmup > 0 {
		if _, err := sim.Load(ctx, loadConfig(srv, sc, prefix, opts.Warmup)); err != nil {
			return r, fmt.Errorf("%s %s N=%d warm-up: %w", sc.Server, sc.Name(), sc.N, err)
		}
	}
	if sc.Durable() {
		// The same connections, boots and transaction starts and stops
		// with (next to) no durable calls: subtracted from the measured
		// run to leave the durable calls' own writes.
		io0, _ := readIO(srv.pid())
		base := sc
		base.Paced = true
		baseRes, err := sim.Load(ctx, loadConfig(srv, base, prefix, time.Nanosecond))
		if err != nil {
			return r, err
		}
		io1, _ := readIO(srv.pid())
		r.setupBytes, r.setupCall = io1.WriteBytes-io0.WriteBytes, baseRes.OK
	}
	for _, c := range []struct{ kind, dir, ext string }{
		{"prof", opts.ProfileDir, "pprof"}, {"trace", opts.TraceDir, "trace"},
	} {
		if c.dir == "" {
			continue
		}
		name := fmt.Sprintf("%s-%d.%s", sc.fileStem(), time.Now().UnixMilli(), c.ext)
		stop, err := srv.startCapture(c.kind, filepath.Join(c.dir, name))
		if err != nil {
			return r, err
		}
		defer func() { _ = stop() }()
	}
	io0, err := readIO(srv.pid())
	if err != nil {
		return r, err
	}
	cpu0, _ := readCPU(srv.pid())
	m0, _ := readMachineCPU()
	db0 := srv.dbSize()
	res, err := sim.Load(ctx, loadConfig(srv, sc, prefix, opts.Duration))
	if err != nil {
		return r, fmt.Errorf("%s %s N=%d: %w", sc.Server, sc.Name(), sc.N, err)
	}
	cpu1, _ := readCPU(srv.pid())
	m1, _ := readMachineCPU()
	io1, _ := readIO(srv.pid())
	r.Connected, r.Calls, r.OK, r.Failed = res.Connected, res.Calls, res.OK, res.Failed
	r.PerSecond, r.P50, r.P99, r.Max, r.Elapsed = res.PerSecond, res.P50, res.P99, res.Max, res.Elapsed
	// The CPU time covers connect and setup too; they are short next to
	// the window for all but the largest counts.
	r.ServerCPU = cpu1 - cpu0
	r.ClientCPU = m1.self - m0.self
	r.IRQCPU = m1.irq - m0.irq
	r.OtherCPU = max(0, (m1.busy-m0.busy)-r.ServerCPU-r.ClientCPU-r.IRQCPU)
	r.DiskBytes = io1.WriteBytes - io0.WriteBytes
	r.DBGrowth = srv.dbSize() - db0
	if sc.Durable() && r.OK > r.setupCall {
		r.DiskPerCall = float64(r.DiskBytes-r.setupBytes) / float64(r.OK-r.setupCall)
	}
	if r.Connected < sc.N {
		r.Err = fmt.Sprintf("%d of %d connected", r.Connected, sc.N)
	}
	return r, nil
}

// measureMemory starts a fresh server, reads its memory, connects n idle
// chargers of version v (each boots and sends 16 Heartbeats, so the dedup
// cache is full like a long-connected charger's), reads it again and stops
// the server.
func measureMemory(ctx context.Context, kind string, n int, v ocppj.Version, stderr io.Writer) (MemResult, error) {
	m := MemResult{Server: kind, N: n}
	srv, err := startServer(ctx, kind, stderr)
	if err != nil {
		return m, err
	}
	defer srv.close()
	// Let start-up settle (appliance: store open, first commits).
	time.Sleep(500 * time.Millisecond)
	ms, rss, err := srv.mem()
	if err != nil {
		return m, err
	}
	m.RSS0, m.Heap0, m.Goroutines0 = rss, ms.HeapInuse+ms.StackInuse, ms.Goroutines

	conns, err := connectIdle(ctx, srv.url, n, v)
	defer func() {
		for _, c := range conns {
			c.Close(1000, "bye")
		}
	}()
	m.Connected = len(conns)
	if err != nil {
		return m, err
	}
	time.Sleep(time.Second)
	ms, rss, err = srv.mem()
	if err != nil {
		return m, err
	}
	m.RSSN, m.HeapN, m.GoroutineN = rss, ms.HeapInuse+ms.StackInuse, ms.Goroutines
	return m, nil
}

// The BootNotification of an idle charger: 1.6, and 2.0.1 and 2.1 alike.
var (
	boot16Payload = json.RawMessage(`{"chargePointVendor":"Constellation","chargePointModel":"ocppbench"}`)
	boot2Payload  = json.RawMessage(`{"reason":"PowerUp","chargingStation":{"vendorName":"Constellation","model":"ocppbench"}}`)
)

// connectIdle connects n chargers of version v (at most 100 handshakes at a
// time), boots each and has it send 16 Heartbeats.
func connectIdle(ctx context.Context, url string, n int, v ocppj.Version) ([]*rpc.Conn, error) {
	boot := boot2Payload
	if is16(v) {
		boot = boot16Payload
	}
	var (
		mu    sync.Mutex
		conns = make([]*rpc.Conn, 0, n)
		errs  []error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, 100)
	)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			id := sim.StationID("idle-", i+1)
			c, err := rpc.Dial(ctx, sim.StationURL(url, id), rpc.DialOptions{Versions: []ocppj.Version{v}, ID: id})
			if err == nil {
				_, err = c.Call(ctx, "BootNotification", boot)
				for j := 0; err == nil && j < 16; j++ {
					_, err = c.Call(ctx, "Heartbeat", json.RawMessage("{}"))
				}
				if err != nil {
					c.Close(1000, "bye")
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", id, err))
				return
			}
			conns = append(conns, c)
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return conns, fmt.Errorf("%d of %d idle chargers failed, first: %w", len(errs), n, errs[0])
	}
	return conns, nil
}

// pairedRatios compares sc's server with floor run by run: the i-th run of
// each went one right after the other, so the machine's state was about the
// same. Comparing the best of each instead would pair runs from different
// moments of a shared machine whose speed drifts by ±15 % between them.
func (rep Report) pairedRatios(sc Scenario, floor string) []float64 {
	fsc := sc
	fsc.Server = floor
	mine, theirs := rep.runs(sc), rep.runs(fsc)
	var out []float64
	for i := range min(len(mine), len(theirs)) {
		if theirs[i].PerSecond > 0 {
			out = append(out, mine[i].PerSecond/theirs[i].PerSecond)
		}
	}
	return out
}

// runs returns every run of sc, in run order.
func (rep Report) runs(sc Scenario) []Result {
	var out []Result
	for _, r := range rep.Results {
		if r.Scenario == sc {
			out = append(out, r)
		}
	}
	return out
}

// median of a non-empty list (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// Target is one of the targets and how the run did.
type Target struct {
	Name, Want, Got string
	Status          string // PASS, MISS or n/a
}

// Targets evaluates the targets (informational).
func (rep Report) Targets() []Target {
	var out []Target
	status := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "MISS"
	}
	na := func(name, want string) Target { return Target{name, want, "not measured", "n/a"} }
	v := rep.Version

	for _, floor := range []string{BareWS, BareRPC} {
		name := "saturated Heartbeat calls/s, 1,000 chargers, appliance vs " + floor
		want := "≥ 90% of " + floor
		ratios := rep.pairedRatios(Scenario{Server: Appliance, Version: v, Action: "Heartbeat", N: 1000}, floor)
		if len(ratios) == 0 {
			out = append(out, na(name, want))
			continue
		}
		med := median(ratios)
		each := make([]string, len(ratios))
		for i, r := range ratios {
			each[i] = fmt.Sprintf("%.0f%%", 100*r)
		}
		out = append(out, Target{name, want,
			fmt.Sprintf("%.0f%% (median of runs side by side: %s)", 100*med, strings.Join(each, ", ")), status(med >= 0.9)})
	}
	for _, lt := range []struct {
		name, action string
		limit        time.Duration
	}{
		{"Heartbeat p99, 5,000 chargers paced", "Heartbeat", time.Millisecond},
		{"durable " + durableAction(v) + " p99, 5,000 chargers paced", durableAction(v), 10 * time.Millisecond},
	} {
		want := "≤ " + fmtDur(lt.limit)
		runs := rep.runs(Scenario{Server: Appliance, Version: v, Action: lt.action, Paced: true, N: 5000})
		if len(runs) == 0 {
			out = append(out, na(lt.name, want))
			continue
		}
		p99s, each, failed := make([]float64, len(runs)), make([]string, len(runs)), int64(0)
		for i, r := range runs {
			p99s[i], each[i] = float64(r.P99), fmtDur(r.P99)
			failed += r.Failed
		}
		med := time.Duration(median(p99s))
		got := fmtDur(med)
		if len(runs) > 1 {
			got = fmt.Sprintf("%s (median of runs: %s)", got, strings.Join(each, ", "))
		}
		out = append(out, Target{lt.name, want, got, status(med <= lt.limit && failed == 0)})
	}
	// Memory: the largest measured count of the appliance.
	var best MemResult
	for _, m := range rep.Memory {
		if m.Server == Appliance && m.N > best.N {
			best = m
		}
	}
	if best.N > 0 {
		pc := best.PerChargerRSS()
		out = append(out, Target{fmt.Sprintf("appliance memory per connected charger (RSS, %d chargers)", best.N), "≤ 20 KB (20,000 B)",
			fmt.Sprintf("%.1f KB", pc/1000), status(pc <= 20000)})
	} else {
		out = append(out, na("appliance memory per connected charger", "≤ 20 KB"))
	}
	return out
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
