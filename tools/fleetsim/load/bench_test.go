package load_test

import (
	"context"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/tools/fleetsim/load"
)

// The ingest benchmark's fleet: 50 sites of 10 chargers, cloudsync's
// window, sessions of the default shape; one operation is benchRecords
// records.
const (
	benchSites    = 50
	benchChargers = 10
	benchRecords  = 5000
)

// BenchmarkIngest measures the watchtower's ingest: records/s the
// embedded broker acknowledged (each stored before its PUBACK), and the
// PUBACK latency, with the load generator in the same process (on a
// small machine it takes a share of the CPU), and the CPU time the
// process (watchtower and load generator) spent per record, which a
// busy shared machine disturbs less than the rate. One replica; the
// target is 20,000 records/s on one node (docs/benchmarks.md).
func BenchmarkIngest(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			w, api := startTower(b, e.store(b))
			sites, err := load.Provision(ctx, api, "bench", benchSites)
			if err != nil {
				b.Fatal(err)
			}
			f, err := load.Connect(ctx, load.Config{Broker: "tcp://" + w.MQTTAddr(), Sites: sites, Chargers: benchChargers, Logger: logger(b)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(f.Close) // after a failure; Close twice is harmless
			var acked int64
			var elapsed, cpu time.Duration
			var last load.Result
			for b.Loop() {
				cpu0 := cpuTime()
				res, err := f.Run(ctx, load.Budget{Records: benchRecords})
				cpu += cpuTime() - cpu0
				if err != nil {
					b.Fatal(err)
				}
				if res.Acked != benchRecords || res.RefusedTotal() != 0 || res.Failed != 0 || res.LinksLost != 0 {
					b.Fatalf("acked %d of %d, refused %v, failed %d, links lost %v", res.Acked, benchRecords, res.Refused, res.Failed, res.Errors)
				}
				acked += res.Acked
				elapsed += res.Elapsed
				last = res
			}
			// The deaths are stored before the watchtower stops: an
			// error about each would bury the result.
			f.Close()
			wctx, cancel := context.WithTimeout(ctx, guard)
			defer cancel()
			if err := api.WaitOffline(wctx, sites); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(acked)/elapsed.Seconds(), "records/s")
			if cpu > 0 {
				b.ReportMetric(float64(cpu.Microseconds())/float64(acked), "cpu-µs/record")
			}
			b.ReportMetric(ms(last.P50), "p50-ms")
			b.ReportMetric(ms(last.P99), "p99-ms")
			b.Logf("last run: %s", last)
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
