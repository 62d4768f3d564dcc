package fleet_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/syncproto"
)

// feed applies records in one batch, each validated first, and fails
// on any error.
func feed(t *testing.T, s *fleet.Store, ms ...syncproto.Message) {
	t.Helper()
	for _, m := range ms {
		must(t, m.Validate())
	}
	for i, r := range s.ApplyBatch(ctx, ms) {
		if r.Err != nil {
			t.Fatalf("record %d: %v", i, r.Err)
		}
	}
}

// keys numbers the records of a test.
var keys int

func key() string { keys++; return fmt.Sprint("k", keys) }

func status(site, charger string, at time.Time, conns ...syncproto.Connector) *syncproto.ChargerStatus {
	for i := range conns {
		if conns[i].Time.IsZero() {
			conns[i].Time = at
		}
	}
	return &syncproto.ChargerStatus{Header: hdr(site, key()), Charger: charger, Connected: true, LastSeen: at, Connectors: conns}
}

func started(site, charger string, connector int, id int64, tag string, start time.Time, meterWh int64) *syncproto.Transaction {
	return &syncproto.Transaction{Header: hdr(site, key()), Event: syncproto.TxStarted, Rev: 1, ID: id, Charger: charger,
		Connector: connector, IDTag: tag, Start: start, MeterStartWh: meterWh}
}

func stopped(tx *syncproto.Transaction, stop time.Time, meterWh int64, reason string) *syncproto.Transaction {
	m := *tx
	m.Header, m.Event, m.Rev, m.Stop, m.MeterStopWh, m.StopReason = hdr(tx.Site, key()), syncproto.TxStopped, tx.Rev+1, stop, &meterWh, reason
	return &m
}

var (
	powerCol  = syncproto.Column{Measurand: "Power.Active.Import", Unit: "W"}
	energyCol = syncproto.Column{Measurand: "Energy.Active.Import.Register", Unit: "Wh"}
)

func readings(site, charger string, connector int, tx int64, rows ...syncproto.Reading) *syncproto.Readings {
	m := &syncproto.Readings{Header: hdr(site, key()), Charger: charger, Connector: connector, TransactionID: tx}
	m.AddReadings(rows...)
	return m
}

// Every connector status applied is in the charger's history, newest
// first, once: a record sent again (under its key, or another) adds
// nothing.
func TestStatusHistory(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		first := status("a", "CP1", t0, syncproto.Connector{ID: 1, Status: "Available"}, syncproto.Connector{ID: 2, Status: "Available"})
		second := status("a", "CP1", t0.Add(time.Minute), syncproto.Connector{ID: 1, Status: "Charging"})
		third := status("a", "CP1", t0.Add(2*time.Minute), syncproto.Connector{ID: 2, Status: "Faulted", ErrorCode: "GroundFailure"})
		feed(t, s, first, second)
		feed(t, s, third)
		again := *second
		again.Key = key()
		feed(t, s, first, &again) // first: a resend; again: the same status under a new key
		// Another status in the same second (chargers stamp to the
		// second) is history too.
		feed(t, s, status("a", "CP1", t0.Add(time.Minute), syncproto.Connector{ID: 1, Status: "Preparing"}))
		d, err := s.ChargerView(ctx, "a", "CP1", time.Time{})
		must(t, err)
		var got []string
		for _, h := range d.History {
			got = append(got, fmt.Sprintf("%d %d %s %s", h.At.Sub(t0)/time.Minute, h.Connector, h.Status, h.ErrorCode))
		}
		want := "2 2 Faulted GroundFailure|1 1 Charging |1 1 Preparing |0 1 Available |0 2 Available "
		if strings.Join(got, "|") != want {
			t.Errorf("history %q, want %q", strings.Join(got, "|"), want)
		}
		if !d.HistoryNext.IsZero() {
			t.Errorf("historyNext %v on the only page", d.HistoryNext)
		}
	})
}

