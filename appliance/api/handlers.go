package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/cloudsync"
	"github.com/constellation-ev/constellation/appliance/locallist"
)

// Answer bodies. Lists are wrapped in an object so that fields can be added
// later without breaking clients.

// ChargerList answers GET /api/v1/chargers.
type ChargerList struct {
	Chargers []charging.Charger `json:"chargers"`
}

// VariableList answers GET /api/v1/chargers/{id}/variables: the OCPP 2.x
// device model the charger reported, one entry per attribute, ordered by
// key.
type VariableList struct {
	Variables []Variable `json:"variables"`
}

// Variable is one device model attribute under its configuration key.
type Variable struct {
	Key string `json:"key"`
	charging.VariableReport
}

// TransactionList answers GET /api/v1/transactions. NextAfter, when set, is
// the after= value of the next page.
type TransactionList struct {
	Transactions []charging.Transaction `json:"transactions"`
	NextAfter    int64                  `json:"nextAfter,omitempty"`
}

// TransactionDetail answers GET /api/v1/transactions/{id}.
type TransactionDetail struct {
	Transaction charging.Transaction    `json:"transaction"`
	Readings    []charging.MeterReading `json:"readings"`
}

// TokenList answers GET /api/v1/tokens.
type TokenList struct {
	Tokens []charging.IDToken `json:"tokens"`
}

// ReservationList answers GET /api/v1/reservations.
type ReservationList struct {
	Reservations []charging.Reservation `json:"reservations"`
}

// CommandResult answers POST /api/v1/chargers/{id}/ocpp/{action}:
// Response is the charger's CALLRESULT payload as it sent it.
type CommandResult struct {
	Action   string          `json:"action"`
	Response json.RawMessage `json:"response"`
}

