package cloudsync

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/store"
	"github.com/constellation-ev/constellation/syncproto"
)

// queued returns the records waiting in the outbox, in order.
func (e *env) queued(t *testing.T) []record {
	t.Helper()
	recs, bad, _, err := e.client.outbox.scan(0, 1<<30, nil)
	must(t, err)
	if len(bad) > 0 {
		t.Fatalf("undecodable records %v", bad)
	}
	return recs
}

// A full outbox drops the oldest readings first, then other droppable
// records, and never a transaction; what it dropped is counted and logged.
func TestBoundedOutbox(t *testing.T) {
	e := newEnv(t, "", func(o *Options) { o.MaxEntries = 40 })
	var txs []int64
	for i := range 5 {
		txs = append(txs, e.session(t, charging.ChargerID("CP"+string(rune('1'+i))), 1, 20))
	}
	recs := e.queued(t)
	if len(recs) != 40 {
		t.Fatalf("%d records queued, want the limit 40", len(recs))
	}
	events := map[int64][]string{}
	var readings []*syncproto.Readings
	for _, r := range recs {
		switch m := r.msg.(type) {
		case *syncproto.Transaction:
			events[m.ID] = append(events[m.ID], m.Event)
		case *syncproto.Readings:
			readings = append(readings, m)
		}
	}
	for _, id := range txs {
		if strings.Join(events[id], ",") != "started,stopped" {
			t.Errorf("transaction %d: records %v, want started and stopped kept", id, events[id])
		}
	}
	// The readings kept are the newest: the last session's.
	if len(readings) == 0 || readings[0].TransactionID != txs[len(txs)-1] {
		t.Errorf("readings kept start with transaction %v, want the newest session's %d", readings, txs[len(txs)-1])
	}
	st, err := e.client.Status()
	must(t, err)
	if st.Backlog != 40 || st.Dropped.Readings == 0 || st.Dropped.Other != 0 {
		t.Errorf("status %+v", st)
	}
	if !strings.Contains(e.logs.String(), "sync outbox full") {
		t.Error("drops not logged")
	}

	// With nothing droppable left the outbox grows: transactions stay.
	e2 := newEnv(t, "", func(o *Options) { o.MaxEntries = 5 })
	for range 10 {
		tx, _, err := e2.svc.StartTransaction(ctx, charging.StartRequest{ChargerID: "CP1", ConnectorID: 1, IDTag: "T", Timestamp: e2.clock.Now()})
		must(t, err)
		_, _, err = e2.svc.StopTransaction(ctx, charging.StopRequest{ChargerID: "CP1", TransactionID: tx.ID, Timestamp: e2.clock.Now()})
		must(t, err)
		e2.clock.Advance(time.Minute)
	}
	if n := len(e2.queued(t)); n != 20 {
		t.Errorf("%d records queued, want all 20 transaction records", n)
	}
	if !strings.Contains(e2.logs.String(), "over its limit") {
		t.Error("growing over the limit not logged")
	}
}

