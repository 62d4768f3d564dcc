package e2e

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/api"
	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	v16 "github.com/constellation-ev/constellation/appliance/ocpp/v16"
	v21 "github.com/constellation-ev/constellation/appliance/ocpp/v21"
	"github.com/constellation-ev/constellation/tools/chargesim/sim"
)

// TestMixedSite connects a 1.6, a 2.0.1 and a 2.1 station to one appliance
// at the same time, and each lives the same session concurrently: the
// same meters (one MeterSeed) on manual clocks started together and
// stepped alike, so the same start, meter samples, end and stop reason.
// The three stored sessions must be the same record apart from what
// differs by design (ids, charger, version tag, the 2.x EVSE connector),
// with the same readings, and the energy must add up.
//
// Each station presents its own token: the appliance rightly answers
// ConcurrentTx to an accepted token already charging elsewhere, so one
// token cannot run three concurrent sessions that are stored alike.
func TestMixedSite(t *testing.T) {
	const every, samples = time.Minute, 3
	const length = samples*every + every/2 // the end never coincides with a sample
	start := time.Now().UTC().Truncate(time.Second)
	s := startSite(t)

	type run struct {
		st    *station
		clock *sim.ManualClock
		tag   string
	}
	var runs []run
	for _, v := range []ocppj.Version{ocppj.V16, ocppj.V201, ocppj.V21} {
		clock := sim.NewManualClock(start)
		o := stationOptions("MIXED-"+string(v), v)
		o.Connectors, o.MeterInterval, o.SessionLength, o.Sessions = 1, every, length, 1
		o.Tags, o.MeterSeed, o.Clock = []string{"TAG-" + string(v)}, "mixed", clock
		runs = append(runs, run{s.connect(t, o), clock, o.Tags[0]})
	}

	// Each step waits, on every station, for the timer the previous step
	// led to (the next meter sample) before moving the clocks on: then
	// every station took the same samples at the same times.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for k := 1; k <= samples+1; k++ {
		at := start.Add(time.Duration(k) * every)
		for _, r := range runs {
			if err := r.clock.WaitTimer(ctx, at); err != nil {
				t.Fatalf("%s: no meter sample due at %v: %v", r.st.id, at, err)
			}
		}
		if k == 1 {
			var ids []string
			for _, r := range runs {
				ids = append(ids, r.st.id)
			}
			checkAllCharging(t, s, ids)
		}
		if k <= samples {
			for _, r := range runs {
				r.clock.AdvanceTo(at)
			}
		}
	}
	for _, r := range runs {
		r.clock.AdvanceTo(start.Add(length))
	}
	for _, r := range runs {
		r.st.wait(t)
	}

	// The records, normalised: what differs by design is checked, then
	// cleared.
	frames := s.rec.all()
	var records []charging.Transaction
	var readings [][]charging.MeterReading
	var total, totalSent int64
	for _, r := range runs {
		txs := r.st.transactions(t, false)
		if len(txs) != 1 {
			t.Fatalf("%s: %d sessions stored, want 1: %+v", r.st.id, len(txs), txs)
		}
		tx := txs[0]
		evseConnector := 0
		if r.st.version != ocppj.V16 {
			evseConnector = 1
		}
		if string(tx.ChargerID) != r.st.id || tx.Protocol != string(r.st.version) || tx.IDTag != r.tag || tx.StopIDTag != r.tag ||
			tx.EVSEConnectorID != evseConnector || (tx.ChargerTxID == "") != (r.st.version == ocppj.V16) {
			t.Errorf("%s: session stored as %+v", r.st.id, tx)
		}
		if tx.MeterStopWh == nil {
			t.Fatalf("%s: session not stopped: %+v", r.st.id, tx)
		}
		energy := *tx.MeterStopWh - tx.MeterStartWh
		sent := sentEnergy(t, frames, r.st.id)
		if energy != sent || energy <= 0 {
			t.Errorf("%s: %d Wh stored, %d Wh sent", r.st.id, energy, sent)
		}
		total += energy
		totalSent += sent
		readings = append(readings, normalReadings(s.transaction(t, tx.ID).Readings))

		tx.ID, tx.ChargerTxID, tx.ChargerID, tx.Protocol, tx.RecordedAt = 0, "", "", "", time.Time{}
		tx.IDTag, tx.StopIDTag, tx.EVSEConnectorID = "", "", 0
		records = append(records, tx)
	}
	base := records[0]
	if !base.StartTime.Equal(start) || !base.StopTime.Equal(start.Add(length)) || base.ConnectorID != 1 ||
		base.StopReason != string(v16.ReasonLocal) || base.Authorization != charging.AuthAccepted || len(readings[0]) != 2+6*samples {
		t.Errorf("the 1.6 session, normalised, is %+v with %d readings; want %v to %v on connector 1, stopped Local, %d readings",
			base, len(readings[0]), start, start.Add(length), 2+6*samples)
	}
	for i, r := range runs[1:] {
		if diff := fieldDiff(base, records[i+1]); diff != "" {
			t.Errorf("%s's session differs from the 1.6 one (1.6 ≠ %s):\n%s", r.st.id, r.st.version, diff)
		}
		if !slices.Equal(readings[0], readings[i+1]) {
			t.Errorf("%s's readings differ from the 1.6 session's:\n1.6: %v\n%s: %v", r.st.id, readings[0], r.st.version, readings[i+1])
		}
	}
	if total != totalSent || total != 3*(*base.MeterStopWh-base.MeterStartWh) {
		t.Errorf("total energy stored %d Wh, sent %d Wh, want 3 × %d Wh", total, totalSent, *base.MeterStopWh-base.MeterStartWh)
	}
	t.Logf("three sessions of %d Wh each, %d readings each", *base.MeterStopWh-base.MeterStartWh, len(readings[0]))
	t.Run("schemas", func(t *testing.T) {
		for _, r := range runs {
			validateFrames(t, r.st.version, slices.DeleteFunc(slices.Clone(frames), func(f frame) bool { return f.Station != r.st.id }))
		}
	})
}

