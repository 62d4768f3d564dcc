package sim

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/v201"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

// v2Versions are the 2.x versions every 2.x test runs with.
var v2Versions = []ocppj.Version{ocppj.V201, ocppj.V21}

// forV2 runs a subtest per 2.x version.
func forV2(t *testing.T, f func(t *testing.T, v ocppj.Version)) {
	for _, v := range v2Versions {
		t.Run(string(v), func(t *testing.T) { f(t, v) })
	}
}

func testOptions2(f *fakeCSMS, id string) Options {
	o := testOptions(f, id)
	o.Version = f.version
	return o
}

// describe2 renders a 2.x call as "Action", "StatusNotification:<evse>:<status>"
// or "TransactionEvent:<type>".
func describe2(r rec) string {
	switch m := r.req21.(type) {
	case *v21.StatusNotificationRequest:
		return fmt.Sprintf("StatusNotification:%d:%s", m.EvseId, m.ConnectorStatus)
	case *v21.TransactionEventRequest:
		return "TransactionEvent:" + string(m.EventType)
	}
	return r.action
}

func describeAll(recs []rec) []string {
	var out []string
	for _, r := range recs {
		out = append(out, describe2(r))
	}
	return out
}

func txEvent(r rec) *v21.TransactionEventRequest {
	m, _ := r.req21.(*v21.TransactionEventRequest)
	return m
}

func isEvent(typ v21.TransactionEvent) func(rec) bool {
	return func(r rec) bool { m := txEvent(r); return m != nil && m.EventType == typ }
}

// sampled returns the sampled values of a meter value by measurand+phase.
func sampled(mv []v21.MeterValue) map[string]v21.SampledValue {
	out := map[string]v21.SampledValue{}
	for _, m := range mv {
		for _, sv := range m.SampledValue {
			out[string(sv.Measurand)+string(sv.Phase)] = sv
		}
	}
	return out
}

// register is the energy register of a TransactionEvent's meter values.
func register(t *testing.T, m *v21.TransactionEventRequest, ctxt v21.ReadingContext) float64 {
	t.Helper()
	sv, ok := sampled(m.MeterValue)[string(v21.MeasurandEnergyActiveImportRegister)]
	if !ok || sv.Context != ctxt || sv.UnitOfMeasure == nil || sv.UnitOfMeasure.Unit != "Wh" {
		t.Fatalf("seqNo %d: no %s energy register in %+v", m.SeqNo, ctxt, m.MeterValue)
	}
	return sv.Value
}

