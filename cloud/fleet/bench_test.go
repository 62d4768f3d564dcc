package fleet_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/syncproto"
)

// BenchmarkApplyBatch measures the store's writer alone: batches of 128
// records of the mix fleetsim sends (per charger a status, a session's
// start, then readings of 20 samples in two columns each followed by the
// session's update), 10 chargers at each of 13 sites; records/s and
// values/s per engine.
func BenchmarkApplyBatch(b *testing.B) {
	for name, engine := range cloudtest.Engines(b) {
		b.Run(name, func(b *testing.B) {
			s := engine(b).Open(b, nil, nil)
			const sites, chargers, batch = 13, 10, 128
			for i := range sites {
				if _, err := s.CreateSite(ctx, fmt.Sprint("s", i), ""); err != nil {
					b.Fatal(err)
				}
			}
			energy := syncproto.Column{Measurand: "Energy.Active.Import.Register", Unit: "Wh", Context: "Sample.Periodic", Location: "Outlet", Format: "Raw"}
			power := syncproto.Column{Measurand: "Power.Active.Import", Unit: "W", Context: "Sample.Periodic", Location: "Outlet", Format: "Raw"}
			seq, now := 0, t0
			next := func(i int) syncproto.Message {
				seq++
				site, charger := fmt.Sprint("s", i%sites), fmt.Sprint("CP", i/sites%chargers)
				h := syncproto.Header{Version: syncproto.Version, Site: site, Key: strconv.Itoa(seq), Time: now}
				switch seq % 4 {
				case 0:
					return &syncproto.ChargerStatus{Header: h, Charger: charger, Connected: true, LastSeen: now,
						Connectors: []syncproto.Connector{{ID: 1, Status: "Charging", Time: now}}}
				case 1, 3:
					return &syncproto.Transaction{Header: h, Event: syncproto.TxUpdated, Rev: seq, ID: 7, Charger: charger, Connector: 1, Start: t0}
				}
				m := &syncproto.Readings{Header: h, Charger: charger, Connector: 1, TransactionID: 7}
				var rows []syncproto.Reading
				for range 20 {
					now = now.Add(15 * time.Second)
					rows = append(rows, syncproto.Reading{Time: now, Column: energy, Value: strconv.Itoa(seq)},
						syncproto.Reading{Time: now, Column: power, Value: "7412.5"})
				}
				m.AddReadings(rows...)
				return m
			}
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				ms := make([]syncproto.Message, batch)
				for i := range ms {
					ms[i] = next(i)
				}
				b.StartTimer()
				for _, r := range s.ApplyBatch(ctx, ms) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
