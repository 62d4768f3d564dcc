package cloudsync

import (
	"slices"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/cloudsync/synctest"
	"github.com/constellation-ev/constellation/syncproto"
)

// Sessions recorded through the charging service (OCPP 1.6 and 2.x
// shaped) arrive at a subscriber: every record once by its key, each
// charger's in order, every reading present.
func TestSessionsArrive(t *testing.T) {
	broker := synctest.Broker(t)
	e := newEnv(t, broker, nil)
	sub := e.subscribe(t, broker)
	e.run(t)

	for _, id := range []charging.ChargerID{"CP1", "CP2", "CP3"} {
		_, err := e.svc.Boot(ctx, id, charging.BootInfo{Vendor: "ACME", Model: "W1", FirmwareVersion: "1.0"})
		must(t, err)
	}
	var txs []int64
	for range 3 {
		txs = append(txs, e.session(t, "CP1", 1, 20), e.session(t, "CP2", 1, 5))
	}
	txs = append(txs, e.session2x(t, "CP3", "tx-A", 10))
	must(t, e.svc.RecordConfiguration(ctx, "CP1", map[string]charging.ConfigValue{"HeartbeatInterval": {Value: "300"}}, true))
	must(t, e.svc.RecordFirmwareStatus(ctx, "CP2", "Downloading"))
	must(t, e.svc.PutToken(ctx, charging.IDToken{ID: "LOCAL", Status: charging.AuthAccepted})) // not sent

	want := e.wantRows(t, txs)
	sub.Wait(t, "every session and reading", allArrived(want, txs))
	msgs := sub.Wait(t, "the configuration and firmware event", func(ms []synctest.Message) bool {
		var cfg, fw bool
		for _, m := range ms {
			switch m := m.Msg.(type) {
			case *syncproto.ChargerConfig:
				cfg = cfg || m.Configuration["HeartbeatInterval"].Value == "300"
			case *syncproto.Event:
				fw = fw || (m.Event == syncproto.EventFirmware && m.Code == "Downloading")
			}
		}
		return cfg && fw
	})
	for key, n := range synctest.Keys(msgs) {
		if n != 1 {
			t.Errorf("record %s arrived %d times", key, n)
		}
	}
	checkOrder(t, msgs, true)

	// Each session's records say what happened, with growing revisions.
	revs := map[int64][]int{}
	var births int
	for _, m := range msgs {
		switch m := m.Msg.(type) {
		case *syncproto.Transaction:
			revs[m.ID] = append(revs[m.ID], m.Rev)
			if m.Event == syncproto.TxStopped && (m.MeterStopWh == nil || m.Stop.IsZero() || m.IDTag == "") {
				t.Errorf("stop record %+v", m)
			}
		case *syncproto.Birth:
			births++
			if m.BdSeq < 1 || m.Boot == "" {
				t.Errorf("birth %+v", m)
			}
		}
	}
	for id, rs := range revs {
		if !slices.IsSorted(rs) || rs[0] != 1 {
			t.Errorf("transaction %d revisions %v", id, rs)
		}
	}
	if births != 1 {
		t.Errorf("%d births, want 1", births)
	}
	got := gotRows(msgs)
	if len(got) != len(want) {
		t.Errorf("%d readings arrived, %d recorded", len(got), len(want))
	}
	st := e.waitStatus(t, "an empty outbox", func(s Status) bool { return s.Backlog == 0 })
	if !st.Connected || st.LastSync.IsZero() || st.Site != e.opts.Site {
		t.Errorf("status %+v", st)
	}
}

// session2x records an OCPP 2.x session (TransactionEvents) of n meter
// values on EVSE 1.
func (e *env) session2x(t *testing.T, charger charging.ChargerID, chargerTx string, n int) int64 {
	t.Helper()
	at := e.clock.Now()
	res, err := e.svc.TransactionEvent(ctx, charging.TransactionEvent{ChargerID: charger, ChargerTxID: chargerTx, Kind: charging.EventStarted,
		Timestamp: at, EVSEID: 1, ConnectorID: 1, IDToken: "CARD-2X", Readings: meterValues(at, 500)})
	must(t, err)
	for i := 1; i <= n; i++ {
		at = at.Add(15 * time.Second)
		e.clock.Set(at)
		_, err := e.svc.TransactionEvent(ctx, charging.TransactionEvent{ChargerID: charger, ChargerTxID: chargerTx, Kind: charging.EventUpdated,
			SeqNo: i, Timestamp: at, Readings: meterValues(at, 500+int64(i)*10)})
		must(t, err)
	}
	at = at.Add(15 * time.Second)
	e.clock.Set(at)
	_, err = e.svc.TransactionEvent(ctx, charging.TransactionEvent{ChargerID: charger, ChargerTxID: chargerTx, Kind: charging.EventEnded,
		SeqNo: n + 1, Timestamp: at, StoppedReason: "EVDisconnected", Readings: meterValues(at, 500+int64(n+1)*10)})
	must(t, err)
	return res.Transaction.ID
}