// TestV2Session: a full session, from boot to the status after the
// transaction, with every message checked against the official schema by
// the fake CSMS.
func TestV2Session(t *testing.T) {
	forV2(t, func(t *testing.T, v ocppj.Version) {
		f := newFakeCSMSVersion(t, v)
		var mu sync.Mutex
		var acks []Ack
		o := testOptions2(f, "CP1")
		o.OnAck = func(a Ack) { mu.Lock(); acks = append(acks, a); mu.Unlock() }
		// The station stays up after the session: a station that ends
		// at once may close the connection before the CSMS has read the
		// answer to RequestStopTransaction.
		o.Sessions, o.Pause = 0, time.Hour
		runStation(t, t.Context(), o)

		var seen []rec
		for updates := 0; updates < 3; {
			r := f.next(t, func(rec) bool { return true })
			seen = append(seen, r)
			if isEvent(v21.TransactionEventUpdated)(r) {
				updates++
			}
		}
		i := slices.IndexFunc(seen, isEvent(v21.TransactionEventStarted))
		if i < 0 {
			t.Fatalf("no Started before Updated: %v", describeAll(seen))
		}
		txID := txEvent(seen[i]).TransactionInfo.TransactionId
		resp, err := f.command2(t, "CP1", "RequestStopTransaction", &v21.RequestStopTransactionRequest{TransactionId: txID})
		if err != nil || resp.(*v21.RequestStopTransactionResponse).Status != v21.RequestStartStopAccepted {
			t.Fatalf("RequestStopTransaction: %v %v", resp, err)
		}
		for ended := false; ; {
			r := f.next(t, func(rec) bool { return true })
			seen = append(seen, r)
			ended = ended || isEvent(v21.TransactionEventEnded)(r)
			if ended && describe2(r) == "StatusNotification:1:Available" {
				break
			}
		}

		got := describeAll(seen)
		want := []string{"BootNotification", "StatusNotification:1:Available", "Authorize", "StatusNotification:1:Occupied", "TransactionEvent:Started"}
		if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Fatalf("sequence starts %q, want %q", got, want)
		}
		tail := []string{"TransactionEvent:Ended", "StatusNotification:1:Available"}
		rest := got[len(want):]
		if len(rest) < 3+len(tail) || !slices.Equal(rest[len(rest)-len(tail):], tail) {
			t.Fatalf("sequence %q does not end with %q", got, tail)
		}
		for _, a := range rest[:len(rest)-len(tail)] {
			if a != "TransactionEvent:Updated" {
				t.Fatalf("unexpected %s while charging in %q", a, got)
			}
		}

		boot := seen[0].req21.(*v21.BootNotificationRequest)
		cs := boot.ChargingStation
		if boot.Reason != v21.BootReasonPowerUp || cs.VendorName != "Constellation" || cs.Model != "chargesim" || cs.SerialNumber != "CP1" || cs.FirmwareVersion == "" {
			t.Errorf("BootNotification %+v", boot)
		}
		if tok := seen[2].req21.(*v21.AuthorizeRequest).IdToken; tok.IdToken != "TAG1" || tok.Type != "ISO14443" {
			t.Errorf("Authorize idToken %+v", tok)
		}

		// The transaction's events: one id, seqNo 0..n, plausible readings.
		last := 0.0
		var events []*v21.TransactionEventRequest
		for _, r := range seen {
			if m := txEvent(r); m != nil {
				events = append(events, m)
			}
		}
		for n, m := range events {
			if m.SeqNo != n || m.TransactionInfo.TransactionId != txID || m.Offline != nil {
				t.Errorf("event %d: seqNo %d id %q offline %v, want seqNo %d id %q online", n, m.SeqNo, m.TransactionInfo.TransactionId, m.Offline, n, txID)
			}
		}
		start := events[0]
		if start.TriggerReason != v21.TriggerReasonAuthorized || start.Evse == nil || start.Evse.Id != 1 || start.Evse.ConnectorId == nil || *start.Evse.ConnectorId != 1 ||
			start.IdToken == nil || start.IdToken.IdToken != "TAG1" || start.IdToken.Type != "ISO14443" || start.TransactionInfo.ChargingState != v21.ChargingStateCharging {
			t.Errorf("Started %+v", start)
		}
		if len(txID) == 0 || len(txID) > 36 {
			t.Errorf("transaction id %q", txID)
		}
		last = register(t, start, v21.ReadingContextTransactionBegin)
		for _, m := range events[1 : len(events)-1] {
			if m.TriggerReason != v21.TriggerReasonMeterValuePeriodic {
				t.Errorf("Updated seqNo %d trigger %s", m.SeqNo, m.TriggerReason)
			}
			reg := register(t, m, v21.ReadingContextSamplePeriodic)
			if reg < last {
				t.Errorf("register went down: %v after %v", reg, last)
			}
			last = reg
			got := sampled(m.MeterValue)
			for _, w := range []string{"Power.Active.Import", "Current.ImportL1", "Current.ImportL2", "Current.ImportL3", "VoltageL1-N"} {
				if sv, ok := got[w]; !ok || sv.Value <= 0 || sv.Context != v21.ReadingContextSamplePeriodic {
					t.Errorf("Updated seqNo %d lacks %s: %+v", m.SeqNo, w, m.MeterValue)
				}
			}
		}
		end := events[len(events)-1]
		if end.TriggerReason != v21.TriggerReasonRemoteStop || end.TransactionInfo.StoppedReason != v21.ReasonRemote {
			t.Errorf("Ended %+v", end)
		}
		if reg := register(t, end, v21.ReadingContextTransactionEnd); reg < last {
			t.Errorf("final register %v below %v", reg, last)
		}

		// Every answered call was reported once, in order, in the
		// version's own types.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			n := len(acks)
			mu.Unlock()
			if n >= len(seen) || time.Now().After(deadline) {
				break
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(acks) != len(seen) {
			t.Fatalf("%d acks for %d answered calls", len(acks), len(seen))
		}
		for i, a := range acks {
			if a.Action != seen[i].action || string(a.RequestJSON) != string(seen[i].raw) || a.Response == nil {
				t.Errorf("ack %d = %s %s, want %s %s", i, a.Action, a.RequestJSON, seen[i].action, seen[i].raw)
			}
		}
		_, is201 := acks[0].Request.(*v201.BootNotificationRequest)
		_, is21 := acks[0].Request.(*v21.BootNotificationRequest)
		_, resp201 := acks[0].Response.(*v201.BootNotificationResponse)
		if (v == ocppj.V201) != (is201 && resp201) || (v == ocppj.V21) != is21 {
			t.Errorf("ack types %T %T for %s", acks[0].Request, acks[0].Response, v)
		}
	})
}

