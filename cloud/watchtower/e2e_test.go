package watchtower_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/cloudsync/synctest"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/watchtower"
	"github.com/constellation-ev/constellation/syncproto"
)

// cloudReadings lists what the watchtower stored of txs, failing on a
// reading stored twice.
func cloudReadings(t *testing.T, s *fleet.Store, site string, txs []int64) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, id := range txs {
		rs, err := s.Readings(ctx, site, id)
		must(t, err)
		for _, r := range rs {
			k := fmt.Sprint(id, r.Time.UnixMilli(), r.Column.Measurand, r.Column.Phase, r.Column.Unit, r.Column.Context, r.Column.Location, r.Column.Format, r.Value)
			if out[k] {
				t.Fatalf("reading %s stored twice", k)
			}
			out[k] = true
		}
	}
	return out
}

// synced reports whether the watchtower holds every session of txs,
// stopped, with exactly the appliance's readings.
func synced(t *testing.T, tw *tower, a *appliance, txs []int64) bool {
	t.Helper()
	stored, err := tw.Store.Transactions(ctx, fleet.TxFilter{Site: a.site}, false)
	must(t, err)
	stopped := 0
	for _, tx := range stored {
		if slices.Contains(txs, tx.Record.ID) && tx.Record.Event == syncproto.TxStopped {
			stopped++
		}
	}
	if stopped != len(txs) {
		return false
	}
	want, got := a.readings(t, txs), cloudReadings(t, tw.Store, a.site, txs)
	if len(got) != len(want) {
		return false
	}
	for k := range want {
		if !got[k] {
			return false
		}
	}
	return true
}

// Sessions recorded at an enrolled appliance reach the watchtower's
// store exactly once with every reading, through a partition and a
// restart of the appliance; the site's state, desired configuration,
// authorization list and commands work end to end.
func TestEndToEnd(t *testing.T) { brokers(t, testEndToEnd) }

