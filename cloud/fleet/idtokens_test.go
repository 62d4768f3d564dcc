package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
)

// authVersions returns the authorization list version of each site.
func authVersions(t *testing.T, s *fleet.Store, sites ...string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, site := range sites {
		st, err := s.Site(ctx, site)
		must(t, err)
		out[site] = st.AuthVersion
	}
	return out
}

// authEntries returns site's list as "ID Status" lines, by id.
func authEntries(t *testing.T, s *fleet.Store, site string) []string {
	t.Helper()
	_, entries, err := s.AuthList(ctx, site)
	must(t, err)
	out := []string{}
	for _, e := range entries {
		out = append(out, e.ID+" "+e.Status)
	}
	return out
}

// bumped checks that a change bumped the versions of exactly the sites
// want, by one, and returned them.
func bumped(t *testing.T, what string, before, after map[string]int64, got []string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: sites changed %v, want %v", what, got, want)
	}
	for site, v := range before {
		inc := int64(0)
		if slices.Contains(want, site) {
			inc = 1
		}
		if after[site] != v+inc {
			t.Errorf("%s: %s's version %d -> %d, want +%d", what, site, v, after[site], inc)
		}
	}
}

// Every change of a token changes the authorization lists of the sites
// it works at, or worked at, once each: a token for all sites is on
// every unrevoked site (a site created later too), one for some sites on
// those only; moved, it leaves the site it left; blocked, it is Blocked
// everywhere; deleted, it is removed everywhere; put again unchanged, it
// changes nothing.
func TestIDTokensFanOut(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, clock *cloudtest.Clock) {
		for _, site := range []string{"a", "b", "r"} {
			_, err := s.CreateSite(ctx, site, "")
			must(t, err)
		}
		must(t, s.Revoke(ctx, "r"))
		all := []string{"a", "b", "r"}
		step := func(what string, change func() ([]string, error), want ...string) {
			t.Helper()
			before := authVersions(t, s, all...)
			got, err := change()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			bumped(t, what, before, authVersions(t, s, all...), got, want...)
		}
		put := func(tok fleet.IDToken) func() ([]string, error) {
			return func() ([]string, error) { _, sites, err := s.PutIDToken(ctx, tok); return sites, err }
		}
		patch := func(tag string, c fleet.IDTokenChange) func() ([]string, error) {
			return func() ([]string, error) { _, sites, err := s.PatchIDToken(ctx, tag, c); return sites, err }
		}
		expiry := t0.Add(90 * 24 * time.Hour)
		step("an all-sites token", put(fleet.IDToken{IDTag: "ALL", Owner: "Fleet", AllSites: true, Expiry: expiry}), "a", "b")
		step("a token for a", put(fleet.IDToken{IDTag: "T1", Sites: []string{"a"}, Parent: "GROUP"}), "a")
		step("a token for the revoked site", put(fleet.IDToken{IDTag: "T2", Sites: []string{"r"}}))
		step("T1 put again as it is", put(fleet.IDToken{IDTag: "T1", Sites: []string{"a", "a"}, Parent: "GROUP", Status: "Accepted"}))
		if a, b := authEntries(t, s, "a"), authEntries(t, s, "b"); !slices.Equal(a, []string{"ALL Accepted", "T1 Accepted"}) ||
			!slices.Equal(b, []string{"ALL Accepted"}) {
			t.Fatalf("lists: a %v, b %v", a, b)
		}
		_, entries, err := s.AuthList(ctx, "a")
		must(t, err)
		if !entries[0].Expiry.Equal(expiry) || entries[1].Parent != "GROUP" {
			t.Errorf("entries %+v: want ALL's expiry and T1's parent", entries)
		}
		tok, err := s.IDToken(ctx, "T2")
		must(t, err)
		if !slices.Equal(tok.Sites, []string{"r"}) || tok.Status != fleet.IDTokenAccepted || !tok.CreatedAt.Equal(t0) {
			t.Errorf("T2 %+v", tok)
		}

		// Moved from a to b: removed at a (a delta says so), put at b.
		va := authVersions(t, s, "a")["a"]
		clock.Advance(time.Minute)
		step("T1 moved to b", patch("T1", fleet.IDTokenChange{Sites: &[]string{"b"}}), "a", "b")
		if a, b := authEntries(t, s, "a"), authEntries(t, s, "b"); !slices.Equal(a, []string{"ALL Accepted"}) ||
			!slices.Equal(b, []string{"ALL Accepted", "T1 Accepted"}) {
			t.Fatalf("after the move: a %v, b %v", a, b)
		}
		m, err := s.AuthListMessage(ctx, "a", va)
		must(t, err)
		if m.Full || !slices.Equal(m.Removed, []string{"T1"}) || len(m.Entries) != 0 {
			t.Errorf("a's delta from %d: %+v", va, m)
		}
		tok, err = s.IDToken(ctx, "T1")
		must(t, err)
		if !tok.CreatedAt.Equal(t0) || !tok.UpdatedAt.Equal(t0.Add(time.Minute)) || tok.Parent != "GROUP" {
			t.Errorf("T1 after the move %+v", tok)
		}

		// Blocked: Blocked wherever it works; the owner alone changes no list.
		blocked := fleet.IDTokenBlocked
		step("ALL blocked", patch("ALL", fleet.IDTokenChange{Status: &blocked}), "a", "b")
		for _, site := range []string{"a", "b"} {
			if l := authEntries(t, s, site); !slices.Contains(l, "ALL Blocked") {
				t.Errorf("%s after the block: %v", site, l)
			}
		}
		owner := "Ops"
		step("ALL's owner changed", patch("ALL", fleet.IDTokenChange{Owner: &owner}))

		// A site created now gets the all-sites tokens, at version 1.
		_, err = s.CreateSite(ctx, "c", "")
		must(t, err)
		all = append(all, "c")
		if l, v := authEntries(t, s, "c"), authVersions(t, s, "c")["c"]; !slices.Equal(l, []string{"ALL Blocked"}) || v != 1 {
			t.Fatalf("new site c: %v at version %d", l, v)
		}

		// From all sites to one: removed from the others.
		step("ALL to a only", patch("ALL", fleet.IDTokenChange{Sites: &[]string{"a"}}), "b", "c")
		step("ALL to all sites again", patch("ALL", fleet.IDTokenChange{AllSites: new(true)}), "b", "c")

		// Deleted: removed everywhere.
		step("ALL deleted", func() ([]string, error) { return s.DeleteIDToken(ctx, "ALL") }, "a", "b", "c")
		if a, b, c := authEntries(t, s, "a"), authEntries(t, s, "b"), authEntries(t, s, "c"); len(a) != 0 || !slices.Equal(b, []string{"T1 Accepted"}) || len(c) != 0 {
			t.Fatalf("after the delete: a %v, b %v, c %v", a, b, c)
		}
		if _, err := s.IDToken(ctx, "ALL"); !errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("deleted token: %v", err)
		}
		if _, err := s.DeleteIDToken(ctx, "ALL"); !errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("deleting it again: %v", err)
		}
		if _, _, err := s.PatchIDToken(ctx, "NONE", fleet.IDTokenChange{Owner: &owner}); !errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("patching a token that is not there: %v", err)
		}
		// An unknown site changes nothing.
		before := authVersions(t, s, all...)
		if _, _, err := s.PutIDToken(ctx, fleet.IDToken{IDTag: "T3", Sites: []string{"a", "nowhere"}}); !errors.Is(err, fleet.ErrInvalid) ||
			!strings.Contains(err.Error(), `sites: unknown site "nowhere"`) {
			t.Errorf("unknown site: %v", err)
		}
		if _, _, err := s.PatchIDToken(ctx, "T1", fleet.IDTokenChange{Sites: &[]string{"nowhere"}}); !errors.Is(err, fleet.ErrInvalid) {
			t.Errorf("patch to an unknown site: %v", err)
		}
		bumped(t, "refused changes", before, authVersions(t, s, all...), []string{})
		if _, err := s.IDToken(ctx, "T3"); !errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("T3 stored: %v", err)
		}
	})
}

