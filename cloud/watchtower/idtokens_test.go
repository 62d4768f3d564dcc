package watchtower_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/cloud/fleet"
)

// cloudTokens returns the appliance's authorization cache entries that
// came from the cloud, as "ID Status".
func (a *appliance) cloudTokens(t *testing.T) []string {
	t.Helper()
	toks, err := a.svc.Tokens(ctx)
	must(t, err)
	out := []string{}
	for _, tok := range toks {
		if tok.Source == "cloud" {
			out = append(out, tok.ID+" "+string(tok.Status))
		}
	}
	slices.Sort(out)
	return out
}

// A token created, blocked, moved and deleted through the API reaches
// the appliance's authorization cache each time.
func TestIDTokensReachTheAppliance(t *testing.T) {
	tw := startTower(t)
	const site = "depot-7"
	password := tw.enroll(t, site)
	if code := tw.call(t, true, "POST", "/api/v1/sites", map[string]string{"id": "depot-8"}, nil); code != http.StatusCreated {
		t.Fatalf("create depot-8: %d", code)
	}
	a := startAppliance(t, "tcp://"+tw.MQTTAddr(), site, password)
	waitFor(t, "the appliance online", func() bool {
		st, err := tw.Store.Site(ctx, site)
		return err == nil && st.Online && a.status(t).Connected
	})
	inCache := func(what string, want ...string) {
		t.Helper()
		waitFor(t, what, func() bool { return slices.Equal(a.cloudTokens(t), want) })
	}
	var tok fleet.IDToken
	if code := tw.call(t, true, "PUT", "/api/v1/idtokens/CARD-1", map[string]any{"owner": "Alice", "sites": []string{site}}, &tok); code != http.StatusOK ||
		tok.IDTag != "CARD-1" || tok.Status != "Accepted" || !slices.Equal(tok.Sites, []string{site}) {
		t.Fatalf("put CARD-1: %d %+v", code, tok)
	}
	inCache("CARD-1 in the appliance's cache", "CARD-1 Accepted")
	if code := tw.call(t, true, "PUT", "/api/v1/idtokens/FLEET-1", map[string]any{"allSites": true}, nil); code != http.StatusOK {
		t.Fatalf("put FLEET-1: %d", code)
	}
	inCache("the all-sites token in the cache", "CARD-1 Accepted", "FLEET-1 Accepted")
	if code := tw.call(t, true, "PATCH", "/api/v1/idtokens/CARD-1", map[string]any{"status": "Blocked"}, &tok); code != http.StatusOK || tok.Status != "Blocked" {
		t.Fatalf("block CARD-1: %d %+v", code, tok)
	}
	inCache("CARD-1 blocked in the cache", "CARD-1 Blocked", "FLEET-1 Accepted")
	if code := tw.call(t, true, "PATCH", "/api/v1/idtokens/FLEET-1", map[string]any{"sites": []string{"depot-8"}}, nil); code != http.StatusOK {
		t.Fatalf("move FLEET-1: %d", code)
	}
	inCache("FLEET-1 gone from the cache", "CARD-1 Blocked")
	if code := tw.call(t, true, "DELETE", "/api/v1/idtokens/CARD-1", nil, nil); code != http.StatusNoContent {
		t.Fatalf("delete CARD-1: %d", code)
	}
	inCache("CARD-1 gone from the cache")
}

// send makes a request with a raw body of contentType (and the
// Authorization authz, "": none); it returns the status, the headers and
// the body.
func (tw *tower) send(t *testing.T, authz, method, path, contentType string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+tw.HTTPAddr()+path, bytes.NewReader(body))
	must(t, err)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, resp.Header, data
}