// The history pages by time without a gap nor a repeat, even where a
// page would end within a millisecond shared by several connectors.
func TestStatusHistoryPages(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		var ms []syncproto.Message
		for i := range 70 { // 140 statuses, two per millisecond
			at := t0.Add(time.Duration(i) * time.Second)
			ms = append(ms, status("a", "CP1", at, syncproto.Connector{ID: 1, Status: "Available"}, syncproto.Connector{ID: 2, Status: "Charging"}))
		}
		feed(t, s, ms...)
		seen := map[string]bool{}
		var before time.Time
		pages := 0
		for {
			d, err := s.ChargerView(ctx, "a", "CP1", before)
			must(t, err)
			pages++
			for _, h := range d.History {
				k := fmt.Sprint(h.At.UnixMilli(), h.Connector)
				if seen[k] {
					t.Fatalf("%s twice", k)
				}
				seen[k] = true
			}
			if d.HistoryNext.IsZero() {
				break
			}
			before = d.HistoryNext
		}
		if len(seen) != 140 || pages != 2 {
			t.Errorf("%d statuses in %d pages, want 140 in 2", len(seen), pages)
		}
	})
}

// Live power is the latest reading's, whatever the order records come
// in: a late record of an earlier time changes nothing. Per-phase power
// is summed, kW and kWh are converted.
func TestLivePower(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		tx := started("a", "CP1", 1, 7, "TAG", t0, 1000)
		feed(t, s, status("a", "CP1", t0, syncproto.Connector{ID: 1, Status: "Charging"}, syncproto.Connector{ID: 2, Status: "Available"}), tx)
		at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
		kwh := syncproto.Column{Measurand: energyCol.Measurand, Unit: "kWh"}
		late := readings("a", "CP1", 1, 7, syncproto.Reading{Time: at(10), Column: powerCol, Value: "7000"},
			syncproto.Reading{Time: at(10), Column: energyCol, Value: "2500"})
		early := readings("a", "CP1", 1, 7, syncproto.Reading{Time: at(5), Column: powerCol, Value: "3000"},
			syncproto.Reading{Time: at(5), Column: kwh, Value: "1.9"})
		phase := func(p, v string) syncproto.Reading {
			return syncproto.Reading{Time: at(3), Column: syncproto.Column{Measurand: powerCol.Measurand, Phase: p, Unit: "kW"}, Value: v}
		}
		phases := readings("a", "CP1", 2, 0, phase("L1", "3.7"), phase("L2", "3.6"), phase("L3", "3.5"))
		feed(t, s, late)
		feed(t, s, early, phases) // early: older than what is stored
		d, err := s.ChargerView(ctx, "a", "CP1", time.Time{})
		must(t, err)
		if len(d.Charger.Live) != 2 {
			t.Fatalf("live %+v, want connectors 1 and 2", d.Charger.Live)
		}
		c1, c2 := d.Charger.Live[0], d.Charger.Live[1]
		if c1.PowerW != 7000 || !c1.PowerAt.Equal(at(10)) || c1.EnergyWh == nil || *c1.EnergyWh != 2500 || c1.Transaction != 7 || !c1.Active {
			t.Errorf("connector 1: %+v, want 7000 W at 10 min, 2500 Wh, session 7 active", c1)
		}
		if c2.PowerW != 10800 || c2.EnergyWh != nil || c2.Active {
			t.Errorf("connector 2: %+v, want 10800 W (the phases' sum), no energy, no session", c2)
		}
		// The older energy replaces nothing; a newer one in kWh does.
		feed(t, s, readings("a", "CP1", 1, 7, syncproto.Reading{Time: at(11), Column: kwh, Value: "2.75"}))
		page, err := s.Sessions(ctx, fleet.SessionFilter{Site: "a"})
		must(t, err)
		if e := page.Sessions[0].EnergyWh; e == nil || *e != 1750 {
			t.Errorf("open session's energy %v, want 2750 - 1000", e)
		}
	})
}

