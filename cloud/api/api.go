// Package api is the watchtower's JSON API: the public enrollment
// endpoint an appliance trades its token at, and the operators'
// endpoints for sites, enrollment tokens, revocation, chargers,
// transactions with readings, desired configuration, the authorization
// list, commands, users, API tokens and the audit log.
//
// Every operators' endpoint is a row of one role table (routes): guard
// authenticates the request (an API token, the legacy operator token,
// or on a few routes a user's password), checks the row's role with
// auth.Role.Allows, puts the principal in the request's context
// (auth.From) and audits every state change with its outcome. Errors
// are {"error": "..."} with a precise status; bodies are size-limited
// and unknown fields refused.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/broker"
	"github.com/constellation-ev/constellation/cloud/downlink"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/ratelimit"
	"github.com/constellation-ev/constellation/syncproto"
)

// Defaults.
const (
	DefaultTokenTTL       = 24 * time.Hour
	DefaultCommandTimeout = 10 * time.Minute
)

// Store is the fleet store as the API uses it.
type Store interface {
	CreateSite(ctx context.Context, id, name string) (fleet.Site, error)
	Site(ctx context.Context, id string) (fleet.Site, error)
	Sites(ctx context.Context) ([]fleet.Site, error)
	IssueToken(ctx context.Context, site string, ttl time.Duration) (string, time.Time, error)
	Enroll(ctx context.Context, site, token string) (string, error)
	EnrollWithPassword(ctx context.Context, site, token, password string) error
	Revoke(ctx context.Context, site string) error
	Chargers(ctx context.Context, site string) ([]fleet.Charger, error)
	Transactions(ctx context.Context, f fleet.TxFilter, withReadings bool) ([]fleet.Transaction, error)
	Desired(ctx context.Context, site string) (fleet.Desired, error)
	SetDesired(ctx context.Context, site string, settings map[string]string) (int64, error)
	AuthList(ctx context.Context, site string) (int64, []syncproto.AuthEntry, error)
	ChangeAuthList(ctx context.Context, site string, c fleet.AuthChange) (int64, error)
	CreateCommand(ctx context.Context, site, charger, command string, args json.RawMessage, deadline time.Time) (fleet.Command, error)
	Command(ctx context.Context, id string) (fleet.Command, error)
	Users
	Sessions
	Views
	IDTokens
}

var _ Store = (*fleet.Store)(nil)

// Downlink sends what changed to a site.
type Downlink interface {
	Desired(ctx context.Context, site string, have int64) error
	AuthList(ctx context.Context, site string, have int64) error
	Queued(ctx context.Context, site string) error
}

var _ Downlink = (*downlink.Sender)(nil)

// Access gives a site's appliance access to the broker with the password
// it enrolled with, and takes it away (dropping an open connection).
type Access interface {
	Grant(ctx context.Context, site, password string) error
	Revoke(ctx context.Context, site string) error
}

var _ Access = (*broker.Broker)(nil)

// Options configures the API.
type Options struct {
	Store    Store
	Downlink Downlink
	Access   Access
	// OperatorTokenHash is fleet.HashSecret of the legacy operator
	// token, which acts as an admin ("": none).
	OperatorTokenHash string
	// AuthLimit bounds, per remote address, enrollment attempts, refused
	// API requests and password logins (nil: no bound), so that tokens
	// and passwords cannot be guessed at speed.
	AuthLimit *ratelimit.Limiter
	Clock     fleet.Clock
	Logger    *slog.Logger
}

type server struct {
	Options
	logLimit *ratelimit.Limiter // a refusal log line per address a minute
}

// New returns the API's handler.
func New(o Options) http.Handler {
	if o.Clock == nil {
		o.Clock = fleet.SystemClock{}
	}
	s := &server{Options: o, logLimit: ratelimit.New(1.0/60, 1, o.Clock)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/enroll", s.limited("enroll", s.enroll))
	mux.Handle("GET /api/openapi.json", s.serveOpenAPI())
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, s.guard(rt))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeError(w, http.StatusNotFound, "no such endpoint") })
	return mux
}

// route is an endpoint of the role table: the role it needs, and the
// action its audit entries name (state changes only).
type route struct {
	pattern string
	role    auth.Role
	action  string
	h       http.HandlerFunc
	// password admits a user's name and password (HTTP Basic) as well
	// as a bearer token: the way to a first API token.
	password bool
}