// TestV2SessionsEnd: scripted sessions end locally (or by unplugging), each
// transaction with its own id and seqNo from 0.
func TestV2SessionsEnd(t *testing.T) {
	forV2(t, func(t *testing.T, v ocppj.Version) {
		for _, unplug := range []bool{false, true} {
			f := newFakeCSMSVersion(t, v)
			o := testOptions2(f, "CP2")
			o.SessionLength = 5 * time.Millisecond
			o.Sessions = 2
			o.Tags = []string{"A", "B"}
			o.StopByUnplug = unplug
			_, wait := runStation(t, t.Context(), o)
			if err := wait(); err != nil {
				t.Fatal(err)
			}
			seq := map[string]int{}
			var tags, ids []string
			for _, r := range f.drain() {
				m := txEvent(r)
				if m == nil {
					continue
				}
				id := m.TransactionInfo.TransactionId
				if m.SeqNo != seq[id] {
					t.Errorf("transaction %s: seqNo %d, want %d", id, m.SeqNo, seq[id])
				}
				seq[id]++
				switch m.EventType {
				case v21.TransactionEventStarted:
					tags = append(tags, m.IdToken.IdToken)
					ids = append(ids, id)
				case v21.TransactionEventEnded:
					want := v21.ReasonLocal
					trigger := v21.TriggerReasonStopAuthorized
					if unplug {
						want, trigger = v21.ReasonEVDisconnected, v21.TriggerReasonEVCommunicationLost
					}
					if m.TransactionInfo.StoppedReason != want || m.TriggerReason != trigger {
						t.Errorf("Ended %s/%s, want %s/%s", m.TransactionInfo.StoppedReason, m.TriggerReason, want, trigger)
					}
					if !unplug && (m.IdToken == nil || m.IdToken.IdToken != tags[len(tags)-1]) {
						t.Errorf("local stop without the driver's idToken: %+v", m.IdToken)
					}
				}
			}
			if !slices.Equal(tags, []string{"A", "B"}) || len(ids) != 2 || ids[0] == ids[1] {
				t.Errorf("unplug=%t: tags %v ids %v", unplug, tags, ids)
			}
		}
	})
}

