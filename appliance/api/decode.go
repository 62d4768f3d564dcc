package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/internal/jsonin"
	"github.com/constellation-ev/constellation/appliance/rfid"
)

// Decoders of outside input. Each returns an *httpError (400) whose message
// names the offending field or parameter.

// readBody reads r's body, at most MaxBodyBytes; beyond it the error is an
// *http.MaxBytesError (answered 413).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, err
		}
		return nil, badRequest("body: %v", err)
	}
	return b, nil
}

// tokenBody is the PUT /api/v1/tokens/{id} body.
type tokenBody struct {
	Status   string `json:"status"`
	Expiry   string `json:"expiry"`
	ParentID string `json:"parentId"`
}

// decodeToken decodes a token PUT body for token id. Unknown fields are
// refused so that a misspelt field is not silently dropped.
func decodeToken(id string, body []byte) (charging.IDToken, error) {
	var b tokenBody
	if err := decodeObject(body, &b); err != nil {
		return charging.IDToken{}, err
	}
	t := charging.IDToken{ID: id, Status: charging.AuthStatus(b.Status), ParentID: b.ParentID, Source: TokenSource}
	switch t.Status {
	case charging.AuthAccepted, charging.AuthBlocked, charging.AuthExpired, charging.AuthInvalid:
	case "":
		return charging.IDToken{}, badRequest("status: required (one of Accepted, Blocked, Expired, Invalid)")
	default:
		return charging.IDToken{}, badRequest("status: %s is not one of Accepted, Blocked, Expired, Invalid", quote(b.Status))
	}
	if b.Expiry != "" {
		exp, err := time.Parse(time.RFC3339, b.Expiry)
		if err != nil {
			return charging.IDToken{}, badRequest("expiry: %s is not an RFC 3339 time", quote(b.Expiry))
		}
		t.Expiry = exp
	}
	if len(b.ParentID) > 255 {
		return charging.IDToken{}, badRequest("parentId: longer than 255 bytes")
	}
	return t, nil
}

// decodeObject decodes body, which must be exactly one JSON object, into v
// (a pointer to a struct), refusing unknown fields.
func decodeObject(body []byte, v any) error {
	if err := jsonin.DecodeObject(body, v); err != nil {
		return badRequest("%s", err)
	}
	return nil
}

// describeJSONError turns an encoding/json error into a 400 naming the field.
func describeJSONError(err error) error { return badRequest("%s", jsonin.Describe(err)) }

// decodeCommandPayload checks a command body: one JSON object, returned
// without surrounding space. An empty body is the empty object.
func decodeCommandPayload(body []byte) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if trimmed[0] != '{' {
		return nil, badRequest("body: want a JSON object (the OCPP request payload)")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &m); err != nil {
		return nil, describeJSONError(err)
	}
	return json.RawMessage(trimmed), nil
}

// decodeCommand decodes the body of command kind (an empty body is {})
// and validates it (charging.ParseCommand): 404 for an unknown command,
// 400 naming the field otherwise.
func decodeCommand(kind string, body []byte) (charging.Command, error) {
	cmd, err := charging.ParseCommand(kind, body)
	switch {
	case errors.Is(err, charging.ErrUnknownCommand):
		return charging.Command{}, &httpError{status: http.StatusNotFound,
			msg: "command: " + withoutSentinel(err, charging.ErrUnknownCommand) + " (OCPP actions are sent with /ocpp/{action})"}
	case err != nil:
		return charging.Command{}, badRequest("%s", withoutSentinel(err, charging.ErrInvalidCommand))
	}
	return cmd, nil
}

// withoutSentinel is err's message without the text of the sentinel it
// starts with: the rest names the field.
func withoutSentinel(err, sentinel error) string {
	return strings.TrimPrefix(err.Error(), sentinel.Error()+": ")
}

// validAction reports whether action looks like an OCPP action name.
func validAction(action string) error {
	if action == "" || len(action) > 64 {
		return badRequest("action: want 1 to 64 letters and digits")
	}
	for _, c := range action {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return badRequest("action: %s: want letters and digits only", quote(action))
		}
	}
	return nil
}