// A token is refused with a message naming its invalid field.
func TestIDTokenValidation(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		for _, c := range []struct {
			tok  fleet.IDToken
			want string
		}{
			{fleet.IDToken{}, "idTag: required"},
			{fleet.IDToken{IDTag: strings.Repeat("x", fleet.MaxIDTagLen+1)}, "idTag: longer than 36 characters"},
			{fleet.IDToken{IDTag: "A\x01B"}, "idTag: contains control characters"},
			{fleet.IDToken{IDTag: " A"}, "idTag: space"},
			{fleet.IDToken{IDTag: "\xff"}, "idTag: not UTF-8"},
			{fleet.IDToken{IDTag: "A", Status: "Lost"}, `status: "Lost" is not Accepted`},
			{fleet.IDToken{IDTag: "A", Parent: strings.Repeat("p", 37)}, "parent: longer"},
			{fleet.IDToken{IDTag: "A", Owner: strings.Repeat("o", 256)}, "owner: longer than 255 bytes"},
			{fleet.IDToken{IDTag: "A", Note: "a\nb"}, "note: contains control characters"},
			{fleet.IDToken{IDTag: "A", Expiry: time.Unix(-5, 0)}, "expiry: before 1970"},
			{fleet.IDToken{IDTag: "A", AllSites: true, Sites: []string{"a"}}, "sites: a token works at all sites"},
			{fleet.IDToken{IDTag: "A", Sites: []string{"b"}}, `sites: unknown site "b"`},
		} {
			_, _, err := s.PutIDToken(ctx, c.tok)
			if !errors.Is(err, fleet.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%+v: %v, want %q", c.tok, err, c.want)
			}
		}
		// 36 characters, 2.x's longest idToken, are a token.
		tag := strings.Repeat("é", fleet.MaxIDTagLen)
		_, sites, err := s.PutIDToken(ctx, fleet.IDToken{IDTag: tag, Sites: []string{"a"}})
		must(t, err)
		if !slices.Equal(sites, []string{"a"}) {
			t.Errorf("sites %v", sites)
		}
		lost := "Lost"
		if _, _, err := s.PatchIDToken(ctx, tag, fleet.IDTokenChange{Status: &lost}); !errors.Is(err, fleet.ErrInvalid) || !strings.Contains(err.Error(), "status:") {
			t.Errorf("patch to a bad status: %v", err)
		}
		if _, _, err := s.PatchIDToken(ctx, tag, fleet.IDTokenChange{AllSites: new(true), Sites: &[]string{"a"}}); !errors.Is(err, fleet.ErrInvalid) {
			t.Errorf("patch to all sites and some: %v", err)
		}
	})
}