// TestV2LateToken: the transaction starts on plug-in without the token,
// which follows in an Updated once authorized; a refused token ends it.
func TestV2LateToken(t *testing.T) {
	forV2(t, func(t *testing.T, v ocppj.Version) {
		f := newFakeCSMSVersion(t, v)
		f.authorize = func(tag string) string {
			if tag == "BAD" {
				return string(v21.AuthorizationInvalid)
			}
			return string(v21.AuthorizationAccepted)
		}
		o := testOptions2(f, "LATE")
		o.LateToken = true
		o.Sessions = 1
		o.Tags = []string{"BAD", "GOOD"}
		o.SessionLength = 20 * time.Millisecond
		_, wait := runStation(t, t.Context(), o)
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		byTx := map[string][]rec{}
		var order []string
		for _, r := range f.drain() {
			if m := txEvent(r); m != nil {
				id := m.TransactionInfo.TransactionId
				if _, ok := byTx[id]; !ok {
					order = append(order, id)
				}
				byTx[id] = append(byTx[id], r)
			}
		}
		if len(order) != 2 {
			t.Fatalf("%d transactions, want a refused and an accepted one", len(order))
		}
		for i, id := range order {
			evs := byTx[id]
			start := txEvent(evs[0])
			if start.EventType != v21.TransactionEventStarted || start.TriggerReason != v21.TriggerReasonCablePluggedIn || start.IdToken != nil ||
				start.TransactionInfo.ChargingState != v21.ChargingStateEVConnected {
				t.Errorf("late Started %+v", start)
			}
			if i == 0 { // BAD: started, then ended deauthorized
				end := txEvent(evs[len(evs)-1])
				if len(evs) != 2 || end.EventType != v21.TransactionEventEnded || end.TransactionInfo.StoppedReason != v21.ReasonDeAuthorized || end.TriggerReason != v21.TriggerReasonDeauthorized {
					t.Errorf("refused late token: %v, last %+v", describeAll(evs), end)
				}
				continue
			}
			auth := txEvent(evs[1])
			if auth.EventType != v21.TransactionEventUpdated || auth.TriggerReason != v21.TriggerReasonAuthorized || auth.SeqNo != 1 ||
				auth.IdToken == nil || auth.IdToken.IdToken != "GOOD" || auth.TransactionInfo.ChargingState != v21.ChargingStateCharging {
				t.Errorf("token Updated %+v", auth)
			}
			if end := txEvent(evs[len(evs)-1]); end.EventType != v21.TransactionEventEnded || end.TransactionInfo.StoppedReason != v21.ReasonLocal {
				t.Errorf("accepted late token ended %+v", end)
			}
		}
		if _, err := NewStation(Options{ID: "x", URL: "ws://h/x", LateToken: true}); err == nil {
			t.Error("LateToken accepted with 1.6")
		}
	})
}

