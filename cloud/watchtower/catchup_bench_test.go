package watchtower_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/cloudsync"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/syncproto"
)

// The catch-up benchmark's site: what a 20-charger workplace or depot site
// records in a week without internet, through the real charging service.
//
//   - 20 chargers, OCPP 1.6, one connector each (AC, three phases, 11 kW),
//     each booting once when the week begins (BootNotification and
//     Available).
//   - 3 sessions a day per charger, one each in the windows 06:00-11:00,
//     11:00-16:00 and 16:00-21:00, charging 1 to 2 hours (uniform, whole
//     minutes): 420 sessions.
//   - Per session: Preparing at plug-in; a minute later StartTransaction and
//     Charging; MeterValues every 60 s (MeterValueSampleInterval 60) with 9
//     sampled values each (energy register, active power, current and
//     voltage of each phase, SoC); StopTransaction with its transactionData
//     (the energy register at Transaction.Begin and Transaction.End) and
//     Finishing; Available two minutes later, at unplug.
//   - Heartbeats are not synced, so they are not recorded.
//
// The week queues about 39,700 records (37.5 MB) in the outbox. A 15 s
// interval would queue four times the readings, about 150 MB, more than
// the outbox's default 128 MiB: the oldest readings would be dropped, and
// the benchmark would measure a loss. 60 s is a common sample interval.
const (
	catchUpChargers        = 20
	catchUpDays            = 7
	catchUpSessionsPerDay  = 3
	catchUpMinSession      = 60 // minutes of charging
	catchUpMaxSession      = 120
	catchUpSampleInterval  = time.Minute
	catchUpWindowHours     = 5 // each session starts and ends within its window
	catchUpFirstWindowHour = 6
)

// catchUpGuard bounds a catch-up: one that takes longer has hung. It is
// no performance target (that is in docs/benchmarks.md).
const catchUpGuard = 15 * time.Minute

// unreachableBroker is never dialled: the sync client is not started
// while the week is recorded, so everything waits in the outbox.
const unreachableBroker = "tcp://127.0.0.1:1"

// BenchmarkCatchUp measures how long an appliance takes to sync a week
// recorded offline at a 20-charger site (see the profile above) to an
// in-process watchtower over loopback, once on SQLite and once on
// PostgreSQL (when CONSTELLATION_PG_URL is set). The week is recorded
// once, through the charging service with the sync client not running;
// every iteration starts from a copy of that bbolt file, a fresh
// watchtower store and the site just enrolled. The timer covers the
// sync client's start to the appliance's empty outbox with every session
// stopped in the watchtower's store (the watchtower is running already,
// as when a site's link comes back). Metrics per catch-up: s/catchup,
// records (in the outbox), publishes (MQTT PUBLISH packets, merged
// readings being one), upstream-B (bytes the appliance sent on the
// wire), records/s. The result is checked after the timer: every session
// in the cloud, stopped, with as many readings as the appliance holds.
//
//	go test -run '^$' -bench BenchmarkCatchUp -benchtime 1x ./cloud/watchtower/
func BenchmarkCatchUp(b *testing.B) {
	began := time.Now()
	week := recordOfflineWeek(b)
	b.Logf("offline week recorded in %v: %d sessions, %d readings, %d outbox records (%d bytes)",
		time.Since(began).Round(time.Second), len(week.txs), week.readings, week.records, week.bytes)
	b.Run(fleet.SQLite, func(b *testing.B) {
		week.catchUp(b, func(b *testing.B) cloudtest.Engine {
			return cloudtest.Engine{Driver: fleet.SQLite, DSN: filepath.Join(b.TempDir(), "watchtower.db")}
		})
	})
	b.Run(fleet.Postgres, func(b *testing.B) {
		pg := os.Getenv(cloudtest.EnvPostgres)
		if pg == "" {
			b.Skipf("%s is not set: the PostgreSQL variant is skipped", cloudtest.EnvPostgres)
		}
		week.catchUp(b, func(b *testing.B) cloudtest.Engine {
			return cloudtest.Engine{Driver: fleet.Postgres, DSN: cloudtest.PostgresSchema(b, pg)}
		})
	})
}

