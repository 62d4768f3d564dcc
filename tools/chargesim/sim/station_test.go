package sim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/v16"
)

func testOptions(f *fakeCSMS, id string) Options {
	return Options{
		ID: id, URL: StationURL(f.url, id), Connectors: 1,
		MeterInterval: 2 * time.Millisecond, SessionLength: time.Hour, Sessions: 1, Pause: -1,
		Tags: []string{"TAG1"}, HeartbeatInterval: time.Hour, RetryInterval: time.Millisecond,
		ReconnectMin: time.Millisecond, ReconnectMax: 5 * time.Millisecond,
	}
}

// describe renders a call as "Action" or "StatusNotification:<id>:<status>".
func describe(r rec) string {
	if s, ok := r.req.(*v16.StatusNotificationRequest); ok {
		return fmt.Sprintf("StatusNotification:%d:%s", s.ConnectorId, s.Status)
	}
	return r.action
}

func energyRegister(t *testing.T, mv v16.MeterValue) int {
	t.Helper()
	for _, sv := range mv.SampledValue {
		if sv.Measurand == v16.MeasurandEnergyActiveImportRegister {
			n, err := strconv.Atoi(sv.Value)
			if err != nil {
				t.Fatalf("register %q: %v", sv.Value, err)
			}
			return n
		}
	}
	t.Fatalf("no energy register in %+v", mv)
	return 0
}

func TestSessionSequenceRemoteStop(t *testing.T) {
	f := newFakeCSMS(t)
	var acks []Ack
	var mu sync.Mutex
	o := testOptions(f, "CP1")
	o.OnAck = func(a Ack) { mu.Lock(); acks = append(acks, a); mu.Unlock() }
	_, wait := runStation(t, t.Context(), o)

	var seen []rec
	for {
		r := f.next(t, func(rec) bool { return true })
		seen = append(seen, r)
		if r.action == "MeterValues" && len(slices.DeleteFunc(slices.Clone(seen), func(r rec) bool { return r.action != "MeterValues" })) == 2 {
			break
		}
	}
	var start *v16.StartTransactionResponse
	for _, r := range seen {
		if r.action == "StartTransaction" {
			var resp v16.StartTransactionResponse
			if err := json.Unmarshal(r.answer, &resp); err != nil {
				t.Fatal(err)
			}
			start = &resp
		}
	}
	if start == nil {
		t.Fatal("no StartTransaction before MeterValues")
	}
	resp, err := f.command(t, "CP1", "RemoteStopTransaction", &v16.RemoteStopTransactionRequest{TransactionId: start.TransactionId})
	if err != nil || resp.(*v16.RemoteStopTransactionResponse).Status != v16.RemoteStartStopAccepted {
		t.Fatalf("RemoteStop: %v %v", resp, err)
	}
	if err := wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	seen = append(seen, f.drain()...)

	var got []string
	for _, r := range seen {
		got = append(got, describe(r))
	}
	want := []string{"BootNotification", "StatusNotification:0:Available", "StatusNotification:1:Available",
		"Authorize", "StatusNotification:1:Preparing", "StartTransaction", "StatusNotification:1:Charging"}
	if !slices.Equal(got[:len(want)], want) {
		t.Fatalf("sequence starts %q, want %q", got, want)
	}
	rest := got[len(want):]
	tail := []string{"StopTransaction", "StatusNotification:1:Finishing", "StatusNotification:1:Available"}
	if len(rest) < 2+len(tail) || !slices.Equal(rest[len(rest)-len(tail):], tail) {
		t.Fatalf("sequence %q does not end with %q", got, tail)
	}
	for _, a := range rest[:len(rest)-len(tail)] {
		if a != "MeterValues" {
			t.Fatalf("unexpected %s during charging in %q", a, got)
		}
	}

	// Meter values belong to the transaction and increase plausibly.
	last := seen[5].req.(*v16.StartTransactionRequest).MeterStart
	var stop *v16.StopTransactionRequest
	for _, r := range seen {
		switch m := r.req.(type) {
		case *v16.MeterValuesRequest:
			if m.TransactionId == nil || *m.TransactionId != start.TransactionId {
				t.Errorf("MeterValues transactionId %v, want %d", m.TransactionId, start.TransactionId)
			}
			reg := energyRegister(t, m.MeterValue[0])
			if reg < last {
				t.Errorf("register went down: %d after %d", reg, last)
			}
			last = reg
			var measurands []string
			for _, sv := range m.MeterValue[0].SampledValue {
				measurands = append(measurands, string(sv.Measurand)+string(sv.Phase))
			}
			for _, w := range []string{"Power.Active.Import", "Current.ImportL1", "Current.ImportL2", "Current.ImportL3", "VoltageL1-N"} {
				if !slices.Contains(measurands, w) {
					t.Errorf("MeterValues lack %s: %v", w, measurands)
				}
			}
		case *v16.StopTransactionRequest:
			stop = m
		}
	}
	if stop.TransactionId != start.TransactionId || stop.Reason != v16.ReasonRemote || stop.MeterStop < last {
		t.Errorf("StopTransaction %+v, want tx %d reason Remote meterStop >= %d", stop, start.TransactionId, last)
	}
	// transactionData: the register at the start, then the final one.
	startReq := seen[5].req.(*v16.StartTransactionRequest)
	if len(stop.TransactionData) != 2 ||
		energyRegister(t, stop.TransactionData[0]) != startReq.MeterStart || !stop.TransactionData[0].Timestamp.Equal(startReq.Timestamp.Time) ||
		stop.TransactionData[0].SampledValue[0].Context != v16.ContextTransactionBegin ||
		energyRegister(t, stop.TransactionData[1]) != stop.MeterStop || stop.TransactionData[1].SampledValue[0].Context != v16.ContextTransactionEnd {
		t.Errorf("StopTransaction transactionData %+v does not carry the start register %d and the final register %d",
			stop.TransactionData, startReq.MeterStart, stop.MeterStop)
	}

	// Every answered call was reported once, in order.
	mu.Lock()
	defer mu.Unlock()
	if len(acks) != len(seen) {
		t.Fatalf("%d acks for %d answered calls", len(acks), len(seen))
	}
	for i, a := range acks {
		if a.Action != seen[i].action || string(a.RequestJSON) != string(seen[i].raw) || a.Station != "CP1" || a.Response == nil {
			t.Errorf("ack %d = %s %s, want %s %s", i, a.Action, a.RequestJSON, seen[i].action, seen[i].raw)
		}
	}
}