// transactionQuery is the parsed GET /api/v1/transactions query. Limit is
// the page size the client gets (the domain is asked for one more to know
// whether another page exists).
type transactionQuery struct {
	ChargerID  charging.ChargerID
	ActiveOnly bool
	Limit      int
	After      int64
}

// parseTransactionQuery parses charger, active, limit and after. Unknown
// and repeated parameters are refused.
func parseTransactionQuery(q url.Values) (transactionQuery, error) {
	out := transactionQuery{Limit: DefaultTransactionLimit}
	for name, vs := range q {
		switch name {
		case "charger", "active", "limit", "after":
		default:
			return transactionQuery{}, badRequest("%s: unknown query parameter (want charger, active, limit, after)", quote(name))
		}
		if len(vs) != 1 {
			return transactionQuery{}, badRequest("%s: given %d times", name, len(vs))
		}
	}
	if vs, ok := q["charger"]; ok {
		v := vs[0]
		switch {
		case v == "":
			return transactionQuery{}, badRequest("charger: empty")
		case len(v) > 255:
			return transactionQuery{}, badRequest("charger: longer than 255 bytes")
		case !utf8.ValidString(v):
			return transactionQuery{}, badRequest("charger: not UTF-8")
		}
		out.ChargerID = charging.ChargerID(v)
	}
	if vs, ok := q["active"]; ok {
		switch vs[0] {
		case "true":
			out.ActiveOnly = true
		case "false":
		default:
			return transactionQuery{}, badRequest("active: %s: want true or false", quote(vs[0]))
		}
	}
	if vs, ok := q["limit"]; ok {
		n, err := parseLimit(vs[0], MaxTransactionLimit)
		if err != nil {
			return transactionQuery{}, err
		}
		out.Limit = n
	}
	if vs, ok := q["after"]; ok {
		n, err := strconv.ParseInt(vs[0], 10, 64)
		if err != nil || n < 1 {
			return transactionQuery{}, badRequest("after: %s: want a positive transaction id", quote(vs[0]))
		}
		out.After = n
	}
	return out, nil
}

// parseLimit parses a limit query parameter, 1 to most.
func parseLimit(v string, most int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, badRequest("limit: %s: want an integer from 1 to %d", quote(v), most)
	}
	return n, nil
}

// parseTapQuery parses GET /api/v1/taps's one parameter, limit.
func parseTapQuery(q url.Values) (int, error) {
	limit := DefaultTapLimit
	for name, vs := range q {
		if name != "limit" {
			return 0, badRequest("%s: unknown query parameter (want limit)", quote(name))
		}
		if len(vs) != 1 {
			return 0, badRequest("%s: given %d times", name, len(vs))
		}
		n, err := parseLimit(vs[0], MaxTapLimit)
		if err != nil {
			return 0, err
		}
		limit = n
	}
	return limit, nil
}

// tapBody is the POST /api/v1/station/tap body.
type tapBody struct {
	UID string `json:"uid"`
}

// decodeTap decodes a simulated tap: the card's UID in hex (4, 7 or 10
// bytes, separators allowed).
func decodeTap(body []byte) ([]byte, error) {
	var b tapBody
	if err := decodeObject(body, &b); err != nil {
		return nil, err
	}
	if b.UID == "" {
		return nil, badRequest("uid: required (the card's UID in hex, e.g. \"04A1B2C3\")")
	}
	uid, err := rfid.ParseUID(b.UID)
	if err != nil {
		return nil, badRequest("uid: %v", err)
	}
	return uid, nil
}

// quote quotes client input for an error message, cut short.
func quote(s string) string { return jsonin.Quote(s) }

// parseTransactionID parses the {id} of /api/v1/transactions/{id}.
func parseTransactionID(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, badRequest("id: %s: want a positive transaction id", quote(s))
	}
	return n, nil
}

var _ error = (*httpError)(nil)