func testEndToEnd(t *testing.T, opts ...func(*watchtower.Config)) {
	tw := startTower(t, opts...)
	const site = "depot-7"
	password := tw.enroll(t, site)
	proxy := synctest.NewProxy(t, "tcp://"+tw.MQTTAddr())
	a := startAppliance(t, proxy.URL(), site, password)
	waitFor(t, "the appliance online", func() bool {
		st, err := tw.Store.Site(ctx, site)
		return err == nil && st.Online && a.status(t).Connected
	})

	_, err := a.svc.Boot(ctx, "CP1", charging.BootInfo{Vendor: "ACME", Model: "W1", FirmwareVersion: "1.0"})
	must(t, err)
	txs := []int64{a.session(t, "CP1", 10), a.session(t, "CP2", 5)}
	waitFor(t, "the first sessions in the cloud", func() bool { return synced(t, tw, a, txs) })

	// Partition: the site keeps recording; everything arrives once the
	// link is back, the link dropping again in the middle.
	proxy.Cut()
	waitFor(t, "the link to drop", func() bool { return !a.status(t).Connected })
	for range 4 {
		txs = append(txs, a.session(t, "CP1", 12), a.session(t, "CP2", 12))
	}
	proxy.Restore()
	waitFor(t, "the catch-up to begin", func() bool {
		st, _ := tw.Store.Site(ctx, site)
		return st.Transactions > 2
	})
	proxy.Cut()
	waitFor(t, "the link to drop again", func() bool { return !a.status(t).Connected })
	proxy.Restore()
	waitFor(t, "every session in the cloud", func() bool { return synced(t, tw, a, txs) })
	waitFor(t, "an empty outbox", func() bool { st := a.status(t); return st.Backlog == 0 && st.Connected })

	st, err := tw.Store.Site(ctx, site)
	must(t, err)
	if st.Transactions != int64(len(txs)) || st.Chargers != 2 || !st.Online || st.BdSeq < 2 {
		t.Errorf("site %+v: want %d transactions, 2 chargers, online after a new birth", st, len(txs))
	}
	var view struct{ Transactions []fleet.Transaction }
	if code := tw.call(t, true, "GET", "/api/v1/sites/"+site+"/transactions?charger=CP2&readings=true", nil, &view); code != http.StatusOK {
		t.Fatalf("transactions: %d", code)
	}
	if len(view.Transactions) != len(txs)/2 || len(view.Transactions[0].Readings) == 0 {
		t.Errorf("CP2's transactions through the API: %d, first with %d readings", len(view.Transactions), len(view.Transactions[0].Readings))
	}

	// Desired configuration: published, applied, reported back.
	var desired fleet.Desired
	if code := tw.call(t, true, "PUT", "/api/v1/sites/"+site+"/desired", map[string]any{"settings": map[string]string{"heartbeat_interval": "120s"}}, &desired); code != http.StatusOK || desired.Version != 1 {
		t.Fatalf("put desired: %d %+v", code, desired)
	}
	waitFor(t, "the appliance's report of desired version 1", func() bool {
		d, err := tw.Store.Desired(ctx, site)
		return err == nil && d.Reported != nil && d.Reported.DesiredVersion == 1 && d.Reported.Applied
	})

	// Authorization list: a full list, then a delta.
	put := map[string]any{"entries": []syncproto.AuthEntry{{ID: "CARD-A", Status: "Accepted"}, {ID: "CARD-B", Status: "Blocked"}}}
	if code := tw.call(t, true, "PUT", "/api/v1/sites/"+site+"/authlist", put, nil); code != http.StatusOK {
		t.Fatalf("put authlist: %d", code)
	}
	change := map[string]any{"put": []syncproto.AuthEntry{{ID: "CARD-C", Status: "Accepted"}}, "remove": []string{"CARD-A"}}
	if code := tw.call(t, true, "POST", "/api/v1/sites/"+site+"/authlist/changes", change, nil); code != http.StatusOK {
		t.Fatalf("change authlist: %d", code)
	}
	waitFor(t, "the appliance's cache to hold version 2", func() bool {
		toks, err := a.svc.Tokens(ctx)
		must(t, err)
		var ids []string
		for _, tok := range toks {
			if tok.Source == "cloud" {
				ids = append(ids, tok.ID)
			}
		}
		return slices.Equal(ids, []string{"CARD-B", "CARD-C"}) && a.status(t).AuthListVersion == 2
	})

	// A command: sent, executed once, answered.
	var cmd fleet.Command
	if code := tw.call(t, true, "POST", "/api/v1/sites/"+site+"/commands", map[string]any{"charger": "CP1", "command": "clear-cache", "timeout": "720h"}, &cmd); code != http.StatusCreated {
		t.Fatalf("command: %d", code)
	}
	waitFor(t, "the command's result", func() bool {
		var got fleet.Command
		tw.call(t, true, "GET", "/api/v1/commands/"+cmd.ID, nil, &got)
		return got.Status == syncproto.CommandAccepted
	})

}

// What the watchtower queued for a site before its appliance ever
// connected (a command, the authorization list) reaches it at its first
// birth: the appliance subscribes before it announces itself.
func TestQueuedBeforeFirstConnect(t *testing.T) { brokers(t, testQueuedBeforeFirstConnect) }

func testQueuedBeforeFirstConnect(t *testing.T, opts ...func(*watchtower.Config)) {
	tw := startTower(t, opts...)
	const site = "depot-9"
	password := tw.enroll(t, site)
	var cmd fleet.Command
	if code := tw.call(t, true, "POST", "/api/v1/sites/"+site+"/commands", map[string]any{"charger": "CP1", "command": "clear-cache", "timeout": "720h"}, &cmd); code != http.StatusCreated {
		t.Fatalf("command: %d", code)
	}
	if code := tw.call(t, true, "PUT", "/api/v1/sites/"+site+"/authlist", map[string]any{"entries": []map[string]string{{"id": "CARD-A", "status": "Accepted"}}}, nil); code != http.StatusOK {
		t.Fatalf("authorization list: %d", code)
	}
	a := startAppliance(t, "tcp://"+tw.MQTTAddr(), site, password)
	waitFor(t, "the queued command's result and the list", func() bool {
		var got fleet.Command
		tw.call(t, true, "GET", "/api/v1/commands/"+cmd.ID, nil, &got)
		return got.Status == syncproto.CommandAccepted && a.status(t).AuthListVersion == 1
	})
}
