package watchtower_test

import (
	"encoding/csv"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/syncproto"
)

// seedViews gives site-a a charger with a status, two sessions (one
// stopped, one open whose id tag would be a spreadsheet formula) and a
// price.
func seedViews(t *testing.T, tw *tower, admin string) {
	t.Helper()
	if code := tw.as(t, admin, "POST", "/api/v1/sites", map[string]string{"id": "site-a", "name": "=HYPERLINK(\"x\")"}, nil); code != http.StatusCreated {
		t.Fatalf("site: %d", code)
	}
	h := func(key string) syncproto.Header {
		return syncproto.Header{Version: syncproto.Version, Site: "site-a", Key: key, Time: t0}
	}
	meter := int64(11000)
	ms := []syncproto.Message{
		&syncproto.ChargerStatus{Header: h("s1"), Charger: "CP1", Connected: true, LastSeen: t0,
			Connectors: []syncproto.Connector{{ID: 1, Status: "Charging", Time: t0}}},
		&syncproto.Transaction{Header: h("t1"), Event: syncproto.TxStopped, Rev: 2, ID: 1, Charger: "CP1", Connector: 1, IDTag: "TAG1",
			Start: t0.Add(-time.Hour), Stop: t0.Add(-30 * time.Minute), MeterStartWh: 1000, MeterStopWh: &meter, StopReason: "Local"},
		&syncproto.Transaction{Header: h("t2"), Event: syncproto.TxStarted, Rev: 1, ID: 2, Charger: "CP1", Connector: 1, IDTag: "@SUM(1)", Start: t0},
	}
	for _, r := range tw.Store.ApplyBatch(ctx, ms) {
		must(t, r.Err)
	}
}