// The id tokens' endpoints: roles, refusals naming the field (and the
// line of a CSV file), which change nothing, and a CSV round trip that
// changes nothing either.
func TestIDTokenEndpoints(t *testing.T) {
	engines(t, func(t *testing.T, tw *tower) {
		p := setup(t, tw)
		for _, site := range []string{"site-a", "site-b"} {
			if code := tw.as(t, p.admin, "POST", "/api/v1/sites", map[string]string{"id": site}, nil); code != http.StatusCreated {
				t.Fatalf("site %s: %d", site, code)
			}
		}
		expect := func(authz, method, path string, body any, code int, msg string) {
			t.Helper()
			var e struct{ Error string }
			if got := tw.as(t, authz, method, path, body, &e); got != code || !strings.Contains(e.Error, msg) {
				t.Errorf("%s %s %v: %d %q, want %d %q", method, path, body, got, e.Error, code, msg)
			}
		}
		csvImport := func(authz, mode, file string, code int, msg string) []byte {
			t.Helper()
			got, _, data := tw.send(t, authz, "POST", "/api/v1/idtokens/import?mode="+mode, "text/csv; charset=utf-8", []byte(file))
			if got != code || !strings.Contains(string(data), msg) {
				t.Errorf("import %q (%s): %d %s, want %d %q", clipped(file), mode, got, data, code, msg)
			}
			return data
		}
		versions := func() string {
			t.Helper()
			var sites struct{ Sites []fleet.Site }
			tw.as(t, p.viewer, "GET", "/api/v1/sites", nil, &sites)
			return fmt.Sprint(sites.Sites[0].AuthVersion, sites.Sites[1].AuthVersion)
		}

		// Roles.
		expect("", "GET", "/api/v1/idtokens", nil, 401, "bearer token required")
		expect("", "PUT", "/api/v1/idtokens/A", map[string]any{}, 401, "bearer token required")
		expect(p.viewer, "PUT", "/api/v1/idtokens/A", map[string]any{}, 403, "needs the operator role")
		expect(p.viewer, "PATCH", "/api/v1/idtokens/A", map[string]any{"status": "Blocked"}, 403, "needs the operator role")
		expect(p.viewer, "DELETE", "/api/v1/idtokens/A", nil, 403, "needs the operator role")
		csvImport(p.viewer, "merge", "id_tag,status,expiry,owner,note,parent,sites\n", 403, "needs the operator role")
		expect(p.operator, "PUT", "/api/v1/idtokens/A", map[string]any{"sites": []string{"site-a"}}, 200, "")
		expect(p.viewer, "GET", "/api/v1/idtokens/A", nil, 200, "")

		// Refusals, which change nothing.
		before := versions()
		expect(p.operator, "PUT", "/api/v1/idtokens/B", map[string]any{"status": "Lost"}, 400, `status: "Lost" is not Accepted`)
		expect(p.operator, "PUT", "/api/v1/idtokens/B", map[string]any{"sites": []string{"site-a", "site-z"}}, 400, `sites: unknown site "site-z"`)
		expect(p.operator, "PUT", "/api/v1/idtokens/B", map[string]any{"allSites": true, "sites": []string{"site-a"}}, 400, "sites: a token works at all sites")
		expect(p.operator, "PUT", "/api/v1/idtokens/"+strings.Repeat("X", 37), map[string]any{}, 400, "idTag: longer than 36 characters")
		expect(p.operator, "PUT", "/api/v1/idtokens/B", map[string]any{"idTag": "B"}, 400, "unknown field")
		expect(p.operator, "PATCH", "/api/v1/idtokens/A", map[string]any{}, 400, "nothing to change")
		expect(p.operator, "PATCH", "/api/v1/idtokens/A", map[string]any{"expiry": "tomorrow"}, 400, "expiry: want an RFC 3339 time")
		expect(p.operator, "PATCH", "/api/v1/idtokens/A", map[string]any{"sites": []string{"nowhere"}}, 400, `sites: unknown site "nowhere"`)
		expect(p.operator, "PATCH", "/api/v1/idtokens/NONE", map[string]any{"status": "Blocked"}, 404, "not found")
		expect(p.operator, "DELETE", "/api/v1/idtokens/NONE", nil, 404, "not found")
		expect(p.viewer, "GET", "/api/v1/idtokens/NONE", nil, 404, "not found")
		expect(p.viewer, "GET", "/api/v1/idtokens?limit=0", nil, 400, "limit: want 1 to 1000")
		expect(p.viewer, "GET", "/api/v1/idtokens?status=Lost", nil, 400, "status: want Accepted")
		const header = "id_tag,status,expiry,owner,note,parent,sites\n"
		csvImport(p.operator, "all", header, 400, "mode: want merge or replace")
		if code, _, data := tw.send(t, p.operator, "POST", "/api/v1/idtokens/import", "application/json", []byte(header)); code != http.StatusUnsupportedMediaType {
			t.Errorf("import as JSON: %d %s", code, data)
		}
		csvImport(p.operator, "replace", "", 400, "line 1: want the header row")
		csvImport(p.operator, "replace", "id_tag,status,owner\nA,Accepted,x\n", 400, "line 1: want the columns")
		csvImport(p.operator, "replace", "id_tag,status,expiry,owner,note,parent,sites,colour\n", 400, `line 1: column \"colour\"`)
		csvImport(p.operator, "replace", header+"C1,,,,,,*\nC2,Lost,,,,,*\n", 400, `line 3: status: \"Lost\"`)
		csvImport(p.operator, "replace", header+"C1,,,,,,*\nC2,,,,,,site-a;site-q\n", 400, `line 3: sites: unknown site \"site-q\"`)
		csvImport(p.operator, "replace", header+"C1,,,,,,*\n\"C2\nC3\",,,,,,*\nC4,,yesterday,,,,\n", 400, "line 5: expiry: want an RFC 3339 time")
		csvImport(p.operator, "replace", header+"C1,,,,,,*\nC2,,\n", 400, "line 3: wrong number of fields")
		csvImport(p.operator, "replace", header+"C1,,,,,,*\nC1,,,,,,\n", 400, `line 3: idTag: \"C1\" is in the import twice`)
		big := header + strings.Repeat("C,,,,"+strings.Repeat("n", 1000)+",,*\n", 9<<10)
		csvImport(p.operator, "merge", big, 413, "larger than")
		var list struct {
			IDTokens []fleet.IDToken
			Next     string
		}
		if code := tw.as(t, p.viewer, "GET", "/api/v1/idtokens", nil, &list); code != 200 || len(list.IDTokens) != 1 || list.IDTokens[0].IDTag != "A" {
			t.Errorf("after the refusals: %d %+v", code, list)
		}
		if after := versions(); after != before {
			t.Errorf("the refusals changed the lists' versions: %s -> %s", before, after)
		}

		// An import; listing it.
		file := header +
			"-5,,2027-01-31T00:00:00Z,\"=HYPERLINK(\"\"http://evil\"\")\",+1 spare,,site-a\n" +
			"'@boss,Blocked,,\"Ana; \"\"Ops\"\"\",,PARENT-1,*\n" +
			"CARD-9,Expired,,'plain,,,site-a; site-b\n"
		var res fleet.ImportResult
		data := csvImport(p.operator, "merge", file, 200, `"created":3`)
		must(t, json.Unmarshal(data, &res))
		if res.Updated != 0 || res.Deleted != 0 || !slices.Equal(res.Sites, []string{"site-a", "site-b"}) {
			t.Errorf("import %+v", res)
		}
		if code := tw.as(t, p.viewer, "GET", "/api/v1/idtokens?site=site-b&limit=1", nil, &list); code != 200 || len(list.IDTokens) != 1 ||
			list.IDTokens[0].IDTag != "@boss" || list.Next == "" {
			t.Errorf("site-b's first: %d %+v", code, list)
		}
		if code := tw.as(t, p.viewer, "GET", "/api/v1/idtokens?q=OPS", nil, &list); code != 200 || len(list.IDTokens) != 1 ||
			list.IDTokens[0].IDTag != "@boss" || !list.IDTokens[0].AllSites || list.IDTokens[0].Owner != `Ana; "Ops"` {
			t.Errorf("search: %d %+v", code, list)
		}
		var tok fleet.IDToken
		if code := tw.as(t, p.viewer, "GET", "/api/v1/idtokens/-5", nil, &tok); code != 200 || tok.Owner != `=HYPERLINK("http://evil")` ||
			tok.Note != "+1 spare" || tok.Expiry.Format("2006-01-02") != "2027-01-31" {
			t.Errorf("-5: %d %+v", code, tok)
		}

		// The export: every cell that a spreadsheet would run is guarded;
		// imported again in place of everything, it changes nothing.
		code, h, export := tw.send(t, p.viewer, "GET", "/api/v1/idtokens.csv", "", nil)
		if code != 200 || h.Get("Content-Disposition") != `attachment; filename="idtokens.csv"` || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
			t.Fatalf("export: %d %v", code, h)
		}
		rows, err := csv.NewReader(bytes.NewReader(export)).ReadAll()
		must(t, err)
		want := [][]string{
			{"id_tag", "status", "expiry", "owner", "note", "parent", "sites"},
			{"'-5", "Accepted", "2027-01-31T00:00:00Z", `'=HYPERLINK("http://evil")`, "'+1 spare", "", "site-a"},
			{"'@boss", "Blocked", "", `Ana; "Ops"`, "", "PARENT-1", "*"},
			{"A", "Accepted", "", "", "", "", "site-a"},
			{"CARD-9", "Expired", "", "plain", "", "", "site-a;site-b"},
		}
		if !slices.EqualFunc(rows, want, slices.Equal) {
			t.Errorf("export:\n%s", export)
		}
		before = versions()
		data = csvImport(p.operator, "replace", string(export), 200, "")
		must(t, json.Unmarshal(data, &res))
		if res.Created+res.Updated+res.Deleted != 0 || len(res.Sites) != 0 {
			t.Errorf("the export imported again: %s", data)
		}
		if after := versions(); after != before {
			t.Errorf("the export imported again changed the lists' versions: %s -> %s", before, after)
		}
		// A replace deletes what the file does not hold.
		data = csvImport(p.operator, "replace", header+"A,,,,,,site-a\n", 200, `"deleted":3`)
		if _, _, export = tw.send(t, p.viewer, "GET", "/api/v1/idtokens.csv", "", nil); string(export) != header+"A,Accepted,,,,,site-a\n" {
			t.Errorf("after the replace %s: export %q", data, export)
		}

		// Audited: the import with its counts, the refusals.
		var log struct{ Entries []fleet.AuditEntry }
		if code := tw.as(t, p.admin, "GET", "/api/v1/audit?action=idtoken.import", nil, &log); code != 200 || len(log.Entries) < 3 {
			t.Fatalf("audit: %d %+v", code, log)
		}
		if e := log.Entries[0]; e.Outcome != fleet.OutcomeOK || e.ActorUser != "olga" || e.Message != "1 tokens: 0 created, 0 updated, 3 deleted; 2 sites' lists changed" {
			t.Errorf("the last import's entry %+v", e)
		}
		if code := tw.as(t, p.admin, "GET", "/api/v1/audit?action=idtoken.put", nil, &log); code != 200 ||
			!slices.ContainsFunc(log.Entries, func(e fleet.AuditEntry) bool { return e.Target == "idtoken:B" && strings.Contains(e.Message, "400") }) {
			t.Errorf("put's entries %+v", log.Entries)
		}
	})
}

func clipped(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
