package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
)

// Users is the store of users, API tokens and the audit log as the API
// uses it.
type Users interface {
	CreateUser(ctx context.Context, u fleet.NewUser, a fleet.Audit) (fleet.User, error)
	User(ctx context.Context, id string) (fleet.User, error)
	UserByName(ctx context.Context, name string) (fleet.User, string, error)
	Users(ctx context.Context) ([]fleet.User, error)
	UpdateUser(ctx context.Context, id string, c fleet.UserChange, a fleet.Audit) (fleet.User, error)
	PasswordHash(ctx context.Context, id string) (string, error)
	SetPassword(ctx context.Context, id, hash string, a fleet.Audit) error
	CreateAPIToken(ctx context.Context, owner, name string, role auth.Role, expires time.Time, a fleet.Audit) (fleet.APIToken, string, error)
	APIToken(ctx context.Context, id string) (fleet.APIToken, error)
	APITokens(ctx context.Context, owner string) ([]fleet.APIToken, error)
	RevokeAPIToken(ctx context.Context, id string, a fleet.Audit) error
	AuthenticateToken(ctx context.Context, secret string) (auth.Principal, error)
	RecordAudit(ctx context.Context, a fleet.Audit, action, target, outcome, message string) error
	AuditLog(ctx context.Context, f fleet.AuditFilter) ([]fleet.AuditEntry, error)
}

// reqState is what guard and a handler share about one request.
type reqState struct {
	principal auth.Principal
	// audit is the entry of the request's change, also in its context
	// (fleet.WithAudit): the store writes it with the change. A handler
	// may set its Target (default: the path) before the change.
	audit *fleet.PendingAudit
}

type stateKey struct{}

func state(r *http.Request) *reqState {
	if st, ok := r.Context().Value(stateKey{}).(*reqState); ok {
		return st
	}
	return &reqState{audit: &fleet.PendingAudit{}}
}

// auditOf is who makes the request's change (the store takes the
// entry from the request's context: this is for its signature).
func auditOf(r *http.Request) fleet.Audit {
	return state(r).audit.Audit
}

// guard serves rt: it authenticates the request (401), checks the
// route's role (403), serves it with the principal in its context, and
// audits a state change with its outcome: the one place the role table
// is enforced. A change made is audited by the store, in the change's
// transaction (fleet.PendingAudit); guard audits what made none: a
// refusal or a failure.
func (s *server) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := requestID(r)
		w.Header().Set("X-Request-Id", rid)
		p, ok := s.authenticate(w, r, rt.password)
		if !ok {
			return
		}
		st := &reqState{principal: p, audit: &fleet.PendingAudit{
			Audit:  fleet.Audit{Actor: p.Actor(), ActorUser: p.UserName, RequestID: rid},
			Action: rt.action, Target: r.URL.Path,
		}}
		ctx := context.WithValue(r.Context(), stateKey{}, st)
		if rt.action != "" {
			ctx = fleet.WithAudit(ctx, st.audit)
		}
		r = r.WithContext(auth.WithPrincipal(ctx, p))
		rec := &recorder{ResponseWriter: w}
		if p.Role.Allows(rt.role) {
			rt.h(rec, r)
		} else {
			forbidden(rec, rt.role, p.Role)
		}
		if rt.action == "" || st.audit.Written() {
			return
		}
		outcome, msg := fleet.OutcomeOK, ""
		if rec.status >= 400 {
			outcome, msg = fleet.OutcomeError, fmt.Sprintf("%d %s", rec.status, rec.errorMessage())
		}
		if err := s.Store.RecordAudit(context.WithoutCancel(r.Context()), st.audit.Audit, rt.action, st.audit.Target, outcome, msg); err != nil {
			s.Logger.Error("writing the audit log", "action", rt.action, "err", err)
		}
	})
}

// forbidden answers 403 naming the role needed.
func forbidden(w http.ResponseWriter, need, have auth.Role) {
	writeError(w, http.StatusForbidden, fmt.Sprintf("forbidden: this needs the %s role (yours is %s)", need, have))
}

