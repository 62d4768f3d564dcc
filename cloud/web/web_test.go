package web_test

import (
	"bufio"
	"bytes"
	"fmt"
	"html"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/watchtower"
)

// Signing in sets a secure, HTTP-only, SameSite session cookie; a page
// without one sends to the login and back.
func TestSignInAndOut(t *testing.T) {
	d := startDashboard(t, func(c *watchtower.Config) { c.HTTP.InsecureCookies = false })
	d.user(t, "ada", auth.Admin, "ada's password 1")
	b := d.browser(t)

	resp, _ := b.get(t, "/sessions?site=x")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fsessions%3Fsite%3Dx" {
		t.Fatalf("signed out: %d to %q, want 303 to the login with the page", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := b.post(t, "/login", url.Values{"name": {"ada"}, "password": {"wrong password"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong user name or password.") {
		t.Fatalf("wrong password: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = b.post(t, "/login", url.Values{"name": {"ada"}, "password": {"ada's password 1"}, "next": {"//evil.example/x"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign in with a next page elsewhere: %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "cst_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || !session.Secure || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || len(session.Value) < 40 {
		t.Fatalf("session cookie %+v: want a long secret, HttpOnly, Secure, SameSite=Lax", session)
	}
	// The cookie works (the jar keeps Secure cookies for HTTPS only: set
	// it by hand), and signing out ends it in the store.
	get := func(path string) *http.Response {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, d.base+path, nil)
		req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := get("/"); r.StatusCode != http.StatusOK {
		t.Fatalf("with the session: %d", r.StatusCode)
	}
	if err := d.Store.DeleteWebSession(t.Context(), session.Value); err != nil {
		t.Fatal(err)
	}
	if r := get("/"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the session ended: %d, want 303 to the login", r.StatusCode)
	}
}

// A change needs the session's CSRF token: none, a stale one or a
// cross-site post is 403, and nothing changes.
func TestCSRF(t *testing.T) {
	d := startDashboard(t)
	d.user(t, "ada", auth.Admin, "ada's password 1")
	b := d.signIn(t, "ada", "ada's password 1")
	stale := b.csrf(t)
	// Signing in again (another session) leaves the first session's
	// token stale for the new one.
	b2 := d.signIn(t, "ada", "ada's password 1")
	for name, token := range map[string]string{"missing": "", "stale": stale, "forged": "x" + stale[1:]} {
		resp, body := b2.post(t, "/sites", url.Values{"csrf": {token}, "id": {"site-" + name}})
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "This form has expired") {
			t.Errorf("%s token: %d, want 403 with a message\n%s", name, resp.StatusCode, body)
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, d.base+"/sites",
		strings.NewReader(url.Values{"csrf": {b2.csrf(t)}, "id": {"site-cross"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, _ := b2.do(t, req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: %d, want 403", resp.StatusCode)
	}
	sites, err := d.Store.Sites(t.Context())
	if err != nil || len(sites) != 0 {
		t.Fatalf("sites after refused posts: %v %v, want none", sites, err)
	}
	page := b2.submit(t, "/sites", url.Values{"id": {"site-ok"}})
	if !strings.Contains(page, "Site site-ok created") {
		t.Errorf("with the token: no confirmation\n%s", page)
	}
}

// The API's checks are the dashboard's: a viewer's change is refused
// with the API's message and audited; bad input gets the field named;
// outside text is escaped.
func TestRolesAndInput(t *testing.T) {
	d := startDashboard(t)
	d.user(t, "ada", auth.Admin, "ada's password 1")
	d.user(t, "vic", auth.Viewer, "vic's password 1")
	admin := d.signIn(t, "ada", "ada's password 1")
	page := admin.submit(t, "/sites", url.Values{"id": {"s1"}, "name": {`<script>alert("x")</script>`}})
	if strings.Contains(page, `<script>alert`) || !strings.Contains(page, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`) {
		t.Errorf("a site name is not escaped")
	}
	page = admin.submit(t, "/sites", url.Values{"id": {"bad id!"}})
	if !strings.Contains(page, `class="flash error"`) || !strings.Contains(page, "site id") {
		t.Errorf("a bad site id: no error naming it\n%s", page)
	}
	page = admin.submit(t, "/sites/s1/chargers/CP1/commands", url.Values{"command": {"remote-start"}, "connectorId": {"one"}})
	if !strings.Contains(page, "RFID token: required") {
		t.Errorf("a command without its required field: no error naming it")
	}
	page = admin.submit(t, "/sites/s1/config", url.Values{"heartbeat_interval": {"often"}})
	if !strings.Contains(page, "Heartbeat interval: want a duration") {
		t.Errorf("a bad heartbeat interval: no error naming it")
	}
	page = admin.submit(t, "/sites/s1/config", url.Values{"site_power_limit_kw": {"lots"}})
	if !strings.Contains(page, "Site power limit: want kilowatts") {
		t.Errorf("a bad power limit: no error naming it")
	}
	// The editor's fields become the desired settings; the access point
	// goes into the network setting.
	admin.submit(t, "/sites/s1/config", url.Values{"heartbeat_interval": {"120"}, "meter_interval": {"30s"}, "site_power_limit_kw": {"22.5"},
		"unknown_tokens": {"strict"}, "ap_ssid": {"Depot"}, "ap_password": {"depot-pass-1"}})
	want := map[string]string{"heartbeat_interval": "120s", "meter_interval": "30s", "site_power_limit": "22500", "unknown_tokens": "strict",
		"network": `{"ap":{"enabled":true,"password":"depot-pass-1","ssid":"Depot"}}`}
	if desired, err := d.Store.Desired(t.Context(), "s1"); err != nil || fmt.Sprint(desired.Settings) != fmt.Sprint(want) {
		t.Errorf("desired %v (%v), want %v", desired.Settings, err, want)
	}
	if page := admin.page(t, "/sites/s1/config"); strings.Contains(page, "depot-pass-1") || !strings.Contains(page, `value="22.5"`) {
		t.Errorf("the configuration page shows the access point's password, or not the limit in kW")
	}

	// The site's tariff, from its configuration page.
	page = admin.submit(t, "/sites/s1/settings", url.Values{"name": {"Site one"}, "pricePerKwh": {"abc"}, "currency": {"EUR"}})
	if !strings.Contains(page, "pricePerKwh") {
		t.Errorf("a bad price: no error naming it")
	}
	admin.submit(t, "/sites/s1/settings", url.Values{"name": {"Site one"}, "pricePerKwh": {"0.295"}, "currency": {"eur"}})
	if st, err := d.Store.Site(t.Context(), "s1"); err != nil || st.PricePerKWh != "0.295" || st.Currency != "EUR" || st.Name != "Site one" {
		t.Errorf("site after its settings: %+v (%v)", st, err)
	}

	// The sessions filter takes the form's days, and names a bad one.
	admin.page(t, "/sessions?from=2026-01-01&to=2026-01-02")
	if resp, body := admin.get(t, "/sessions?from=yesterday"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "from") {
		t.Errorf("a bad from: %d, want 400 naming it", resp.StatusCode)
	}

	viewer := d.signIn(t, "vic", "vic's password 1")
	for _, p := range []string{"/", "/sites/s1", "/sites/s1/config", "/sessions", "/idtokens", "/account"} {
		viewer.page(t, p)
	}
	for _, p := range []string{"/users", "/audit"} {
		if resp, body := viewer.get(t, p); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "admin role") {
			t.Errorf("viewer GET %s: %d, want 403 naming the role", p, resp.StatusCode)
		}
	}
	page = viewer.submit(t, "/sites/s1/config", url.Values{"heartbeat_interval": {"60s"}})
	if !strings.Contains(page, "operator role") {
		t.Errorf("viewer's configuration change: no refusal naming the role\n%s", page)
	}
	desired, err := d.Store.Desired(t.Context(), "s1")
	if err != nil || desired.Version != 1 {
		t.Errorf("desired after the viewer's change: version %d (%v), want unchanged", desired.Version, err)
	}
	entries, err := d.Store.AuditLog(t.Context(), fleet.AuditFilter{Action: "site.desired"})
	if err != nil || len(entries) != 2 || entries[0].Outcome != fleet.OutcomeError || entries[0].Actor != "user:vic" {
		t.Errorf("audit of the refusal: %+v (%v), want vic's refusal", entries, err)
	}
}

// An upload larger than the limit is refused before it is read.
func TestUploadLimit(t *testing.T) {
	d := startDashboard(t)
	d.user(t, "ada", auth.Admin, "ada's password 1")
	b := d.signIn(t, "ada", "ada's password 1")
	resp, body := b.post(t, "/sites", url.Values{"csrf": {b.csrf(t)}, "name": {strings.Repeat("x", 70<<10)}})
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "too large") {
		t.Errorf("a 70 KiB form: %d, want 413 with a message", resp.StatusCode)
	}
}

// Sign-in attempts are rate limited per address and per user.
func TestLoginRateLimit(t *testing.T) {
	d := startDashboard(t, func(c *watchtower.Config) { c.Limits.AuthPerMinute = 3 })
	d.user(t, "ada", auth.Admin, "ada's password 1")
	b := d.browser(t)
	var last *http.Response
	var body string
	for range 4 {
		last, body = b.post(t, "/login", url.Values{"name": {"ada"}, "password": {"guess"}})
	}
	if last.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many attempts") {
		t.Fatalf("4th attempt in a minute: %d, want 429 with a message", last.StatusCode)
	}
}

// A new password ends the user's other sessions; this browser stays in.
func TestPasswordChange(t *testing.T) {
	d := startDashboard(t)
	d.user(t, "ada", auth.Operator, "ada's password 1")
	b := d.signIn(t, "ada", "ada's password 1")
	other := d.signIn(t, "ada", "ada's password 1")
	page := b.submit(t, "/account/password", url.Values{"oldPassword": {"wrong"}, "password": {"a new password 2"}, "confirm": {"a new password 2"}})
	if !strings.Contains(page, "oldPassword: wrong password") {
		t.Fatalf("wrong old password: no error\n%s", page)
	}
	page = b.submit(t, "/account/password", url.Values{"oldPassword": {"ada's password 1"}, "password": {"a new password 2"}, "confirm": {"a new password 2"}})
	if !strings.Contains(page, "Password changed") {
		t.Fatalf("password change: no confirmation\n%s", page)
	}
	if resp, _ := other.get(t, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the other session after the change: %d, want signed out", resp.StatusCode)
	}
	b.page(t, "/account")
}

// A live page streams its live part again when the data changes, and
// tells a signed-out page to go to the login.
func TestLiveStream(t *testing.T) {
	d := startDashboard(t)
	d.user(t, "ada", auth.Admin, "ada's password 1")
	b := d.signIn(t, "ada", "ada's password 1")
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, d.base+"/", nil)
	req.Header.Set("Accept", "text/event-stream")
	b.c.Timeout = 0
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("stream content type %q", ct)
	}
	events := make(chan string, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		var ev strings.Builder
		for sc.Scan() {
			if sc.Text() == "" {
				events <- ev.String()
				ev.Reset()
				continue
			}
			ev.WriteString(sc.Text() + "\n")
		}
	}()
	next := func() string {
		select {
		case ev := <-events:
			return ev
		case <-time.After(time.Minute):
			t.Fatal("no event in a minute")
		}
		return ""
	}
	if ev := next(); !strings.HasPrefix(ev, "event: live\n") || !strings.Contains(ev, "No site matches.") {
		t.Fatalf("first event:\n%s", ev)
	}
	if _, err := d.Store.CreateSite(t.Context(), "late-site", "Late"); err != nil {
		t.Fatal(err)
	}
	if ev := next(); !strings.Contains(ev, `data-site="late-site"`) {
		t.Fatalf("after a site was added:\n%s", ev)
	}
	for _, c := range b.c.Jar.Cookies(req.URL) {
		if c.Name == "cst_session" {
			if err := d.Store.DeleteWebSession(t.Context(), c.Value); err != nil {
				t.Fatal(err)
			}
		}
	}
	if ev := next(); !strings.HasPrefix(ev, "event: signedout") {
		t.Fatalf("after the session ended:\n%s", ev)
	}
}

var shownOnce = regexp.MustCompile(`<code id="(?:new-password|token-secret|enrollment-token)">([^<]+)</code>`)

// A generated password, an API token and an enrollment token are shown
// once, on the page the form answers, and work.
func TestSecretsShownOnce(t *testing.T) {
	d := startDashboard(t)
	d.user(t, "ada", auth.Admin, "ada's password 1")
	b := d.signIn(t, "ada", "ada's password 1")
	secret := func(path string, form url.Values) string {
		t.Helper()
		form.Set("csrf", b.csrf(t))
		resp, body := b.post(t, path, form)
		m := shownOnce.FindStringSubmatch(body)
		if resp.StatusCode != http.StatusCreated || m == nil {
			t.Fatalf("POST %s: %d, no secret shown\n%s", path, resp.StatusCode, body)
		}
		return html.UnescapeString(m[1])
	}
	password := secret("/users", url.Values{"name": {"olga"}, "role": {"operator"}})
	olga := d.signIn(t, "olga", password)
	if strings.Contains(b.page(t, "/users"), password) {
		t.Error("the generated password is shown again")
	}
	// A reset gives a new one, shown once; Olga's session ends.
	u, _, err := d.Store.UserByName(t.Context(), "olga")
	if err != nil {
		t.Fatal(err)
	}
	reset := secret("/users/"+u.ID+"/password", url.Values{})
	if reset == password {
		t.Fatal("the reset password is the old one")
	}
	if resp, _ := olga.get(t, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("olga's session after the reset: %d, want signed out", resp.StatusCode)
	}
	d.signIn(t, "olga", reset)

	token := secret("/account/tokens", url.Values{"name": {"script"}, "role": {"viewer"}})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, d.base+"/api/v1/sites", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, _ := d.browser(t).do(t, req); resp.StatusCode != http.StatusOK {
		t.Errorf("the new API token: %d", resp.StatusCode)
	}

	b.submit(t, "/sites", url.Values{"id": {"s1"}})
	enroll := secret("/sites/s1/enrollment", url.Values{})
	defer func() {
		// The site page revokes it (admin).
		if page := b.submit(t, "/sites/s1/revoke", url.Values{}); !strings.Contains(page, "Site s1 revoked") {
			t.Errorf("revoke: no confirmation")
		}
		if st, err := d.Store.Site(t.Context(), "s1"); err != nil || !st.Revoked {
			t.Errorf("site after revoke: %+v %v", st, err)
		}
	}()
	body := strings.NewReader(fmt.Sprintf(`{"site":"s1","token":%q}`, enroll))
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodPost, d.base+"/api/v1/enroll", body)
	if resp, _ := d.browser(t).do(t, req); resp.StatusCode != http.StatusOK {
		t.Errorf("enrolling with the shown token: %d", resp.StatusCode)
	}
}

// A CSV file uploaded on the tokens page is imported through the API:
// all of it, or, with a bad line, none of it and the line named.
func TestImportIDTokens(t *testing.T) {
	d := startDashboard(t)
	d.user(t, "ada", auth.Operator, "ada's password 1")
	b := d.signIn(t, "ada", "ada's password 1")
	upload := func(csv string) string {
		t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.WriteField("csrf", b.csrf(t))
		_ = mw.WriteField("mode", "merge")
		fw, _ := mw.CreateFormFile("file", "tokens.csv")
		_, _ = fw.Write([]byte(csv))
		_ = mw.Close()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, d.base+"/idtokens/import", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, page := b.do(t, req)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("import: %d\n%s", resp.StatusCode, page)
		}
		return b.page(t, resp.Header.Get("Location"))
	}
	page := upload("id_tag,status,expiry,owner,note,parent,sites\nCARD-1,Accepted,,Ada,,,*\nCARD-2,Nope,,Bob,,,*\n")
	if !strings.Contains(page, "line 3") || !strings.Contains(page, "status") {
		t.Errorf("a bad line: no error naming it")
	}
	if tokens, _, err := d.Store.IDTokens(t.Context(), fleet.IDTokenFilter{}); err != nil || len(tokens) != 0 {
		t.Fatalf("after a refused import: %v %v, want nothing stored", tokens, err)
	}
	page = upload("id_tag,status,expiry,owner,note,parent,sites\nCARD-1,Accepted,,Ada,,,*\nCARD-2,Blocked,,Bob,,,*\n")
	if !strings.Contains(page, "Imported: 2 created, 0 updated, 0 deleted.") || !strings.Contains(page, `data-idtag="CARD-2"`) {
		t.Errorf("import: no summary or no tokens listed\n%s", page)
	}
}
