package fleet_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/syncproto"
)

// Status records arriving out of order (replicas sharing the stream)
// leave each charger and connector at its latest status, applied one by
// one or in one batch.
func TestLatestStatusWinsInAnyOrder(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		status := func(key string, at time.Time, connected bool, st string) *syncproto.ChargerStatus {
			h := hdr("a", key)
			h.Time = at
			return &syncproto.ChargerStatus{Header: h, Charger: "CP1", Connected: connected, Firmware: fmt.Sprint("fw-", key),
				Connectors: []syncproto.Connector{{ID: 1, Status: st, Time: at}}}
		}
		newest := status("k3", t0.Add(2*time.Minute), true, "Charging")
		older := []syncproto.Message{status("k1", t0, false, "Available"), status("k2", t0.Add(time.Minute), true, "Preparing")}

		// One by one: the newest first, then the older ones.
		apply(t, s, newest)
		for _, m := range older {
			apply(t, s, m)
		}
		check := func(when string) {
			t.Helper()
			cs, err := s.Chargers(ctx, "a")
			must(t, err)
			if len(cs) != 1 || cs[0].Firmware != "fw-k3" || !cs[0].Connected || len(cs[0].Connectors) != 1 || cs[0].Connectors[0].Status != "Charging" {
				t.Fatalf("%s: chargers %+v, want CP1 as the newest record (k3, Charging) left it", when, cs)
			}
		}
		check("applied one by one")

		// In one batch, the newest in the middle.
		_, err = s.CreateSite(ctx, "b", "")
		must(t, err)
		var batch []syncproto.Message
		for i, m := range []syncproto.Message{older[1], newest, older[0]} {
			c := *m.(*syncproto.ChargerStatus)
			c.Site, c.Key = "b", fmt.Sprint("b", i)
			batch = append(batch, &c)
		}
		for _, r := range s.ApplyBatch(ctx, batch) {
			must(t, r.Err)
		}
		cs, err := s.Chargers(ctx, "b")
		must(t, err)
		if len(cs) != 1 || cs[0].Firmware != "fw-k3" || cs[0].Connectors[0].Status != "Charging" {
			t.Fatalf("applied in one batch: chargers %+v, want the newest record's state", cs)
		}
	})
}
