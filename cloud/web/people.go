package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
)

func importSummary(created, updated, deleted int) string {
	return fmt.Sprintf("Imported: %d created, %d updated, %d deleted.", created, updated, deleted)
}

// usersPage lists users (admin); Created is a user just created with a
// generated password, shown once.
type usersPage struct {
	Users    []fleet.User
	Created  *fleet.User
	Password string
	// Reset: Created's password was reset, not set at its creation.
	Reset bool
}

func (d *Dashboard) loadUsers(r *http.Request, v *visitor) (any, error) {
	var p usersPage
	var us struct{ Users []fleet.User }
	if err := d.call(r, v, http.MethodGet, "/api/v1/users", nil, nil, &us); err != nil {
		return nil, err
	}
	p.Users = us.Users
	return p, nil
}

// createUser creates a user; a generated password is shown once, on
// the page itself.
func (d *Dashboard) createUser(w http.ResponseWriter, r *http.Request, v *visitor) {
	req := map[string]any{"name": strings.TrimSpace(r.PostFormValue("name")), "displayName": strings.TrimSpace(r.PostFormValue("displayName")),
		"role": r.PostFormValue("role")}
	if pw := r.PostFormValue("password"); pw != "" {
		req["password"] = pw
	}
	type answer struct {
		User     fleet.User `json:"user"`
		Password string     `json:"password"`
	}
	showOnce(d, w, r, v, "users", "/users", d.loadUsers,
		func(a *answer) error { return d.call(r, v, http.MethodPost, "/api/v1/users", nil, req, a) },
		func(page any, a answer) any {
			p := page.(usersPage)
			p.Created, p.Password = &a.User, a.Password
			return p
		})
}