// routes is the role table: every endpoint but enroll, the role it
// needs, and the action it is audited as (reads are not audited).
func (s *server) routes() []route {
	base := []route{
		{pattern: "POST /api/v1/sites", role: auth.Admin, action: "site.create", h: s.createSite},
		{pattern: "GET /api/v1/sites", role: auth.Viewer, h: s.listSites},
		{pattern: "GET /api/v1/sites/{site}", role: auth.Viewer, h: s.getSite},
		{pattern: "POST /api/v1/sites/{site}/tokens", role: auth.Operator, action: "site.token", h: s.createToken},
		{pattern: "POST /api/v1/sites/{site}/revoke", role: auth.Admin, action: "site.revoke", h: s.revoke},
		{pattern: "GET /api/v1/sites/{site}/chargers", role: auth.Viewer, h: s.chargers},
		{pattern: "GET /api/v1/sites/{site}/transactions", role: auth.Viewer, h: s.transactions},
		{pattern: "GET /api/v1/sites/{site}/desired", role: auth.Viewer, h: s.getDesired},
		{pattern: "PUT /api/v1/sites/{site}/desired", role: auth.Operator, action: "site.desired", h: s.putDesired},
		{pattern: "GET /api/v1/sites/{site}/authlist", role: auth.Viewer, h: s.getAuthList},
		{pattern: "PUT /api/v1/sites/{site}/authlist", role: auth.Operator, action: "site.authlist.replace", h: s.putAuthList},
		{pattern: "POST /api/v1/sites/{site}/authlist/changes", role: auth.Operator, action: "site.authlist.change", h: s.changeAuthList},
		{pattern: "POST /api/v1/sites/{site}/commands", role: auth.Operator, action: "command.create", h: s.createCommand},
		{pattern: "GET /api/v1/commands/{id}", role: auth.Viewer, h: s.getCommand},
		{pattern: "POST /api/v1/users", role: auth.Admin, action: "user.create", h: s.createUser},
		{pattern: "GET /api/v1/users", role: auth.Admin, h: s.listUsers},
		{pattern: "GET /api/v1/users/{id}", role: auth.Admin, h: s.getUser},
		{pattern: "PATCH /api/v1/users/{id}", role: auth.Admin, action: "user.update", h: s.patchUser},
		// Self with the old password, or an admin (see setPassword).
		{pattern: "POST /api/v1/users/{id}/password", role: auth.Viewer, action: "user.password", h: s.setPassword},
		{pattern: "POST /api/v1/tokens", role: auth.Viewer, action: "token.create", h: s.createAPIToken, password: true},
		// Own tokens; an admin's lists everyone's.
		{pattern: "GET /api/v1/tokens", role: auth.Viewer, h: s.listAPITokens},
		// Own tokens; an admin revokes anyone's.
		{pattern: "DELETE /api/v1/tokens/{id}", role: auth.Viewer, action: "token.revoke", h: s.revokeAPIToken},
		{pattern: "GET /api/v1/audit", role: auth.Admin, h: s.auditLog},
		{pattern: "POST /api/v1/signin", role: auth.Viewer, action: "user.signin", h: s.signIn, password: true},
	}
	return slices.Concat(base, s.viewRoutes(), s.idTokenRoutes())
}

// limited serves h only while the remote address keeps within AuthLimit.
func (s *server) limited(what string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.tooFast(w, r, what) {
			h(w, r)
		}
	}
}

// tooFast takes a token of the remote address's what bucket (see
// tooFastKey).
func (s *server) tooFast(w http.ResponseWriter, r *http.Request, what string) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return s.tooFastKey(w, what, "address "+host, host)
}

// tooFastKey takes a token of the bucket what+key (an address, a user
// name); when there is none it answers 429 with Retry-After and reports
// true. who names the key in the log line.
func (s *server) tooFastKey(w http.ResponseWriter, what, key, who string) bool {
	key = what + " " + key
	ok, wait := s.AuthLimit.Reserve(key)
	if ok {
		return false
	}
	if s.logLimit.Allow(key) {
		s.Logger.Warn("requests refused: too many", "what", what, "from", who, "retry_in", wait)
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	writeError(w, http.StatusTooManyRequests, "too many attempts from this address; retry later")
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// storeError answers a store error with its status.
func (s *server) storeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, fleet.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, fleet.ErrExists):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, fleet.ErrRevoked):
		writeError(w, http.StatusForbidden, err.Error())
	case errors.Is(err, fleet.ErrLastAdmin), errors.Is(err, fleet.ErrRoleTooHigh):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, syncproto.ErrInvalid), errors.Is(err, fleet.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		s.Logger.Error("request failed", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

// body decodes the request's JSON body into T, answering 400/413 itself.
func body[T any](w http.ResponseWriter, r *http.Request) (T, bool) {
	data, err := readBody(w, r)
	if err != nil {
		var zero T
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return zero, false
	}
	v, err := decode[T](data)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return v, false
	}
	return v, true
}