func TestSessionEndsLocally(t *testing.T) {
	f := newFakeCSMS(t)
	o := testOptions(f, "CP2")
	o.SessionLength = 5 * time.Millisecond
	o.Sessions = 2
	o.Tags = []string{"A", "B"}
	_, wait := runStation(t, t.Context(), o)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	var tags []string
	var stops int
	for _, r := range f.drain() {
		switch m := r.req.(type) {
		case *v16.StartTransactionRequest:
			tags = append(tags, m.IdTag)
		case *v16.StopTransactionRequest:
			stops++
			if m.Reason != v16.ReasonLocal {
				t.Errorf("reason %s, want Local", m.Reason)
			}
		}
	}
	if !slices.Equal(tags, []string{"A", "B"}) || stops != 2 {
		t.Errorf("tags %v stops %d, want [A B] and 2", tags, stops)
	}
}

func TestOfflineQueueReplay(t *testing.T) {
	f := newFakeCSMS(t)
	stats := &Stats{}
	var mu sync.Mutex
	acked := map[uint64]int{}
	var ackList []Ack
	o := testOptions(f, "CP3")
	o.Sessions = 2
	o.SessionLength = 10 * time.Millisecond
	o.Stats = stats
	o.OnAck = func(a Ack) {
		mu.Lock()
		defer mu.Unlock()
		ackList = append(ackList, a)
		if a.Seq != 0 {
			acked[a.Seq]++
		}
	}
	// The first StartTransaction loses its connection before the answer;
	// reconnecting is refused until both sessions ended offline.
	var dropped bool
	f.intercept = func(c *rpc.Conn, r rec) (any, error, bool) {
		if r.action == "StartTransaction" && !dropped {
			dropped = true
			f.mu.Lock()
			f.refuse = func(string) bool { return stats.TxStopped.Load() < 2 }
			f.mu.Unlock()
			c.Close(1001, "test drops the connection")
			return nil, fmt.Errorf("dropped"), true
		}
		return nil, nil, false
	}
	_, wait := runStation(t, t.Context(), o)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	all := f.drain()
	firstStart := slices.IndexFunc(all, func(r rec) bool { return r.action == "StartTransaction" })
	if firstStart < 0 || all[firstStart].answered {
		t.Fatal("the first StartTransaction was not dropped")
	}
	after := all[firstStart+1:]
	// After the reconnect: boot, statuses, then the queue in order.
	var tx []rec
	for _, r := range after {
		if r.action == "StartTransaction" || r.action == "StopTransaction" || r.action == "MeterValues" {
			tx = append(tx, r)
		}
	}
	if len(tx) < 4 || string(tx[0].raw) != string(all[firstStart].raw) {
		var names []string
		for _, r := range tx {
			names = append(names, describe(r))
		}
		t.Fatalf("replay does not start with the unanswered StartTransaction: %v", names)
	}
	var order []string
	txID := 0
	for _, r := range tx {
		if !r.answered {
			t.Fatalf("replayed %s not answered", r.action)
		}
		switch m := r.req.(type) {
		case *v16.StartTransactionRequest:
			order = append(order, "Start")
			var resp v16.StartTransactionResponse
			_ = json.Unmarshal(r.answer, &resp)
			txID = resp.TransactionId
		case *v16.MeterValuesRequest:
			if m.TransactionId == nil || *m.TransactionId != txID {
				t.Errorf("offline MeterValues has transactionId %v, want %d", m.TransactionId, txID)
			}
		case *v16.StopTransactionRequest:
			order = append(order, "Stop")
			if m.TransactionId != txID {
				t.Errorf("offline StopTransaction has transactionId %d, want %d", m.TransactionId, txID)
			}
		}
	}
	if !slices.Equal(order, []string{"Start", "Stop", "Start", "Stop"}) {
		t.Errorf("replayed transactions %v, want Start Stop Start Stop", order)
	}
	// Every acknowledged queued message was reported exactly once, and the
	// queue was replayed in Seq order.
	mu.Lock()
	defer mu.Unlock()
	for seq, n := range acked {
		if n != 1 {
			t.Errorf("seq %d acknowledged %d times", seq, n)
		}
	}
	var txAcks []Ack
	for _, a := range ackList {
		if a.Action == "StartTransaction" || a.Action == "StopTransaction" || a.Action == "MeterValues" {
			txAcks = append(txAcks, a)
		}
	}
	if len(txAcks) != len(tx) {
		t.Fatalf("%d transaction acks for %d answered transaction messages", len(txAcks), len(tx))
	}
	for i := range txAcks {
		if string(txAcks[i].RequestJSON) != string(tx[i].raw) {
			t.Errorf("ack %d is %s, server stored %s", i, txAcks[i].RequestJSON, tx[i].raw)
		}
		if i > 0 && txAcks[i].Seq <= txAcks[i-1].Seq {
			t.Errorf("acks out of order: seq %d after %d", txAcks[i].Seq, txAcks[i-1].Seq)
		}
	}
	if stats.TxStarted.Load() != 2 || stats.Connects.Load() < 2 {
		t.Errorf("stats %+v", stats.Snapshot())
	}
}