// seedFleet makes five sites: a (online, charging on CP1 at 7 kW, CP2
// idle), b (offline), c (online, a faulted connector), d (online, an
// error code on an available connector, and a session stopped), e
// ("Depot North", never enrolled, no chargers).
func seedFleet(t *testing.T, s *fleet.Store) {
	t.Helper()
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		name := ""
		if id == "e" {
			name = "Depot North"
		}
		_, err := s.CreateSite(ctx, id, name)
		must(t, err)
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		tok, _, err := s.IssueToken(ctx, id, time.Hour)
		must(t, err)
		_, err = s.Enroll(ctx, id, tok)
		must(t, err)
	}
	for _, id := range []string{"a", "c", "d"} {
		b := &syncproto.Birth{Header: hdr(id, ""), Boot: "boot", BdSeq: 1, Software: "1.2.3"}
		_, err := s.ApplyBirth(ctx, b)
		must(t, err)
	}
	tx := started("a", "CP1", 1, 1, "TAG-A", t0, 0)
	old := started("d", "CP1", 1, 1, "TAG-D", t0.Add(-time.Hour), 0)
	feed(t, s,
		status("a", "CP1", t0, syncproto.Connector{ID: 1, Status: "Charging"}),
		status("a", "CP2", t0, syncproto.Connector{ID: 1, Status: "Available"}),
		status("b", "CP1", t0, syncproto.Connector{ID: 1, Status: "Available"}),
		status("c", "CP1", t0, syncproto.Connector{ID: 1, Status: "Faulted", ErrorCode: "GroundFailure"}, syncproto.Connector{ID: 2, Status: "Available", ErrorCode: "NoError"}),
		status("d", "CP1", t0, syncproto.Connector{ID: 1, Status: "Available", ErrorCode: "HighTemperature"}),
		tx, old, stopped(old, t0.Add(-time.Minute), 5000, "Local"),
		readings("a", "CP1", 1, 1, syncproto.Reading{Time: t0.Add(time.Minute), Column: powerCol, Value: "7000"}),
		// d's last power belongs to its stopped session: not drawn now.
		readings("d", "CP1", 1, 1, syncproto.Reading{Time: t0.Add(-2 * time.Minute), Column: powerCol, Value: "11000"}),
	)
}

