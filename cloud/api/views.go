package api

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
)

// Views is what the store answers the dashboard's read-only views with:
// the fleet overview, sessions across sites, a charger's history; and
// a site's name and tariff.
type Views interface {
	FleetOverview(ctx context.Context, f fleet.OverviewFilter) (fleet.Overview, error)
	Sessions(ctx context.Context, f fleet.SessionFilter) (fleet.SessionPage, error)
	ExportSessions(ctx context.Context, f fleet.SessionFilter, fn func(fleet.Session) error) error
	SiteView(ctx context.Context, site string) (fleet.SiteDetail, error)
	ChargerView(ctx context.Context, site, charger string, before time.Time) (fleet.ChargerDetail, error)
	Commands(ctx context.Context, f fleet.CommandFilter) ([]fleet.Command, error)
	PatchSite(ctx context.Context, site string, c fleet.SiteChange) (fleet.Site, error)
}

// viewRoutes are the endpoints of the fleet views (see routes).
func (s *server) viewRoutes() []route {
	return []route{
		{pattern: "GET /api/v1/overview", role: auth.Viewer, h: s.overview},
		{pattern: "GET /api/v1/sessions", role: auth.Viewer, h: s.sessions},
		{pattern: "GET /api/v1/sessions.csv", role: auth.Viewer, h: s.sessionsCSV},
		{pattern: "GET /api/v1/sites/{site}/live", role: auth.Viewer, h: s.siteView},
		{pattern: "GET /api/v1/sites/{site}/chargers/{charger}", role: auth.Viewer, h: s.chargerView},
		{pattern: "GET /api/v1/sites/{site}/commands", role: auth.Viewer, h: s.listCommands},
		{pattern: "PATCH /api/v1/sites/{site}", role: auth.Admin, action: "site.update", h: s.patchSite},
	}
}

// params is a request's query, refused (400) when it has a parameter
// not in allowed or one given twice: a typo must not silently widen a
// list or an export.
type params struct {
	w   http.ResponseWriter
	q   url.Values
	bad bool
}

func queryOf(w http.ResponseWriter, r *http.Request, allowed ...string) *params {
	p := &params{w: w, q: r.URL.Query()}
	keys := make([]string, 0, len(p.q))
	for k := range p.q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case !slices.Contains(allowed, k):
			p.fail(fmt.Sprintf("%s: unknown query parameter (want %s)", clip(k), strings.Join(allowed, ", ")))
		case len(p.q[k]) > 1:
			p.fail(k + ": given more than once")
		}
	}
	return p
}

// fail answers 400 with msg, once.
func (p *params) fail(msg string) {
	if !p.bad {
		p.bad = true
		writeError(p.w, http.StatusBadRequest, msg)
	}
}

func (p *params) text(name string) string { return p.q.Get(name) }

// int reads an integer from lo to hi (def when absent).
func (p *params) int(name string, lo, hi, def int) int {
	v := p.q.Get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(fmt.Sprintf("%s: want %d to %d", name, lo, hi))
	}
	return n
}

// time reads an RFC 3339 time (zero when absent).
func (p *params) time(name string) time.Time {
	v := p.q.Get(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		p.fail(name + ": want an RFC 3339 time, like 2026-12-01T08:00:00Z")
	}
	return t
}

