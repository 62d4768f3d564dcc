package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
)

// page is a page's templates: "content" within the layout, and "live"
// (optional) the part a live stream re-renders.
type page struct {
	tmpl *template.Template
	live bool
}

// pageData is what every template gets.
type pageData struct {
	Title string
	// UserName and Role are the signed-in user's ("" on the login page).
	UserName string
	Role     auth.Role
	CSRF     string
	// Flash and FlashError report the last change (post, redirect, get).
	Flash, FlashError string
	// Section names the navigation's current entry.
	Section string
	Data    any
}

// Can reports whether the user's role allows what needs role.
func (p pageData) Can(role string) bool {
	r, err := auth.ParseRole(role)
	return err == nil && p.Role.Allows(r)
}

var funcs = template.FuncMap{
	"time":     formatTime,
	"kw":       func(w int64) string { return fmt.Sprintf("%.1f kW", float64(w)/1000) },
	"kwh":      formatEnergy,
	"duration": formatDuration,
	"query":    func(v url.Values) string { return v.Encode() },
	"join":     strings.Join,
	"lower":    strings.ToLower,
	"list":     func(xs ...string) []string { return xs },
}

// formatTime shows a time in UTC to the second ("–" for none): the same
// text at every render, so a live page changes only when data does.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// formatEnergy shows Wh as kWh ("–" when not known).
func formatEnergy(wh *int64) string {
	if wh == nil {
		return "–"
	}
	return fmt.Sprintf("%.3f kWh", float64(*wh)/1000)
}

// formatDuration shows seconds as "2h 05m", "4m 10s".
func formatDuration(seconds int64) string {
	d := time.Duration(seconds) * time.Second
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(math.Mod(d.Minutes(), 60)))
	case d >= time.Minute:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(math.Mod(d.Seconds(), 60)))
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

// parsePages parses every page with the layout.
func parsePages() (map[string]*page, error) {
	base, err := template.New("base.html").Funcs(funcs).ParseFS(templateFS, "templates/base.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("web: layout: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*page{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "base" || name == "partials" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("web: page %s: %w", name, err)
		}
		pages[name] = &page{tmpl: t, live: t.Lookup("live") != nil}
	}
	return pages, nil
}

// data is the page data of a request.
func (d *Dashboard) data(w http.ResponseWriter, r *http.Request, v *visitor, title, section string, body any) pageData {
	p := pageData{Title: title, Section: section, Data: body}
	if v != nil {
		p.UserName, p.Role, p.CSRF = v.principal.UserName, v.principal.Role, v.session.CSRF
	}
	p.Flash, p.FlashError = takeFlash(w, r)
	return p
}

// render executes a page into a buffer first, so a failing template
// sends a clean error, never half a page.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, v *visitor, name string, status int, body any) {
	p, ok := d.pages[name]
	if !ok {
		d.Logger.Error("no such page template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	data := d.data(w, r, v, titles[name], sections[name], body)
	if t, ok := body.(titled); ok {
		data.Title = t.title()
	}
	if err := p.tmpl.ExecuteTemplate(&buf, "base", data); err != nil {
		d.Logger.Error("rendering a page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// titled is page data that names its page ("Site Berlin-1").
type titled interface{ title() string }

// Titles and navigation sections of the pages.
var (
	titles = map[string]string{"login": "Sign in", "overview": "Fleet", "site": "Site", "charger": "Charger",
		"config": "Site configuration", "sessions": "Sessions", "idtokens": "RFID tokens", "users": "Users",
		"audit": "Audit log", "account": "Your account", "error": "Error"}
	sections = map[string]string{"overview": "fleet", "site": "fleet", "charger": "fleet", "config": "fleet",
		"sessions": "sessions", "idtokens": "idtokens", "users": "users", "audit": "audit", "account": "account"}
)

// errorPage is the error page's data.
type errorPage struct {
	Status  int
	Message string
}

// fail shows an error page with a message the user can act on.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, v *visitor, status int, msg string) {
	d.render(w, r, v, "error", status, errorPage{Status: status, Message: msg})
}

// failAPI shows an API error as a page: its status and message.
func (d *Dashboard) failAPI(w http.ResponseWriter, r *http.Request, v *visitor, err error) {
	if ae, ok := err.(*apiError); ok {
		d.fail(w, r, v, ae.Status, ae.Message)
		return
	}
	d.Logger.Error("serving a page", "path", r.URL.Path, "err", err)
	d.fail(w, r, v, http.StatusInternalServerError, "Something went wrong on the server; try again.")
}

// flashCookie carries the outcome of a change to the page it redirects
// to: "ok:" or "error:" and the message.
const flashCookie = "cst_flash"

func (d *Dashboard) flash(w http.ResponseWriter, ok bool, msg string) {
	kind := "error:"
	if ok {
		kind = "ok:"
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(kind + msg), Path: "/", MaxAge: 60,
		HttpOnly: true, Secure: !d.InsecureCookies, SameSite: http.SameSiteStrictMode})
}

// takeFlash reads and clears the flash message.
func takeFlash(w http.ResponseWriter, r *http.Request) (ok, failed string) {
	c, err := r.Cookie(flashCookie)
	if err != nil || wantsStream(r) {
		return "", ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1})
	msg, _ := url.QueryUnescape(c.Value)
	if m, found := strings.CutPrefix(msg, "ok:"); found {
		return m, ""
	}
	return "", strings.TrimPrefix(msg, "error:")
}