func TestFleetOverview(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		seedFleet(t, s)
		o, err := s.FleetOverview(ctx, fleet.OverviewFilter{})
		must(t, err)
		want := fleet.Totals{Sites: 5, Online: 3, Offline: 2, Faulted: 2, ChargersInUse: 1, PowerW: 7000}
		if o.Totals != want {
			t.Errorf("totals %+v, want %+v", o.Totals, want)
		}
		if len(o.Sites) != 5 || o.Next != "" {
			t.Fatalf("%d sites, next %q", len(o.Sites), o.Next)
		}
		a, c := o.Sites[0], o.Sites[2]
		if a.ID != "a" || !a.Online || !a.Enrolled || a.Software != "1.2.3" || a.Chargers != 2 || a.ChargersConnected != 2 ||
			a.ChargersInUse != 1 || a.OpenFaults != 0 || a.PowerW != 7000 {
			t.Errorf("site a: %+v", a)
		}
		if c.OpenFaults != 1 || c.ChargersInUse != 0 {
			t.Errorf("site c: %+v, want 1 open fault (NoError is none)", c)
		}
		if e := o.Sites[4]; e.Enrolled || e.Chargers != 0 || e.Online {
			t.Errorf("site e: %+v", e)
		}
		for _, tc := range []struct {
			f     fleet.OverviewFilter
			sites string
			total int64
		}{
			{fleet.OverviewFilter{State: fleet.StateOnline}, "a c d", 3},
			{fleet.OverviewFilter{State: fleet.StateOffline}, "b e", 2},
			{fleet.OverviewFilter{State: fleet.StateFaulted}, "c d", 2},
			{fleet.OverviewFilter{State: fleet.StateInUse}, "a", 1},
			{fleet.OverviewFilter{Search: "NORTH"}, "e", 1},
			{fleet.OverviewFilter{Search: "%"}, "", 0},
			{fleet.OverviewFilter{Search: "d", State: fleet.StateOnline}, "d", 1},
		} {
			o, err := s.FleetOverview(ctx, tc.f)
			must(t, err)
			var ids []string
			for _, v := range o.Sites {
				ids = append(ids, v.ID)
			}
			if strings.Join(ids, " ") != tc.sites || o.Totals.Sites != tc.total {
				t.Errorf("%+v: sites %v (total %d), want %q (%d)", tc.f, ids, o.Totals.Sites, tc.sites, tc.total)
			}
		}
		// Pages of two: every site once, totals on every page.
		var ids []string
		after := ""
		for range 5 {
			o, err := s.FleetOverview(ctx, fleet.OverviewFilter{Limit: 2, After: after})
			must(t, err)
			if o.Totals.Sites != 5 {
				t.Errorf("page after %q: totals %+v", after, o.Totals)
			}
			for _, v := range o.Sites {
				ids = append(ids, v.ID)
			}
			if after = o.Next; after == "" {
				break
			}
		}
		if strings.Join(ids, " ") != "a b c d e" {
			t.Errorf("pages %v, want a to e once", ids)
		}
		if _, err := s.FleetOverview(ctx, fleet.OverviewFilter{State: "busy"}); !errors.Is(err, fleet.ErrInvalid) {
			t.Errorf("state busy: %v, want ErrInvalid", err)
		}
	})
}

// SiteView has the site's health, its chargers live and its sessions.
func TestSiteView(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		seedFleet(t, s)
		d, err := s.SiteView(ctx, "a")
		must(t, err)
		if !d.Site.Online || len(d.Chargers) != 2 || len(d.Chargers[0].Live) != 1 || d.Chargers[0].Live[0].PowerW != 7000 ||
			len(d.Sessions) != 1 || d.Sessions[0].IDTag != "TAG-A" {
			t.Errorf("site view %+v", d)
		}
		if _, err := s.SiteView(ctx, "nope"); !errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("no such site: %v", err)
		}
	})
}

// A site's name and tariff change with their audit entry in one
// transaction; bad values are refused naming the field.
func TestPatchSite(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "A")
		must(t, err)
		str := func(v string) *string { return &v }
		for _, tc := range []struct {
			c     fleet.SiteChange
			field string
		}{
			{fleet.SiteChange{PricePerKWh: str("0,30"), Currency: str("EUR")}, "pricePerKwh:"},
			{fleet.SiteChange{PricePerKWh: str("0.1234567"), Currency: str("EUR")}, "pricePerKwh:"},
			{fleet.SiteChange{PricePerKWh: str("-1"), Currency: str("EUR")}, "pricePerKwh:"},
			{fleet.SiteChange{PricePerKWh: str("0.30"), Currency: str("eur")}, "currency:"},
			{fleet.SiteChange{PricePerKWh: str("0.30")}, "currency: required"},
			{fleet.SiteChange{Name: str(strings.Repeat("x", 256))}, "name:"},
		} {
			_, err := s.PatchSite(ctx, "a", tc.c)
			if !errors.Is(err, fleet.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("%+v: %v, want ErrInvalid naming %s", tc.c, err, tc.field)
			}
		}
		p := &fleet.PendingAudit{Audit: fleet.Audit{Actor: "user:root"}, Action: "site.update", Target: "site:a"}
		st, err := s.PatchSite(fleet.WithAudit(ctx, p), "a", fleet.SiteChange{Name: str("Depot"), PricePerKWh: str("0.2950"), Currency: str("EUR")})
		must(t, err)
		if st.Name != "Depot" || st.PricePerKWh != "0.295" || st.Currency != "EUR" || !p.Written() {
			t.Errorf("site %+v, audit written %v", st, p.Written())
		}
		entries, err := s.AuditLog(ctx, fleet.AuditFilter{Action: "site.update"})
		must(t, err)
		if len(entries) != 1 || entries[0].Message != "name, pricePerKwh 0.295, currency EUR" {
			t.Errorf("audit %+v", entries)
		}
		st, err = s.PatchSite(ctx, "a", fleet.SiteChange{PricePerKWh: str("")})
		must(t, err)
		if st.PricePerKWh != "" || st.Currency != "EUR" {
			t.Errorf("after removing the price: %+v", st)
		}
		if _, err := s.PatchSite(ctx, "nope", fleet.SiteChange{Name: str("x")}); !errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("no such site: %v", err)
		}
	})
}

