// Package api is the watchtower's JSON API: the public enrollment
// endpoint an appliance trades its token at, and the operator's
// endpoints (bearer token) for sites, enrollment tokens, revocation,
// chargers, transactions with readings, desired configuration, the
// authorization list and commands. Errors are {"error": "..."} with a
// precise status; bodies are size-limited and unknown fields refused.
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

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
	// OperatorTokenHash is fleet.HashSecret of the operator's bearer token.
	OperatorTokenHash string
	// AuthLimit bounds, per remote address, enrollment attempts and
	// refused operator requests (nil: no bound), so that tokens cannot be
	// guessed at speed.
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
	op := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.operator(h)) }
	op("POST /api/v1/sites", s.createSite)
	op("GET /api/v1/sites", s.listSites)
	op("GET /api/v1/sites/{site}", s.getSite)
	op("POST /api/v1/sites/{site}/tokens", s.createToken)
	op("POST /api/v1/sites/{site}/revoke", s.revoke)
	op("GET /api/v1/sites/{site}/chargers", s.chargers)
	op("GET /api/v1/sites/{site}/transactions", s.transactions)
	op("GET /api/v1/sites/{site}/desired", s.getDesired)
	op("PUT /api/v1/sites/{site}/desired", s.putDesired)
	op("GET /api/v1/sites/{site}/authlist", s.getAuthList)
	op("PUT /api/v1/sites/{site}/authlist", s.putAuthList)
	op("POST /api/v1/sites/{site}/authlist/changes", s.changeAuthList)
	op("POST /api/v1/sites/{site}/commands", s.createCommand)
	op("GET /api/v1/commands/{id}", s.getCommand)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeError(w, http.StatusNotFound, "no such endpoint") })
	return mux
}

// operator admits requests with the operator's bearer token.
func (s *server) operator(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok || s.OperatorTokenHash == "" ||
			subtle.ConstantTimeCompare([]byte(fleet.HashSecret(token)), []byte(s.OperatorTokenHash)) != 1 {
			if s.tooFast(w, r, "operator") {
				return
			}
			s.Logger.Warn("operator request refused", "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="watchtower"`)
			writeError(w, http.StatusUnauthorized, "operator bearer token required")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// limited serves h only while the remote address keeps within AuthLimit.
func (s *server) limited(what string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.tooFast(w, r, what) {
			h(w, r)
		}
	}
}

// tooFast takes a token of the remote address's what bucket; when there
// is none it answers 429 with Retry-After and reports true.
func (s *server) tooFast(w http.ResponseWriter, r *http.Request, what string) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	key := what + " " + host
	ok, wait := s.AuthLimit.Reserve(key)
	if ok {
		return false
	}
	if s.logLimit.Allow(key) {
		s.Logger.Warn("requests refused: too many from one address", "what", what, "remote", host, "retry_in", wait)
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	writeError(w, http.StatusTooManyRequests, "too many attempts from this address; retry later")
	return true
}

func bearer(r *http.Request) (string, bool) {
	const prefix = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) <= len(prefix) || h[:len(prefix)] != prefix {
		return "", false
	}
	return h[len(prefix):], true
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
	case errors.Is(err, syncproto.ErrInvalid):
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