// checkAllCharging waits until the stations' session starts are
// acknowledged, then checks that they are connected at once, each with
// another version, each in a session.
func checkAllCharging(t *testing.T, s *site, stations []string) {
	t.Helper()
	for _, id := range stations {
		s.rec.waitFor(t, 0, "the session start of "+id, func(f frame) bool {
			return f.Station == id && f.FromCSMS && f.Msg.Type == ocppj.CallResult && (f.Action == "StartTransaction" ||
				f.Action == "TransactionEvent" && txEvent(v21.TransactionEventStarted, "", 0)(f.Request))
		})
	}
	var l api.ChargerList
	s.api.get(t, "/api/v1/chargers", &l)
	protocols := map[string]bool{}
	for _, c := range l.Chargers {
		if c.Connected {
			protocols[c.Protocol] = true
		}
	}
	var active api.TransactionList
	s.api.get(t, "/api/v1/transactions?active=true", &active)
	if n := len(stations); len(protocols) != n || len(active.Transactions) != n {
		t.Errorf("%d versions connected at once with %d sessions, want %d and %d: %+v", len(protocols), len(active.Transactions), n, n, l.Chargers)
	}
}

// normalReadings returns readings in a form equal across versions: values
// in canonical form, times in UTC, sorted by time, then by what they
// measure.
func normalReadings(rs []charging.MeterReading) []charging.MeterReading {
	out := make([]charging.MeterReading, len(rs))
	for i, r := range rs {
		r.Value, r.Timestamp = canonical(r.Value), r.Timestamp.UTC()
		out[i] = r
	}
	slices.SortFunc(out, func(a, b charging.MeterReading) int {
		return cmp.Or(a.Timestamp.Compare(b.Timestamp), cmp.Compare(a.Context, b.Context),
			cmp.Compare(a.Measurand, b.Measurand), cmp.Compare(a.Phase, b.Phase))
	})
	return out
}

// sentEnergy is the energy of the one session a station sent, as its
// acknowledged messages say: 1.6 meterStop - meterStart, 2.x the
// Transaction.End register - the Transaction.Begin one.
func sentEnergy(t *testing.T, frames []frame, station string) int64 {
	t.Helper()
	var start, stop int64
	for _, f := range frames {
		if f.Station != station || !f.FromCSMS || f.Msg.Type != ocppj.CallResult {
			continue
		}
		switch f.Action {
		case "StartTransaction":
			start = int64(decode[v16.StartTransactionRequest](t, f.Request).MeterStart)
		case "StopTransaction":
			stop = int64(decode[v16.StopTransactionRequest](t, f.Request).MeterStop)
		case "TransactionEvent":
			switch ev := decode[v21.TransactionEventRequest](t, f.Request); ev.EventType {
			case v21.TransactionEventStarted:
				start = registerWh(t, ev, v21.ReadingContextTransactionBegin)
			case v21.TransactionEventEnded:
				stop = registerWh(t, ev, v21.ReadingContextTransactionEnd)
			}
		}
	}
	return stop - start
}
