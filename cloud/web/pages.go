package web

import (
	"net/http"
	"net/url"
)

// routes lists the dashboard's pages and actions. Pages read through
// the API; actions (POST, with the CSRF token) change through it.
func (d *Dashboard) routes() {
	m := d.mux
	m.HandleFunc("GET /login", d.loginPage)
	m.Handle("POST /login", http.NewCrossOriginProtection().Handler(http.HandlerFunc(d.login)))
	m.Handle("POST /logout", d.signedIn(d.logout))

	m.Handle("GET /{$}", d.view("overview", d.loadOverview))
	m.Handle("POST /sites", d.act(d.createSite))
	m.Handle("GET /sites/{site}", d.view("site", d.loadSite))
	m.Handle("POST /sites/{site}/enrollment", d.signedIn(d.issueEnrollment))
	m.Handle("GET /sites/{site}/config", d.view("config", d.loadConfig))
	m.Handle("POST /sites/{site}/config", d.act(d.saveConfig))
	m.Handle("POST /sites/{site}/settings", d.act(d.saveSite))
	m.Handle("POST /sites/{site}/revoke", d.act(d.revokeSite))
	m.Handle("GET /sites/{site}/chargers/{charger}", d.view("charger", d.loadCharger))
	m.Handle("POST /sites/{site}/chargers/{charger}/commands", d.act(d.sendCommand))

	m.Handle("GET /sessions", d.view("sessions", d.loadSessions))
	m.Handle("GET /sessions.csv", d.signedIn(d.exportSessions))

	m.Handle("GET /idtokens", d.view("idtokens", d.loadIDTokens))
	m.Handle("GET /idtokens.csv", d.signedIn(d.exportIDTokens))
	m.Handle("POST /idtokens", d.act(d.putIDToken))
	m.Handle("POST /idtokens/import", d.act(d.importIDTokens))
	m.Handle("POST /idtokens/{idTag}/status", d.act(d.setIDTokenStatus))
	m.Handle("POST /idtokens/{idTag}/delete", d.act(d.deleteIDToken))

	m.Handle("GET /users", d.view("users", d.loadUsers))
	m.Handle("POST /users", d.signedIn(d.createUser))
	m.Handle("POST /users/{id}", d.act(d.updateUser))
	m.Handle("POST /users/{id}/password", d.signedIn(d.resetPassword))
	m.Handle("GET /audit", d.view("audit", d.loadAudit))

	m.Handle("GET /account", d.view("account", d.loadAccount))
	m.Handle("POST /account/password", d.signedIn(d.changePassword))
	m.Handle("POST /account/tokens", d.signedIn(d.createAPIToken))
	m.Handle("POST /account/tokens/{id}/revoke", d.act(d.revokeAPIToken))

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		v, _ := d.visitor(r)
		d.fail(w, r, v, http.StatusNotFound, "There is no such page.")
	})
}

// action is a change: it returns where to go next and what to tell.
type action func(r *http.Request, v *visitor) (next, done string, err error)

// act serves an action and redirects (post, redirect, get) with its
// outcome as a flash message: on error the API's message, back to the
// page the form was on.
func (d *Dashboard) act(a action) http.Handler {
	return d.signedIn(func(w http.ResponseWriter, r *http.Request, v *visitor) {
		next, done, err := a(r, v)
		if err != nil {
			d.flash(w, false, d.errMessage(r, err))
			next = back(r, "/")
		} else {
			d.flash(w, true, done)
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
}

// formError is a form field the dashboard itself refuses (before the
// API sees it), with a message naming the field.
type formError string

func (e formError) Error() string { return string(e) }

// sitePath is the dashboard path of a site (escaped).
func sitePath(site string) string { return "/sites/" + url.PathEscape(site) }

// apiSite is the API path of a site (escaped).
func apiSite(site string) string { return "/api/v1/sites/" + url.PathEscape(site) }

// back is the page the form was posted from, or def.
func back(r *http.Request, def string) string {
	if p := localPath(r.Referer()); p != "/" {
		return p
	}
	return def
}
