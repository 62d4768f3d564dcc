package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/watchtower"
)

// dashboard is a watchtower on loopback (embedded broker, SQLite) whose
// dashboard the tests drive over HTTP.
type dashboard struct {
	*watchtower.Watchtower
	base string
}

// startDashboard starts a watchtower; opts change its configuration.
func startDashboard(t testing.TB, opts ...func(*watchtower.Config)) *dashboard {
	t.Helper()
	var cfg watchtower.Config
	cfg.DataDir = t.TempDir()
	cfg.MQTT.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	// Plain HTTP to 127.0.0.1: Go's cookie jar keeps Secure cookies
	// for HTTPS only (TestSessionCookie checks the default).
	cfg.HTTP.InsecureCookies = true
	cfg.HTTP.LiveEvery = "50ms"
	cfg.Limits.AuthPerMinute = 600
	for _, o := range opts {
		o(&cfg)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	w, err := watchtower.Start(context.WithoutCancel(t.Context()), cfg, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return &dashboard{Watchtower: w, base: "http://" + w.HTTPAddr()}
}

// user creates a user with a role and password.
func (d *dashboard) user(t testing.TB, name string, role auth.Role, password string) fleet.User {
	t.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	u, err := d.Store.CreateUser(t.Context(), fleet.NewUser{Name: name, Role: role, PasswordHash: hash}, fleet.Audit{Actor: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects (the tests check them).
type browser struct {
	d *dashboard
	c *http.Client
}

func (d *dashboard) browser(t testing.TB) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{d: d, c: &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signIn returns a browser signed in as name.
func (d *dashboard) signIn(t testing.TB, name, password string) *browser {
	t.Helper()
	b := d.browser(t)
	resp, _ := b.post(t, "/login", url.Values{"name": {name}, "password": {password}, "next": {"/"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign in as %s: %d, Location %q", name, resp.StatusCode, resp.Header.Get("Location"))
	}
	return b
}

// do makes a request and returns the response and its body.
func (b *browser) do(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func (b *browser) get(t testing.TB, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, b.d.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b.do(t, req)
}

// page gets path and wants 200.
func (b *browser) page(t testing.TB, path string) string {
	t.Helper()
	resp, body := b.get(t, path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, body)
	}
	return body
}

func (b *browser) post(t testing.TB, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.d.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(t, req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the forms on a page the browser can see.
func (b *browser) csrf(t testing.TB) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(b.page(t, "/account"))
	if m == nil {
		t.Fatal("no CSRF token on /account")
	}
	return m[1]
}

// submit posts a form with the browser's CSRF token, wants a redirect
// (post, redirect, get) and returns the page it leads to.
func (b *browser) submit(t testing.TB, path string, form url.Values) string {
	t.Helper()
	form.Set("csrf", b.csrf(t))
	resp, body := b.post(t, path, form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST %s: %d, want 303\n%s", path, resp.StatusCode, body)
	}
	return b.page(t, resp.Header.Get("Location"))
}