// TestV2OfflineQueueReplay: transaction events stay queued while offline,
// in order, and are replayed after the reconnect; those of events that
// happened offline carry offline=true.
func TestV2OfflineQueueReplay(t *testing.T) {
	forV2(t, func(t *testing.T, v ocppj.Version) {
		f := newFakeCSMSVersion(t, v)
		stats := &Stats{}
		var mu sync.Mutex
		acked := map[uint64]int{}
		o := testOptions2(f, "CP3")
		o.Sessions = 2
		o.SessionLength = 50 * time.Millisecond
		o.Stats = stats
		o.OnAck = func(a Ack) {
			mu.Lock()
			defer mu.Unlock()
			if a.Seq != 0 {
				acked[a.Seq]++
			}
		}
		// The first Started loses its connection before the answer;
		// reconnecting is refused until both sessions ended offline.
		var dropped bool
		f.intercept = func(c *rpc.Conn, r rec) (any, error, bool) {
			if isEvent(v21.TransactionEventStarted)(r) && !dropped {
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
		first := slices.IndexFunc(all, isEvent(v21.TransactionEventStarted))
		if first < 0 || all[first].answered {
			t.Fatal("the first Started was not dropped")
		}
		var replay []rec
		for _, r := range all[first+1:] {
			if txEvent(r) != nil {
				replay = append(replay, r)
			}
		}
		if len(replay) < 4 || string(replay[0].raw) != string(all[first].raw) {
			t.Fatalf("replay does not start with the unanswered Started: %v", describeAll(replay))
		}
		seq := map[string]int{}
		var order []string
		wasOffline := false
		for i, r := range replay {
			m := txEvent(r)
			if !r.answered {
				t.Fatalf("replayed %s not answered", describe2(r))
			}
			id := m.TransactionInfo.TransactionId
			if m.SeqNo != seq[id] {
				t.Errorf("transaction %s: seqNo %d, want %d", id, m.SeqNo, seq[id])
			}
			seq[id]++
			// The first Started happened online, the Ended events and the
			// second transaction offline; an Updated or two may have
			// been made before the station noticed the lost connection.
			offline := m.Offline != nil && *m.Offline
			mustBe := map[bool]bool{true: i > 0 && (m.EventType != v21.TransactionEventUpdated || len(seq) > 1), false: i == 0}
			if (mustBe[true] && !offline) || (mustBe[false] && offline) || (wasOffline && !offline) {
				t.Errorf("%s seqNo %d of transaction %d: offline %v", m.EventType, m.SeqNo, len(seq), m.Offline)
			}
			wasOffline = wasOffline || offline
			if m.EventType != v21.TransactionEventUpdated {
				order = append(order, string(m.EventType))
			}
		}
		if !slices.Equal(order, []string{"Started", "Ended", "Started", "Ended"}) || len(seq) != 2 {
			t.Errorf("replayed %v over %d transactions", order, len(seq))
		}
		mu.Lock()
		defer mu.Unlock()
		for s, n := range acked {
			if n != 1 {
				t.Errorf("seq %d acknowledged %d times", s, n)
			}
		}
		if stats.TxStarted.Load() != 2 || stats.Connects.Load() < 2 {
			t.Errorf("stats %+v", stats.Snapshot())
		}
	})
}

// TestV2NotifyEvents: with NotifyEvents every status change also goes out
// as a NotifyEvent of the connector's AvailabilityState.
func TestV2NotifyEvents(t *testing.T) {
	forV2(t, func(t *testing.T, v ocppj.Version) {
		f := newFakeCSMSVersion(t, v)
		o := testOptions2(f, "EV")
		o.NotifyEvents = true
		o.SessionLength = time.Millisecond
		_, wait := runStation(t, t.Context(), o)
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		var statuses, events []string
		for _, r := range f.drain() {
			switch m := r.req21.(type) {
			case *v21.StatusNotificationRequest:
				statuses = append(statuses, string(m.ConnectorStatus))
			case *v21.NotifyEventRequest:
				d := m.EventData[0]
				if d.Component.Name != "Connector" || d.Variable.Name != "AvailabilityState" || d.Trigger != v21.EventTriggerDelta || d.Component.Evse == nil || d.Component.Evse.Id != 1 {
					t.Errorf("NotifyEvent %+v", d)
				}
				events = append(events, d.ActualValue)
			}
		}
		// The first status is the one reported at boot.
		if len(statuses) != 3 || !slices.Equal(events, statuses[1:]) {
			t.Errorf("statuses %v, events %v", statuses, events)
		}
	})
}

// TestV2EventStream: with EventStream a 2.1 station opens a periodic event
// stream and sends NotifyPeriodicEventStream on it.
func TestV2EventStream(t *testing.T) {
	if _, err := NewStation(Options{ID: "x", URL: "ws://h/x", Version: ocppj.V201, EventStream: time.Second}); err == nil {
		t.Error("EventStream accepted with 2.0.1")
	}
	f := newFakeCSMSVersion(t, ocppj.V21)
	o := testOptions2(f, "STREAM")
	o.EventStream = 5 * time.Millisecond
	runStation(t, t.Context(), o)
	open := f.next(t, isAction("OpenPeriodicEventStream")).req21.(*v21.OpenPeriodicEventStreamRequest)
	ev := f.next(t, isAction("NotifyPeriodicEventStream")).req21.(*v21.NotifyPeriodicEventStreamRequest)
	if ev.Id != open.ConstantStreamData.Id || len(ev.Data) == 0 {
		t.Errorf("stream %d, event %+v", open.ConstantStreamData.Id, ev)
	}
}

// TestParseVersion: the spellings people use.
func TestParseVersion(t *testing.T) {
	for in, want := range map[string]ocppj.Version{"1.6": ocppj.V16, "2.0.1": ocppj.V201, "2.1": ocppj.V21, "ocpp2.0.1": ocppj.V201} {
		if got, err := ParseVersion(in); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "2.0", "ocpp3", "16"} {
		if _, err := ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) accepted", in)
		}
	}
}

