package watchtower_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/cloud/watchtower"
	"github.com/constellation-ev/constellation/syncproto"
)

func bearerOf(secret string) string { return "Bearer " + secret }

func basic(name, password string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(name, password)
	return req.Header.Get("Authorization")
}

type apiUser struct {
	ID, Name, Role string
	Disabled       bool
}

type newToken struct {
	Token struct {
		ID, Role, Owner string
	}
	Secret string
}

// people is a watchtower's users and tokens for the tests.
type people struct {
	admin, operator, viewer          string // bearer Authorization of each role's own token
	lower                            string // the operator's viewer token
	revoked, expired, disabled, none string
	adminPW                          string
	ids                              map[string]string // user name → id
	secrets                          []string          // every secret and password, never to be logged
}

// setup creates the first admin on the command line, its token with its
// password, an operator and a viewer (one with a generated password),
// and tokens that must fail: revoked, expired, of a disabled user.
func setup(t *testing.T, tw *tower) people {
	t.Helper()
	p := people{adminPW: "admin password 123", ids: map[string]string{}, none: ""}
	var out bytes.Buffer
	must(t, watchtower.CreateAdmin(ctx, tw.Store, "root", "Root", strings.NewReader(p.adminPW+"\n"), &out))
	token := func(authz, name, role, ttl string) newToken {
		t.Helper()
		var nt newToken
		body := map[string]string{"name": name}
		if role != "" {
			body["role"] = role
		}
		if ttl != "" {
			body["ttl"] = ttl
		}
		if code := tw.as(t, authz, "POST", "/api/v1/tokens", body, &nt); code != http.StatusCreated || !strings.HasPrefix(nt.Secret, fleet.TokenPrefix) {
			t.Fatalf("token %s: %d %+v", name, code, nt)
		}
		p.secrets = append(p.secrets, nt.Secret)
		return nt
	}
	p.admin = bearerOf(token(basic("root", p.adminPW), "root's script", "", "").Secret)
	user := func(name, role string, password *string) string {
		t.Helper()
		var ans struct {
			User     apiUser
			Password string
		}
		body := map[string]any{"name": name, "role": role}
		if password != nil {
			body["password"] = *password
		}
		if code := tw.as(t, p.admin, "POST", "/api/v1/users", body, &ans); code != http.StatusCreated || ans.User.Role != role {
			t.Fatalf("user %s: %d %+v", name, code, ans)
		}
		p.ids[name] = ans.User.ID
		pw := ans.Password
		if password != nil {
			pw = *password
		} else if len(pw) < 12 {
			t.Fatalf("generated password %q", pw)
		}
		p.secrets = append(p.secrets, pw)
		return pw
	}
	opPW := "operator password"
	user("olga", "operator", &opPW)
	vicPW := user("vic", "viewer", nil)
	p.operator = bearerOf(token(basic("olga", opPW), "olga's", "", "").Secret)
	p.viewer = bearerOf(token(basic("vic", vicPW), "vic's", "", "").Secret)
	p.lower = bearerOf(token(p.operator, "olga's read-only", "viewer", "").Secret)
	rev := token(p.operator, "to revoke", "", "")
	if code := tw.as(t, p.operator, "DELETE", "/api/v1/tokens/"+rev.Token.ID, nil, nil); code != http.StatusNoContent {
		t.Fatalf("revoke: %d", code)
	}
	p.revoked = bearerOf(rev.Secret)
	p.expired = bearerOf(token(p.operator, "short", "", "1m").Secret)
	tw.clock.Advance(2 * time.Minute)
	doraPW := "dora's password!"
	user("dora", "operator", &doraPW)
	p.disabled = bearerOf(token(basic("dora", doraPW), "dora's", "", "").Secret)
	if code := tw.as(t, p.admin, "PATCH", "/api/v1/users/"+p.ids["dora"], map[string]any{"disabled": true}, nil); code != http.StatusOK {
		t.Fatalf("disable dora: %d", code)
	}
	return p
}

// engines runs test on a watchtower of every store engine.
func engines(t *testing.T, test func(t *testing.T, tw *tower)) {
	for name, engine := range cloudtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			test(t, startTower(t, onEngine(engine(t)), func(cfg *watchtower.Config) { cfg.Limits.AuthPerMinute = -1 }))
		})
	}
}

