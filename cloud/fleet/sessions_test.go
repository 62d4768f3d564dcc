package fleet_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/syncproto"
)

// seedSessions stores 30 sessions at sites s1..s3, ten each, chargers
// CP1 and CP2, tags TAG0..TAG2, starting a minute apart per site and at
// the same times across sites (ties the order breaks by site, then id);
// the last of each site is open. It returns their keys newest first.
func seedSessions(t *testing.T, s *fleet.Store) []string {
	t.Helper()
	var ms []syncproto.Message
	for _, site := range []string{"s1", "s2", "s3"} {
		_, err := s.CreateSite(ctx, site, "Site "+site)
		must(t, err)
		for i := range 10 {
			tx := started(site, fmt.Sprint("CP", 1+i%2), 1, int64(100+i), fmt.Sprint("TAG", i%3), t0.Add(time.Duration(i)*time.Minute), 1000)
			ms = append(ms, tx)
			if i < 9 {
				ms = append(ms, stopped(tx, tx.Start.Add(30*time.Second), 1000+int64(i)*1000, "Local"))
			}
		}
	}
	feed(t, s, ms...)
	var want []string
	for i := 9; i >= 0; i-- {
		for _, site := range []string{"s3", "s2", "s1"} {
			want = append(want, fmt.Sprint(site, "/", 100+i))
		}
	}
	return want
}

func ids(ss []fleet.Session) []string {
	var out []string
	for _, v := range ss {
		out = append(out, fmt.Sprint(v.Site, "/", v.ID))
	}
	return out
}

// Pages follow each other by cursor with no session twice and none
// missing, for every filter; every filter selects what it says.
func TestSessionsPages(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		all := seedSessions(t, s)
		yes, no := true, false
		where := func(keep func(site string, i int) bool) []string {
			var out []string
			for _, k := range all {
				var site string
				var id int
				fmt.Sscanf(k, "%2s/%d", &site, &id)
				if keep(site, id-100) {
					out = append(out, k)
				}
			}
			return out
		}
		for _, tc := range []struct {
			name string
			f    fleet.SessionFilter
			want []string
		}{
			{"all", fleet.SessionFilter{}, all},
			{"site", fleet.SessionFilter{Site: "s2"}, where(func(site string, _ int) bool { return site == "s2" })},
			{"charger", fleet.SessionFilter{Site: "s2", Charger: "CP2"}, where(func(site string, i int) bool { return site == "s2" && i%2 == 1 })},
			{"token", fleet.SessionFilter{Token: "TAG1"}, where(func(_ string, i int) bool { return i%3 == 1 })},
			{"range", fleet.SessionFilter{From: t0.Add(2 * time.Minute), To: t0.Add(5 * time.Minute)}, where(func(_ string, i int) bool { return i >= 2 && i < 5 })},
			{"open", fleet.SessionFilter{Open: &yes}, where(func(_ string, i int) bool { return i == 9 })},
			{"stopped", fleet.SessionFilter{Open: &no, Site: "s1"}, where(func(site string, i int) bool { return site == "s1" && i < 9 })},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, limit := range []int{1, 4, 7, 100} {
					var got []string
					f := tc.f
					f.Limit = limit
					for pages := 0; ; pages++ {
						if pages > len(all) {
							t.Fatal("pages never end")
						}
						page, err := s.Sessions(ctx, f)
						must(t, err)
						if len(page.Sessions) > limit {
							t.Fatalf("a page of %d, limit %d", len(page.Sessions), limit)
						}
						got = append(got, ids(page.Sessions)...)
						if page.Next == "" {
							break
						}
						f.Cursor = page.Next
					}
					if !slices.Equal(got, tc.want) {
						t.Errorf("limit %d: %v, want %v", limit, got, tc.want)
					}
				}
				var exported []string
				must(t, s.ExportSessions(ctx, tc.f, func(v fleet.Session) error {
					exported = append(exported, fmt.Sprint(v.Site, "/", v.ID))
					return nil
				}))
				if !slices.Equal(exported, tc.want) {
					t.Errorf("export %v, want %v", exported, tc.want)
				}
			})
		}
		page, err := s.Sessions(ctx, fleet.SessionFilter{Limit: 2})
		must(t, err)
		for _, f := range []fleet.SessionFilter{
			{Cursor: "not a cursor"},
			{Cursor: page.Next, Site: "s1"}, // the cursor of s2/109, in the list of all sites
			{Charger: "CP1"},
		} {
			if _, err := s.Sessions(ctx, f); !errors.Is(err, fleet.ErrInvalid) {
				t.Errorf("%+v: %v, want ErrInvalid", f, err)
			}
		}
	})
}

// A session's energy, duration and cost: at the site's price, rounded
// half away from zero to the currency's minor unit; none without a price.
func TestSessionCost(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, clock *cloudtest.Clock) {
		str := func(v string) *string { return &v }
		for _, site := range []struct{ id, price, currency string }{
			{"eur", "0.295", "EUR"}, {"jpy", "30.5", "JPY"}, {"kwd", "0.0125", "KWD"}, {"half", "0.005", "EUR"}, {"free", "", ""},
		} {
			_, err := s.CreateSite(ctx, site.id, "")
			must(t, err)
			if site.price != "" {
				_, err := s.PatchSite(ctx, site.id, fleet.SiteChange{PricePerKWh: str(site.price), Currency: str(site.currency)})
				must(t, err)
			}
		}
		stop := func(site string, wh int64) syncproto.Message {
			return stopped(started(site, "CP1", 1, 1, "T", t0, 500), t0.Add(90*time.Minute+500*time.Millisecond), 500+wh, "EVDisconnected")
		}
		feed(t, s, stop("eur", 12345), stop("jpy", 1001), stop("kwd", 12345), stop("half", 1000), stop("free", 1000))
		want := map[string]string{"eur": "3.64 EUR", "jpy": "31 JPY", "kwd": "0.154 KWD", "half": "0.01 EUR", "free": " "}
		page, err := s.Sessions(ctx, fleet.SessionFilter{})
		must(t, err)
		for _, v := range page.Sessions {
			if got := v.Cost + " " + v.Currency; got != want[v.Site] {
				t.Errorf("%s: cost %q, want %q", v.Site, got, want[v.Site])
			}
			if v.DurationSeconds != 5400 || v.StopReason != "EVDisconnected" || v.MeterStopWh == nil {
				t.Errorf("%s: %+v", v.Site, v)
			}
		}
		// Open: the energy is the live register's, the duration runs to now.
		clock.Advance(10 * time.Minute)
		open := started("eur", "CP2", 1, 2, "T", t0, 500)
		feed(t, s, open)
		page, err = s.Sessions(ctx, fleet.SessionFilter{Site: "eur", Charger: "CP2"})
		must(t, err)
		if v := page.Sessions[0]; v.EnergyWh != nil || v.Cost != "" || v.DurationSeconds != 600 {
			t.Errorf("open session without readings: %+v", v)
		}
		feed(t, s, readings("eur", "CP2", 1, 2, syncproto.Reading{Time: t0.Add(5 * time.Minute), Column: energyCol, Value: "1500"}))
		page, err = s.Sessions(ctx, fleet.SessionFilter{Site: "eur", Charger: "CP2"})
		must(t, err)
		if v := page.Sessions[0]; v.EnergyWh == nil || *v.EnergyWh != 1000 || v.Cost != "0.30" {
			t.Errorf("open session at 1500 Wh: %+v", v)
		}
	})
}
