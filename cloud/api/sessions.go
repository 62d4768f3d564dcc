package api

import (
	"context"
	"net/http"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
)

// Sessions is the store of dashboard sign-ins as the API uses it.
type Sessions interface {
	CreateWebSession(ctx context.Context, userID, secret, csrf string) (fleet.WebSession, error)
}

// signInAnswer is what POST /api/v1/signin returns: the session's
// secret (the dashboard's cookie), once, and its CSRF token.
type signInAnswer struct {
	Secret  string     `json:"secret"`
	CSRF    string     `json:"csrf"`
	User    fleet.User `json:"user"`
	Expires time.Time  `json:"expires"`
}

// signIn signs a user in with a name and password (never a
// token, whose role may be narrower than its owner's): the dashboard's
// login, so it shares the API's password check, its rate limits per
// address and per user, and its audit log.
func (s *server) signIn(w http.ResponseWriter, r *http.Request) {
	p := state(r).principal
	if p.Kind != auth.KindUser {
		writeError(w, http.StatusForbidden, "a session is signed in with a user's name and password (HTTP Basic), not a token")
		return
	}
	state(r).audit.Target = "user:" + p.UserName
	secret := fleet.NewSecret()
	ws, err := s.Store.CreateWebSession(r.Context(), p.UserID, secret, fleet.NewSecret())
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, signInAnswer{Secret: secret, CSRF: ws.CSRF, User: ws.User, Expires: ws.Expires})
}
