// Package setup serves the setup page. After a first boot without a
// settings file the appliance runs the image's defaults in setup mode
// (config setup.enabled): its access point has a generated name and
// password, shown on the display, and a phone or laptop that joins it
// opens this page. The page is a form with every key of the installer's
// settings file (docs/install.md); what it sends is checked with
// firstboot.Decode, the settings file's own rules, and written durably as
// the data directory's firstboot.SetupFile. The appliance cannot apply it
// (it runs unprivileged, /etc is read-only to it): constellation-setup.path
// sees the file and constellation-setup.service applies it as root
// (firstboot.Options.Setup), ends setup mode and restarts the appliance.
//
// The page is for the access point only (the firewall opens it there
// while setup mode is on). A form POST carries a token of this process
// and must come from the page itself (Origin, Sec-Fetch-Site); the Host
// must be an IP address, so that a web page cannot reach the form through
// a name rebound to the appliance's address.
package setup

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/constellation-ev/constellation/appliance/firstboot"
	"github.com/constellation-ev/constellation/appliance/screen"
)

// MaxBodyBytes caps a form's body; larger ones are answered 413.
const MaxBodyBytes = 64 << 10

// tokenField is the form's hidden field holding the process's token.
const tokenField = "csrf"

// Options configure the setup page.
type Options struct {
	// DataDir is the appliance's data directory: the settings go to its
	// firstboot.SetupFile.
	DataDir string
	// SSID is the access point's name now, and Password its generated
	// password (empty: not generated, not shown).
	SSID, Password string
	// Current prefills the form's non-secret fields with the settings in
	// force.
	Current firstboot.Settings
	// ChargerURL is where chargers connect once the appliance is set up
	// ("ws://10.42.0.1:9000/ocpp/"); empty: not shown.
	ChargerURL string
	// Logger receives submissions and refusals, never their secrets.
	Logger *slog.Logger
}

// Server is the setup page's http.Handler.
type Server struct {
	opts  Options
	log   *slog.Logger
	file  string
	token string
	cop   *http.CrossOriginProtection
	mux   *http.ServeMux

	// mu makes "nothing pending, write the file" one step.
	mu sync.Mutex
}

// New returns the setup page's handler.
func New(opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("setup: the data directory is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	token := make([]byte, 32)
	if _, err := rand.Read(token); err != nil {
		return nil, fmt.Errorf("setup: form token: %w", err)
	}
	s := &Server{
		opts:  opts,
		log:   log,
		file:  filepath.Join(opts.DataDir, filepath.FromSlash(firstboot.SetupFile)),
		token: hex.EncodeToString(token),
		cop:   http.NewCrossOriginProtection(),
		mux:   http.NewServeMux(),
	}
	s.mux.HandleFunc("GET /{$}", s.get)
	s.mux.HandleFunc("POST /{$}", s.post)
	return s, nil
}

// File is where the page writes the settings.
func (s *Server) File() string { return s.file }

// ServeHTTP answers the page at "/" only, to a Host that is an IP address.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !ipHost(r.Host) {
		s.log.Warn("setup page: refused a request by name", "host", r.Host, "remote", r.RemoteAddr)
		s.message(w, http.StatusForbidden, "Open the setup page by the appliance's address (http://10.42.0.1), not by a name.")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// ipHost reports whether the Host header names an IP address.
func ipHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	_, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil
}

func (s *Server) get(w http.ResponseWriter, _ *http.Request) {
	if s.pending() {
		s.render(w, http.StatusOK, page{State: statePending})
		return
	}
	s.render(w, http.StatusOK, page{State: stateForm, Values: values(s.opts.Current)})
}