// offlineWeek is an appliance's store holding a week recorded offline.
type offlineWeek struct {
	path     string    // the bbolt file, closed
	site     string    // the site id its records carry
	end      time.Time // the appliance's clock when the week ended
	txs      []int64   // every session recorded
	readings int       // meter values stored, each sampled value one
	records  uint64    // queued in the outbox
	bytes    uint64    // their stored size
}

// recordOfflineWeek records the benchmark's week at the site, minute by
// minute. What the chargers report in the same minute is recorded
// concurrently, one goroutine per charger, as a site's chargers do: the
// store's group commit shares an fsync among them, which keeps recording
// the week's thousands of busy minutes under a minute.
func recordOfflineWeek(b *testing.B) offlineWeek {
	b.Helper()
	w := offlineWeek{path: filepath.Join(b.TempDir(), "constellation.db"), site: "catchup-site"}
	week := t0.Truncate(24 * time.Hour)
	clock := charging.NewFakeClock(week)
	a := openAppliance(b, w.path, unreachableBroker, w.site, "", clock)
	chargers := make([]*simCharger, catchUpChargers)
	for i := range chargers {
		chargers[i] = &simCharger{id: charging.ChargerID(fmt.Sprintf("CP%02d", i+1)), registerWh: float64(100_000 * (i + 1)),
			rng: mrand.New(mrand.NewPCG(uint64(i+1), 2026))}
	}
	timeline := planWeek(chargers, week)
	for _, at := range slices.SortedFunc(maps.Keys(timeline), time.Time.Compare) {
		clock.Set(at)
		steps := timeline[at]
		errs := make([]error, len(steps))
		var wg sync.WaitGroup
		for i, s := range steps {
			wg.Go(func() { errs[i] = s.charger.record(a.svc, s.step, at) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			b.Fatalf("recording the week at %v: %v", at, err)
		}
	}
	w.end = clock.Now()
	for _, c := range chargers {
		w.txs = append(w.txs, c.txs...)
		w.readings += c.readings
	}
	st, err := a.client.Status()
	must(b, err)
	if st.Dropped != (cloudsync.Dropped{}) {
		b.Fatalf("the outbox dropped records while offline (%+v): the profile does not fit it", st.Dropped)
	}
	w.records, w.bytes = st.Backlog, st.BacklogBytes
	a.stop()
	return w
}

// sessionStep is what a charger reports in one minute.
type sessionStep int

const (
	stepBoot   sessionStep = iota // BootNotification, Available
	stepPlugIn                    // Preparing
	stepStart                     // StartTransaction, Charging
	stepSample                    // MeterValues
	stepStop                      // StopTransaction, Finishing
	stepUnplug                    // Available
)

type chargerStep struct {
	charger *simCharger
	step    sessionStep
}

// planWeek lays out the chargers' week from week's midnight: the minutes
// at which something happens, and what. A charger has at most one step a
// minute.
func planWeek(chargers []*simCharger, week time.Time) map[time.Time][]chargerStep {
	timeline := map[time.Time][]chargerStep{}
	add := func(at time.Time, c *simCharger, s sessionStep) {
		timeline[at] = append(timeline[at], chargerStep{c, s})
	}
	for _, c := range chargers {
		add(week, c, stepBoot)
		for day := range catchUpDays {
			for slot := range catchUpSessionsPerDay {
				minutes := catchUpMinSession + c.rng.IntN(catchUpMaxSession-catchUpMinSession+1)
				// Plug-in, start, the charging minutes, stop, unplug two
				// minutes later: all within the window.
				slack := catchUpWindowHours*60 - (minutes + 4)
				window := week.Add(time.Duration(day)*24*time.Hour + time.Duration(catchUpFirstWindowHour+slot*catchUpWindowHours)*time.Hour)
				plugIn := window.Add(time.Duration(c.rng.IntN(slack+1)) * time.Minute)
				start := plugIn.Add(time.Minute)
				add(plugIn, c, stepPlugIn)
				add(start, c, stepStart)
				for at := start.Add(catchUpSampleInterval); at.Before(start.Add(time.Duration(minutes) * time.Minute)); at = at.Add(catchUpSampleInterval) {
					add(at, c, stepSample)
				}
				stop := start.Add(time.Duration(minutes) * time.Minute)
				add(stop, c, stepStop)
				add(stop.Add(2*time.Minute), c, stepUnplug)
			}
		}
	}
	return timeline
}

// simCharger is one charger of the benchmark's site: a 3-phase 11 kW
// wallbox and the cars that plug into it. Only its own steps touch it,
// one minute after the other.
type simCharger struct {
	id         charging.ChargerID
	rng        *mrand.Rand // its own, so the week is the same whatever the scheduling
	registerWh float64     // the energy register
	tx         int64       // the session charging, 0: none
	started    time.Time
	startWh    int64
	soc        float64 // the car's state of charge, %
	sessions   int
	txs        []int64
	readings   int
}

// record reports step at time at to svc, as the charger's OCPP 1.6
// messages would.
func (c *simCharger) record(svc *charging.Service, step sessionStep, at time.Time) error {
	status := func(s charging.ConnectorStatus) error {
		return svc.UpdateConnectorStatus(ctx, charging.StatusUpdate{ChargerID: c.id, ConnectorID: 1, Status: s, ErrorCode: "NoError", Timestamp: at})
	}
	switch step {
	case stepBoot:
		if _, err := svc.Boot(ctx, c.id, charging.BootInfo{Vendor: "ACME", Model: "AC11-3P", SerialNumber: "SN-" + string(c.id), FirmwareVersion: "4.2.1"}); err != nil {
			return err
		}
		return status(charging.StatusAvailable)
	case stepPlugIn:
		return status(charging.StatusPreparing)
	case stepStart:
		c.started, c.startWh, c.soc = at, int64(c.registerWh), float64(10+c.rng.IntN(50))
		// A few cards per charger, none in use at another charger.
		card := fmt.Sprintf("RFID-%s-%d", c.id, c.sessions%4)
		c.sessions++
		tx, _, err := svc.StartTransaction(ctx, charging.StartRequest{ChargerID: c.id, ConnectorID: 1, IDTag: card, MeterStartWh: c.startWh, Timestamp: at})
		if err != nil {
			return err
		}
		c.tx = tx.ID
		c.txs = append(c.txs, tx.ID)
		return status(charging.StatusCharging)
	case stepSample:
		rs := c.sample(at)
		c.readings += len(rs)
		return svc.RecordMeterValues(ctx, charging.MeterValues{ChargerID: c.id, ConnectorID: 1, TransactionID: c.tx, Readings: rs})
	case stepStop:
		c.registerWh += c.powerW() / 60
		stopWh := int64(c.registerWh)
		data := []charging.MeterReading{
			energyReading(c.started, c.startWh, "Transaction.Begin"),
			energyReading(at, stopWh, "Transaction.End"),
		}
		c.readings += len(data)
		_, _, err := svc.StopTransaction(ctx, charging.StopRequest{ChargerID: c.id, TransactionID: c.tx, MeterStopWh: stopWh,
			Timestamp: at, Reason: "EVDisconnected", Readings: data})
		if err != nil {
			return err
		}
		c.tx = 0
		return status(charging.StatusFinishing)
	case stepUnplug:
		return status(charging.StatusAvailable)
	}
	return fmt.Errorf("charger %s: unknown step %d", c.id, step)
}

// powerW is the power drawn this minute: about 11 kW, a little noise.
func (c *simCharger) powerW() float64 { return 10_600 + 400*c.rng.Float64() }

// sample is one periodic MeterValues sample: the minute's energy, and
// power, current and voltage per phase, SoC, as a 1.6 charger sends them
// with MeterValuesSampledData set to
// Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC.
func (c *simCharger) sample(at time.Time) []charging.MeterReading {
	p := c.powerW()
	c.registerWh += p / 60
	c.soc = min(100, c.soc+p/60/600) // a 60 kWh battery
	reading := func(measurand, phase, unit, location, value string) charging.MeterReading {
		return charging.MeterReading{Timestamp: at, Value: value, Measurand: measurand, Phase: phase, Unit: unit,
			Context: "Sample.Periodic", Location: location, Format: "Raw"}
	}
	rs := []charging.MeterReading{
		energyReading(at, int64(c.registerWh), "Sample.Periodic"),
		reading("Power.Active.Import", "", "W", "Outlet", strconv.FormatFloat(p, 'f', 1, 64)),
	}
	for _, phase := range []string{"L1", "L2", "L3"} {
		rs = append(rs, reading("Current.Import", phase, "A", "Outlet", strconv.FormatFloat(p/3/230+0.2*c.rng.Float64(), 'f', 2, 64)))
	}
	for _, phase := range []string{"L1-N", "L2-N", "L3-N"} {
		rs = append(rs, reading("Voltage", phase, "V", "Outlet", strconv.FormatFloat(226+8*c.rng.Float64(), 'f', 1, 64)))
	}
	return append(rs, reading("SoC", "", "Percent", "EV", strconv.Itoa(int(c.soc))))
}

// energyReading is the energy register at, in context.
func energyReading(at time.Time, wh int64, context string) charging.MeterReading {
	return charging.MeterReading{Timestamp: at, Value: strconv.FormatInt(wh, 10), Measurand: charging.MeasurandEnergyImportRegister,
		Unit: "Wh", Context: context, Location: "Outlet", Format: "Raw"}
}

// catchUp runs the benchmark's loop on the store engine made by engine.
func (w offlineWeek) catchUp(b *testing.B, engine func(b *testing.B) cloudtest.Engine) {
	var took time.Duration
	var records uint64
	var publishes, upstream int64
	for range b.N {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "constellation.db")
		must(b, copyFile(w.path, path))
		tw := startTower(b, onEngine(engine(b)))
		password := tw.enrollInStore(b, w.site)
		wire := countWire(b, tw.MQTTAddr())
		a := openAppliance(b, path, wire.url(), w.site, password, charging.NewFakeClock(w.end))
		st, err := a.client.Status()
		must(b, err)
		records += st.Backlog

		b.StartTimer()
		began := time.Now()
		a.run(b)
		// Each record is stored before its PUBACK and leaves the outbox
		// after it: an empty outbox means the watchtower has everything.
		// The store is asked only then: with SQLite's one connection,
		// asking it all the time would slow ingest down.
		waitLong(b, "an empty outbox", func() bool {
			st, err := a.client.Status()
			must(b, err)
			return st.Backlog == 0
		})
		waitLong(b, "every session stopped in the watchtower", func() bool { return stoppedInCloud(b, tw, w.site, w.txs) })
		took += time.Since(began)
		b.StopTimer()

		checkCaughtUp(b, tw, a, w)
		publishes += wire.publishes.Load()
		upstream += wire.bytes.Load()
		a.stop()
		wire.close()
		tw.Close()
	}
	n := float64(b.N)
	b.ReportMetric(took.Seconds()/n, "s/catchup")
	b.ReportMetric(float64(records)/n, "records/catchup")
	b.ReportMetric(float64(publishes)/n, "publishes/catchup")
	b.ReportMetric(float64(upstream)/n, "upstream-B/catchup")
	b.ReportMetric(float64(records)/took.Seconds(), "records/s")
}

// waitLong polls cond (a condition, not a timing) until it holds, for up
// to catchUpGuard: waitFor's guard is too short for a catch-up, and
// waitFor needs a *testing.T.
func waitLong(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(catchUpGuard)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("waiting for %s: not after %v", what, catchUpGuard)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stoppedInCloud reports whether the watchtower holds every session of
// txs, stopped.
func stoppedInCloud(tb testing.TB, tw *tower, site string, txs []int64) bool {
	tb.Helper()
	stored, err := tw.Store.Transactions(ctx, fleet.TxFilter{Site: site, Limit: 1000}, false)
	must(tb, err)
	stopped := 0
	for _, tx := range stored {
		if tx.Record.Event == syncproto.TxStopped && slices.Contains(txs, tx.Record.ID) {
			stopped++
		}
	}
	return stopped == len(txs)
}

// checkCaughtUp checks the catch-up's result: nothing left or dropped at
// the appliance; every session in the cloud once, stopped with the
// appliance's meter; as many readings in the cloud as the appliance
// holds. Readings are counted for the site as a whole: the fleet store
// has no index to find a session's readings by, so counting them session
// by session would scan every reading of the site 420 times.
func checkCaughtUp(b *testing.B, tw *tower, a *appliance, w offlineWeek) {
	b.Helper()
	st, err := a.client.Status()
	must(b, err)
	if st.Backlog != 0 || st.Dropped != (cloudsync.Dropped{}) {
		b.Fatalf("appliance after the catch-up: backlog %d, dropped %+v", st.Backlog, st.Dropped)
	}
	if len(w.txs) > 1000 {
		b.Fatalf("%d sessions: fleet.Store.Transactions lists 1000 at most", len(w.txs))
	}
	stored, err := tw.Store.Transactions(ctx, fleet.TxFilter{Site: w.site, Limit: 1000}, false)
	must(b, err)
	if len(stored) != len(w.txs) {
		b.Fatalf("the watchtower holds %d sessions, the appliance %d", len(stored), len(w.txs))
	}
	cloud := map[int64]*syncproto.Transaction{}
	for _, tx := range stored {
		cloud[tx.Record.ID] = tx.Record
	}
	readings := 0
	for _, id := range w.txs {
		tx, rs, err := a.svc.Transaction(ctx, id)
		must(b, err)
		rec := cloud[id]
		if rec == nil || rec.Event != syncproto.TxStopped || rec.MeterStopWh == nil || tx.MeterStopWh == nil || *rec.MeterStopWh != *tx.MeterStopWh {
			b.Fatalf("session %d in the watchtower: %+v; at the appliance: %+v", id, rec, tx)
		}
		readings += len(rs)
	}
	site, err := tw.Store.Site(ctx, w.site)
	must(b, err)
	if site.Readings != int64(readings) || readings != w.readings {
		b.Fatalf("%d readings in the watchtower, %d at the appliance, %d recorded", site.Readings, readings, w.readings)
	}
}

// copyFile copies the file at from to a new file at to.
func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return fmt.Errorf("copy %s to %s: %w", from, to, err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("copy %s to %s: %w", from, to, err)
	}
	return nil
}

// wireCounter forwards TCP connections to an MQTT broker and counts what
// the clients send it: bytes on the wire and PUBLISH packets (the
// appliance's own counters do not tell them).
type wireCounter struct {
	target    string
	ln        net.Listener
	bytes     atomic.Int64
	publishes atomic.Int64

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// countWire starts a wireCounter to target on loopback; it stops when
// the test ends, or at close.
func countWire(tb testing.TB, target string) *wireCounter {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(tb, err)
	w := &wireCounter{target: target, ln: ln}
	w.wg.Go(w.accept)
	tb.Cleanup(w.close)
	return w
}

// url is the broker URL through the counter.
func (w *wireCounter) url() string { return "tcp://" + w.ln.Addr().String() }

// close stops accepting, closes every connection and waits for the
// forwarding to end.
func (w *wireCounter) close() {
	_ = w.ln.Close()
	w.mu.Lock()
	for _, c := range w.conns {
		_ = c.Close()
	}
	w.mu.Unlock()
	w.wg.Wait()
}

func (w *wireCounter) accept() {
	for {
		in, err := w.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", w.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		w.mu.Lock()
		w.conns = append(w.conns, in, out)
		w.mu.Unlock()
		w.wg.Go(func() {
			_, _ = io.Copy(in, out)
			_ = in.Close()
		})
		w.wg.Go(func() {
			_ = w.upstream(out, in)
			_ = out.Close()
		})
	}
}

// upstream forwards a client's MQTT packets to the broker one by one,
// counting them; it returns when either side closes.
func (w *wireCounter) upstream(dst io.Writer, src io.Reader) error {
	r := bufio.NewReaderSize(src, 64<<10)
	wr := bufio.NewWriterSize(dst, 64<<10)
	var head [5]byte // the fixed header: type and flags, remaining length (1 to 4 bytes)
	for {
		first, err := r.ReadByte()
		if err != nil {
			return err
		}
		head[0] = first
		n, size := 1, 0
		for shift := 0; ; shift += 7 {
			c, err := r.ReadByte()
			if err != nil {
				return err
			}
			head[n] = c
			n++
			size |= int(c&0x7f) << shift
			if c&0x80 == 0 {
				break
			}
			if n == len(head) {
				return errors.New("mqtt: malformed remaining length")
			}
		}
		if _, err := wr.Write(head[:n]); err != nil {
			return err
		}
		if _, err := io.CopyN(wr, r, int64(size)); err != nil {
			return err
		}
		w.bytes.Add(int64(n + size))
		if first>>4 == 3 { // PUBLISH
			w.publishes.Add(1)
		}
		// Hold nothing back the client does not follow up at once.
		if r.Buffered() == 0 {
			if err := wr.Flush(); err != nil {
				return err
			}
		}
	}
}