func TestBootPendingRetried(t *testing.T) {
	f := newFakeCSMS(t)
	boots := 0
	f.intercept = func(_ *rpc.Conn, r rec) (any, error, bool) {
		if r.action != "BootNotification" {
			return nil, nil, false
		}
		boots++
		status := v16.RegistrationPending
		if boots == 3 {
			status = v16.RegistrationAccepted
		}
		return &v16.BootNotificationResponse{Status: status, CurrentTime: v16.DateTime{Time: time.Now()}, Interval: 0}, nil, true
	}
	o := testOptions(f, "CP4")
	o.SessionLength = time.Millisecond
	_, wait := runStation(t, t.Context(), o)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range f.drain() {
		got = append(got, r.action)
	}
	if !slices.Equal(got[:4], []string{"BootNotification", "BootNotification", "BootNotification", "StatusNotification"}) {
		t.Errorf("calls %v: want three boots before anything else", got)
	}
}

func TestOptionsRejected(t *testing.T) {
	for _, o := range []Options{{}, {ID: "x"}, {ID: "x", URL: "ws://h/x", Version: "ocpp3.0"}, {ID: "x", URL: "ws://h/x", LateToken: true}} {
		if _, err := NewStation(o); err == nil || !strings.Contains(err.Error(), "invalid configuration") {
			t.Errorf("NewStation(%+v) = %v, want ErrConfig", o, err)
		}
	}
}