// importTokens is n tokens TAG-0000... working at sites (nil: all), of
// status.
func importTokens(n int, status string, sites ...string) []fleet.IDToken {
	out := make([]fleet.IDToken, n)
	for i := range out {
		out[i] = fleet.IDToken{IDTag: fmt.Sprintf("TAG-%05d", i), Owner: fmt.Sprint("owner ", i%7), Status: status,
			AllSites: sites == nil, Sites: sites}
	}
	return out
}

// An import is one change: each site's list changes once, whatever the
// number of tokens; a merge keeps the tokens it does not hold, a replace
// deletes them; a token imported as it is counts as nothing; an invalid
// token (or an unknown site) leaves everything as it was.
func TestImportIDTokens(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		sites := []string{"a", "b", "c"}
		for _, site := range sites {
			_, err := s.CreateSite(ctx, site, "")
			must(t, err)
		}
		before := authVersions(t, s, sites...)
		first := append(importTokens(1500, "Accepted", "a", "b"), fleet.IDToken{IDTag: "EVERYWHERE", AllSites: true})
		res, err := s.ImportIDTokens(ctx, first, fleet.ImportMode{})
		must(t, err)
		if res.Created != 1501 || res.Updated != 0 || res.Deleted != 0 {
			t.Fatalf("first import %+v", res)
		}
		bumped(t, "first import", before, authVersions(t, s, sites...), res.Sites, "a", "b", "c")
		if n := len(authEntries(t, s, "a")); n != 1501 {
			t.Fatalf("a holds %d entries, want 1501", n)
		}

		// A merge: 10 tokens blocked, 1 new at c; the others stay.
		before = authVersions(t, s, sites...)
		merge := importTokens(10, "Blocked", "a", "b")
		merge = append(merge, fleet.IDToken{IDTag: "NEW", Sites: []string{"c"}}, first[20])
		res, err = s.ImportIDTokens(ctx, merge, fleet.ImportMode{})
		must(t, err)
		if res.Created != 1 || res.Updated != 10 || res.Deleted != 0 {
			t.Fatalf("merge %+v", res)
		}
		bumped(t, "merge", before, authVersions(t, s, sites...), res.Sites, "a", "b", "c")
		if l := authEntries(t, s, "b"); len(l) != 1501 || l[0] != "EVERYWHERE Accepted" || l[1] != "TAG-00000 Blocked" || l[11] != "TAG-00010 Accepted" {
			t.Errorf("b after the merge: %d entries from %v", len(l), l[:12])
		}

		// A bad line, or an unknown site, changes nothing.
		before = authVersions(t, s, sites...)
		bad := importTokens(100, "Accepted")
		bad[42].Status = "Stolen"
		_, err = s.ImportIDTokens(ctx, bad, fleet.ImportMode{Replace: true})
		var ie *fleet.ImportError
		if !errors.As(err, &ie) || ie.Index != 42 || ie.IDTag != "TAG-00042" || !strings.HasPrefix(ie.Msg, "status:") || !errors.Is(err, fleet.ErrInvalid) {
			t.Fatalf("bad status: %v", err)
		}
		bad[42].Status, bad[77].AllSites, bad[77].Sites = "", false, []string{"a", "zz"}
		if _, err = s.ImportIDTokens(ctx, bad, fleet.ImportMode{Replace: true}); !errors.As(err, &ie) || ie.Index != 77 || ie.Msg != `sites: unknown site "zz"` {
			t.Fatalf("unknown site: %v", err)
		}
		bad[77] = bad[3]
		if _, err = s.ImportIDTokens(ctx, bad, fleet.ImportMode{Replace: true}); !errors.As(err, &ie) || ie.Index != 77 || !strings.Contains(ie.Msg, "twice") {
			t.Fatalf("a token twice: %v", err)
		}
		bumped(t, "refused imports", before, authVersions(t, s, sites...), []string{})
		if tok, err := s.IDToken(ctx, "TAG-00500"); err != nil || tok.AllSites {
			t.Fatalf("TAG-00500 after the refused imports: %+v %v", tok, err)
		}

		// A replace: what it does not hold is deleted, at every site.
		before = authVersions(t, s, sites...)
		replace := []fleet.IDToken{first[0], {IDTag: "NEW", Sites: []string{"c"}}}
		res, err = s.ImportIDTokens(ctx, replace, fleet.ImportMode{Replace: true})
		must(t, err)
		if res.Created != 0 || res.Updated != 1 || res.Deleted != 1500 {
			t.Fatalf("replace %+v", res)
		}
		bumped(t, "replace", before, authVersions(t, s, sites...), res.Sites, "a", "b", "c")
		for site, want := range map[string][]string{"a": {"TAG-00000 Accepted"}, "b": {"TAG-00000 Accepted"}, "c": {"NEW Accepted"}} {
			if l := authEntries(t, s, site); !slices.Equal(l, want) {
				t.Errorf("%s after the replace: %v, want %v", site, l, want)
			}
		}
		// The same again: nothing.
		before = authVersions(t, s, sites...)
		res, err = s.ImportIDTokens(ctx, replace, fleet.ImportMode{Replace: true})
		must(t, err)
		if res.Created+res.Updated+res.Deleted != 0 {
			t.Errorf("the same import again %+v", res)
		}
		bumped(t, "the same import again", before, authVersions(t, s, sites...), res.Sites)
	})
}

