package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
)

// createUser creates a user; a password left out is generated and
// returned once.
func (s *server) createUser(w http.ResponseWriter, r *http.Request) {
	req, ok := body[createUserRequest](w, r)
	if !ok {
		return
	}
	state(r).audit.Target = "user:" + clip(req.Name)
	if err := fleet.ValidateUserName(req.Name); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	generated := req.Password == nil
	password := auth.NewPassword()
	if !generated {
		password = *req.Password
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	u, err := s.Store.CreateUser(r.Context(), fleet.NewUser{Name: req.Name, DisplayName: req.DisplayName, Role: role, PasswordHash: hash}, auditOf(r))
	if err != nil {
		s.userError(w, r, err)
		return
	}
	s.Logger.Info("user created", "user", u.Name, "role", u.Role, "by", state(r).principal.Actor())
	answer := map[string]any{"user": u}
	if generated {
		answer["password"] = password
	}
	writeJSON(w, http.StatusCreated, answer)
}

// userError answers a store error of a user or token change; the
// change did not happen, so the guard audits the failure.
func (s *server) userError(w http.ResponseWriter, _ *http.Request, err error) {
	var msg string
	if errors.Is(err, fleet.ErrInvalid) {
		// The store's message ends with the field's: "fleet: create
		// user: fleet: invalid: name: want ...".
		msg = err.Error()
		if i := strings.LastIndex(msg, "fleet: invalid: "); i >= 0 {
			msg = msg[i+len("fleet: invalid: "):]
		}
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	s.storeError(w, err)
}

func (s *server) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := s.Store.Users(r.Context())
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": us})
}

func (s *server) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.Store.User(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// patchUser changes a user's display name, role or disabled flag.
func (s *server) patchUser(w http.ResponseWriter, r *http.Request) {
	req, ok := body[patchUserRequest](w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	state(r).audit.Target = "user:" + id
	if req.DisplayName == nil && req.Role == nil && req.Disabled == nil {
		writeError(w, http.StatusBadRequest, "body: nothing to change (displayName, role, disabled)")
		return
	}
	c := fleet.UserChange{DisplayName: req.DisplayName, Disabled: req.Disabled}
	if req.Role != nil {
		role, err := auth.ParseRole(*req.Role)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		c.Role = &role
	}
	u, err := s.Store.UpdateUser(r.Context(), id, c, auditOf(r))
	if err != nil {
		s.userError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// setPassword changes a password: one's own with the old one, or, for
// an admin, anyone's.
func (s *server) setPassword(w http.ResponseWriter, r *http.Request) {
	req, ok := body[passwordRequest](w, r)
	if !ok {
		return
	}
	p, id := state(r).principal, r.PathValue("id")
	state(r).audit.Target = "user:" + id
	admin := p.Role.Allows(auth.Admin)
	if p.UserID != id && !admin {
		forbidden(w, auth.Admin, p.Role)
		return
	}
	if err := auth.CheckPassword(req.Password); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// One's own password takes the old one, an admin's too: a session
	// or token left open must not be enough to lock its owner out.
	if p.UserID == id || !admin {
		// Guessing the old password is a login: same bucket.
		if s.tooFast(w, r, "login") {
			return
		}
		hash, err := s.Store.PasswordHash(r.Context(), id)
		if err != nil {
			s.storeError(w, err)
			return
		}
		if err := auth.VerifyPassword(hash, req.OldPassword); err != nil {
			writeError(w, http.StatusForbidden, "oldPassword: wrong password")
			return
		}
	}
	hash, err := auth.HashPassword(req.Password)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.Store.SetPassword(r.Context(), id, hash, auditOf(r)); err != nil {
		s.userError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// createAPIToken creates an API token for the caller, with a role up
// to the caller's; its secret is in this answer only.
func (s *server) createAPIToken(w http.ResponseWriter, r *http.Request) {
	req, ok := body[apiTokenRequest](w, r)
	if !ok {
		return
	}
	p := state(r).principal
	if p.UserID == "" {
		writeError(w, http.StatusBadRequest, "the legacy operator token has no user: create a user (constellation-watchtower create-admin) and use its password or one of its tokens")
		return
	}
	if req.Name == "" || len(req.Name) > 100 {
		writeError(w, http.StatusBadRequest, "name: want 1 to 100 bytes")
		return
	}
	role := p.Role
	if req.Role != "" {
		var err error
		if role, err = auth.ParseRole(req.Role); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	if !p.Role.Allows(role) {
		writeError(w, http.StatusForbidden, "role: a token's role cannot be above yours ("+string(p.Role)+")")
		return
	}
	expires := req.Expires
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 || !req.Expires.IsZero() {
			writeError(w, http.StatusBadRequest, "ttl: want a positive Go duration, and not with expires")
			return
		}
		expires = s.Clock.Now().Add(d)
	}
	if !expires.IsZero() && !expires.After(s.Clock.Now()) {
		writeError(w, http.StatusBadRequest, "expires: in the past")
		return
	}
	t, secret, err := s.Store.CreateAPIToken(r.Context(), p.UserID, req.Name, role, expires, auditOf(r))
	if err != nil {
		s.userError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": t, "secret": secret})
}

// listAPITokens lists the caller's tokens; an admin's, everyone's.
func (s *server) listAPITokens(w http.ResponseWriter, r *http.Request) {
	p := state(r).principal
	owner := p.UserID
	if p.Role.Allows(auth.Admin) {
		owner = ""
	}
	ts, err := s.Store.APITokens(r.Context(), owner)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": ts})
}

// revokeAPIToken revokes one of the caller's tokens; an admin's, anyone's.
func (s *server) revokeAPIToken(w http.ResponseWriter, r *http.Request) {
	p, id := state(r).principal, r.PathValue("id")
	state(r).audit.Target = "token:" + id
	t, err := s.Store.APIToken(r.Context(), id)
	if err != nil {
		s.storeError(w, err)
		return
	}
	if t.Owner != p.UserID && !p.Role.Allows(auth.Admin) {
		forbidden(w, auth.Admin, p.Role)
		return
	}
	if err := s.Store.RevokeAPIToken(r.Context(), id, auditOf(r)); err != nil {
		s.userError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// auditLog pages through the audit log, newest first: ?actor= (an actor
// or the user it acted for), action=, since=, until= (RFC 3339),
// before= (the previous page's next), limit= (1 to 1000, default 100).
func (s *server) auditLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := fleet.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Before: q.Get("before"), Limit: 100}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(t.name); v != "" {
			var err error
			if *t.to, err = time.Parse(time.RFC3339, v); err != nil {
				writeError(w, http.StatusBadRequest, t.name+": want an RFC 3339 time")
				return
			}
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit: want 1 to 1000")
			return
		}
		f.Limit = n
	}
	entries, err := s.Store.AuditLog(r.Context(), f)
	if err != nil {
		s.storeError(w, err)
		return
	}
	answer := map[string]any{"entries": entries}
	if len(entries) == f.Limit {
		answer["next"] = entries[len(entries)-1].ID
	}
	writeJSON(w, http.StatusOK, answer)
}
