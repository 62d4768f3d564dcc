package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/constellation-ev/constellation/syncproto"
)

// maxBody bounds a request body: a full authorization list of the
// largest size syncproto carries fits.
const maxBody = 8 << 20

// decode reads exactly one JSON object of type T, refusing unknown
// fields and trailing data.
func decode[T any](data []byte) (T, error) {
	var v T
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("invalid JSON body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return v, errors.New("invalid JSON body: data after the object")
	}
	return v, nil
}

// readBody reads a request body of at most maxBody bytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, fmt.Errorf("body larger than %d bytes", maxBody)
	}
	return data, err
}

// Request bodies.

type enrollRequest struct {
	Site  string `json:"site"`
	Token string `json:"token"`
	// Password, when given, is the MQTT password the appliance chose for
	// itself (a pointer: an empty one is refused, not taken as absent).
	Password *string `json:"password"`
}

type createSiteRequest struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type tokenRequest struct {
	// TTL is a Go duration ("24h"); empty: DefaultTokenTTL.
	TTL string `json:"ttl"`
}

type desiredRequest struct {
	Settings map[string]string `json:"settings"`
}

type authListRequest struct {
	Entries []syncproto.AuthEntry `json:"entries"`
}

type authChangeRequest struct {
	Put    []syncproto.AuthEntry `json:"put"`
	Remove []string              `json:"remove"`
}

type commandRequest struct {
	Charger string          `json:"charger"`
	Command string          `json:"command"`
	Args    json.RawMessage `json:"args"`
	// Deadline, or Timeout (a Go duration from now; default
	// DefaultCommandTimeout).
	Deadline time.Time `json:"deadline"`
	Timeout  string    `json:"timeout"`
}

// checkEntries checks entries as the appliance will (syncproto's rules).
func checkEntries(site string, put []syncproto.AuthEntry, remove []string) error {
	m := syncproto.AuthList{Header: syncproto.Header{Version: syncproto.Version, Site: site, Time: time.Unix(1, 0)},
		Version: 2, BaseVersion: 1, Entries: put, Removed: remove}
	return m.Validate()
}

type createUserRequest struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Role        string `json:"role"`
	// Password, when absent, is generated and returned once.
	Password *string `json:"password"`
}

type patchUserRequest struct {
	DisplayName *string `json:"displayName"`
	Role        *string `json:"role"`
	Disabled    *bool   `json:"disabled"`
}

type passwordRequest struct {
	// OldPassword is needed to change one's own password (not an
	// admin's change of another's).
	OldPassword string `json:"oldPassword"`
	Password    string `json:"password"`
}

type apiTokenRequest struct {
	Name string `json:"name"`
	// Role defaults to the caller's.
	Role string `json:"role"`
	// Expires, or TTL (a Go duration); neither: no expiry.
	Expires time.Time `json:"expires"`
	TTL     string    `json:"ttl"`
}