// A charger's page lists its commands newest first, its reservations
// apart, and its reported configuration; Commands pages by id.
func TestChargerViewCommands(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, clock *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		feed(t, s, status("a", "CP1", t0, syncproto.Connector{ID: 1, Status: "Available"}),
			&syncproto.ChargerConfig{Header: hdr("a", key()), Charger: "CP1",
				Configuration: map[string]syncproto.ConfigValue{"HeartbeatInterval": {Value: "60"}, "DeviceDataCtrlr.BytesPerMessage": {Value: "4096", Readonly: true}}})
		var ids []string
		for i, c := range []struct{ command, args string }{
			{"reset", `{"type":"Soft"}`},
			{"reserve", `{"idTag":"TAG","expiry":"2026-12-01T09:00:00Z","connectorId":1}`},
			{"unlock", `{"connectorId":1}`},
			{"cancel-reservation", `{"reservationId":1}`},
		} {
			clock.Advance(time.Second)
			cmd, err := s.CreateCommand(ctx, "a", "CP1", c.command, []byte(c.args), t0.Add(time.Hour))
			if err != nil {
				t.Fatalf("command %d: %v", i, err)
			}
			ids = append([]string{cmd.ID}, ids...)
		}
		clock.Advance(time.Second)
		_, err = s.CreateCommand(ctx, "a", "CP2", "reset", []byte(`{"type":"Hard"}`), t0.Add(time.Hour))
		must(t, err)
		d, err := s.ChargerView(ctx, "a", "CP1", time.Time{})
		must(t, err)
		var got, reservations []string
		for _, c := range d.Commands {
			got = append(got, c.ID)
		}
		for _, c := range d.Reservations {
			reservations = append(reservations, c.Command)
		}
		if strings.Join(got, " ") != strings.Join(ids, " ") || strings.Join(reservations, " ") != "cancel-reservation reserve" {
			t.Errorf("commands %v (want %v), reservations %v", got, ids, reservations)
		}
		if v := d.Configuration["DeviceDataCtrlr.BytesPerMessage"]; v.Value != "4096" || !v.Readonly || len(d.Configuration) != 2 {
			t.Errorf("configuration %+v", d.Configuration)
		}
		page1, err := s.Commands(ctx, fleet.CommandFilter{Site: "a", Limit: 3})
		must(t, err)
		page2, err := s.Commands(ctx, fleet.CommandFilter{Site: "a", Limit: 3, Before: page1[2].ID})
		must(t, err)
		if len(page1) != 3 || len(page2) != 2 || page1[0].Charger != "CP2" || page2[1].ID != ids[3] {
			t.Errorf("pages %d + %d", len(page1), len(page2))
		}
		if _, err := s.Commands(ctx, fleet.CommandFilter{Site: "a", Before: "nope"}); !errors.Is(err, fleet.ErrInvalid) {
			t.Errorf("before an unknown command: %v", err)
		}
		if _, err := s.ChargerView(ctx, "a", "CP9", time.Time{}); !errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("no such charger: %v", err)
		}
	})
}