// The views answer viewers, refuse callers without a token (401) and
// bad or unknown parameters (400, naming them); a site's change needs
// an admin (403) and is audited.
func TestViewsAPI(t *testing.T) {
	engines(t, func(t *testing.T, tw *tower) {
		p := setup(t, tw)
		seedViews(t, tw, p.admin)
		for _, path := range []string{"/api/v1/overview", "/api/v1/sessions", "/api/v1/sessions.csv",
			"/api/v1/sites/site-a/chargers/CP1", "/api/v1/sites/site-a/commands"} {
			if code := tw.as(t, p.none, "GET", path, nil, nil); code != http.StatusUnauthorized {
				t.Errorf("%s without a token: %d, want 401", path, code)
			}
		}
		var o fleet.Overview
		if code := tw.as(t, p.viewer, "GET", "/api/v1/overview?q=SITE&state=in-use", nil, &o); code != http.StatusOK ||
			o.Totals.Sites != 1 || o.Totals.ChargersInUse != 1 || len(o.Sites) != 1 {
			t.Errorf("overview: %d %+v", code, o)
		}
		var page fleet.SessionPage
		if code := tw.as(t, p.viewer, "GET", "/api/v1/sessions?site=site-a&limit=1", nil, &page); code != http.StatusOK ||
			len(page.Sessions) != 1 || page.Sessions[0].ID != 2 || page.Next == "" {
			t.Fatalf("sessions: %d %+v", code, page)
		}
		var page2 fleet.SessionPage
		if code := tw.as(t, p.viewer, "GET", "/api/v1/sessions?site=site-a&limit=1&cursor="+url.QueryEscape(page.Next), nil, &page2); code != http.StatusOK ||
			len(page2.Sessions) != 1 || page2.Sessions[0].ID != 1 || page2.Next != "" || *page2.Sessions[0].EnergyWh != 10000 {
			t.Errorf("sessions, page 2: %d %+v", code, page2)
		}
		for _, bad := range []struct{ path, field string }{
			{"/api/v1/sessions?from=yesterday", "from:"},
			{"/api/v1/sessions?limit=1001", "limit:"},
			{"/api/v1/sessions?sites=site-a", "sites: unknown"},
			{"/api/v1/sessions?site=a&site=b", "site: given more than once"},
			{"/api/v1/sessions?charger=CP1", "charger:"},
			{"/api/v1/sessions?cursor=zzz", "cursor:"},
			{"/api/v1/sessions.csv?limit=5", "limit: unknown"},
			{"/api/v1/overview?state=busy", "state:"},
			{"/api/v1/sites/site-a/chargers/CP1?before=now", "before:"},
			{"/api/v1/sites/site-a/commands?before=nope", "before:"},
		} {
			var e struct{ Error string }
			if code := tw.as(t, p.viewer, "GET", bad.path, nil, &e); code != http.StatusBadRequest || !strings.HasPrefix(e.Error, bad.field) {
				t.Errorf("%s: %d %q, want 400 starting %q", bad.path, code, e.Error, bad.field)
			}
		}
		var d fleet.ChargerDetail
		if code := tw.as(t, p.viewer, "GET", "/api/v1/sites/site-a/chargers/CP1", nil, &d); code != http.StatusOK ||
			len(d.History) != 1 || d.Charger.ID != "CP1" {
			t.Errorf("charger: %d %+v", code, d)
		}
		if code := tw.as(t, p.viewer, "GET", "/api/v1/sites/site-a/chargers/CP9", nil, nil); code != http.StatusNotFound {
			t.Errorf("no such charger: %d", code)
		}
		if code := tw.as(t, p.operator, "POST", "/api/v1/sites/site-a/commands",
			map[string]any{"charger": "CP1", "command": "reset", "args": map[string]string{"type": "Soft"}, "timeout": "5m"}, nil); code != http.StatusCreated {
			t.Fatalf("command: %d", code)
		}
		var cs struct{ Commands []fleet.Command }
		if code := tw.as(t, p.viewer, "GET", "/api/v1/sites/site-a/commands?charger=CP1", nil, &cs); code != http.StatusOK || len(cs.Commands) != 1 {
			t.Errorf("commands: %d %+v", code, cs)
		}

		patch := map[string]string{"pricePerKwh": "0.30", "currency": "EUR"}
		if code := tw.as(t, p.viewer, "PATCH", "/api/v1/sites/site-a", patch, nil); code != http.StatusForbidden {
			t.Errorf("a viewer's patch: %d, want 403", code)
		}
		var e struct{ Error string }
		if code := tw.as(t, p.admin, "PATCH", "/api/v1/sites/site-a", map[string]string{"currency": "euro"}, &e); code != http.StatusBadRequest ||
			!strings.HasPrefix(e.Error, "currency:") {
			t.Errorf("bad currency: %d %q", code, e.Error)
		}
		var st fleet.Site
		if code := tw.as(t, p.admin, "PATCH", "/api/v1/sites/site-a", patch, &st); code != http.StatusOK || st.PricePerKWh != "0.3" {
			t.Errorf("patch: %d %+v", code, st)
		}
		// The viewer's 403 is refused before the handler names the target.
		var audit struct{ Entries []fleet.AuditEntry }
		tw.as(t, p.admin, "GET", "/api/v1/audit?action=site.update", nil, &audit)
		var outcomes []string
		for _, a := range audit.Entries {
			outcomes = append(outcomes, a.Outcome+" "+a.Target)
		}
		if strings.Join(outcomes, ",") != "ok site:site-a,error site:site-a,error /api/v1/sites/site-a" {
			t.Errorf("audit of site.update: %v", outcomes)
		}

		// The export: every session, a header row, cells that would be
		// formulas defused, the cost at the new price.
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+tw.HTTPAddr()+"/api/v1/sessions.csv?site=site-a", nil)
		must(t, err)
		req.Header.Set("Authorization", p.viewer)
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		must(t, err)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
			resp.Header.Get("Content-Disposition") != `attachment; filename="sessions.csv"` {
			t.Fatalf("csv: %d %v", resp.StatusCode, resp.Header)
		}
		rows, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
		must(t, err)
		if len(rows) != 3 || rows[0][0] != "site" || rows[1][5] != "'@SUM(1)" || rows[2][1] != `'=HYPERLINK("x")` ||
			rows[2][13] != "3.00" || rows[2][14] != "EUR" {
			t.Errorf("csv:\n%s", data)
		}
	})
}