// Every route answers each kind of caller as the role table says: 401
// without valid credentials, 403 naming the role below it, served at or
// above it; state changes are audited with their outcome.
func TestRoleMatrix(t *testing.T) {
	engines(t, func(t *testing.T, tw *tower) {
		p := setup(t, tw)
		legacy := bearerOf(tw.op)
		for _, site := range []string{"site-a", "site-r"} {
			if code := tw.as(t, legacy, "POST", "/api/v1/sites", map[string]string{"id": site}, nil); code != http.StatusCreated {
				t.Fatalf("site %s: %d", site, code)
			}
		}
		cmd := map[string]any{"charger": "CP1", "command": "reset", "args": map[string]string{"type": "Soft"}, "timeout": "5m"}
		var c struct{ ID string }
		if code := tw.as(t, legacy, "POST", "/api/v1/sites/site-a/commands", cmd, &c); code != http.StatusCreated {
			t.Fatalf("command: %d", code)
		}
		// A charger and an id token for the views' and the register's
		// endpoints to find.
		if r := tw.Store.ApplyBatch(ctx, []syncproto.Message{&syncproto.ChargerStatus{
			Header: syncproto.Header{Version: syncproto.Version, Site: "site-a", Key: "status-1", Time: t0}, Charger: "CP1", Connected: true,
			Connectors: []syncproto.Connector{{ID: 1, Status: "Available", Time: t0}}}}); r[0].Err != nil {
			t.Fatal(r[0].Err)
		}
		if _, _, err := tw.Store.PutIDToken(ctx, fleet.IDToken{IDTag: "T1", AllSites: true}); err != nil {
			t.Fatal(err)
		}
		n := 0
		routes := []struct {
			method, path string
			body         func() any
			role         string
		}{
			{"GET", "/api/v1/sites", nil, "viewer"},
			{"GET", "/api/v1/sites/site-a", nil, "viewer"},
			{"GET", "/api/v1/sites/site-a/chargers", nil, "viewer"},
			{"GET", "/api/v1/sites/site-a/transactions", nil, "viewer"},
			{"GET", "/api/v1/sites/site-a/desired", nil, "viewer"},
			{"GET", "/api/v1/sites/site-a/authlist", nil, "viewer"},
			{"GET", "/api/v1/commands/" + c.ID, nil, "viewer"},
			{"GET", "/api/v1/tokens", nil, "viewer"},
			{"POST", "/api/v1/tokens", func() any { return map[string]string{"name": "matrix"} }, "viewer"},
			{"DELETE", "/api/v1/tokens/tnone", nil, "viewer"},
			{"POST", "/api/v1/sites/site-a/tokens", func() any { return map[string]string{"ttl": "1h"} }, "operator"},
			{"PUT", "/api/v1/sites/site-a/desired", func() any { return map[string]any{"settings": map[string]string{"a": "b"}} }, "operator"},
			{"PUT", "/api/v1/sites/site-a/authlist", func() any { return map[string]any{"entries": []any{}} }, "operator"},
			{"POST", "/api/v1/sites/site-a/authlist/changes", func() any { return map[string]any{"put": []any{}, "remove": []string{"A"}} }, "operator"},
			{"POST", "/api/v1/sites/site-a/commands", func() any { return cmd }, "operator"},
			{"POST", "/api/v1/sites", func() any { n++; return map[string]string{"id": fmt.Sprintf("m-%d", n)} }, "admin"},
			{"POST", "/api/v1/sites/site-r/revoke", nil, "admin"},
			{"GET", "/api/v1/users", nil, "admin"},
			{"GET", "/api/v1/users/" + p.ids["vic"], nil, "admin"},
			{"POST", "/api/v1/users", func() any { n++; return map[string]string{"name": fmt.Sprintf("m%d", n), "role": "viewer"} }, "admin"},
			{"PATCH", "/api/v1/users/" + p.ids["vic"], func() any { return map[string]string{"displayName": "Vic"} }, "admin"},
			{"GET", "/api/v1/audit", nil, "admin"},
			{"GET", "/api/v1/overview", nil, "viewer"},
			{"GET", "/api/v1/sessions?site=site-a", nil, "viewer"},
			{"GET", "/api/v1/sessions.csv", nil, "viewer"},
			{"GET", "/api/v1/sites/site-a/live", nil, "viewer"},
			{"GET", "/api/v1/sites/site-a/chargers/CP1", nil, "viewer"},
			{"GET", "/api/v1/sites/site-a/commands", nil, "viewer"},
			{"PATCH", "/api/v1/sites/site-a", func() any { return map[string]string{"name": "Site A"} }, "admin"},
			{"GET", "/api/v1/idtokens", nil, "viewer"},
			{"GET", "/api/v1/idtokens/T1", nil, "viewer"},
			{"GET", "/api/v1/idtokens.csv", nil, "viewer"},
			{"PUT", "/api/v1/idtokens/T2", func() any { return map[string]any{"allSites": true} }, "operator"},
			{"PATCH", "/api/v1/idtokens/T1", func() any { return map[string]string{"owner": "matrix"} }, "operator"},
			{"DELETE", "/api/v1/idtokens/T3", nil, "operator"},
			{"POST", "/api/v1/idtokens/import?mode=merge", nil, "operator"},
		}
		// Every endpoint of the role table (the OpenAPI document is made
		// from it) is in this matrix with its role, but those tested
		// elsewhere: enroll (no role), signin (a password only:
		// TestSignInAndOut in cloud/web), a password change (self or
		// admin: TestUserEndpoints).
		var doc struct {
			Paths map[string]map[string]struct {
				Role string `json:"x-role"`
			}
		}
		if code := tw.as(t, "", "GET", "/api/openapi.json", nil, &doc); code != http.StatusOK {
			t.Fatalf("openapi.json: %d", code)
		}
		elsewhere := map[string]bool{"POST /api/v1/enroll": true, "POST /api/v1/signin": true, "POST /api/v1/users/{id}/password": true}
		for path, ops := range doc.Paths {
			pattern := regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(path), `[^/]+`) + "$")
			for method, op := range ops {
				method = strings.ToUpper(method)
				if elsewhere[method+" "+path] {
					continue
				}
				found := false
				for _, rt := range routes {
					p, _, _ := strings.Cut(rt.path, "?")
					if rt.method == method && pattern.MatchString(p) {
						found = true
						if rt.role != op.Role {
							t.Errorf("%s %s: the matrix says %s, the role table %s", method, path, rt.role, op.Role)
						}
					}
				}
				if !found {
					t.Errorf("%s %s (%s) is not in the role matrix", method, path, op.Role)
				}
			}
		}
		rank := map[string]int{"viewer": 1, "operator": 2, "admin": 3}
		callers := []struct {
			name, authz, role string
		}{
			{"viewer", p.viewer, "viewer"}, {"operator", p.operator, "operator"}, {"admin", p.admin, "admin"},
			{"legacy operator token", legacy, "admin"}, {"operator's viewer token", p.lower, "viewer"},
			{"no credentials", "", ""}, {"bad token", bearerOf(fleet.TokenPrefix + fleet.NewSecret()), ""},
			{"wrong scheme", "Token " + tw.op, ""}, {"password on a token-only route", basic("root", p.adminPW), ""},
			{"revoked", p.revoked, ""}, {"expired", p.expired, ""}, {"disabled user", p.disabled, ""},
		}
		for _, rt := range routes {
			for _, cl := range callers {
				if strings.HasPrefix(cl.name, "password") && rt.method == "POST" && rt.path == "/api/v1/tokens" {
					continue
				}
				var body any
				if rt.body != nil {
					body = rt.body()
				}
				var e struct{ Error string }
				code := tw.as(t, cl.authz, rt.method, rt.path, body, &e)
				switch {
				case cl.role == "":
					if code != http.StatusUnauthorized {
						t.Errorf("%s %s as %s: %d %q, want 401", rt.method, rt.path, cl.name, code, e.Error)
					}
				case rank[cl.role] < rank[rt.role]:
					if code != http.StatusForbidden || !strings.Contains(e.Error, "needs the "+rt.role+" role") {
						t.Errorf("%s %s as %s: %d %q, want 403 naming %s", rt.method, rt.path, cl.name, code, e.Error, rt.role)
					}
				default:
					if code == http.StatusUnauthorized || code == http.StatusForbidden || code >= 500 ||
						(rt.method == "GET" && code != http.StatusOK) {
						t.Errorf("%s %s as %s: %d %q, want it served", rt.method, rt.path, cl.name, code, e.Error)
					}
				}
			}
		}
		for _, why := range []string{"revoked", "expired", "disabled"} {
			var e struct{ Error string }
			tw.as(t, map[string]string{"revoked": p.revoked, "expired": p.expired, "disabled": p.disabled}[why], "GET", "/api/v1/sites", nil, &e)
			if !strings.Contains(e.Error, why) {
				t.Errorf("%s token: %q", why, e.Error)
			}
		}
		// The changes and the refusals are in the audit log.
		var log struct{ Entries []fleet.AuditEntry }
		if code := tw.as(t, p.admin, "GET", "/api/v1/audit?action=site.desired", nil, &log); code != http.StatusOK {
			t.Fatalf("audit: %d", code)
		}
		outcomes := map[string]string{}
		for _, e := range log.Entries {
			outcomes[e.ActorUser+" "+e.Outcome] = e.Message
			if e.RequestID == "" || e.Target != "/api/v1/sites/site-a/desired" {
				t.Errorf("entry %+v", e)
			}
		}
		if _, ok := outcomes["olga ok"]; !ok || !strings.Contains(outcomes["vic error"], "403") || len(log.Entries) != 5 {
			t.Errorf("desired's entries %+v", log.Entries)
		}
		if code := tw.as(t, p.admin, "GET", "/api/v1/audit?actor=operator-token&action=site.create", nil, &log); code != http.StatusOK || len(log.Entries) != 3 {
			t.Errorf("the legacy token's sites: %d %+v", code, log.Entries)
		}
		for _, s := range p.secrets {
			if strings.Contains(tw.logs.String(), s) {
				t.Fatal("a secret was logged")
			}
		}
	})
}