// showOnce makes a change whose answer holds a secret to show once (a
// password, a token): the page (load) is rendered with it at once
// (show), never passed through a redirect or a cookie. On error, back
// to the page with the message.
func showOnce[A any](d *Dashboard, w http.ResponseWriter, r *http.Request, v *visitor, name, back string, load loader,
	change func(*A) error, show func(page any, answer A) any) {
	var a A
	if err := change(&a); err != nil {
		d.flash(w, false, d.errMessage(r, err))
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	page, err := load(r, v)
	if err != nil {
		d.failAPI(w, r, v, err)
		return
	}
	d.render(w, r, v, name, http.StatusCreated, show(page, a))
}

// resetPassword gives a user a generated password, shown once (admin);
// the user's sessions end.
func (d *Dashboard) resetPassword(w http.ResponseWriter, r *http.Request, v *visitor) {
	id := r.PathValue("id")
	password := auth.NewPassword()
	showOnce(d, w, r, v, "users", "/users", d.loadUsers,
		func(u *fleet.User) error {
			if err := d.call(r, v, http.MethodPost, "/api/v1/users/"+url.PathEscape(id)+"/password", nil, map[string]string{"password": password}, nil); err != nil {
				return err
			}
			return d.call(r, v, http.MethodGet, "/api/v1/users/"+url.PathEscape(id), nil, nil, u)
		},
		func(page any, u fleet.User) any {
			p := page.(usersPage)
			p.Created, p.Password, p.Reset = &u, password, true
			return p
		})
}

// updateUser changes a user's role or disables/enables them.
func (d *Dashboard) updateUser(r *http.Request, v *visitor) (string, string, error) {
	id := r.PathValue("id")
	req := map[string]any{}
	if role := r.PostFormValue("role"); role != "" {
		req["role"] = role
	}
	switch r.PostFormValue("disabled") {
	case "true":
		req["disabled"] = true
	case "false":
		req["disabled"] = false
	}
	var u fleet.User
	if err := d.call(r, v, http.MethodPatch, "/api/v1/users/"+url.PathEscape(id), nil, req, &u); err != nil {
		return "", "", err
	}
	state := "enabled"
	if u.Disabled {
		state = "disabled"
	}
	return "/users", fmt.Sprintf("User %s: %s, %s.", u.Name, u.Role, state), nil
}

// auditPage is the audit log with its filter.
type auditPage struct {
	Query     url.Values
	Entries   []fleet.AuditEntry
	NextQuery string
}

func (d *Dashboard) loadAudit(r *http.Request, v *visitor) (any, error) {
	p := auditPage{Query: pageQuery(r, "actor", "action", "before")}
	var page struct {
		Entries []fleet.AuditEntry `json:"entries"`
		Next    string             `json:"next"`
	}
	if err := d.call(r, v, http.MethodGet, "/api/v1/audit", p.Query, nil, &page); err != nil {
		return nil, err
	}
	p.Entries, p.NextQuery = page.Entries, nextQuery(p.Query, "before", page.Next)
	return p, nil
}

// accountPage is the user's own page: password and API tokens; Secret
// is a token just created (shown once).
type accountPage struct {
	User    fleet.User
	Tokens  []fleet.APIToken
	Secret  string
	Expires time.Time
}

func (d *Dashboard) loadAccount(r *http.Request, v *visitor) (any, error) {
	p := accountPage{User: v.session.User}
	var ts struct {
		Tokens []fleet.APIToken `json:"tokens"`
	}
	if err := d.call(r, v, http.MethodGet, "/api/v1/tokens", nil, nil, &ts); err != nil {
		return nil, err
	}
	for _, t := range ts.Tokens {
		if t.Owner == v.principal.UserID {
			p.Tokens = append(p.Tokens, t)
		}
	}
	return p, nil
}

// changePassword changes the user's own password (with the old one),
// which ends every session of theirs; this browser signs in again with
// the new one.
func (d *Dashboard) changePassword(w http.ResponseWriter, r *http.Request, v *visitor) {
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("confirm") {
		d.flash(w, false, "New password: the two entries differ")
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	req := map[string]string{"oldPassword": r.PostFormValue("oldPassword"), "password": pw}
	if err := d.call(r, v, http.MethodPost, "/api/v1/users/"+url.PathEscape(v.principal.UserID)+"/password", nil, req, nil); err != nil {
		d.flash(w, false, d.errMessage(r, err))
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	if err := d.signIn(w, r, v.principal.UserName, pw); err != nil {
		d.clearSession(w)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	d.flash(w, true, "Password changed; your other sessions are signed out.")
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// createAPIToken creates an API token for the user; its secret is
// shown once, on the page itself.
func (d *Dashboard) createAPIToken(w http.ResponseWriter, r *http.Request, v *visitor) {
	req := map[string]string{"name": strings.TrimSpace(r.PostFormValue("name")), "role": r.PostFormValue("role")}
	if ttl := strings.TrimSpace(r.PostFormValue("ttl")); ttl != "" {
		req["ttl"] = ttl
	}
	type answer struct {
		Token  fleet.APIToken `json:"token"`
		Secret string         `json:"secret"`
	}
	showOnce(d, w, r, v, "account", "/account", d.loadAccount,
		func(a *answer) error { return d.call(r, v, http.MethodPost, "/api/v1/tokens", nil, req, a) },
		func(page any, a answer) any {
			p := page.(accountPage)
			p.Secret, p.Expires = a.Secret, a.Token.Expires
			return p
		})
}

func (d *Dashboard) revokeAPIToken(r *http.Request, v *visitor) (string, string, error) {
	if err := d.call(r, v, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(r.PathValue("id")), nil, nil, nil); err != nil {
		return "", "", err
	}
	return "/account", "Token revoked.", nil
}

// errMessage is what a user is told of an action's error: the API's
// message or the form's; any other error is logged and told as the
// server's.
func (d *Dashboard) errMessage(r *http.Request, err error) string {
	switch e := err.(type) {
	case *apiError:
		return e.Message
	case formError:
		return string(e)
	}
	d.Logger.Error("dashboard action", "path", r.URL.Path, "err", err)
	return "Something went wrong on the server; try again."
}