// Each domain change becomes the records that describe it.
func TestChangesToRecords(t *testing.T) {
	e := newEnv(t, "", nil)
	_, err := e.svc.Boot(ctx, "CP1", charging.BootInfo{Vendor: "ACME", Model: "W1", FirmwareVersion: "2.0"})
	must(t, err)
	must(t, e.svc.UpdateConnectorStatus(ctx, charging.StatusUpdate{ChargerID: "CP1", ConnectorID: 1, Status: charging.StatusFaulted, ErrorCode: "GroundFailure"}))
	must(t, e.svc.PutToken(ctx, charging.IDToken{ID: "T1", Status: charging.AuthAccepted}))
	must(t, e.svc.DeleteToken(ctx, "T1"))
	must(t, e.svc.RecordReservation(ctx, charging.Reservation{ID: 4, ChargerID: "CP1", ConnectorID: 1, IDTag: "T2", Expiry: t0.Add(time.Hour)}))
	must(t, e.svc.RecordDiagnosticsStatus(ctx, "CP1", "Uploaded"))
	must(t, e.svc.RecordMeterValues(ctx, charging.MeterValues{ChargerID: "CP1", ConnectorID: 1, Readings: []charging.MeterReading{
		{Timestamp: t0, Value: "12.5", Measurand: "Energy.Active.Import.Register", Unit: "Wh", Multiplier: 3},
		{Timestamp: t0, Value: "0a1b2c", Format: "SignedData"},
		{Timestamp: t0, Value: "230.1", Measurand: "Voltage", Phase: "L1", Unit: "V"},
	}}))
	res, err := e.svc.TransactionEvent(ctx, charging.TransactionEvent{ChargerID: "CP2", ChargerTxID: "x", Kind: charging.EventStarted, Timestamp: t0})
	must(t, err)
	_, err = e.svc.TransactionEvent(ctx, charging.TransactionEvent{ChargerID: "CP2", ChargerTxID: "x", Kind: charging.EventUpdated, SeqNo: 1, Timestamp: t0, IDToken: "LATE"})
	must(t, err)
	_, err = e.svc.RecordTap(ctx, charging.Tap{Token: "CARD-1", Result: charging.TapStopped, ChargerID: "CP1", ConnectorID: 2, TransactionID: 9})
	must(t, err)

	var kinds []string
	for _, r := range e.queued(t) {
		k := string(r.msg.Kind())
		switch m := r.msg.(type) {
		case *syncproto.Event:
			k += ":" + m.Event + ":" + m.Code
			if m.Event == syncproto.EventTap && (m.Charger != "CP1" || m.Detail["token"] != "CARD-1" || m.Detail["connector"] != "2" || m.Detail["transactionId"] != "9") {
				t.Errorf("tap record %+v", m)
			}
		case *syncproto.Transaction:
			k += ":" + m.Event
			if m.ID != res.Transaction.ID || (m.Event == syncproto.TxUpdated) != (m.Rev == 2) || (m.Event == syncproto.TxUpdated && m.IDTag != "LATE") {
				t.Errorf("transaction record %+v", m)
			}
		case *syncproto.Readings:
			var vals []string
			for _, row := range m.Rows() {
				vals = append(vals, row.Column.Measurand+"="+row.Value)
			}
			k += ":" + strings.Join(vals, ",")
		case *syncproto.ChargerStatus:
			if m.Vendor == "" && (len(m.Connectors) != 1 || m.Connectors[0].Status != "Faulted") {
				t.Errorf("status record %+v", m)
			}
		}
		if key := r.msg.Head().Key; !strings.HasPrefix(key, e.client.outbox.id+"-") || r.msg.Head().Time.IsZero() {
			t.Errorf("record header %+v", r.msg.Head())
		}
		kinds = append(kinds, k)
	}
	want := []string{"status", "event:boot:", "status", "event:fault:GroundFailure", "event:reservation:Accepted",
		"event:diagnostics:Uploaded", "readings:Energy.Active.Import.Register=12500,Voltage=230.1", "tx:started", "tx:updated", "event:tap:stopped"}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("records\n%v\nwant\n%v", kinds, want)
	}
}

func TestScaleDecimal(t *testing.T) {
	for _, tt := range []struct {
		v    string
		exp  int
		want string
	}{
		{"12.5", 3, "12500"}, {"12.5", 0, "12.5"}, {"1", -3, "0.001"}, {"-0.5", 1, "-5"},
		{"100030.8", -3, "100.0308"}, {"1e3", 1, "10000"}, {"7", 2, "700"},
	} {
		if got, ok := scaleDecimal(tt.v, tt.exp); !ok || got != tt.want {
			t.Errorf("scaleDecimal(%q, %d) = %q, %v; want %q", tt.v, tt.exp, got, ok, tt.want)
		}
	}
	if _, ok := scaleDecimal("x", 1); ok {
		t.Error("scaled a non-number")
	}
}

// fakePublisher acknowledges every publish and hands it to the test;
// records of kind refuse it answers with reason code 0x95 (packet too
// large).
type fakePublisher struct {
	got    chan syncproto.Message
	refuse syncproto.Kind
}

func (f fakePublisher) Publish(_ context.Context, p *paho.Publish) (*paho.PublishResponse, error) {
	m, err := syncproto.Decode(p.Topic, p.Payload)
	if err != nil {
		return nil, err
	}
	if m.Kind() == f.refuse {
		return &paho.PublishResponse{ReasonCode: 0x95}, errors.New("error publishing: packet too large")
	}
	f.got <- m
	return &paho.PublishResponse{}, nil
}

