package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
)

// sessionCookie holds the session's secret: HttpOnly (no script reads
// it), SameSite=Lax (sent on a link followed from elsewhere, never on
// another site's form post) and Secure unless InsecureCookies.
const sessionCookie = "cst_session"

// maxForm bounds a form's body; an id-token CSV upload may be larger
// (maxUpload).
const (
	maxForm   = 64 << 10
	maxUpload = 8 << 20
)

// visitor is a signed-in request's user.
type visitor struct {
	secret    string
	session   fleet.WebSession
	principal auth.Principal
}

// visitor returns the request's signed-in user, or an error when it
// has no live session.
func (d *Dashboard) visitor(r *http.Request) (*visitor, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, fleet.ErrUnauthenticated
	}
	ws, err := d.Sessions.WebSession(r.Context(), c.Value)
	if err != nil {
		return nil, err
	}
	u := ws.User
	return &visitor{secret: c.Value, session: ws,
		principal: auth.Principal{Kind: auth.KindUser, UserID: u.ID, UserName: u.Name, Role: u.Role}}, nil
}

// signedIn serves h to a signed-in user; anyone else is sent to the
// login page (a live stream gets 401). A change (any method but GET)
// must carry the session's CSRF token: a stale or missing one is 403,
// and nothing is changed.
func (d *Dashboard) signedIn(h func(http.ResponseWriter, *http.Request, *visitor)) http.Handler {
	return http.NewCrossOriginProtection().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := d.visitor(r)
		if err != nil {
			if !errors.Is(err, fleet.ErrUnauthenticated) {
				d.Logger.Error("reading a session", "err", err)
				d.fail(w, r, nil, http.StatusInternalServerError, "The dashboard could not read your session; try again.")
				return
			}
			if wantsStream(r) {
				http.Error(w, "signed out", http.StatusUnauthorized)
				return
			}
			next := r.URL.RequestURI()
			if r.Method != http.MethodGet {
				next = r.Referer()
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(localPath(next)), http.StatusSeeOther)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !d.parseForm(w, r, v) {
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(v.session.CSRF)) != 1 {
				d.Logger.Warn("form refused: stale or missing CSRF token", "user", v.principal.UserName, "path", r.URL.Path, "remote", r.RemoteAddr)
				d.fail(w, r, v, http.StatusForbidden, "This form has expired (or came from elsewhere): reload the page and try again.")
				return
			}
		}
		h(w, r, v)
	}))
}

// parseForm reads a posted form, an upload up to maxUpload and any
// other up to maxForm; it answers 413 itself.
func (d *Dashboard) parseForm(w http.ResponseWriter, r *http.Request, v *visitor) bool {
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		r.Body = http.MaxBytesReader(w, r.Body, maxUpload+maxForm)
		err = r.ParseMultipartForm(maxForm)
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		err = r.ParseForm()
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		d.fail(w, r, v, http.StatusRequestEntityTooLarge, "That is too large: a form takes up to 64 KiB, an upload up to 8 MiB.")
	} else {
		d.fail(w, r, v, http.StatusBadRequest, "The form could not be read: "+err.Error())
	}
	return false
}

// localPath is p when it is a path on this site, else "/": a login's
// next page is never another site.
func localPath(p string) string {
	if u, err := url.Parse(p); err == nil && u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") &&
		!strings.HasPrefix(u.Path, "//") && !strings.Contains(p, "\\") && u.Path != "/login" {
		return u.RequestURI()
	}
	return "/"
}

func (d *Dashboard) setSession(w http.ResponseWriter, secret string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", Expires: expires,
		HttpOnly: true, Secure: !d.InsecureCookies, SameSite: http.SameSiteLaxMode})
}

func (d *Dashboard) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: !d.InsecureCookies, SameSite: http.SameSiteLaxMode})
}

// loginPage shows the sign-in form (a signed-in user goes on).
func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := d.visitor(r); err == nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	d.render(w, r, nil, "login", http.StatusOK, loginForm{Next: localPath(r.URL.Query().Get("next"))})
}

type loginForm struct {
	Name, Next, Error string
}

// login signs a user in through the API (POST /api/v1/signin with the
// name and password): its password check, rate limits and audit log.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		d.fail(w, r, nil, http.StatusBadRequest, "The form could not be read.")
		return
	}
	form := loginForm{Name: strings.TrimSpace(r.PostFormValue("name")), Next: localPath(r.PostFormValue("next"))}
	err := d.signIn(w, r, form.Name, r.PostFormValue("password"))
	var ae *apiError
	switch {
	case err == nil:
		http.Redirect(w, r, form.Next, http.StatusSeeOther)
		return
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		form.Error = "Wrong user name or password."
	case errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests:
		form.Error = "Too many attempts: wait a minute and try again."
	default:
		d.Logger.Error("signing in", "err", err)
		form.Error = "Signing in failed; try again."
	}
	d.render(w, r, nil, "login", ae.statusOr(http.StatusInternalServerError), form)
}

// signIn starts a session for name through the API (POST
// /api/v1/signin, HTTP Basic) and sets its cookie on w.
func (d *Dashboard) signIn(w http.ResponseWriter, r *http.Request, name, password string) error {
	var answer struct {
		Secret  string    `json:"secret"`
		Expires time.Time `json:"expires"`
	}
	err := d.call(r, nil, http.MethodPost, "/api/v1/signin", nil, struct{}{}, &answer,
		func(req *http.Request) { req.SetBasicAuth(name, password) })
	if err == nil {
		d.setSession(w, answer.Secret, answer.Expires)
	}
	return err
}

// logout ends the session everywhere (it is the store's).
func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request, v *visitor) {
	if err := d.Sessions.DeleteWebSession(r.Context(), v.secret); err != nil {
		d.Logger.Error("signing out", "err", err)
		d.fail(w, r, v, http.StatusInternalServerError, "Signing out failed; try again.")
		return
	}
	d.clearSession(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
