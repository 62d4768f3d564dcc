package sim

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/csms"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/v16"
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
