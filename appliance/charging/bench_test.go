package charging

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/store"
)

func benchService(b *testing.B) (*Service, *store.DB) {
	b.Helper()
	db, err := store.Open(filepath.Join(b.TempDir(), "bench.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	svc, err := NewService(context.Background(), db, Config{})
	if err != nil {
		b.Fatal(err)
	}
	return svc, db
}

// procIO reads this process's I/O counters: wchar (bytes passed to write
// syscalls, incl. bbolt's pwrite of pages and meta) and write_bytes (bytes
// sent to the block layer).
func procIO(b *testing.B) (wchar, writeBytes int64, ok bool) {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var k string
		var v int64
		if _, err := fmt.Sscanf(sc.Text(), "%s %d", &k, &v); err != nil {
			continue
		}
		switch k {
		case "wchar:":
			wchar = v
		case "write_bytes:":
			writeBytes = v
		}
	}
	return wchar, writeBytes, true
}

// BenchmarkMeterValuesDurable measures durable, group-committed meter
// reports from many concurrent chargers (use -cpu / SetParallelism to vary
// them). It reports commits per report and bytes written per report from
// /proc/self/io (wchar: syscall bytes; disk-B/op: write_bytes, block layer).
func BenchmarkMeterValuesDurable(b *testing.B) {
	svc, db := benchService(b)
	b.SetParallelism(64) // 64 goroutines per CPU: many chargers waiting on commits
	var charger atomic.Int64
	before := db.Stats()
	w0, d0, ioOK := procIO(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := ChargerID("CP" + strconv.FormatInt(charger.Add(1), 10))
		for i := 0; pb.Next(); i++ {
			err := svc.RecordMeterValues(context.Background(), MeterValues{ChargerID: id, ConnectorID: 1, TransactionID: int64(i%1000) + 1,
				Readings: []MeterReading{{Timestamp: t0.Add(timeSec(i)), Value: strconv.Itoa(1000 + i), Measurand: "Energy.Active.Import.Register", Unit: "Wh"}}})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	after := db.Stats()
	b.ReportMetric(float64(after.Commits-before.Commits)/float64(b.N), "commits/op")
	if w1, d1, ok := procIO(b); ok && ioOK {
		b.ReportMetric(float64(w1-w0)/float64(b.N), "wchar-B/op")
		b.ReportMetric(float64(d1-d0)/float64(b.N), "disk-B/op")
	}
}

// BenchmarkTransactionEventUpdated measures durable 2.x TransactionEvent
// Updated events carrying meter values (energy register and power), from
// many concurrent chargers each with one session: the 2.x counterpart of
// BenchmarkMeterValuesDurable, with the same metrics.
func BenchmarkTransactionEventUpdated(b *testing.B) {
	svc, db := benchService(b)
	b.SetParallelism(64)
	var charger atomic.Int64
	before := db.Stats()
	w0, d0, ioOK := procIO(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ev := TransactionEvent{ChargerID: ChargerID("CP" + strconv.FormatInt(charger.Add(1), 10)), ChargerTxID: "a3f1c0de-0000-4000-8000-000000000001",
			Protocol: "ocpp2.0.1", Kind: EventStarted, Timestamp: t0, TriggerReason: "Authorized", EVSEID: 1, ConnectorID: 1,
			Readings: []MeterReading{{Timestamp: t0, Value: "1000", Measurand: "Energy.Active.Import.Register", Unit: "Wh", Context: "Transaction.Begin"}}}
		if _, err := svc.TransactionEvent(context.Background(), ev); err != nil {
			b.Error(err)
			return
		}
		ev.Kind, ev.TriggerReason = EventUpdated, "MeterValuePeriodic"
		for i := 1; pb.Next(); i++ {
			ev.SeqNo, ev.Timestamp = i, t0.Add(timeSec(i))
			ev.Readings = []MeterReading{
				{Timestamp: ev.Timestamp, Value: strconv.Itoa(1000 + i), Measurand: "Energy.Active.Import.Register", Unit: "Wh", Context: "Sample.Periodic"},
				{Timestamp: ev.Timestamp, Value: "7200", Measurand: "Power.Active.Import", Unit: "W", Context: "Sample.Periodic"},
			}
			if _, err := svc.TransactionEvent(context.Background(), ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	after := db.Stats()
	b.ReportMetric(float64(after.Commits-before.Commits)/float64(b.N), "commits/op")
	if w1, d1, ok := procIO(b); ok && ioOK {
		b.ReportMetric(float64(w1-w0)/float64(b.N), "wchar-B/op")
		b.ReportMetric(float64(d1-d0)/float64(b.N), "disk-B/op")
	}
}

func BenchmarkAuthorize(b *testing.B) {
	svc, _ := benchService(b)
	for i := range 5000 {
		if err := svc.PutToken(context.Background(), IDToken{ID: fmt.Sprintf("TAG%05d", i), Status: AuthAccepted}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			a, err := svc.Authorize(context.Background(), "CP1", "TAG01234")
			if err != nil || a.Status != AuthAccepted {
				b.Fatal(a, err)
			}
		}
	})
}

func BenchmarkHeartbeat(b *testing.B) {
	svc, _ := benchService(b)
	ids := make([]ChargerID, 5000)
	for i := range ids {
		ids[i] = ChargerID(fmt.Sprintf("CP%04d", i))
		svc.ChargerConnected(context.Background(), ids[i], "ocpp1.6")
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)) * 997
		for pb.Next() {
			svc.Heartbeat(context.Background(), ids[i%len(ids)])
			i++
		}
	})
}

func timeSec(i int) time.Duration { return time.Duration(i) * time.Second }
