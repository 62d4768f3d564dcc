package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/csms"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/v16"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
	"github.com/constellation-ev/constellation/appliance/store"
)

// TestAgainstCSMS runs a station against the appliance's real CSMS and
// checks that every acknowledged transaction is stored once, with the
// meter readings the station reported.
func TestAgainstCSMS(t *testing.T) {
	ctx := t.Context()
	db, err := store.Open(filepath.Join(t.TempDir(), "c.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	svc, err := charging.NewService(ctx, db, charging.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.PutToken(ctx, charging.IDToken{ID: "TAG1", Status: charging.AuthAccepted}); err != nil {
		t.Fatal(err)
	}
	cs, err := csms.New(csms.Options{Domain: svc, RPC: rpc.ServerOptions{PingInterval: -1}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(cs)
	t.Cleanup(func() {
		_ = cs.Shutdown(context.Background())
		hs.Close()
	})

	var mu sync.Mutex
	stops := map[int]*v16.StopTransactionRequest{}
	starts := 0
	st, err := NewStation(Options{
		ID: "REAL1", URL: StationURL("ws"+strings.TrimPrefix(hs.URL, "http")+"/ocpp", "REAL1"),
		Connectors: 2, Sessions: 1, SessionLength: 5 * time.Millisecond, MeterInterval: time.Millisecond,
		Pause: -1, Tags: []string{"TAG1"},
		OnAck: func(a Ack) {
			mu.Lock()
			defer mu.Unlock()
			switch r := a.Request.(type) {
			case *v16.StartTransactionRequest:
				starts++
			case *v16.StopTransactionRequest:
				stops[r.TransactionId] = r
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Run(ctx); err != nil {
		t.Fatal(err)
	}
	txs, err := svc.Transactions(ctx, charging.TransactionFilter{ChargerID: "REAL1"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(txs) != 2 || starts != 2 || len(stops) != 2 {
		t.Fatalf("stored %d transactions; station had %d starts and %d stops acknowledged", len(txs), starts, len(stops))
	}
	for _, tx := range txs {
		stop := stops[int(tx.ID)]
		if stop == nil || tx.Active() || tx.MeterStopWh == nil || *tx.MeterStopWh != int64(stop.MeterStop) || tx.IDTag != "TAG1" {
			t.Errorf("stored %+v, station stopped %+v", tx, stop)
		}
	}
}

// TestAgainstCSMS2 runs 2.x stations against the appliance's real CSMS,
// with the token in Started and (late token) in a later Updated: every
// transaction the station had acknowledged is stored once, under the
// station's transaction id, with its token and final register.
func TestAgainstCSMS2(t *testing.T) {
	forV2(t, func(t *testing.T, v ocppj.Version) {
		for _, late := range []bool{false, true} {
			t.Run(fmt.Sprintf("late=%t", late), func(t *testing.T) { againstCSMS2(t, v, late) })
		}
	})
}

func againstCSMS2(t *testing.T, v ocppj.Version, late bool) {
	ctx := t.Context()
	db, err := store.Open(filepath.Join(t.TempDir(), "c.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	svc, err := charging.NewService(ctx, db, charging.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.PutToken(ctx, charging.IDToken{ID: "TAG1", Status: charging.AuthAccepted}); err != nil {
		t.Fatal(err)
	}
	cs, err := csms.New(csms.Options{Domain: svc, RPC: rpc.ServerOptions{PingInterval: -1, Versions: []ocppj.Version{v}}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(cs)
	t.Cleanup(func() {
		_ = cs.Shutdown(context.Background())
		hs.Close()
	})

	var mu sync.Mutex
	ends := map[string]float64{} // transaction id → final register
	st, err := NewStation(Options{
		ID: "REAL2", URL: StationURL("ws"+strings.TrimPrefix(hs.URL, "http")+"/ocpp", "REAL2"), Version: v,
		Connectors: 2, Sessions: 1, SessionLength: 5 * time.Millisecond, MeterInterval: time.Millisecond,
		Pause: -1, Tags: []string{"TAG1"}, LateToken: late,
		OnAck: func(a Ack) {
			if a.Action != "TransactionEvent" {
				return
			}
			var ev v21.TransactionEventRequest
			if err := json.Unmarshal(a.RequestJSON, &ev); err != nil || ev.EventType != v21.TransactionEventEnded {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ends[ev.TransactionInfo.TransactionId] = sampled(ev.MeterValue)[string(v21.MeasurandEnergyActiveImportRegister)].Value
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Run(ctx); err != nil {
		t.Fatal(err)
	}
	txs, err := svc.Transactions(ctx, charging.TransactionFilter{ChargerID: "REAL2"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(txs) != 2 || len(ends) != 2 {
		t.Fatalf("stored %d transactions; the station had %d ended", len(txs), len(ends))
	}
	for _, tx := range txs {
		final, ok := ends[tx.ChargerTxID]
		if !ok || tx.Active() || tx.MeterStopWh == nil || *tx.MeterStopWh != int64(final) || tx.IDTag != "TAG1" || tx.SeqNoGaps != 0 {
			t.Errorf("stored %+v, station ended with register %v", tx, final)
		}
	}
}