// The users', tokens' and audit endpoints: happy paths and refusals.
func TestUserEndpoints(t *testing.T) {
	engines(t, func(t *testing.T, tw *tower) {
		p := setup(t, tw)
		expect := func(authz, method, path string, body any, code int, msg string) {
			t.Helper()
			var e struct{ Error string }
			if got := tw.as(t, authz, method, path, body, &e); got != code || !strings.Contains(e.Error, msg) {
				t.Errorf("%s %s %v: %d %q, want %d %q", method, path, body, got, e.Error, code, msg)
			}
		}
		vic, olga, root := p.ids["vic"], p.ids["olga"], ""
		var users struct{ Users []apiUser }
		tw.as(t, p.admin, "GET", "/api/v1/users", nil, &users)
		for _, u := range users.Users {
			if u.Name == "root" {
				root = u.ID
			}
		}
		if len(users.Users) != 4 || root == "" {
			t.Fatalf("users %+v", users)
		}
		// Creating users.
		expect(p.admin, "POST", "/api/v1/users", map[string]string{"name": "Bad Name", "role": "viewer"}, 400, "name:")
		expect(p.admin, "POST", "/api/v1/users", map[string]string{"name": "eve", "role": "root"}, 400, "role:")
		expect(p.admin, "POST", "/api/v1/users", map[string]string{"name": "eve", "role": "viewer", "password": "short"}, 400, "password: want at least 12")
		expect(p.admin, "POST", "/api/v1/users", map[string]string{"name": "eve", "role": "viewer", "password": strings.Repeat("x", 257)}, 400, "password: want at most 256")
		expect(p.admin, "POST", "/api/v1/users", map[string]string{"name": "eve", "role": "viewer", "extra": "1"}, 400, "unknown field")
		expect(p.admin, "POST", "/api/v1/users", map[string]string{"name": "eve", "role": "viewer", "displayName": strings.Repeat("x", 256)}, 400, "displayName")
		expect(p.admin, "POST", "/api/v1/users", map[string]string{"name": "vic", "role": "viewer"}, 409, "exists")
		expect(p.admin, "POST", "/api/v1/users", map[string]string{"name": strings.Repeat("x", 9<<20)}, 413, "larger")
		// Changing them.
		expect(p.admin, "PATCH", "/api/v1/users/"+vic, map[string]string{}, 400, "nothing to change")
		expect(p.admin, "PATCH", "/api/v1/users/"+vic, map[string]string{"role": "god"}, 400, "role:")
		expect(p.admin, "PATCH", "/api/v1/users/unone", map[string]string{"role": "viewer"}, 404, "not found")
		expect(p.admin, "PATCH", "/api/v1/users/"+root, map[string]string{"role": "viewer"}, 409, "last enabled admin")
		var u apiUser
		if code := tw.as(t, p.admin, "PATCH", "/api/v1/users/"+vic, map[string]string{"role": "operator"}, &u); code != 200 || u.Role != "operator" {
			t.Fatalf("promote vic: %d %+v", code, u)
		}
		tw.as(t, p.admin, "PATCH", "/api/v1/users/"+vic, map[string]string{"role": "viewer"}, nil)
		// Passwords: one's own with the old one; an admin's for anyone.
		expect(p.viewer, "POST", "/api/v1/users/"+olga+"/password", map[string]string{"password": "a new password"}, 403, "needs the admin role")
		expect(p.operator, "POST", "/api/v1/users/"+olga+"/password", map[string]string{"oldPassword": "wrong", "password": "a new password"}, 403, "oldPassword")
		expect(p.operator, "POST", "/api/v1/users/"+olga+"/password", map[string]string{"oldPassword": "operator password", "password": "short"}, 400, "password:")
		expect(p.operator, "POST", "/api/v1/users/"+olga+"/password", map[string]string{"oldPassword": "operator password", "password": "olga's new password"}, 204, "")
		expect(basic("olga", "olga's new password"), "POST", "/api/v1/tokens", map[string]string{"name": "new"}, 201, "")
		expect(basic("olga", "operator password"), "POST", "/api/v1/tokens", map[string]string{"name": "old"}, 401, "invalid user name or password")
		expect(basic("nobody", "operator password"), "POST", "/api/v1/tokens", map[string]string{"name": "x"}, 401, "invalid user name or password")
		expect(basic("dora", "dora's password!"), "POST", "/api/v1/tokens", map[string]string{"name": "x"}, 401, "invalid user name or password")
		expect(p.admin, "POST", "/api/v1/users/"+vic+"/password", map[string]string{"password": "reset by root"}, 204, "")
		expect(basic("vic", "reset by root"), "POST", "/api/v1/tokens", map[string]string{"name": "after reset"}, 201, "")
		// Tokens.
		expect(p.viewer, "POST", "/api/v1/tokens", map[string]string{"name": "up", "role": "admin"}, 403, "cannot be above yours (viewer)")
		expect(p.lower, "POST", "/api/v1/tokens", map[string]string{"name": "up", "role": "operator"}, 403, "cannot be above yours (viewer)")
		expect(p.viewer, "POST", "/api/v1/tokens", map[string]string{"name": ""}, 400, "name:")
		expect(p.viewer, "POST", "/api/v1/tokens", map[string]any{"name": "x", "expires": tw.clock.Now().Add(-time.Hour)}, 400, "expires:")
		expect(p.viewer, "POST", "/api/v1/tokens", map[string]any{"name": "x", "ttl": "soon"}, 400, "ttl:")
		expect(bearerOf(tw.op), "POST", "/api/v1/tokens", map[string]any{"name": "x"}, 400, "no user")
		var mine, all struct {
			Tokens []struct {
				ID, Owner string
				Revoked   bool
			}
		}
		tw.as(t, p.viewer, "GET", "/api/v1/tokens", nil, &mine)
		tw.as(t, p.admin, "GET", "/api/v1/tokens", nil, &all)
		for _, tk := range mine.Tokens {
			if tk.Owner != vic {
				t.Errorf("vic lists %+v", tk)
			}
		}
		if len(mine.Tokens) != 2 || len(all.Tokens) < 8 {
			t.Errorf("vic's tokens %d, all %d", len(mine.Tokens), len(all.Tokens))
		}
		var olgas string
		for _, tk := range all.Tokens {
			if tk.Owner == olga && !tk.Revoked {
				olgas = tk.ID
			}
		}
		expect(p.viewer, "DELETE", "/api/v1/tokens/"+olgas, nil, 403, "needs the admin role")
		expect(p.viewer, "DELETE", "/api/v1/tokens/"+mine.Tokens[0].ID, nil, 204, "")
		expect(p.viewer, "DELETE", "/api/v1/tokens/"+mine.Tokens[0].ID, nil, 204, "")
		expect(p.admin, "DELETE", "/api/v1/tokens/"+olgas, nil, 204, "")
		// The audit log: filters, pages, refusals.
		expect(p.admin, "GET", "/api/v1/audit?since=yesterday", nil, 400, "since:")
		expect(p.admin, "GET", "/api/v1/audit?limit=0", nil, 400, "limit:")
		var seen []fleet.AuditEntry
		for next := ""; ; {
			var page struct {
				Entries []fleet.AuditEntry
				Next    string
			}
			if code := tw.as(t, p.admin, "GET", "/api/v1/audit?limit=3&before="+next, nil, &page); code != 200 {
				t.Fatalf("audit page: %d", code)
			}
			seen = append(seen, page.Entries...)
			if next = page.Next; next == "" {
				break
			}
		}
		actions := map[string]int{}
		for _, e := range seen {
			actions[e.Action+" "+e.Outcome]++
			for _, secret := range p.secrets {
				if strings.Contains(e.Message, secret) || strings.Contains(e.Target, secret) {
					t.Errorf("entry %+v has a secret", e)
				}
			}
		}
		for a, n := range map[string]int{"user.create ok": 4, "user.create error": 8, "user.update ok": 3, "user.update error": 4,
			"user.password ok": 2, "user.password error": 3, "token.revoke ok": 4, "token.revoke error": 1, "token.create error": 6} {
			if actions[a] != n {
				t.Errorf("%d × %s audited, want %d (all: %v)", actions[a], a, n, actions)
			}
		}
		var cliEntries struct{ Entries []fleet.AuditEntry }
		tw.as(t, p.admin, "GET", "/api/v1/audit?actor=cli", nil, &cliEntries)
		if len(cliEntries.Entries) != 1 || cliEntries.Entries[0].Target != "user:root" {
			t.Errorf("the CLI's entries %+v", cliEntries.Entries)
		}
		for _, s := range append(p.secrets, "olga's new password", "reset by root") {
			if strings.Contains(tw.logs.String(), s) {
				t.Fatal("a secret was logged")
			}
		}
	})
}

