package sim

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/v16"
)

func countActions(recs []rec) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		m[r.action]++
	}
	return m
}

func TestLoadHeartbeatSaturated(t *testing.T) {
	f := newFakeCSMS(t)
	res, err := Load(t.Context(), LoadConfig{URL: f.url, Stations: 5, CallsPerStation: 20, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	got := countActions(f.drain())
	if res.Connected != 5 || res.Calls != 100 || res.OK != 100 || res.Failed != 0 || got["Heartbeat"] != 100 || got["BootNotification"] != 5 {
		t.Fatalf("result %v, server saw %v", res, got)
	}
	if res.Latency.Count() != 100 || res.P50 > res.P99 || res.P99 > res.Max || res.PerSecond <= 0 {
		t.Errorf("latency p50=%s p99=%s max=%s count=%d rate=%f", res.P50, res.P99, res.Max, res.Latency.Count(), res.PerSecond)
	}
}

func TestLoadMeterValuesPaced(t *testing.T) {
	f := newFakeCSMS(t)
	res, err := Load(t.Context(), LoadConfig{URL: f.url, Stations: 3, Action: "MeterValues", Rate: 3000, CallsPerStation: 4, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	recs := f.drain()
	got := countActions(recs)
	if res.OK != 12 || got["MeterValues"] != 12 || got["StartTransaction"] != 3 || got["StopTransaction"] != 3 {
		t.Fatalf("result %v, server saw %v", res, got)
	}
	// Each connection's meter values belong to the transaction it started.
	txOf := map[string]int{}
	for _, r := range recs {
		if r.action == "StartTransaction" {
			var resp v16.StartTransactionResponse
			mustUnmarshal(t, r.answer, &resp)
			txOf[r.station] = resp.TransactionId
		}
	}
	for _, r := range recs {
		if m, ok := r.req.(*v16.MeterValuesRequest); ok && (m.TransactionId == nil || *m.TransactionId != txOf[r.station]) {
			t.Errorf("%s sent MeterValues for transaction %v, started %d", r.station, m.TransactionId, txOf[r.station])
		}
	}
}

func TestLoadRejectsUnknownAction(t *testing.T) {
	if _, err := Load(t.Context(), LoadConfig{URL: "ws://127.0.0.1:1/ocpp", Action: "Reset"}); err == nil {
		t.Fatal("Load with action Reset succeeded")
	}
}

func TestFleetRun(t *testing.T) {
	f := newFakeCSMS(t)
	var out bytes.Buffer
	o := testOptions(f, "")
	o.Connectors = 2
	o.SessionLength = time.Millisecond
	sum, err := Run(t.Context(), Config{URL: f.url, Stations: 3, IDPrefix: "fleet-", Station: o, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	recs := f.drain()
	got := countActions(recs)
	stations := map[string]bool{}
	for _, r := range recs {
		stations[r.station] = true
	}
	if sum.TxStarted != 6 || sum.TxStopped != 6 || got["StartTransaction"] != 6 || got["StopTransaction"] != 6 || len(stations) != 3 || !stations["fleet-0002"] {
		t.Fatalf("summary %+v, server saw %v from %v", sum, got, stations)
	}
	if sum.CallsOK != int64(len(recs)) || sum.CallsFailed != 0 {
		t.Errorf("summary counts %d ok, server answered %d", sum.CallsOK, len(recs))
	}
	if !strings.Contains(out.String(), "summary: 3 stations") {
		t.Errorf("output %q lacks the summary", out.String())
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	within := func(got, want time.Duration) bool { return got <= want && got >= want*93/100 }
	if p := h.Quantile(0.5); !within(p, 500*time.Millisecond) {
		t.Errorf("p50 = %s", p)
	}
	if p := h.Quantile(0.99); !within(p, 990*time.Millisecond) {
		t.Errorf("p99 = %s", p)
	}
	if h.Max() != time.Second || h.Count() != 1000 {
		t.Errorf("max %s count %d", h.Max(), h.Count())
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 {
		t.Error("empty histogram has a quantile")
	}
	for us := range uint64(100000) {
		if lowerBound(bucketOf(us)) > us || (us >= subBuckets && bucketOf(us) != bucketOf(lowerBound(bucketOf(us)))) {
			t.Fatalf("bucket of %d: %d, lower bound %d", us, bucketOf(us), lowerBound(bucketOf(us)))
		}
	}
}