// overview pages through the sites with the fleet's totals:
// ?q= (a part of the id or name), state= (online, offline, faulted,
// in-use), limit= (1 to 500, default 100), after= (the previous page's
// next).
func (s *server) overview(w http.ResponseWriter, r *http.Request) {
	p := queryOf(w, r, "q", "state", "limit", "after")
	f := fleet.OverviewFilter{Search: p.text("q"), State: p.text("state"), Limit: p.int("limit", 1, 500, 100), After: p.text("after")}
	switch f.State {
	case "", fleet.StateOnline, fleet.StateOffline, fleet.StateFaulted, fleet.StateInUse:
	default:
		p.fail("state: want online, offline, faulted or in-use")
	}
	if p.bad {
		return
	}
	o, err := s.Store.FleetOverview(r.Context(), f)
	if err != nil {
		s.userError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// sessionFilter reads the filter of the sessions and their export:
// ?site=, charger= (with site), token= (an exact id tag), from=, to=
// (RFC 3339, on the start), open= (true, false), and for a page
// limit= (1 to 1000, default 100) and cursor= (the previous page's
// next).
func sessionFilter(w http.ResponseWriter, r *http.Request, paged bool) (fleet.SessionFilter, bool) {
	allowed := []string{"site", "charger", "token", "from", "to", "open"}
	if paged {
		allowed = append(allowed, "limit", "cursor")
	}
	p := queryOf(w, r, allowed...)
	f := fleet.SessionFilter{Site: p.text("site"), Charger: p.text("charger"), Token: p.text("token"),
		From: p.time("from"), To: p.time("to"), Cursor: p.text("cursor")}
	if paged {
		f.Limit = p.int("limit", 1, 1000, 100)
	}
	if f.Charger != "" && f.Site == "" {
		p.fail("charger: needs site (charger ids are a site's)")
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		p.fail("to: want a time after from")
	}
	switch v := p.text("open"); v {
	case "":
	case "true", "false":
		open := v == "true"
		f.Open = &open
	default:
		p.fail("open: want true or false")
	}
	return f, !p.bad
}

// sessions pages through sessions across the fleet, newest first.
func (s *server) sessions(w http.ResponseWriter, r *http.Request) {
	f, ok := sessionFilter(w, r, true)
	if !ok {
		return
	}
	page, err := s.Store.Sessions(r.Context(), f)
	if err != nil {
		s.userError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// sessionColumns is the header row of the CSV export.
var sessionColumns = []string{"site", "siteName", "id", "charger", "connector", "idTag", "start", "stop", "meterStartWh",
	"meterStopWh", "energyWh", "durationSeconds", "stopReason", "cost", "currency"}

// sessionsCSV streams every session the filter selects as CSV, a page
// of the store at a time.
func (s *server) sessionsCSV(w http.ResponseWriter, r *http.Request) {
	f, ok := sessionFilter(w, r, false)
	if !ok {
		return
	}
	cw := csv.NewWriter(w)
	started := false
	start := func() error {
		started = true
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="sessions.csv"`)
		w.WriteHeader(http.StatusOK)
		return cw.Write(sessionColumns)
	}
	err := s.Store.ExportSessions(r.Context(), f, func(v fleet.Session) error {
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		return cw.Write(csvRow(v))
	})
	if err == nil && !started {
		err = start()
	}
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	switch {
	case err == nil:
	case !started:
		s.userError(w, r, err)
	default:
		// The status is sent: end the response unfinished, so that the
		// client sees a broken transfer, not a complete-looking file.
		s.Logger.Error("session export failed midway", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// csvRow is a session's CSV row, every cell safe to open in a
// spreadsheet.
func csvRow(v fleet.Session) []string {
	optional := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	stop := ""
	if !v.Stop.IsZero() {
		stop = v.Stop.Format(time.RFC3339Nano)
	}
	row := []string{v.Site, v.SiteName, strconv.FormatInt(v.ID, 10), v.Charger, strconv.Itoa(v.Connector), v.IDTag,
		v.Start.Format(time.RFC3339Nano), stop, strconv.FormatInt(v.MeterStartWh, 10), optional(v.MeterStopWh), optional(v.EnergyWh),
		strconv.FormatInt(v.DurationSeconds, 10), v.StopReason, v.Cost, v.Currency}
	for i, c := range row {
		row[i] = csvCell(c)
	}
	return row
}

// csvCell defuses a cell a spreadsheet would run as a formula (one
// starting with = + - @, a tab or a carriage return: OWASP's CSV
// injection) by prefixing a quote.
func csvCell(c string) string {
	if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
		return "'" + c
	}
	return c
}

// chargerView is a charger's page: live state, status history (?before=
// RFC 3339, the previous page's historyNext), configuration, commands
// and reservations.
func (s *server) chargerView(w http.ResponseWriter, r *http.Request) {
	p := queryOf(w, r, "before")
	before := p.time("before")
	if p.bad {
		return
	}
	d, err := s.Store.ChargerView(r.Context(), r.PathValue("site"), r.PathValue("charger"), before)
	if err != nil {
		s.userError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// siteView answers a site's page: its health and network, its chargers
// with their live power, its latest sessions.
func (s *server) siteView(w http.ResponseWriter, r *http.Request) {
	if p := queryOf(w, r); p.bad {
		return
	}
	d, err := s.Store.SiteView(r.Context(), r.PathValue("site"))
	if err != nil {
		s.userError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// listCommands pages through a site's commands, newest first:
// ?charger=, limit= (1 to 1000, default 100), before= (the previous
// page's next).
func (s *server) listCommands(w http.ResponseWriter, r *http.Request) {
	p := queryOf(w, r, "charger", "limit", "before")
	f := fleet.CommandFilter{Site: r.PathValue("site"), Charger: p.text("charger"), Limit: p.int("limit", 1, 1000, 100), Before: p.text("before")}
	if p.bad {
		return
	}
	if _, err := s.Store.Site(r.Context(), f.Site); err != nil {
		s.storeError(w, err)
		return
	}
	cs, err := s.Store.Commands(r.Context(), f)
	if err != nil {
		s.userError(w, r, err)
		return
	}
	answer := map[string]any{"commands": cs}
	if len(cs) == f.Limit {
		answer["next"] = cs[len(cs)-1].ID
	}
	writeJSON(w, http.StatusOK, answer)
}

type patchSiteRequest struct {
	Name *string `json:"name"`
	// PricePerKwh is a decimal ("0.295"); "" removes the price.
	PricePerKwh *string `json:"pricePerKwh"`
	Currency    *string `json:"currency"`
}

// patchSite changes a site's name and tariff.
func (s *server) patchSite(w http.ResponseWriter, r *http.Request) {
	req, ok := body[patchSiteRequest](w, r)
	if !ok {
		return
	}
	site := r.PathValue("site")
	state(r).audit.Target = "site:" + clip(site)
	if req.Name == nil && req.PricePerKwh == nil && req.Currency == nil {
		writeError(w, http.StatusBadRequest, "body: nothing to change (name, pricePerKwh, currency)")
		return
	}
	st, err := s.Store.PatchSite(r.Context(), site, fleet.SiteChange{Name: req.Name, PricePerKWh: req.PricePerKwh, Currency: req.Currency})
	if err != nil {
		s.userError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