// Health answers GET /healthz.
type Health struct {
	Status string `json:"status"`
	// Reader and Display are the station's devices' states (ok, missing,
	// failing, ...), absent when not configured; Sync is connected or
	// offline, absent when the appliance does not sync. None of them
	// makes the appliance unhealthy: charging goes on without them.
	Reader  string `json:"reader,omitempty"`
	Display string `json:"display,omitempty"`
	Sync    string `json:"sync,omitempty"`
	// Network is ok or unreachable (NetworkManager), and Uplink the
	// uplink's connectivity; absent when the appliance leaves the
	// network alone.
	Network string `json:"network,omitempty"`
	Uplink  string `json:"uplink,omitempty"`
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	if !s.ready() {
		writeJSON(w, http.StatusServiceUnavailable, Health{Status: "starting"})
		return nil
	}
	h := Health{Status: "ok"}
	if s.station != nil {
		st := s.station.StationStatus()
		if st.Reader != nil {
			h.Reader = string(st.Reader.State)
		}
		if st.Display != nil {
			h.Display = string(st.Display.State)
		}
	}
	if s.network != nil {
		st := s.network.Status(r.Context())
		h.Network, h.Uplink = "unreachable", string(st.Uplink.Connectivity)
		if st.Reachable {
			h.Network = "ok"
		}
	}
	if s.sync != nil {
		h.Sync = "offline"
		if st, err := s.sync.Status(); err == nil && st.Connected {
			h.Sync = "connected"
		}
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) listChargers(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.domain.Chargers(r.Context())
	if err != nil {
		return fmt.Errorf("list chargers: %w", err)
	}
	for i := range cs {
		cs[i].Connectors = nonNil(cs[i].Connectors)
	}
	writeJSON(w, http.StatusOK, ChargerList{Chargers: nonNil(cs)})
	return nil
}

func (s *Server) getCharger(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	c, err := s.domain.Charger(r.Context(), charging.ChargerID(id))
	if err != nil {
		return notFoundAs(err, fmt.Sprintf("charger %s not found", quote(id)))
	}
	c.Connectors = nonNil(c.Connectors)
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) listVariables(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	vars, err := s.domain.Variables(r.Context(), charging.ChargerID(id))
	if err != nil {
		return notFoundAs(err, fmt.Sprintf("charger %s not found", quote(id)))
	}
	out := VariableList{Variables: make([]Variable, len(vars))}
	for i, v := range vars {
		out.Variables[i] = Variable{Key: charging.ConfigKey(v), VariableReport: v}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// notFoundAs gives a domain ErrNotFound a message of the API's own (the
// domain's names its package); other errors pass unchanged.
func notFoundAs(err error, msg string) error {
	if isNotFound(err) {
		return &httpError{status: http.StatusNotFound, msg: msg}
	}
	return err
}

func (s *Server) listTransactions(w http.ResponseWriter, r *http.Request) error {
	q, err := parseTransactionQuery(r.URL.Query())
	if err != nil {
		return err
	}
	// One more than asked tells whether there is a next page.
	txs, err := s.domain.Transactions(r.Context(), charging.TransactionFilter{
		ChargerID: q.ChargerID, ActiveOnly: q.ActiveOnly, Limit: q.Limit + 1, After: q.After,
	})
	if err != nil {
		return fmt.Errorf("list transactions: %w", err)
	}
	out := TransactionList{Transactions: nonNil(txs)}
	if len(txs) > q.Limit {
		out.Transactions = txs[:q.Limit]
		out.NextAfter = txs[q.Limit-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getTransaction(w http.ResponseWriter, r *http.Request) error {
	id, err := parseTransactionID(r.PathValue("id"))
	if err != nil {
		return err
	}
	tx, readings, err := s.domain.Transaction(r.Context(), id)
	if err != nil {
		return notFoundAs(err, fmt.Sprintf("transaction %d not found", id))
	}
	writeJSON(w, http.StatusOK, TransactionDetail{Transaction: tx, Readings: nonNil(readings)})
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.domain.Tokens(r.Context())
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	writeJSON(w, http.StatusOK, TokenList{Tokens: nonNil(ts)})
	return nil
}

// findToken returns the cached token id, if any.
func (s *Server) findToken(ctx context.Context, id string) (charging.IDToken, bool, error) {
	ts, err := s.domain.Tokens(ctx)
	if err != nil {
		return charging.IDToken{}, false, fmt.Errorf("list tokens: %w", err)
	}
	for _, t := range ts {
		if t.ID == id {
			return t, true, nil
		}
	}
	return charging.IDToken{}, false, nil
}

// storeToken writes t and answers the stored token (with its UpdatedAt).
func (s *Server) storeToken(w http.ResponseWriter, r *http.Request, t charging.IDToken) error {
	if err := s.domain.PutToken(r.Context(), t); err != nil {
		return fmt.Errorf("put token: %w", err)
	}
	s.log.InfoContext(r.Context(), "token written", "token", t.ID, "status", t.Status)
	stored, ok, err := s.findToken(r.Context(), t.ID)
	if err != nil {
		return err
	}
	if !ok { // deleted concurrently; answer what was written
		stored = t
	}
	writeJSON(w, http.StatusOK, stored)
	return nil
}

func (s *Server) putToken(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	t, err := decodeToken(r.PathValue("id"), body)
	if err != nil {
		return err
	}
	return s.storeToken(w, r, t)
}

// blockToken sets a token's status to Blocked, keeping its expiry and
// parent; an unknown token is added as Blocked (a card seen at a charger
// can be blocked before it is ever cached).
func (s *Server) blockToken(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	t, _, err := s.findToken(r.Context(), id)
	if err != nil {
		return err
	}
	t.ID, t.Status, t.Source = id, charging.AuthBlocked, TokenSource
	return s.storeToken(w, r, t)
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, ok, err := s.findToken(r.Context(), id); err != nil {
		return err
	} else if !ok {
		return &httpError{status: http.StatusNotFound, msg: fmt.Sprintf("token %s not found", quote(id))}
	}
	if err := s.domain.DeleteToken(r.Context(), id); err != nil {
		return fmt.Errorf("delete token: %w", err)
	}
	s.log.InfoContext(r.Context(), "token deleted", "token", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listReservations(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.domain.Reservations(r.Context())
	if err != nil {
		return fmt.Errorf("list reservations: %w", err)
	}
	writeJSON(w, http.StatusOK, ReservationList{Reservations: nonNil(rs)})
	return nil
}

// executeCommand sends a version-neutral command; the answer is a
// charging.CommandReply.
func (s *Server) executeCommand(w http.ResponseWriter, r *http.Request) error {
	charger := charging.ChargerID(r.PathValue("id"))
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	cmd, err := decodeCommand(r.PathValue("command"), body)
	if err != nil {
		return err
	}
	if s.cmd == nil {
		return &httpError{status: http.StatusServiceUnavailable, msg: "commands are not available"}
	}
	s.log.InfoContext(r.Context(), "command", "charger", charger, "command", cmd.Kind)
	reply, err := s.cmd.Execute(r.Context(), charger, cmd)
	if err != nil {
		s.log.InfoContext(r.Context(), "command failed", "charger", charger, "command", cmd.Kind, "err", err)
		return fmt.Errorf("command %s to %s: %w", cmd.Kind, charger, err)
	}
	if len(reply.Response) == 0 || !json.Valid(reply.Response) {
		return fmt.Errorf("command %s to %s: commander returned invalid JSON", cmd.Kind, charger)
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}

func (s *Server) sendCommand(w http.ResponseWriter, r *http.Request) error {
	charger, action := charging.ChargerID(r.PathValue("id")), r.PathValue("action")
	if err := validAction(action); err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	payload, err := decodeCommandPayload(body)
	if err != nil {
		return err
	}
	if s.cmd == nil {
		return &httpError{status: http.StatusServiceUnavailable, msg: "commands are not available"}
	}
	s.log.InfoContext(r.Context(), "command", "charger", charger, "action", action)
	resp, err := s.cmd.Send(r.Context(), charger, action, payload)
	if err != nil {
		s.log.InfoContext(r.Context(), "command failed", "charger", charger, "action", action, "err", err)
		return fmt.Errorf("command %s to %s: %w", action, charger, err)
	}
	if len(resp) == 0 {
		resp = json.RawMessage(`{}`)
	}
	if !json.Valid(resp) {
		return fmt.Errorf("command %s to %s: commander returned invalid JSON", action, charger)
	}
	writeJSON(w, http.StatusOK, CommandResult{Action: action, Response: resp})
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, charging.ErrNotFound) }

// localListStatus answers how the chargers' local authorization lists
// follow the cache: {"enabled":false,...} when they are not sent.
func (s *Server) localListStatus(w http.ResponseWriter, _ *http.Request) error {
	answer := localList{Status: locallist.Status{Chargers: []locallist.ChargerState{}}}
	if s.lists != nil {
		answer = localList{Enabled: true, Status: s.lists.Status()}
	}
	writeJSON(w, http.StatusOK, answer)
	return nil
}

// localList is GET /api/v1/local-list's answer.
type localList struct {
	Enabled bool `json:"enabled"`
	locallist.Status
}

// stationStatus answers the station's reader and display:
// {"reader":null,"display":null,...} when it has none.
func (s *Server) stationStatus(w http.ResponseWriter, _ *http.Request) error {
	st := StationStatus{Lines: []string{}}
	if s.station != nil {
		st = s.station.StationStatus()
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// tapCard taps a card on the simulated reader: the station handles it as
// a driver's tap. 202: the reader has it.
func (s *Server) tapCard(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	uid, err := decodeTap(body)
	if err != nil {
		return err
	}
	if s.station == nil {
		return ErrNoSimulatedReader
	}
	if err := s.station.TapCard(uid); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, tapBody{UID: fmt.Sprintf("%X", uid)})
	return nil
}

// listTaps answers the last taps on the station's reader, newest first.
func (s *Server) listTaps(w http.ResponseWriter, r *http.Request) error {
	limit, err := parseTapQuery(r.URL.Query())
	if err != nil {
		return err
	}
	taps, err := s.domain.Taps(r.Context(), limit)
	if err != nil {
		return fmt.Errorf("list taps: %w", err)
	}
	writeJSON(w, http.StatusOK, TapList{Taps: nonNil(taps)})
	return nil
}

// TapList is GET /api/v1/taps's answer.
type TapList struct {
	Taps []charging.Tap `json:"taps"`
}

// syncStatus answers the state of the cloud sync: {"enabled":false} when
// the appliance does not sync.
func (s *Server) syncStatus(w http.ResponseWriter, _ *http.Request) error {
	if s.sync == nil {
		writeJSON(w, http.StatusOK, cloudsync.Status{})
		return nil
	}
	st, err := s.sync.Status()
	if err != nil {
		return fmt.Errorf("sync status: %w", err)
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}
