package web

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
)

// overviewPage is the fleet overview with its search.
type overviewPage struct {
	Query    url.Values
	Overview fleet.Overview
	// NextQuery is the next page's query ("" on the last).
	NextQuery string
}

// pageQuery keeps a list page's filters (the names given, when not
// empty) for the API and the next page's link.
func pageQuery(r *http.Request, names ...string) url.Values {
	q := url.Values{}
	for _, n := range names {
		if v := strings.TrimSpace(r.URL.Query().Get(n)); v != "" {
			q.Set(n, v)
		}
	}
	return q
}

// nextQuery is q with the cursor parameter set to next ("" at the end).
func nextQuery(q url.Values, param, next string) string {
	if next == "" {
		return ""
	}
	n := url.Values{}
	for k, v := range q {
		n[k] = v
	}
	n.Set(param, next)
	return n.Encode()
}

func (d *Dashboard) loadOverview(r *http.Request, v *visitor) (any, error) {
	p := overviewPage{Query: pageQuery(r, "q", "state", "after")}
	if err := d.call(r, v, http.MethodGet, "/api/v1/overview", p.Query, nil, &p.Overview); err != nil {
		return nil, err
	}
	p.NextQuery = nextQuery(p.Query, "after", p.Overview.Next)
	return p, nil
}

// sessionsPage is the sessions list with its filter.
type sessionsPage struct {
	Query     url.Values
	Sessions  fleet.SessionPage
	NextQuery string
	CSVQuery  string
}

var sessionFilters = []string{"site", "charger", "token", "from", "to"}

func (d *Dashboard) loadSessions(r *http.Request, v *visitor) (any, error) {
	p := sessionsPage{Query: pageQuery(r, append(sessionFilters, "cursor")...)}
	p.CSVQuery = apiDates(pageQuery(r, sessionFilters...)).Encode()
	if err := d.call(r, v, http.MethodGet, "/api/v1/sessions", apiDates(p.Query), nil, &p.Sessions); err != nil {
		return nil, err
	}
	p.NextQuery = nextQuery(p.Query, "cursor", p.Sessions.Next)
	return p, nil
}

// exportSessions streams the filtered sessions as CSV (the API's).
func (d *Dashboard) exportSessions(w http.ResponseWriter, r *http.Request, v *visitor) {
	d.proxy(w, r, v, "/api/v1/sessions.csv", apiDates(pageQuery(r, sessionFilters...)))
}

// apiDates turns the sessions filter's dates (the form's date pickers,
// UTC days) into the API's times: from the start of "from" to the end
// of "to". A time given in full is left as it is.
func apiDates(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	for name, days := range map[string]int{"from": 0, "to": 1} {
		if day, err := time.Parse(time.DateOnly, q.Get(name)); err == nil {
			out.Set(name, day.AddDate(0, 0, days).Format(time.RFC3339))
		}
	}
	return out
}

// idTokensPage is the RFID token register.
type idTokensPage struct {
	Query     url.Values
	Tokens    []fleet.IDToken
	NextQuery string
}

func (d *Dashboard) loadIDTokens(r *http.Request, v *visitor) (any, error) {
	p := idTokensPage{Query: pageQuery(r, "q", "status", "site", "after")}
	var page struct {
		IDTokens []fleet.IDToken `json:"idTokens"`
		Next     string          `json:"next"`
	}
	if err := d.call(r, v, http.MethodGet, "/api/v1/idtokens", p.Query, nil, &page); err != nil {
		return nil, err
	}
	p.Tokens, p.NextQuery = page.IDTokens, nextQuery(p.Query, "after", page.Next)
	return p, nil
}

func (d *Dashboard) exportIDTokens(w http.ResponseWriter, r *http.Request, v *visitor) {
	d.proxy(w, r, v, "/api/v1/idtokens.csv", nil)
}

// putIDToken creates or replaces a token from the form.
func (d *Dashboard) putIDToken(r *http.Request, v *visitor) (string, string, error) {
	tag := strings.TrimSpace(r.PostFormValue("idTag"))
	if tag == "" {
		return "", "", formError("RFID token: required")
	}
	tok := map[string]any{"status": r.PostFormValue("status"), "owner": strings.TrimSpace(r.PostFormValue("owner")),
		"note": strings.TrimSpace(r.PostFormValue("note"))}
	if exp := strings.TrimSpace(r.PostFormValue("expiry")); exp != "" {
		tok["expiry"] = exp + ":00Z"
	}
	sites := strings.TrimSpace(r.PostFormValue("sites"))
	if sites == "" || sites == "*" {
		tok["allSites"] = true
	} else {
		var list []string
		for s := range strings.SplitSeq(sites, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		tok["sites"] = list
	}
	if err := d.call(r, v, http.MethodPut, "/api/v1/idtokens/"+url.PathEscape(tag), nil, tok, nil); err != nil {
		return "", "", err
	}
	return "/idtokens", "Token " + tag + " saved; the sites' appliances get it when they are online.", nil
}

// setIDTokenStatus blocks or unblocks a token.
func (d *Dashboard) setIDTokenStatus(r *http.Request, v *visitor) (string, string, error) {
	tag, status := r.PathValue("idTag"), r.PostFormValue("status")
	if err := d.call(r, v, http.MethodPatch, "/api/v1/idtokens/"+url.PathEscape(tag), nil, map[string]string{"status": status}, nil); err != nil {
		return "", "", err
	}
	return back(r, "/idtokens"), "Token " + tag + " is now " + status + ".", nil
}

func (d *Dashboard) deleteIDToken(r *http.Request, v *visitor) (string, string, error) {
	tag := r.PathValue("idTag")
	if err := d.call(r, v, http.MethodDelete, "/api/v1/idtokens/"+url.PathEscape(tag), nil, nil, nil); err != nil {
		return "", "", err
	}
	return back(r, "/idtokens"), "Token " + tag + " deleted at every site.", nil
}

// importIDTokens sends an uploaded CSV file to the API's import.
func (d *Dashboard) importIDTokens(r *http.Request, v *visitor) (string, string, error) {
	f, _, err := r.FormFile("file")
	if err != nil {
		return "", "", formError("CSV file: choose a file to import")
	}
	defer f.Close()
	mode := "merge"
	if r.PostFormValue("mode") == "replace" {
		mode = "replace"
	}
	var res struct {
		Created, Updated, Deleted int
	}
	err = d.call(r, v, http.MethodPost, "/api/v1/idtokens/import", url.Values{"mode": {mode}}, io.Reader(f), &res,
		func(req *http.Request) { req.Header.Set("Content-Type", "text/csv") })
	if err != nil {
		return "", "", err
	}
	return "/idtokens", importSummary(res.Created, res.Updated, res.Deleted), nil
}
