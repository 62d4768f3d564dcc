// Package api is the appliance's local operator API: JSON over HTTP for
// chargers, transactions, the authorization cache, reservations,
// commands to chargers and the state of the cloud sync. It reads and writes through the charging domain and
// sends commands through the CSMS; it knows no OCPP version.
//
// Every answer is JSON. Errors are {"error":"message"} with a status that
// tells the outcomes apart (see docs/api.md).
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/cloudsync"
	"github.com/constellation-ev/constellation/appliance/lcd"
	"github.com/constellation-ev/constellation/appliance/locallist"
	"github.com/constellation-ev/constellation/appliance/rfid"
)

// MaxBodyBytes caps request bodies; larger ones are answered 413.
const MaxBodyBytes = 64 << 10

// Transaction list limits.
const (
	DefaultTransactionLimit = 50
	MaxTransactionLimit     = 500
)

// TokenSource is the IDToken.Source the API records for tokens it writes.
const TokenSource = "operator"

// Domain is what the API needs from the charging domain. *charging.Service
// implements it.
type Domain interface {
	Chargers(ctx context.Context) ([]charging.Charger, error)
	Charger(ctx context.Context, id charging.ChargerID) (charging.Charger, error)
	Variables(ctx context.Context, id charging.ChargerID) ([]charging.VariableReport, error)
	Transactions(ctx context.Context, f charging.TransactionFilter) ([]charging.Transaction, error)
	Transaction(ctx context.Context, id int64) (charging.Transaction, []charging.MeterReading, error)
	Tokens(ctx context.Context) ([]charging.IDToken, error)
	Taps(ctx context.Context, limit int) ([]charging.Tap, error)
	PutToken(ctx context.Context, t charging.IDToken) error
	DeleteToken(ctx context.Context, id string) error
	Reservations(ctx context.Context) ([]charging.Reservation, error)
}

// Commander sends commands to connected chargers: Execute a
// version-neutral one, Send one OCPP request in the charger's own version
// (returning the charger's CALLRESULT payload). Errors wrap
// charging.ErrNotConnected, ErrNoAnswer, ErrInvalidCommand or
// ErrChargerError. *csms.CSMS implements it.
type Commander interface {
	Execute(ctx context.Context, charger charging.ChargerID, cmd charging.Command) (charging.CommandReply, error)
	Send(ctx context.Context, charger charging.ChargerID, action string, payload json.RawMessage) (json.RawMessage, error)
}

// SyncStatus reports the state of the sync with the cloud.
// *cloudsync.Client implements it.
type SyncStatus interface {
	Status() (cloudsync.Status, error)
}

// LocalListStatus reports how the chargers' local authorization lists
// follow the cache. *locallist.Pusher implements it.
type LocalListStatus interface {
	Status() locallist.Status
}

// Station is the appliance's own reader and display.
type Station interface {
	StationStatus() StationStatus
	// TapCard taps a card on the simulated reader; ErrNoSimulatedReader
	// when the reader is real or absent.
	TapCard(uid []byte) error
}

// ErrNoSimulatedReader: a card can only be tapped through the API on the
// simulated reader.
var ErrNoSimulatedReader = errors.New("the station's reader is not simulated (rfid.driver is not sim)")

// StationStatus is the station's reader and display, and what it shows.
type StationStatus struct {
	// Reader and Display are the devices' health; null: none configured.
	Reader  *rfid.Status `json:"reader"`
	Display *lcd.Status  `json:"display"`
	// Lines is what the display shows (or would show, without one).
	Lines []string `json:"lines"`
	// SimulatedReader says whether cards may be tapped through the API.
	SimulatedReader bool `json:"simulatedReader"`
}

// Limits of GET /api/v1/taps.
const (
	DefaultTapLimit = 50
	MaxTapLimit     = 1000
)

// Options configures the API.
type Options struct {
	// Domain serves the reads and token writes. Required.
	Domain Domain
	// Commander sends commands to chargers; nil answers every command 503.
	Commander Commander
	// Sync reports the cloud sync's state; nil: the appliance does not sync.
	Sync SyncStatus
	// LocalList reports the chargers' local lists; nil: they are not sent.
	LocalList LocalListStatus
	// Station is the station's reader and display; nil: none.
	Station Station
	// Network controls the access point and the uplinks; nil: the
	// appliance leaves the network alone.
	Network Network
	// Ready reports whether the appliance is up (for /healthz); nil: always ready.
	Ready func() bool
	// Logger receives the API's logs; nil discards them.
	Logger *slog.Logger
}

// Server is the operator API's http.Handler. It is safe for concurrent use.
type Server struct {
	domain  Domain
	cmd     Commander
	sync    SyncStatus
	lists   LocalListStatus
	station Station
	network Network
	ready   func() bool
	log     *slog.Logger
	mux     *http.ServeMux
}

var _ http.Handler = (*Server)(nil)