// Listing filters by a part of the id tag or owner (whatever its case),
// status and site, and pages by id tag; the export streams every token.
func TestIDTokensListAndExport(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		for _, site := range []string{"a", "b"} {
			_, err := s.CreateSite(ctx, site, "")
			must(t, err)
		}
		_, err := s.ImportIDTokens(ctx, []fleet.IDToken{
			{IDTag: "CARD-1", Owner: "Alice Martin", Sites: []string{"a"}},
			{IDTag: "CARD-2", Owner: "Bob", Status: "Blocked", Sites: []string{"a", "b"}},
			{IDTag: "FOB-1", Owner: "martina", AllSites: true},
			{IDTag: "FOB_2", Owner: "100% Carl", Sites: []string{"b"}},
			{IDTag: "XFOBY", Owner: "Dan"},
		}, fleet.ImportMode{})
		must(t, err)
		tags := func(f fleet.IDTokenFilter) []string {
			t.Helper()
			page, _, err := s.IDTokens(ctx, f)
			must(t, err)
			out := []string{}
			for _, tok := range page {
				out = append(out, tok.IDTag)
			}
			return out
		}
		for _, c := range []struct {
			f    fleet.IDTokenFilter
			want []string
		}{
			{fleet.IDTokenFilter{}, []string{"CARD-1", "CARD-2", "FOB-1", "FOB_2", "XFOBY"}},
			{fleet.IDTokenFilter{Search: "MARTIN"}, []string{"CARD-1", "FOB-1"}},
			{fleet.IDTokenFilter{Search: "card"}, []string{"CARD-1", "CARD-2"}},
			{fleet.IDTokenFilter{Search: "fob_"}, []string{"FOB_2"}},
			{fleet.IDTokenFilter{Search: "100%"}, []string{"FOB_2"}},
			{fleet.IDTokenFilter{Status: "Blocked"}, []string{"CARD-2"}},
			{fleet.IDTokenFilter{Site: "a"}, []string{"CARD-1", "CARD-2", "FOB-1"}},
			{fleet.IDTokenFilter{Site: "b", Status: "Accepted"}, []string{"FOB-1", "FOB_2"}},
			{fleet.IDTokenFilter{After: "CARD-2", Limit: 2}, []string{"FOB-1", "FOB_2"}},
		} {
			if got := tags(c.f); !slices.Equal(got, c.want) {
				t.Errorf("%+v: %v, want %v", c.f, got, c.want)
			}
		}
		page, next, err := s.IDTokens(ctx, fleet.IDTokenFilter{Limit: 2})
		must(t, err)
		if next != "CARD-2" || len(page) != 2 || !slices.Equal(page[1].Sites, []string{"a", "b"}) || page[1].Status != "Blocked" {
			t.Errorf("first page %+v, next %q", page, next)
		}
		if _, next, _ = s.IDTokens(ctx, fleet.IDTokenFilter{After: "FOB-1", Limit: 2}); next != "" {
			t.Errorf("last page's next %q", next)
		}
		var exported []fleet.IDToken
		must(t, s.ExportIDTokens(ctx, func(tok fleet.IDToken) error { exported = append(exported, tok); return nil }))
		if len(exported) != 5 || exported[2].IDTag != "FOB-1" || !exported[2].AllSites || len(exported[2].Sites) != 0 ||
			!slices.Equal(exported[3].Sites, []string{"b"}) || exported[4].Sites == nil {
			t.Errorf("export %+v", exported)
		}
		stop := errors.New("stop")
		n := 0
		if err := s.ExportIDTokens(ctx, func(fleet.IDToken) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			t.Errorf("an export fn's error: %v after %d", err, n)
		}
	})
}

