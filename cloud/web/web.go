// Package web is the fleet dashboard: server-rendered pages (Go
// html/template, embedded assets, no build step), live through
// server-sent events, usable on a phone and a desktop.
//
// The dashboard is a client of the watchtower's JSON API inside the
// process: every page reads through the API's endpoints and every form
// posts to one, as the signed-in user (api.AsSignedIn). Validation, the
// role table and the audit log are the API's, one path for scripts and
// browsers; a button hidden from a viewer is a convenience, the API's
// 403 is the check. What is the dashboard's own: the session cookie,
// the CSRF token of every form, the templates and the live updates.
package web

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// DefaultLiveEvery is how often a live page checks for changes.
const DefaultLiveEvery = 2 * time.Second

// Sessions finds and ends dashboard sessions (signing in is the API's:
// POST /api/v1/signin).
type Sessions interface {
	WebSession(ctx context.Context, secret string) (fleet.WebSession, error)
	DeleteWebSession(ctx context.Context, secret string) error
}

var _ Sessions = (*fleet.Store)(nil)

// Options configures the dashboard.
type Options struct {
	// API is the watchtower's API handler (api.New).
	API      http.Handler
	Sessions Sessions
	// InsecureCookies leaves the Secure attribute off the session
	// cookie, for a dashboard served over plain HTTP on another host
	// than localhost (browsers send Secure cookies to http://localhost).
	InsecureCookies bool
	// LiveEvery is how often a live page looks for changes (default
	// DefaultLiveEvery). It reads the store, not a replica's memory, so
	// a change ingested by any replica shows on every one.
	LiveEvery time.Duration
	Logger    *slog.Logger
}

// Dashboard serves the dashboard's pages.
type Dashboard struct {
	Options
	mux   *http.ServeMux
	pages map[string]*page
	// done ends the live streams when the server shuts down.
	done     chan struct{}
	doneOnce sync.Once
}

var _ http.Handler = (*Dashboard)(nil)

// New returns the dashboard.
func New(o Options) (*Dashboard, error) {
	if o.LiveEvery <= 0 {
		o.LiveEvery = DefaultLiveEvery
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dashboard{Options: o, mux: http.NewServeMux(), done: make(chan struct{})}
	var err error
	if d.pages, err = parsePages(); err != nil {
		return nil, err
	}
	static, _ := fs.Sub(staticFS, "static")
	d.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	d.routes()
	return d, nil
}

// Shutdown ends the live streams (http.Server.RegisterOnShutdown): a
// shutting-down server does not wait on them.
func (d *Dashboard) Shutdown() { d.doneOnce.Do(func() { close(d.done) }) }

// ServeHTTP serves a request with the headers every page carries.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	d.mux.ServeHTTP(w, r)
}

// cacheStatic lets browsers keep the embedded assets for an hour.
func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}