// New returns the API handler. It fails only when opts.Domain is nil.
func New(opts Options) (*Server, error) {
	if opts.Domain == nil {
		return nil, errors.New("api: Options.Domain is nil")
	}
	s := &Server{
		domain:  opts.Domain,
		cmd:     opts.Commander,
		sync:    opts.Sync,
		lists:   opts.LocalList,
		station: opts.Station,
		network: opts.Network,
		ready:   opts.Ready,
		log:     opts.Logger,
		mux:     http.NewServeMux(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.ready == nil {
		s.ready = func() bool { return true }
	}
	s.routes()
	return s, nil
}

// route is one endpoint: a net/http pattern and its handler.
type route struct {
	pattern string
	handler func(*Server, http.ResponseWriter, *http.Request) error
}

// routeTable lists every endpoint; docs/api.md and docs/openapi.yaml
// describe each of them (a test checks).
var routeTable = []route{
	{"GET /healthz", (*Server).healthz},
	{"GET /api/v1/chargers", (*Server).listChargers},
	{"GET /api/v1/chargers/{id}", (*Server).getCharger},
	{"GET /api/v1/chargers/{id}/variables", (*Server).listVariables},
	{"POST /api/v1/chargers/{id}/commands/{command}", (*Server).executeCommand},
	{"POST /api/v1/chargers/{id}/ocpp/{action}", (*Server).sendCommand},
	{"GET /api/v1/transactions", (*Server).listTransactions},
	{"GET /api/v1/transactions/{id}", (*Server).getTransaction},
	{"GET /api/v1/tokens", (*Server).listTokens},
	{"GET /api/v1/local-list", (*Server).localListStatus},
	{"PUT /api/v1/tokens/{id}", (*Server).putToken},
	{"DELETE /api/v1/tokens/{id}", (*Server).deleteToken},
	{"POST /api/v1/tokens/{id}/block", (*Server).blockToken},
	{"GET /api/v1/reservations", (*Server).listReservations},
	{"GET /api/v1/sync", (*Server).syncStatus},
	{"GET /api/v1/station", (*Server).stationStatus},
	{"POST /api/v1/station/tap", (*Server).tapCard},
	{"GET /api/v1/taps", (*Server).listTaps},
	{"GET /api/v1/network", (*Server).networkStatus},
	{"PUT /api/v1/network", (*Server).putNetwork},
	{"GET /api/v1/network/clients", (*Server).networkClients},
}

func (s *Server) routes() {
	for _, rt := range routeTable {
		s.mux.Handle(rt.pattern, s.wrap(func(w http.ResponseWriter, r *http.Request) error { return rt.handler(s, w, r) }))
	}
	s.mux.HandleFunc("GET /station", servePage(stationPage))
	s.mux.HandleFunc("GET /network", servePage(networkPage))
	s.mux.Handle("GET /metrics", s.wrap(func(w http.ResponseWriter, r *http.Request) error { return s.metrics(w, r) }))
}

// The local pages: the station (the display as it shows now, the
// devices, the last taps, a form that taps a card on the simulated
// reader) and the network (its state, the settings form, the access
// point's devices). They only use the JSON API; nothing is rendered from
// input on the server.
var (
	//go:embed web/station.html
	stationPage []byte
	//go:embed web/network.html
	networkPage []byte
)

// servePage serves an embedded page, kept to the appliance's own API.
func servePage(page []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(page)
	}
}

// ServeHTTP routes r. Unknown paths are answered 404 and known paths with
// the wrong method 405 (with Allow), both as JSON.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	// No route: the mux's own answer is plain text; keep its status and
	// Allow header, answer JSON.
	rec := &headerRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if allow := rec.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	if rec.status == http.StatusMethodNotAllowed {
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path))
		return
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no such path %s", r.URL.Path))
}

// headerRecorder keeps the status and headers of the mux's fallback handlers.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header         { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerRecorder) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}

// wrap turns a handler that returns an error into an http.Handler that
// answers the error as JSON and never lets a panic escape.
func (s *Server) wrap(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

// httpError is an error with the status and message the client sees.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// statusOf maps an error to the status and message the client sees. The
// message of an unexpected error is generic; its detail is only logged.
func statusOf(err error) (int, string) {
	var he *httpError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", tooBig.Limit)
	case errors.Is(err, charging.ErrInvalidCommand), errors.Is(err, charging.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, charging.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, charging.ErrNotConnected), errors.Is(err, ErrNoSimulatedReader):
		return http.StatusConflict, err.Error()
	case errors.Is(err, charging.ErrNoAnswer):
		return http.StatusGatewayTimeout, err.Error()
	case errors.Is(err, charging.ErrChargerError):
		return http.StatusBadGateway, err.Error()
	}
	return http.StatusInternalServerError, "internal error"
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := statusOf(err)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	} else {
		s.log.DebugContext(r.Context(), "request refused", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	writeError(w, status, msg)
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// writeJSON answers v as JSON. v must be encodable (the handlers only pass
// domain types and checked raw JSON).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
