package charging

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/internal/testlog"
)

const v201 = "ocpp2.0.1"

// txEvent is an event of session "tx-1" of CP1 on EVSE 1.
func txEvent(kind TransactionEventKind, seq int, at time.Duration, rs ...MeterReading) TransactionEvent {
	return TransactionEvent{ChargerID: "CP1", ChargerTxID: "tx-1", Protocol: v201, Kind: kind, SeqNo: seq,
		Timestamp: t0.Add(at), TriggerReason: "MeterValuePeriodic", EVSEID: 1, Readings: rs}
}

// reg is an energy register reading as the adapters write it (defaults explicit).
func reg(at time.Duration, value, context string) MeterReading {
	return MeterReading{Timestamp: t0.Add(at), Value: value, Measurand: MeasurandEnergyImportRegister, Unit: "Wh",
		Context: context, Location: "Outlet", Format: "Raw"}
}

func withToken(ev TransactionEvent, tag string) TransactionEvent { ev.IDToken = tag; return ev }

func mustEvent(t *testing.T, e *env, ev TransactionEvent) TransactionEventResult {
	t.Helper()
	res, err := e.svc.TransactionEvent(ctx, ev)
	if err != nil {
		t.Fatalf("%s seqNo %d: %v", ev.Kind, ev.SeqNo, err)
	}
	return res
}

// changeLog collects what OnChange sees.
type changeLog struct {
	mu sync.Mutex
	cs []Change
}

func (l *changeLog) hook(_ *bbolt.Tx, c Change) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cs = append(l.cs, c)
	return nil
}

func (l *changeLog) take() []Change {
	l.mu.Lock()
	defer l.mu.Unlock()
	cs := l.cs
	l.cs = nil
	return cs
}

func kinds(cs []Change) []ChangeKind {
	var out []ChangeKind
	for _, c := range cs {
		out = append(out, c.Kind)
	}
	return out
}

// comparable blanks the fields in which equal sessions of different
// protocols may differ.
func comparable(tx Transaction) Transaction {
	tx.ID, tx.ChargerTxID, tx.Protocol, tx.RecordedAt = 0, "", "", time.Time{}
	return tx
}

