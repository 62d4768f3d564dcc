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
	"net/http"
	"time"

	"github.com/constellation-ev/constellation/cloud/downlink"
	"github.com/constellation-ev/constellation/cloud/fleet"
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

// Disconnecter drops a site's open MQTT connection (nil: the broker is
// external, and its own credentials must be removed too).
type Disconnecter interface{ Disconnect(site string) }

// Options configures the API.
type Options struct {
	Store    Store
	Downlink Downlink
	Broker   Disconnecter
	// OperatorTokenHash is fleet.HashSecret of the operator's bearer token.
	OperatorTokenHash string
	Clock             fleet.Clock
	Logger            *slog.Logger
}

type server struct {
	Options
}

// New returns the API's handler.
func New(o Options) http.Handler {
	if o.Clock == nil {
		o.Clock = fleet.SystemClock{}
	}
	s := &server{o}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/enroll", s.enroll)
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
			s.Logger.Warn("operator request refused", "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="watchtower"`)
			writeError(w, http.StatusUnauthorized, "operator bearer token required")
			return
		}
		h.ServeHTTP(w, r)
	})
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