// A change of id tokens writes the request's audit entry in its
// transaction; an import's entry counts what it changed.
func TestIDTokenChangesAudited(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		request := func(action string) (context.Context, *fleet.PendingAudit) {
			p := &fleet.PendingAudit{Audit: fleet.Audit{Actor: "user:olga", ActorUser: "olga"}, Action: action, Target: "/idtokens"}
			return fleet.WithAudit(ctx, p), p
		}
		rctx, p := request("idtoken.put")
		_, _, err = s.PutIDToken(rctx, fleet.IDToken{IDTag: "A", Sites: []string{"a"}})
		must(t, err)
		if !p.Written() {
			t.Error("put: entry not written")
		}
		rctx, p = request("idtoken.import")
		_, err = s.ImportIDTokens(rctx, importTokens(3, "Blocked", "a"), fleet.ImportMode{Replace: true})
		must(t, err)
		log, err := s.AuditLog(ctx, fleet.AuditFilter{Action: "idtoken.import"})
		must(t, err)
		if !p.Written() || len(log) != 1 || log[0].Message != "3 tokens: 3 created, 0 updated, 1 deleted; 1 sites' lists changed" {
			t.Errorf("import's entry %+v", log)
		}
		rctx, p = request("idtoken.delete")
		if _, err := s.DeleteIDToken(rctx, "A"); !errors.Is(err, fleet.ErrNotFound) || p.Written() {
			t.Errorf("a refused delete: %v, written %t", err, p.Written())
		}
	})
}

// BenchmarkImportIDTokens imports 10,000 tokens over 20 sites (half at
// every site, half at two): each iteration changes every token's
// status, so every entry of every site's list is written again.
func BenchmarkImportIDTokens(b *testing.B) {
	for name, engine := range cloudtest.Engines(b) {
		b.Run(name, func(b *testing.B) {
			s := engine(b).Open(b, nil, nil)
			const tokens, sites = 10000, 20
			for i := range sites {
				if _, err := s.CreateSite(ctx, fmt.Sprint("s", i), ""); err != nil {
					b.Fatal(err)
				}
			}
			statuses := []string{"Accepted", "Blocked"}
			n := 0
			for b.Loop() {
				ts := importTokens(tokens, statuses[n%2])
				for i := range ts {
					if i%2 == 1 {
						ts[i].AllSites, ts[i].Sites = false, []string{fmt.Sprint("s", i%sites), fmt.Sprint("s", (i+1)%sites)}
					}
				}
				n++
				res, err := s.ImportIDTokens(ctx, ts, fleet.ImportMode{})
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Sites) != sites {
					b.Fatalf("sites changed %v", res.Sites)
				}
			}
			b.ReportMetric(float64(b.N*tokens)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