// A 1.6 session and the same session reported by 2.0.1 events give the
// same records, readings and changes.
func TestSessionEquivalence16And201(t *testing.T) {
	periodic := func(i int) MeterReading {
		return reg(time.Duration(i)*15*time.Minute, fmt.Sprint(1000+1000*i), "Sample.Periodic")
	}
	begin, end := reg(0, "1000", ContextTransactionBegin), reg(time.Hour, "5000", ContextTransactionEnd)
	for _, evseConnector := range []int{0, 1} {
		t.Run(fmt.Sprintf("evseConnector=%d", evseConnector), func(t *testing.T) {
			var log16, log2 changeLog
			e16 := newEnv(t, Config{OnChange: log16.hook})
			e2 := newEnv(t, Config{OnChange: log2.hook})
			for _, e := range []*env{e16, e2} {
				if err := e.svc.PutToken(ctx, IDToken{ID: "TAG", Status: AuthAccepted}); err != nil {
					t.Fatal(err)
				}
			}
			log16.take()
			log2.take()

			tx16, a16, err := e16.svc.StartTransaction(ctx, StartRequest{ChargerID: "CP1", ConnectorID: 1, IDTag: "TAG",
				MeterStartWh: 1000, Timestamp: t0, Protocol: "ocpp1.6"})
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 3; i++ {
				if err := e16.svc.RecordMeterValues(ctx, MeterValues{ChargerID: "CP1", ConnectorID: 1, TransactionID: tx16.ID,
					Readings: []MeterReading{periodic(i)}}); err != nil {
					t.Fatal(err)
				}
			}
			stopped16, _, err := e16.svc.StopTransaction(ctx, StopRequest{ChargerID: "CP1", TransactionID: tx16.ID, IDTag: "TAG",
				MeterStopWh: 5000, Timestamp: t0.Add(time.Hour), Reason: "EVDisconnected", Readings: []MeterReading{begin, end}})
			if err != nil {
				t.Fatal(err)
			}

			started := withToken(txEvent(EventStarted, 0, 0, begin), "TAG")
			started.ConnectorID = evseConnector
			r2 := mustEvent(t, e2, started)
			if r2.Authorization == nil || r2.Authorization.Status != a16.Status {
				t.Fatalf("2.x authorization %+v, 1.6 %+v", r2.Authorization, a16)
			}
			for i := 1; i <= 3; i++ {
				mustEvent(t, e2, txEvent(EventUpdated, i, time.Duration(i)*15*time.Minute, periodic(i)))
			}
			ended := withToken(txEvent(EventEnded, 4, time.Hour, end), "TAG")
			ended.StoppedReason = "EVDisconnected"
			stopped2 := mustEvent(t, e2, ended).Transaction

			if stopped2.Protocol != v201 || stopped2.ChargerTxID != "tx-1" || stopped16.Protocol != "ocpp1.6" {
				t.Fatalf("version tags: 2.x %q %q, 1.6 %q", stopped2.Protocol, stopped2.ChargerTxID, stopped16.Protocol)
			}
			if stopped2.EVSEConnectorID != evseConnector {
				t.Fatalf("EVSEConnectorID %d, want %d", stopped2.EVSEConnectorID, evseConnector)
			}
			// The connector within the EVSE is the one more thing 2.x says.
			stopped2.EVSEConnectorID = 0
			if !reflect.DeepEqual(comparable(stopped16), comparable(stopped2)) {
				t.Fatalf("records differ:\n1.6 %+v\n2.x %+v", stopped16, stopped2)
			}
			_, readings16, err := e16.svc.Transaction(ctx, tx16.ID)
			if err != nil {
				t.Fatal(err)
			}
			_, readings2, err := e2.svc.Transaction(ctx, r2.Transaction.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(readings16) != 5 || !reflect.DeepEqual(readings16, readings2) {
				t.Fatalf("readings differ:\n1.6 %+v\n2.x %+v", readings16, readings2)
			}

			// OnChange: the same kinds in the same order (2.x reports the
			// begin and end readings in separate events), the same records.
			c16, c2 := log16.take(), log2.take()
			if k16, k2 := slices.Compact(kinds(c16)), slices.Compact(kinds(c2)); !reflect.DeepEqual(k16, k2) ||
				!reflect.DeepEqual(k16, []ChangeKind{ChangeTransactionStart, ChangeMeterValues, ChangeTransactionStop}) {
				t.Fatalf("change kinds: 1.6 %v, 2.x %v", kinds(c16), kinds(c2))
			}
			records := func(cs []Change) (start, stop Transaction, rs []MeterReading) {
				for _, c := range cs {
					switch r := c.Record.(type) {
					case Transaction:
						r.EVSEConnectorID = 0
						if c.Kind == ChangeTransactionStart {
							start = comparable(r)
						} else {
							stop = comparable(r)
						}
					case MeterValues:
						rs = append(rs, r.Readings...)
					}
				}
				slices.SortStableFunc(rs, func(a, b MeterReading) int { return a.Timestamp.Compare(b.Timestamp) })
				return start, stop, rs
			}
			s16, p16, m16 := records(c16)
			s2, p2, m2 := records(c2)
			if !reflect.DeepEqual(s16, s2) || !reflect.DeepEqual(p16, p2) || !reflect.DeepEqual(m16, m2) {
				t.Fatalf("changed records differ:\n1.6 %+v %+v %+v\n2.x %+v %+v %+v", s16, p16, m16, s2, p2, m2)
			}
		})
	}
}

func TestTransactionEventRules(t *testing.T) {
	other := func(ev TransactionEvent, id string) TransactionEvent { ev.ChargerTxID = id; return ev }
	onEVSE := func(ev TransactionEvent, evse, conn int) TransactionEvent {
		ev.EVSEID, ev.ConnectorID = evse, conn
		return ev
	}
	type step struct {
		ev       TransactionEvent
		do       func(t *testing.T, e *env) // runs before the event, if set
		dup      bool
		auth     AuthStatus // expected answer; "": none
		wantNote string     // a warning the event must log
	}
	kwh := func(at time.Duration, v, context string, mult int) MeterReading {
		r := reg(at, v, context)
		r.Unit, r.Multiplier = "kWh", mult
		return r
	}
	ended := func(seq int, at time.Duration, reason string, rs ...MeterReading) TransactionEvent {
		ev := txEvent(EventEnded, seq, at, rs...)
		ev.StoppedReason = reason
		return ev
	}
	tests := []struct {
		name  string
		steps []step
		check func(t *testing.T, e *env, tx Transaction, readings []MeterReading)
	}{
		{"started", []step{{ev: withToken(txEvent(EventStarted, 0, 0, reg(0, "1000", ContextTransactionBegin)), "TAG"), auth: AuthAccepted}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				want := Transaction{ID: 1, ChargerTxID: "tx-1", ChargerID: "CP1", Protocol: v201, ConnectorID: 1, IDTag: "TAG",
					StartTime: t0, MeterStartWh: 1000, Authorization: AuthAccepted, RecordedAt: t0}
				if !reflect.DeepEqual(tx, want) || len(rs) != 1 {
					t.Fatalf("got %+v %+v\nwant %+v", tx, rs, want)
				}
				active, _ := e.svc.Transactions(ctx, TransactionFilter{ActiveOnly: true})
				if len(active) != 1 || active[0].ID != tx.ID {
					t.Fatalf("active %+v", active)
				}
			}},
		{"start meter: earliest register reading without Transaction.Begin", []step{{ev: txEvent(EventStarted, 0, 0,
			MeterReading{Timestamp: t0, Value: "7000", Measurand: "Power.Active.Import", Unit: "W"},
			reg(time.Minute, "1200", "Sample.Periodic"), reg(0, "1100", "Trigger"),
			MeterReading{Timestamp: t0, Value: "900", Measurand: MeasurandEnergyImportRegister, Phase: "L1", Unit: "Wh"})}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.MeterStartWh != 1100 || tx.IDTag != "" || tx.Authorization != "" {
					t.Fatalf("%+v", tx)
				}
			}},
		{"kWh converted", []step{
			{ev: txEvent(EventStarted, 0, 0, kwh(0, "1.5", ContextTransactionBegin, 0))},
			{ev: ended(1, time.Hour, "Local", kwh(time.Hour, "5.25", ContextTransactionEnd, 0))}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.MeterStartWh != 1500 || tx.MeterStopWh == nil || *tx.MeterStopWh != 5250 || tx.StopReason != "Local" {
					t.Fatalf("%+v", tx)
				}
				if rs[0].Value != "1.5" || rs[0].Unit != "kWh" {
					t.Fatalf("readings not kept as sent: %+v", rs)
				}
			}},
		{"multiplier", []step{
			{ev: txEvent(EventStarted, 0, 0, MeterReading{Timestamp: t0, Value: "2", Unit: "Wh", Multiplier: 3, Context: ContextTransactionBegin})},
			{ev: ended(1, time.Hour, "Local", kwh(time.Hour, "0.006", ContextTransactionEnd, 3))}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.MeterStartWh != 2000 || *tx.MeterStopWh != 6000 || rs[0].Multiplier != 3 {
					t.Fatalf("%+v %+v", tx, rs)
				}
			}},
		{"ended", []step{
			{ev: withToken(txEvent(EventStarted, 0, 0, reg(0, "1000", ContextTransactionBegin)), "TAG"), auth: AuthAccepted},
			{ev: txEvent(EventUpdated, 1, 10*time.Minute, reg(10*time.Minute, "2000", "Sample.Periodic"))},
			{ev: ended(2, time.Hour, "EVDisconnected", reg(time.Hour, "5000", ContextTransactionEnd))}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.Active() || !tx.StopTime.Equal(t0.Add(time.Hour)) || *tx.MeterStopWh != 5000 || tx.StopReason != "EVDisconnected" ||
					tx.StopIDTag != "" || len(rs) != 3 {
					t.Fatalf("%+v %+v", tx, rs)
				}
				if active, _ := e.svc.Transactions(ctx, TransactionFilter{ActiveOnly: true}); len(active) != 0 {
					t.Fatalf("still active: %+v", active)
				}
			}},
		{"stop meter: latest stored register reading", []step{
			{ev: txEvent(EventStarted, 0, 0, reg(0, "1000", ContextTransactionBegin))},
			{ev: txEvent(EventUpdated, 1, 30*time.Minute, reg(30*time.Minute, "3000", "Sample.Periodic"))},
			{ev: txEvent(EventUpdated, 2, 20*time.Minute, reg(20*time.Minute, "2500", "Sample.Periodic"))},
			{ev: ended(3, time.Hour, "Local", MeterReading{Timestamp: t0.Add(time.Hour), Value: "0", Measurand: "Power.Active.Import", Unit: "W"})}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.MeterStopWh == nil || *tx.MeterStopWh != 3000 {
					t.Fatalf("%+v", tx)
				}
			}},
		{"stop meter unknown", []step{{ev: txEvent(EventStarted, 0, 0)}, {ev: ended(1, time.Hour, "Local")}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.MeterStopWh != nil || tx.Active() || tx.MeterStartWh != 0 || len(rs) != 0 {
					t.Fatalf("%+v", tx)
				}
			}},
		{"duplicate", []step{
			{ev: txEvent(EventStarted, 0, 0, reg(0, "1000", ContextTransactionBegin))},
			{ev: txEvent(EventUpdated, 1, time.Minute, reg(time.Minute, "1100", "Sample.Periodic"))},
			{ev: txEvent(EventUpdated, 1, time.Minute, reg(time.Minute, "1100", "Sample.Periodic")), dup: true},
			{ev: txEvent(EventStarted, 0, 0, reg(0, "1000", ContextTransactionBegin)), dup: true}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if len(rs) != 2 || tx.OutOfOrderEvents != 0 || tx.SeqNoGaps != 0 {
					t.Fatalf("%+v %+v", tx, rs)
				}
			}},
		{"duplicate gets the first answer", []step{
			{ev: withToken(txEvent(EventStarted, 0, 0), "TAG"), auth: AuthAccepted},
			{ev: withToken(txEvent(EventStarted, 0, 0), "TAG"), dup: true, auth: AuthAccepted, do: func(t *testing.T, e *env) {
				if err := e.svc.PutToken(ctx, IDToken{ID: "TAG", Status: AuthBlocked}); err != nil {
					t.Fatal(err)
				}
			}},
			{ev: withToken(txEvent(EventUpdated, 1, time.Minute), "TAG"), auth: AuthBlocked}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.Authorization != AuthAccepted {
					t.Fatalf("%+v", tx)
				}
			}},
		{"seqNo reused with other content", []step{
			{ev: txEvent(EventStarted, 0, 0)},
			{ev: txEvent(EventUpdated, 1, time.Minute, reg(time.Minute, "1100", "Sample.Periodic"))},
			{ev: txEvent(EventUpdated, 1, 2*time.Minute, reg(2*time.Minute, "1200", "Sample.Periodic")), dup: true, wantNote: "seqNo reused"}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if len(rs) != 1 || rs[0].Value != "1100" {
					t.Fatalf("%+v", rs)
				}
			}},
		{"gaps and late arrivals", []step{
			{ev: txEvent(EventStarted, 0, 0)},
			{ev: txEvent(EventUpdated, 1, time.Minute)},
			{ev: txEvent(EventUpdated, 4, 4*time.Minute), wantNote: "seqNo skipped"},
			{ev: txEvent(EventUpdated, 3, 3*time.Minute), wantNote: "out of order", do: func(t *testing.T, e *env) {
				tx, _ := e.svc.TransactionByChargerTxID(ctx, "CP1", "tx-1")
				if tx.SeqNoGaps != 2 || !reflect.DeepEqual(tx.MissingSeqNos, []int{2, 3}) || tx.OutOfOrderEvents != 0 {
					t.Fatalf("after the gap: %+v", tx)
				}
			}},
			{ev: txEvent(EventUpdated, 5, 5*time.Minute), do: func(t *testing.T, e *env) {
				tx, _ := e.svc.TransactionByChargerTxID(ctx, "CP1", "tx-1")
				if tx.SeqNoGaps != 1 || !reflect.DeepEqual(tx.MissingSeqNos, []int{2}) || tx.OutOfOrderEvents != 1 {
					t.Fatalf("after 3 arrived: %+v", tx)
				}
			}},
			{ev: txEvent(EventUpdated, 2, 2*time.Minute), wantNote: "out of order"}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.SeqNoGaps != 0 || tx.MissingSeqNos != nil || tx.OutOfOrderEvents != 2 || !tx.Active() {
					t.Fatalf("%+v", tx)
				}
			}},
		{"a huge gap lists the lowest missing", []step{{ev: txEvent(EventStarted, 0, 0)}, {ev: txEvent(EventUpdated, 1_000_000, time.Minute)}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.SeqNoGaps != 999_999 || len(tx.MissingSeqNos) != MaxListedSeqNos || tx.MissingSeqNos[0] != 1 {
					t.Fatalf("%+v", tx)
				}
			}},
		{"unknown Updated starts implicitly", []step{
			{ev: withToken(txEvent(EventUpdated, 3, 10*time.Minute, reg(10*time.Minute, "2000", "Sample.Periodic")), "TAG"),
				auth: AuthAccepted, wantNote: "started implicitly"},
			{ev: txEvent(EventUpdated, 4, 11*time.Minute)}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if !tx.StartedImplicitly || !tx.StartTime.Equal(t0.Add(10*time.Minute)) || tx.MeterStartWh != 2000 || !tx.Active() ||
					tx.IDTag != "TAG" || tx.Authorization != AuthAccepted || tx.SeqNoGaps != 0 || tx.Orphan {
					t.Fatalf("%+v", tx)
				}
			}},
		{"Started after Updated", []step{
			{ev: txEvent(EventUpdated, 1, 10*time.Minute, reg(10*time.Minute, "2000", "Sample.Periodic"))},
			{ev: withToken(txEvent(EventStarted, 0, 0, reg(0, "1000", ContextTransactionBegin)), "TAG"), auth: AuthAccepted, wantNote: "out of order"}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.StartedImplicitly || !tx.StartTime.Equal(t0) || tx.MeterStartWh != 1000 || tx.OutOfOrderEvents != 1 || tx.IDTag != "TAG" ||
					!tx.Active() || len(rs) != 2 {
					t.Fatalf("%+v", tx)
				}
			}},
		{"Ended before Started", []step{
			{ev: ended(2, time.Hour, "Local", reg(0, "1000", ContextTransactionBegin), reg(time.Hour, "4000", ContextTransactionEnd)),
				wantNote: "started implicitly"},
			{ev: withToken(txEvent(EventStarted, 0, 0, reg(0, "1000", ContextTransactionBegin)), "TAG"), auth: AuthAccepted}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.StartedImplicitly || tx.Active() || tx.MeterStartWh != 1000 || *tx.MeterStopWh != 4000 || !tx.StartTime.Equal(t0) ||
					tx.IDTag != "TAG" || tx.StopIDTag != "" || tx.OutOfOrderEvents != 1 || !reflect.DeepEqual(tx.MissingSeqNos, []int{1}) {
					t.Fatalf("%+v", tx)
				}
				if active, _ := e.svc.Transactions(ctx, TransactionFilter{ActiveOnly: true}); len(active) != 0 {
					t.Fatalf("reactivated: %+v", active)
				}
			}},
		{"Ended only", []step{{ev: withToken(ended(5, time.Hour, "Local", reg(10*time.Minute, "1000", ContextTransactionBegin),
			reg(time.Hour, "4000", ContextTransactionEnd)), "TAG"), auth: AuthAccepted}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if !tx.StartedImplicitly || tx.Active() || !tx.StartTime.Equal(t0.Add(10*time.Minute)) || tx.MeterStartWh != 1000 ||
					*tx.MeterStopWh != 4000 || tx.IDTag != "TAG" || tx.StopIDTag != "TAG" || tx.Authorization != AuthAccepted {
					t.Fatalf("%+v", tx)
				}
			}},
		{"late id token", []step{
			{ev: txEvent(EventStarted, 0, 0)},
			{ev: withToken(txEvent(EventUpdated, 1, time.Minute), "TAG"), auth: AuthAccepted},
			{ev: withToken(txEvent(EventUpdated, 2, 2*time.Minute), "STRANGER"), auth: AuthInvalid}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.IDTag != "TAG" || tx.Authorization != AuthAccepted {
					t.Fatalf("%+v", tx)
				}
			}},
		{"late blocked token is recorded", []step{
			{ev: txEvent(EventStarted, 0, 0)},
			{ev: withToken(txEvent(EventUpdated, 1, time.Minute), "BLOCKED"), auth: AuthBlocked}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.IDTag != "BLOCKED" || tx.Authorization != AuthBlocked {
					t.Fatalf("%+v", tx)
				}
			}},
		{"concurrent with a 1.6 session", []step{
			{ev: withToken(txEvent(EventStarted, 0, 0), "TAG"), auth: AuthConcurrentTx, do: func(t *testing.T, e *env) {
				if _, _, err := e.svc.StartTransaction(ctx, start(2, "TAG", 0)); err != nil {
					t.Fatal(err)
				}
			}}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.Authorization != AuthConcurrentTx || tx.ID != 2 {
					t.Fatalf("%+v", tx)
				}
			}},
		{"concurrent between 2.x sessions, late token", []step{
			{ev: onEVSE(other(withToken(txEvent(EventStarted, 0, 0), "TAG"), "tx-0"), 2, 1), auth: AuthAccepted},
			{ev: txEvent(EventStarted, 0, 0)},
			{ev: withToken(txEvent(EventUpdated, 1, time.Minute), "TAG"), auth: AuthConcurrentTx}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.Authorization != AuthConcurrentTx || tx.IDTag != "TAG" {
					t.Fatalf("%+v", tx)
				}
				// A 1.6 start with the tag sees the 2.x sessions too.
				_, a, err := e.svc.StartTransaction(ctx, start(3, "TAG", 0))
				if err != nil || a.Status != AuthConcurrentTx {
					t.Fatalf("1.6 start: %+v %v", a, err)
				}
			}},
		{"events after Ended", []step{
			{ev: txEvent(EventStarted, 0, 0, reg(0, "1000", ContextTransactionBegin))},
			{ev: ended(1, time.Hour, "Local", reg(time.Hour, "5000", ContextTransactionEnd))},
			{ev: withToken(txEvent(EventUpdated, 2, 2*time.Hour, reg(2*time.Hour, "6000", "Sample.Periodic")), "TAG"), auth: AuthAccepted,
				wantNote: "after the session ended"},
			{ev: ended(3, 3*time.Hour, "Remote", reg(3*time.Hour, "7000", ContextTransactionEnd)), wantNote: "ended again"}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.Active() || *tx.MeterStopWh != 5000 || tx.StopReason != "Local" || !tx.StopTime.Equal(t0.Add(time.Hour)) ||
					tx.IDTag != "TAG" || len(rs) != 4 {
					t.Fatalf("%+v %+v", tx, rs)
				}
			}},
		{"Started twice", []step{
			{ev: txEvent(EventStarted, 0, 0, reg(0, "1000", ContextTransactionBegin))},
			{ev: onEVSE(txEvent(EventStarted, 1, 5*time.Minute, reg(5*time.Minute, "3000", ContextTransactionBegin)), 2, 0),
				wantNote: "started again"}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.MeterStartWh != 1000 || !tx.StartTime.Equal(t0) || tx.ConnectorID != 1 || len(rs) != 2 {
					t.Fatalf("%+v", tx)
				}
			}},
		{"EVSE named later", []step{
			{ev: onEVSE(txEvent(EventStarted, 0, 0), 0, 0)},
			{ev: onEVSE(txEvent(EventUpdated, 1, time.Minute), 2, 1)},
			{ev: onEVSE(txEvent(EventUpdated, 2, 2*time.Minute), 3, 2), wantNote: "another EVSE"}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.ConnectorID != 2 || tx.EVSEConnectorID != 1 {
					t.Fatalf("%+v", tx)
				}
			}},
		{"reservation used", []step{{
			ev: func() TransactionEvent { ev := txEvent(EventStarted, 0, 0); id := 5; ev.ReservationID = &id; return ev }(),
			do: func(t *testing.T, e *env) {
				if err := e.svc.RecordReservation(ctx, Reservation{ID: 5, ChargerID: "CP1", ConnectorID: 1, IDTag: "TAG", Expiry: t0.Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
			}}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				list, _ := e.svc.Reservations(ctx)
				if tx.ReservationID == nil || *tx.ReservationID != 5 || len(list) != 1 || list[0].Status != "Used" {
					t.Fatalf("%+v %+v", tx, list)
				}
			}},
		{"offline", []step{{ev: txEvent(EventStarted, 0, 0)}, {ev: func() TransactionEvent {
			ev := txEvent(EventUpdated, 1, time.Minute)
			ev.Offline = true
			return ev
		}()}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if !tx.Offline {
					t.Fatalf("%+v", tx)
				}
			}},
		{"stop token", []step{
			{ev: withToken(txEvent(EventStarted, 0, 0), "TAG"), auth: AuthAccepted},
			{ev: withToken(ended(1, time.Hour, "Local"), "STRANGER"), auth: AuthInvalid}},
			func(t *testing.T, e *env, tx Transaction, rs []MeterReading) {
				if tx.IDTag != "TAG" || tx.StopIDTag != "STRANGER" || tx.Authorization != AuthAccepted {
					t.Fatalf("%+v", tx)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs testlog.Buffer
			e := newEnv(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			for _, tok := range []IDToken{{ID: "TAG", Status: AuthAccepted}, {ID: "BLOCKED", Status: AuthBlocked}} {
				if err := e.svc.PutToken(ctx, tok); err != nil {
					t.Fatal(err)
				}
			}
			for i, st := range tt.steps {
				if st.do != nil {
					st.do(t, e)
				}
				before := len(logs.String())
				res, err := e.svc.TransactionEvent(ctx, st.ev)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if res.Duplicate != st.dup {
					t.Fatalf("step %d: duplicate %t, want %t", i, res.Duplicate, st.dup)
				}
				switch {
				case st.auth == "" && res.Authorization != nil:
					t.Fatalf("step %d: unexpected authorization %+v", i, res.Authorization)
				case st.auth != "" && (res.Authorization == nil || res.Authorization.Status != st.auth):
					t.Fatalf("step %d: authorization %+v, want %s", i, res.Authorization, st.auth)
				}
				stored, err := e.svc.TransactionByChargerTxID(ctx, st.ev.ChargerID, st.ev.ChargerTxID)
				if err != nil || !reflect.DeepEqual(stored, res.Transaction) {
					t.Fatalf("step %d: result %+v, stored %+v (%v)", i, res.Transaction, stored, err)
				}
				if got := logs.String()[before:]; st.wantNote != "" && !strings.Contains(got, st.wantNote) {
					t.Fatalf("step %d: no warning %q in %q", i, st.wantNote, got)
				}
			}
			tx, err := e.svc.TransactionByChargerTxID(ctx, "CP1", "tx-1")
			if err != nil {
				t.Fatal(err)
			}
			_, readings, err := e.svc.Transaction(ctx, tx.ID)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, e, tx, readings)
			if strings.Contains(logs.String(), "TAG") {
				t.Fatal("id tags logged")
			}
		})
	}
}

// OnChange sees the same kinds as for 1.6 sessions; events that change
// nothing produce none.
func TestTransactionEventChanges(t *testing.T) {
	var log changeLog
	e := newEnv(t, Config{OnChange: log.hook})
	steps := []struct {
		ev   TransactionEvent
		want []ChangeKind
	}{
		{txEvent(EventStarted, 0, 0, reg(0, "1000", ContextTransactionBegin)), []ChangeKind{ChangeTransactionStart, ChangeMeterValues}},
		{txEvent(EventUpdated, 1, time.Minute), nil},
		{txEvent(EventUpdated, 2, 2*time.Minute, reg(2*time.Minute, "1100", "Sample.Periodic")), []ChangeKind{ChangeMeterValues}},
		{txEvent(EventUpdated, 2, 2*time.Minute, reg(2*time.Minute, "1100", "Sample.Periodic")), nil},
		{withToken(txEvent(EventUpdated, 3, 3*time.Minute), "TAG"), []ChangeKind{ChangeTransactionUpdate}},
		{txEvent(EventUpdated, 5, 5*time.Minute), []ChangeKind{ChangeTransactionUpdate}}, // a gap noted
		{txEvent(EventEnded, 6, time.Hour, reg(time.Hour, "5000", ContextTransactionEnd)), []ChangeKind{ChangeMeterValues, ChangeTransactionStop}},
		{txEvent(EventUpdated, 4, 4*time.Minute), []ChangeKind{ChangeTransactionUpdate}}, // late: the gap closes
		{func() TransactionEvent { ev := txEvent(EventEnded, 0, time.Hour); ev.ChargerTxID = "tx-2"; return ev }(),
			[]ChangeKind{ChangeTransactionStart, ChangeTransactionStop}},
	}
	for i, st := range steps {
		mustEvent(t, e, st.ev)
		cs := log.take()
		if !reflect.DeepEqual(kinds(cs), st.want) {
			t.Fatalf("step %d: changes %v, want %v", i, kinds(cs), st.want)
		}
		for _, c := range cs {
			if c.ChargerID != "CP1" {
				t.Fatalf("step %d: change for %q", i, c.ChargerID)
			}
			if mv, ok := c.Record.(MeterValues); ok && (mv.TransactionID == 0 || mv.ConnectorID != 1) {
				t.Fatalf("step %d: meter values %+v", i, mv)
			}
		}
	}
	// An OnChange failure aborts the event: nothing is stored, not even its seqNo.
	fail := errors.New("outbox full")
	e2 := newEnv(t, Config{OnChange: func(*bbolt.Tx, Change) error { return fail }})
	if _, err := e2.svc.TransactionEvent(ctx, txEvent(EventStarted, 0, 0)); !errors.Is(err, fail) {
		t.Fatalf("outbox failure: %v", err)
	}
	if _, err := e2.svc.TransactionByChargerTxID(ctx, "CP1", "tx-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("aborted event stored: %v", err)
	}
}

// The 1.6 stop of a 2.x session's id does not stop it; the sequence of ids
// is shared; everything survives a restart, duplicates included.
func TestTransactionEventRestartAndIDs(t *testing.T) {
	e := newEnv(t, Config{})
	tx1, _, err := e.svc.StartTransaction(ctx, start(1, "TAG", 0))
	if err != nil {
		t.Fatal(err)
	}
	r := mustEvent(t, e, onEVSE2(txEvent(EventStarted, 0, 0)))
	tx3, _, err := e.svc.StartTransaction(ctx, start(3, "TAG2", 0))
	if err != nil {
		t.Fatal(err)
	}
	if tx1.ID != 1 || r.Transaction.ID != 2 || tx3.ID != 3 {
		t.Fatalf("ids %d %d %d", tx1.ID, r.Transaction.ID, tx3.ID)
	}
	o, _, err := e.svc.StopTransaction(ctx, StopRequest{ChargerID: "CP1", TransactionID: 2, MeterStopWh: 1, Timestamp: t0})
	if err != nil || !o.Orphan || o.ID != 4 {
		t.Fatalf("1.6 stop of a 2.x session's id: %+v %v", o, err)
	}
	e.reopen(t)
	again := mustEvent(t, e, onEVSE2(txEvent(EventStarted, 0, 0)))
	if !again.Duplicate || again.Transaction.ID != 2 || !again.Transaction.Active() {
		t.Fatalf("after restart: %+v", again)
	}
	next := mustEvent(t, e, func() TransactionEvent { ev := txEvent(EventStarted, 0, 0); ev.ChargerTxID = "tx-9"; return ev }())
	if next.Transaction.ID != 5 {
		t.Fatalf("id after restart %d", next.Transaction.ID)
	}
	// The same charger transaction id on another charger is another session.
	cp2 := txEvent(EventStarted, 0, 0)
	cp2.ChargerID = "CP2"
	if r := mustEvent(t, e, cp2); r.Duplicate || r.Transaction.ID != 6 {
		t.Fatalf("other charger: %+v", r)
	}
	if _, err := e.svc.TransactionByChargerTxID(ctx, "CP3", "tx-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
}

func onEVSE2(ev TransactionEvent) TransactionEvent { ev.EVSEID = 2; return ev }

// The protocol tag comes from the caller, else from the connection.
func TestProtocolTag(t *testing.T) {
	e := newEnv(t, Config{})
	e.svc.ChargerConnected(ctx, "CP1", "ocpp2.1")
	ev := txEvent(EventStarted, 0, 0)
	ev.Protocol = ""
	if r := mustEvent(t, e, ev); r.Transaction.Protocol != "ocpp2.1" {
		t.Fatalf("event: %q", r.Transaction.Protocol)
	}
	tx, _, err := e.svc.StartTransaction(ctx, start(2, "TAG", 0))
	if err != nil || tx.Protocol != "ocpp2.1" {
		t.Fatalf("start: %q %v", tx.Protocol, err)
	}
	req := start(3, "TAG", 1)
	req.Protocol = "ocpp1.6"
	if tx, _, _ := e.svc.StartTransaction(ctx, req); tx.Protocol != "ocpp1.6" {
		t.Fatalf("given: %q", tx.Protocol)
	}
	// A record written before the field existed reads as empty.
	var old Transaction
	if err := json.Unmarshal([]byte(`{"id":1,"chargerId":"CP1","connectorId":1,"idTag":"T","startTime":"2025-06-01T12:00:00Z","meterStartWh":0,"authorization":"Accepted","recordedAt":"2025-06-01T12:00:00Z"}`), &old); err != nil {
		t.Fatal(err)
	}
	if old.Protocol != "" || old.StartedImplicitly || !old.Active() {
		t.Fatalf("old record %+v", old)
	}
}

func TestTransactionEventInvalid(t *testing.T) {
	long := strings.Repeat("x", 37)
	neg := -1
	tests := []struct {
		field string
		edit  func(*TransactionEvent)
	}{
		{"chargerId", func(ev *TransactionEvent) { ev.ChargerID = "" }},
		{"transactionId", func(ev *TransactionEvent) { ev.ChargerTxID = "" }},
		{"transactionId", func(ev *TransactionEvent) { ev.ChargerTxID = long }},
		{"transactionId", func(ev *TransactionEvent) { ev.ChargerTxID = "\xff" }},
		{"eventType", func(ev *TransactionEvent) { ev.Kind = "Paused" }},
		{"seqNo", func(ev *TransactionEvent) { ev.SeqNo = -1 }},
		{"seqNo", func(ev *TransactionEvent) { ev.SeqNo = 1 << 40 }},
		{"timestamp", func(ev *TransactionEvent) { ev.Timestamp = time.Time{} }},
		{"evse.id", func(ev *TransactionEvent) { ev.EVSEID = -1 }},
		{"evse.connectorId", func(ev *TransactionEvent) { ev.EVSEID, ev.ConnectorID = 0, 1 }},
		{"idToken", func(ev *TransactionEvent) { ev.IDToken = strings.Repeat("t", 256) }},
		{"reservationId", func(ev *TransactionEvent) { ev.ReservationID = &neg }},
		{"stoppedReason", func(ev *TransactionEvent) { ev.StoppedReason = strings.Repeat("r", 65) }},
		{"protocol", func(ev *TransactionEvent) { ev.Protocol = strings.Repeat("p", 33) }},
		{"meterValue[0].value", func(ev *TransactionEvent) { ev.Readings = []MeterReading{reg(0, "-5", "")} }},
		{"meterValue[1].multiplier", func(ev *TransactionEvent) {
			ev.Readings = []MeterReading{reg(0, "5", ""), {Timestamp: t0, Value: "1", Multiplier: 200}}
		}},
	}
	e := newEnv(t, Config{})
	ops := e.db.Stats().Ops
	for _, tt := range tests {
		ev := txEvent(EventStarted, 0, 0)
		tt.edit(&ev)
		_, err := e.svc.TransactionEvent(ctx, ev)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: %v", tt.field, err)
		}
	}
	if e.db.Stats().Ops != ops {
		t.Fatal("invalid events reached the store")
	}
	// 36 characters are fine, however many bytes they take.
	ev := txEvent(EventStarted, 0, 0)
	ev.ChargerTxID = strings.Repeat("ü", 36)
	if _, err := e.svc.TransactionEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
}

// Events of one session arriving concurrently (and out of order) give one
// session with every event applied once.
func TestTransactionEventConcurrent(t *testing.T) {
	e := newEnv(t, Config{})
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ev := txEvent(EventUpdated, i, time.Duration(i)*time.Minute, reg(time.Duration(i)*time.Minute, fmt.Sprint(1000+i), "Sample.Periodic"))
			if i == 0 {
				ev.Kind = EventStarted
			}
			for range 2 { // and each one retransmitted
				if _, err := e.svc.TransactionEvent(ctx, ev); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	all, _ := e.svc.Transactions(ctx, TransactionFilter{})
	if len(all) != 1 {
		t.Fatalf("%d sessions", len(all))
	}
	tx, readings, err := e.svc.Transaction(ctx, all[0].ID)
	if err != nil || len(readings) != n || tx.SeqNoGaps != 0 || tx.MissingSeqNos != nil || tx.StartedImplicitly {
		t.Fatalf("%v %+v, %d readings", err, tx, len(readings))
	}
}

// A 1.6 stop for an unknown id takes its start from its transaction data.
func TestOrphanStartFromTransactionData(t *testing.T) {
	e := newEnv(t, Config{})
	o, _, err := e.svc.StopTransaction(ctx, StopRequest{ChargerID: "CP1", TransactionID: 77, MeterStopWh: 5000, Timestamp: t0.Add(time.Hour),
		Readings: []MeterReading{reg(5*time.Minute, "1250", ContextTransactionBegin), reg(time.Hour, "5000", ContextTransactionEnd)}})
	if err != nil {
		t.Fatal(err)
	}
	if !o.Orphan || o.MeterStartWh != 1250 || !o.StartTime.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("%+v", o)
	}
}

func TestToWh(t *testing.T) {
	tests := []struct {
		value, unit string
		mult        int
		want        int64
		ok          bool
	}{
		{"1000", "Wh", 0, 1000, true},
		{"1000", "", 0, 1000, true},
		{"1234.5", "Wh", 0, 1235, true},
		{"1.5", "kWh", 0, 1500, true},
		{"0.1", "kWh", 0, 100, true},
		{"1.005", "kWh", 0, 1005, true},
		{"12", "Wh", 3, 12000, true},
		{"12", "kWh", -3, 12, true},
		{"123456", "Wh", -3, 123, true},
		{"0", "kWh", 0, 0, true},
		{"1e3", "Wh", 0, 1000, true},
		{"-1", "Wh", 0, 0, false},
		{"1", "varh", 0, 0, false},
		{"1", "W", 0, 0, false},
		{"abc", "Wh", 0, 0, false},
		{"NaN", "Wh", 0, 0, false},
		{"1", "kWh", 127, 0, false},
		{"1e300", "Wh", 0, 0, false},
	}
	for _, tt := range tests {
		got, ok := ToWh(tt.value, tt.unit, tt.mult)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ToWh(%q, %q, %d) = %d %t, want %d %t", tt.value, tt.unit, tt.mult, got, ok, tt.want, tt.ok)
		}
	}
	for _, r := range []MeterReading{
		{Value: "5", Measurand: "Power.Active.Import", Unit: "W"},
		{Value: "5", Measurand: MeasurandEnergyImportRegister, Phase: "L1"},
		{Value: "5", Format: "SignedData"},
	} {
		if _, ok := r.EnergyWh(); ok {
			t.Errorf("%+v read as the energy register", r)
		}
	}
}

// Status reports of the connectors of one 2.x EVSE are kept apart.
func TestConnectorStatusEVSE(t *testing.T) {
	e := newEnv(t, Config{})
	for _, u := range []StatusUpdate{
		{ChargerID: "CP1", ConnectorID: 1, EVSEConnectorID: 2, Status: StatusAvailable},
		{ChargerID: "CP1", ConnectorID: 1, EVSEConnectorID: 1, Status: StatusOccupied},
		{ChargerID: "CP1", ConnectorID: 2, EVSEConnectorID: 1, Status: StatusFaulted},
	} {
		if err := e.svc.UpdateConnectorStatus(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	c, err := e.svc.Charger(ctx, "CP1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, conn := range c.Connectors {
		got = append(got, fmt.Sprintf("%d.%d %s", conn.ID, conn.EVSEConnectorID, conn.Status))
	}
	if want := []string{"1.1 Occupied", "1.2 Available", "2.1 Faulted"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("connectors %v, want %v", got, want)
	}
	err = e.svc.UpdateConnectorStatus(ctx, StatusUpdate{ChargerID: "CP1", EVSEConnectorID: 1, Status: StatusAvailable})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "evseConnectorId") {
		t.Fatalf("connector without EVSE: %v", err)
	}
}