// authenticate returns the request's principal: an API token or the
// legacy operator token as a bearer token, or (where password) a user's
// name and password. It answers 401 (429 past AuthLimit) itself.
func (s *server) authenticate(w http.ResponseWriter, r *http.Request, password bool) (auth.Principal, bool) {
	if p, ok := r.Context().Value(signedInKey{}).(auth.Principal); ok {
		return p, true
	}
	h := r.Header.Get("Authorization")
	var (
		p      auth.Principal
		reason = "bearer token required"
		err    error
	)
	switch {
	case strings.HasPrefix(h, "Bearer "):
		token := h[len("Bearer "):]
		if s.OperatorTokenHash != "" && subtle.ConstantTimeCompare([]byte(fleet.HashSecret(token)), []byte(s.OperatorTokenHash)) == 1 {
			return auth.Principal{Kind: auth.KindLegacy, Role: auth.Admin}, true
		}
		if p, err = s.Store.AuthenticateToken(r.Context(), token); err == nil {
			return p, true
		}
		reason = "invalid bearer token"
		if errors.Is(err, fleet.ErrUnauthenticated) {
			// "token revoked", "token expired", "user disabled": told to
			// the holder of the secret only.
			if _, why, ok := strings.Cut(err.Error(), ": "); ok {
				reason += ": " + why
			}
		} else {
			s.storeError(w, err)
			return p, false
		}
	case strings.HasPrefix(h, "Basic ") && password:
		// Every password attempt, right or wrong, takes from the login
		// bucket: argon2id is costly by design.
		if s.tooFast(w, r, "login") || s.tooManyForUser(w, r) {
			return p, false
		}
		if p, err = s.login(r); err == nil {
			return p, true
		}
		if !errors.Is(err, auth.ErrPasswordMismatch) && !errors.Is(err, fleet.ErrNotFound) && !errors.Is(err, fleet.ErrUnauthenticated) {
			s.storeError(w, err)
			return p, false
		}
		reason = "invalid user name or password"
	}
	if s.tooFast(w, r, "api") {
		return p, false
	}
	s.Logger.Warn("API request refused", "remote", r.RemoteAddr, "path", clip(r.URL.Path), "reason", reason)
	w.Header().Set("WWW-Authenticate", `Bearer realm="watchtower"`)
	writeError(w, http.StatusUnauthorized, reason)
	return p, false
}

type signedInKey struct{}

// AsSignedIn returns ctx carrying p, a user the dashboard signed in
// (its session found and, for a change, its CSRF token checked): the
// API serves a request with it as p's, with no Authorization header.
// Only code in this process can put it in a request's context.
func AsSignedIn(ctx context.Context, p auth.Principal) context.Context {
	return context.WithValue(ctx, signedInKey{}, p)
}

// tooManyForUser takes a token of the login name's own bucket, so that
// guessing one user's password from many addresses is as slow as from
// one; it answers 429 itself.
func (s *server) tooManyForUser(w http.ResponseWriter, r *http.Request) bool {
	name, _, _ := r.BasicAuth()
	return s.tooFastKey(w, "login-user", "user "+clip(name), clip(name))
}

// login checks a user's name and password (HTTP Basic).
func (s *server) login(r *http.Request) (auth.Principal, error) {
	name, pw, _ := r.BasicAuth()
	u, hash, err := s.Store.UserByName(r.Context(), name)
	if errors.Is(err, fleet.ErrNotFound) {
		auth.SpendVerify(pw)
		return auth.Principal{}, err
	}
	if err != nil {
		return auth.Principal{}, err
	}
	if err := auth.VerifyPassword(hash, pw); err != nil {
		return auth.Principal{}, err
	}
	if u.Disabled {
		return auth.Principal{}, fleet.ErrUnauthenticated
	}
	return auth.Principal{Kind: auth.KindUser, UserID: u.ID, UserName: u.Name, Role: u.Role}, nil
}

var goodRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID is the client's X-Request-Id when it is a sane one, or a new
// one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); goodRequestID.MatchString(id) {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recorder keeps a response's status and the start of an error body,
// for the audit entry.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.status >= 400 && r.body.Len() < 1024 {
		r.body.Write(b[:min(len(b), 1024-r.body.Len())])
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) errorMessage() string {
	var e struct{ Error string }
	if json.Unmarshal(r.body.Bytes(), &e) == nil && e.Error != "" {
		return e.Error
	}
	return http.StatusText(r.status)
}