// Live readings wait for the batch window and then go out merged; a
// session's stop sends them at once; backlog is never held.
func TestReadingsBatch(t *testing.T) {
	e := newEnv(t, "", func(o *Options) { o.ReadingsBatch = 5 * time.Minute })
	mv := func(tx int64, at time.Time) {
		must(t, e.svc.RecordMeterValues(ctx, charging.MeterValues{ChargerID: "CP1", ConnectorID: 1, TransactionID: tx, Readings: meterValues(at, at.Unix())}))
	}
	tx, _, err := e.svc.StartTransaction(ctx, charging.StartRequest{ChargerID: "CP1", ConnectorID: 1, IDTag: "T", Timestamp: t0})
	must(t, err)
	mv(tx.ID, t0) // backlog: queued before the link came up

	pub := fakePublisher{got: make(chan syncproto.Message, 100)}
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	e.clock.Advance(time.Second)
	d := &drain{c: e.client, pub: pub, start: e.clock.Now()}
	go func() { done <- d.run(dctx) }()
	defer func() {
		cancel()
		<-done
	}()
	next := func() syncproto.Message {
		t.Helper()
		select {
		case m := <-pub.got:
			return m
		case <-time.After(time.Minute):
			t.Fatal("nothing published")
			return nil
		}
	}
	if m := next(); m.Kind() != syncproto.KindTransaction {
		t.Fatalf("first %s", m.Kind())
	}
	if m, ok := next().(*syncproto.Readings); !ok || len(m.Samples) != 1 {
		t.Fatalf("the backlog reading was not sent at once: %+v", m)
	}

	// Live: three reports in two minutes wait; a status passes them.
	for i := 1; i <= 3; i++ {
		e.clock.Advance(40 * time.Second)
		mv(tx.ID, e.clock.Now())
	}
	must(t, e.svc.UpdateConnectorStatus(ctx, charging.StatusUpdate{ChargerID: "CP1", ConnectorID: 1, Status: charging.StatusSuspendedEV}))
	if m := next(); m.Kind() != syncproto.KindChargerStatus {
		t.Fatalf("held readings were sent before the window: %s", m.Kind())
	}
	e.clock.Advance(5 * time.Minute)
	if m, ok := next().(*syncproto.Readings); !ok || len(m.Samples) != 3 || !strings.Contains(m.Key, "-") {
		t.Fatalf("after the window: %+v, want the three reports merged", m)
	}

	// The stop flushes what waits.
	mv(tx.ID, e.clock.Now())
	_, _, err = e.svc.StopTransaction(ctx, charging.StopRequest{ChargerID: "CP1", TransactionID: tx.ID, Timestamp: e.clock.Now()})
	must(t, err)
	if m, ok := next().(*syncproto.Readings); !ok || len(m.Samples) != 1 {
		t.Fatalf("stop did not flush the readings first: %+v", m)
	}
	if m, ok := next().(*syncproto.Transaction); !ok || m.Event != syncproto.TxStopped {
		t.Fatalf("then the stop: %+v", m)
	}
}

// A record the broker refuses for good is dropped and counted, and does
// not block the outbox.
func TestRefusedRecordDropped(t *testing.T) {
	e := newEnv(t, "", nil)
	must(t, e.svc.RecordConfiguration(ctx, "CP1", map[string]charging.ConfigValue{"K": {Value: "v"}}, true))
	must(t, e.svc.RecordFirmwareStatus(ctx, "CP1", "Installed"))
	pub := fakePublisher{got: make(chan syncproto.Message, 10), refuse: syncproto.KindChargerConfig}
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- (&drain{c: e.client, pub: pub, start: e.clock.Now()}).run(dctx) }()
	if m := <-pub.got; m.Kind() != syncproto.KindEvent {
		t.Fatalf("got %s", m.Kind())
	}
	e.waitStatus(t, "an empty outbox", func(s Status) bool { return s.Backlog == 0 && s.Dropped.Invalid == 1 })
	cancel()
	<-done
	if !strings.Contains(e.logs.String(), "refused a record for good") {
		t.Error("the refusal was not logged")
	}
}

// A corrupt record is dropped and counted, and does not block the outbox.
func TestCorruptRecordDropped(t *testing.T) {
	e := newEnv(t, "", nil)
	must(t, e.svc.UpdateConnectorStatus(ctx, charging.StatusUpdate{ChargerID: "CP1", ConnectorID: 1, Status: charging.StatusAvailable}))
	must(t, e.db.Update(ctx, func(tx *bbolt.Tx) error {
		c := readCounters(tx)
		c.Count++
		if err := c.put(tx); err != nil {
			return err
		}
		return tx.Bucket(bkOutbox).Put(store.U64(1000), []byte("garbage"))
	}))
	pub := fakePublisher{got: make(chan syncproto.Message, 10)}
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- (&drain{c: e.client, pub: pub, start: e.clock.Now()}).run(dctx) }()
	if m := <-pub.got; m.Kind() != syncproto.KindChargerStatus {
		t.Fatalf("got %s", m.Kind())
	}
	e.waitStatus(t, "an empty outbox", func(s Status) bool { return s.Backlog == 0 && s.Dropped.Invalid == 1 })
	cancel()
	<-done
}