// The broker is out of reach for days of simulated time while the site
// records sessions; once it is back, everything arrives, each charger's
// records in order, the only duplicates being resends under the same key.
func TestPartition(t *testing.T) {
	broker := synctest.Broker(t)
	proxy := synctest.NewProxy(t, broker)
	e := newEnv(t, proxy.URL(), func(o *Options) { o.ReadingsBatch = 5 * time.Minute })
	sub := e.subscribe(t, broker)
	e.run(t)
	e.waitStatus(t, "the link", func(s Status) bool { return s.Connected })

	txs := []int64{e.session(t, "CP1", 1, 8)}
	sub.Wait(t, "the first session", allArrived(e.wantRows(t, txs), txs))

	proxy.Cut()
	sub.Wait(t, "the will (Death) of the first link session", func(ms []synctest.Message) bool {
		return slices.ContainsFunc(ms, func(m synctest.Message) bool { _, ok := m.Msg.(*syncproto.Death); return ok })
	})
	e.waitStatus(t, "the link to drop", func(s Status) bool { return !s.Connected })

	// A week at a three-charger site, two sessions a day each, the clock
	// compressed.
	for day := range 7 {
		for range 2 {
			for _, id := range []charging.ChargerID{"CP1", "CP2", "CP3"} {
				txs = append(txs, e.session(t, id, 1, 12))
				e.clock.Advance(time.Hour)
			}
		}
		// Cards the cache knows keep working offline.
		if a, err := e.svc.Authorize(ctx, "CP1", "CARD-CP1"); err != nil || a.Status != charging.AuthAccepted {
			t.Fatalf("day %d: authorization offline: %+v, %v", day, a, err)
		}
		e.clock.Advance(16 * time.Hour)
	}
	if st, err := e.client.Status(); err != nil || st.Backlog == 0 || st.Connected {
		t.Fatalf("offline status %+v, %v", st, err)
	}

	// The link comes back, and drops again in the middle of the catch-up.
	offline := txs[1:]
	proxy.Restore()
	sub.Wait(t, "the catch-up to begin", func(ms []synctest.Message) bool {
		return slices.ContainsFunc(ms, func(m synctest.Message) bool {
			tx, ok := m.Msg.(*syncproto.Transaction)
			return ok && slices.Contains(offline, tx.ID)
		})
	})
	proxy.Cut()
	e.waitStatus(t, "the link to drop again", func(s Status) bool { return !s.Connected })
	proxy.Restore()
	want := e.wantRows(t, txs)
	msgs := sub.Wait(t, "every session recorded offline", allArrived(want, txs))
	checkOrder(t, msgs, false)
	var bdSeqs []uint64
	for _, m := range msgs {
		if b, ok := m.Msg.(*syncproto.Birth); ok {
			bdSeqs = append(bdSeqs, b.BdSeq)
		}
	}
	if len(bdSeqs) < 2 || !slices.IsSorted(bdSeqs) {
		t.Errorf("births' bdSeqs %v: want a new, higher one after the partition", bdSeqs)
	}
	e.waitStatus(t, "an empty outbox", func(s Status) bool { return s.Backlog == 0 && s.Connected })
}

// Records still unacknowledged when the appliance stops are sent after
// it starts again, with the keys they had; what was acknowledged is not
// sent again.
func TestRestartResendsWithSameKeys(t *testing.T) {
	broker := synctest.Broker(t)
	proxy := synctest.NewProxy(t, broker)
	e := newEnv(t, proxy.URL(), nil)
	sub := e.subscribe(t, broker)
	e.run(t)

	first := []int64{e.session(t, "CP1", 1, 4)}
	sub.Wait(t, "the first session", allArrived(e.wantRows(t, first), first))
	e.waitStatus(t, "the first session to leave the outbox", func(s Status) bool { return s.Backlog == 0 })
	before := synctest.Keys(sub.Messages())

	proxy.Cut()
	e.waitStatus(t, "the link to drop", func(s Status) bool { return !s.Connected })
	second := []int64{e.session(t, "CP1", 1, 4), e.session(t, "CP2", 2, 4)}
	queued := e.outboxKeys(t)
	if len(queued) == 0 {
		t.Fatal("nothing queued while offline")
	}

	e.opts.Broker = broker // the restarted appliance finds the broker
	e.reopen(t)
	e.run(t)
	readings := allArrived(e.wantRows(t, second), second)
	msgs := sub.Wait(t, "the records queued before the restart, under their keys", func(ms []synctest.Message) bool {
		got := synctest.Keys(ms)
		for k, kind := range queued {
			// Readings may travel merged, under another key: their rows count.
			if kind != syncproto.KindReadings && got[k] == 0 {
				return false
			}
		}
		return readings(ms)
	})
	got := synctest.Keys(msgs)
	for k := range before {
		if got[k] != before[k] {
			t.Errorf("record %s, acknowledged before the restart, arrived again", k)
		}
	}
	checkOrder(t, msgs, true)
}