// Password logins are rate limited per address, right or wrong.
func TestLoginRateLimit(t *testing.T) {
	tw := startTower(t, func(cfg *watchtower.Config) { cfg.Limits.AuthPerMinute = 3 })
	var out bytes.Buffer
	must(t, watchtower.CreateAdmin(ctx, tw.Store, "root", "", strings.NewReader("admin password 123"), &out))
	codes := map[int]int{}
	for range 5 {
		codes[tw.as(t, basic("root", "wrong password!"), "POST", "/api/v1/tokens", map[string]string{"name": "x"}, nil)]++
	}
	if codes[http.StatusUnauthorized] != 3 || codes[http.StatusTooManyRequests] != 2 {
		t.Fatalf("wrong passwords answered %v", codes)
	}
	tw.clock.Advance(time.Minute)
	if code := tw.as(t, basic("root", "admin password 123"), "POST", "/api/v1/tokens", map[string]string{"name": "x"}, nil); code != http.StatusCreated {
		t.Fatalf("the right password a minute later: %d", code)
	}
}

// create-admin: a password from stdin or a generated one printed; a
// taken name or a short password refused.
func TestCreateAdmin(t *testing.T) {
	tw := startTower(t)
	var out bytes.Buffer
	must(t, watchtower.CreateAdmin(ctx, tw.Store, "first", "First", nil, &out))
	var pw string
	for l := range strings.Lines(out.String()) {
		if v, ok := strings.CutPrefix(l, "password "); ok {
			pw = strings.TrimSpace(v)
		}
	}
	if len(pw) < 32 {
		t.Fatalf("printed %q", out.String())
	}
	if code := tw.as(t, basic("first", pw), "POST", "/api/v1/tokens", map[string]string{"name": "x"}, nil); code != http.StatusCreated {
		t.Fatalf("the printed password: %d", code)
	}
	if err := watchtower.CreateAdmin(ctx, tw.Store, "first", "", strings.NewReader("another password\n"), &out); !errors.Is(err, fleet.ErrExists) {
		t.Fatalf("a taken name: %v", err)
	}
	if err := watchtower.CreateAdmin(ctx, tw.Store, "second", "", strings.NewReader("short\n"), &out); err == nil || !strings.Contains(err.Error(), "password") {
		t.Fatalf("a short password: %v", err)
	}
	if err := watchtower.CreateAdmin(ctx, tw.Store, "Bad Name", "", nil, &out); err == nil {
		t.Fatal("a bad name taken")
	}
}