// TestV2Load: the load generator speaks 2.x: Heartbeats, and the meter
// values of a transaction as TransactionEvent Updated, each connection
// with its own transaction and seqNo from 0.
func TestV2Load(t *testing.T) {
	forV2(t, func(t *testing.T, v ocppj.Version) {
		f := newFakeCSMSVersion(t, v)
		res, err := Load(t.Context(), LoadConfig{URL: f.url, Version: v, Stations: 3, CallsPerStation: 5, Duration: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if got := countActions(f.drain()); res.OK != 15 || got["Heartbeat"] != 15 || got["BootNotification"] != 3 {
			t.Fatalf("heartbeats: result %v, server saw %v", res, got)
		}

		res, err = Load(t.Context(), LoadConfig{URL: f.url, Version: v, Stations: 3, Action: "MeterValues", Rate: 3000, CallsPerStation: 4, Duration: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		recs := f.drain()
		if got := countActions(recs); res.OK != 12 || res.Failed != 0 || got["TransactionEvent"] != 3*(1+4+1) {
			t.Fatalf("meter values: result %v, server saw %v", res, got)
		}
		txOf := map[string]string{}
		seq := map[string]int{}
		for _, r := range recs {
			m := txEvent(r)
			if m == nil {
				continue
			}
			id := m.TransactionInfo.TransactionId
			if m.EventType == v21.TransactionEventStarted {
				if txOf[r.station] != "" {
					t.Errorf("%s started two transactions", r.station)
				}
				txOf[r.station] = id
			}
			if id != txOf[r.station] || m.SeqNo != seq[id] {
				t.Errorf("%s: %s of %s seqNo %d, want of %s seqNo %d", r.station, m.EventType, id, m.SeqNo, txOf[r.station], seq[id])
			}
			seq[id]++
			if m.EventType == v21.TransactionEventUpdated && m.TriggerReason != v21.TriggerReasonMeterValuePeriodic {
				t.Errorf("Updated with trigger %s", m.TriggerReason)
			}
		}
		if len(txOf) != 3 {
			t.Errorf("%d transactions, want one per connection", len(txOf))
		}
		if _, err := Load(t.Context(), LoadConfig{URL: f.url, Version: v, Action: "StatusNotification"}); err == nil {
			t.Error("Load with action StatusNotification succeeded")
		}
	})
}

// TestV2BootInterval: a Pending boot is retried; the accepted boot's
// interval sets the heartbeat interval (and the device model's).
func TestV2BootInterval(t *testing.T) {
	forV2(t, func(t *testing.T, v ocppj.Version) {
		f := newFakeCSMSVersion(t, v)
		boots := 0
		f.intercept = func(_ *rpc.Conn, r rec) (any, error, bool) {
			if r.action != "BootNotification" {
				return nil, nil, false
			}
			boots++
			resp := &v21.BootNotificationResponse{Status: v21.RegistrationPending, CurrentTime: payload.NewDateTime(time.Now())}
			if boots == 2 {
				resp.Status, resp.Interval = v21.RegistrationAccepted, 1
			}
			return resp, nil, true
		}
		o := testOptions2(f, "HB")
		o.HeartbeatInterval = 0
		o.Sessions = 0
		o.Pause = time.Hour
		o.SessionLength = time.Hour
		runStation(t, t.Context(), o)
		got := []string{f.next(t, isAction("BootNotification")).action, f.next(t, func(rec) bool { return true }).action}
		if !slices.Equal(got, []string{"BootNotification", "BootNotification"}) {
			t.Errorf("calls %v: want a second boot after Pending", got)
		}
		// Two heartbeats come within next's 30 s only at the 1 s interval
		// the boot gave (the default is far longer).
		f.next(t, isAction("Heartbeat"))
		f.next(t, isAction("Heartbeat"))
		res, err := f.command2(t, "HB", "GetVariables", &v21.GetVariablesRequest{GetVariableData: []v21.GetVariableData{getVar(comp("OCPPCommCtrlr", 0, 0), "HeartbeatInterval", "")}})
		if err != nil || res.(*v21.GetVariablesResponse).GetVariableResult[0].AttributeValue != "1" {
			t.Errorf("HeartbeatInterval after boot: %+v %v", res, err)
		}
	})
}