func (s *Server) post(w http.ResponseWriter, r *http.Request) {
	if err := s.cop.Check(r); err != nil {
		s.log.Warn("setup page: refused a cross-origin form", "err", err, "remote", r.RemoteAddr)
		s.message(w, http.StatusForbidden, "The form came from another page. Open the setup page again and send it from there.")
		return
	}
	if r.ContentLength > MaxBodyBytes {
		s.message(w, http.StatusRequestEntityTooLarge, "The form is larger than 64 KiB.")
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		s.message(w, http.StatusUnsupportedMediaType, "Send the form from the setup page.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			s.message(w, http.StatusRequestEntityTooLarge, "The form is larger than 64 KiB.")
			return
		}
		s.message(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get(tokenField)), []byte(s.token)) != 1 {
		s.log.Warn("setup page: refused a form without this page's token", "remote", r.RemoteAddr)
		s.message(w, http.StatusForbidden, "This form has expired (the appliance restarted since it was opened). Open the setup page again.")
		return
	}
	settings, bad := fromForm(r.PostForm)
	data, invalid := check(settings)
	for k, msgs := range invalid {
		bad[k] = append(bad[k], msgs...)
	}
	if len(bad) > 0 {
		s.log.Info("setup page: settings refused", "fields", slices.Sorted(maps.Keys(bad)))
		if msg := withheld(settings); msg != "" {
			bad.add(chargersField, msg)
		}
		s.render(w, http.StatusBadRequest, page{State: stateForm, Values: values(settings), Problems: bad})
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending() {
		s.render(w, http.StatusConflict, page{State: statePending})
		return
	}
	if err := firstboot.WriteFile(s.file, data, 0o600); err != nil {
		s.log.Error("setup page: writing the settings", "err", err)
		s.message(w, http.StatusInternalServerError, "The settings could not be saved; see the appliance's log.")
		return
	}
	// A refused file from before is history now.
	if err := os.Remove(s.file + firstboot.RejectedSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("setup page: removing the refused settings", "err", err)
	}
	s.log.Info("setup page: settings saved, to be applied", "file", s.file, "site_name", settings.SiteName,
		"cloud", settings.SyncEnabled(), "ssh_keys", len(settings.SSHAuthorizedKeys), "chargers", len(settings.Chargers))
	ssid := settings.AccessPoint.SSID
	if ssid == "" {
		ssid = s.opts.SSID
	}
	s.render(w, http.StatusOK, page{State: stateSaved, NewSSID: ssid, NewPassword: settings.AccessPoint.Password != "", Chargers: len(settings.Chargers)})
}

// pending reports whether settings were saved and not yet applied.
func (s *Server) pending() bool {
	_, err := os.Lstat(s.file)
	return err == nil
}

// rejected reports whether the settings saved last could not be applied.
func (s *Server) rejected() bool {
	_, err := os.Lstat(s.file + firstboot.RejectedSuffix)
	return err == nil
}

// Page states.
const (
	stateForm    = "form"
	statePending = "pending"
	stateSaved   = "saved"
)

// page is what the template shows.
type page struct {
	State string
	// Values are the form's non-secret fields by key; Problems its errors.
	Values   map[string]string
	Problems problems
	// NewSSID and NewPassword: the access point after the settings apply.
	NewSSID     string
	NewPassword bool
	// Chargers counts the chargers the settings admit.
	Chargers int
	// Message is a page of its own (an error).
	Message string

	// Filled in by render.
	SSID, Password, ChargerURL, Token string
	Rejected                          bool
	Languages                         []language
}

type language struct {
	Code, Name string
}

// languageNames are the display's languages in their own words.
var languageNames = map[string]string{"en": "English", "es": "Español"}

//go:embed web/setup.html
var web embed.FS

var tmpl = template.Must(template.ParseFS(web, "web/setup.html"))

func (s *Server) render(w http.ResponseWriter, status int, p page) {
	p.SSID, p.Password, p.ChargerURL, p.Token = s.opts.SSID, s.opts.Password, s.opts.ChargerURL, s.token
	p.Rejected = p.State == stateForm && s.rejected()
	for _, code := range screen.Languages() {
		name := languageNames[code]
		if name == "" {
			name = code
		}
		p.Languages = append(p.Languages, language{Code: code, Name: name})
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The page shows the access point's password.
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := tmpl.Execute(w, p); err != nil {
		s.log.Warn("setup page: render", "err", err)
	}
}

func (s *Server) message(w http.ResponseWriter, status int, msg string) {
	s.render(w, status, page{State: "message", Message: msg})
}
