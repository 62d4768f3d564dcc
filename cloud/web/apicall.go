package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/constellation-ev/constellation/cloud/api"
)

// apiError is an API answer of status 400 or more, with its message.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Message) }

// statusOr is e's status, or def for no API error.
func (e *apiError) statusOr(def int) int {
	if e == nil {
		return def
	}
	return e.Status
}

// answer is an API response served in the process.
type answer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

var _ http.ResponseWriter = (*answer)(nil)

func (a *answer) Header() http.Header { return a.header }
func (a *answer) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
}
func (a *answer) Write(b []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	return a.body.Write(b)
}

// call serves an API request in the process as v's user (nil: no user;
// with modify setting credentials, say): in is the JSON body (nil:
// none; an io.Reader: sent as it is), out receives the JSON answer. An
// answer of 400 or more is an *apiError with the API's message.
func (d *Dashboard) call(r *http.Request, v *visitor, method, path string, query url.Values, in, out any, modify ...func(*http.Request)) error {
	var body io.Reader
	switch in := in.(type) {
	case nil:
	case io.Reader:
		body = in
	default:
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("web: %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := d.apiRequest(r, v, method, path, query, body)
	if err != nil {
		return err
	}
	for _, m := range modify {
		m(req)
	}
	a := &answer{header: http.Header{}}
	d.API.ServeHTTP(a, req)
	if a.status >= 400 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(a.body.Bytes(), &e) != nil || e.Error == "" {
			e.Error = http.StatusText(a.status)
		}
		return &apiError{Status: a.status, Message: e.Error}
	}
	if out == nil || a.status == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(a.body.Bytes(), out); err != nil {
		return fmt.Errorf("web: %s %s: reading the answer: %w", method, path, err)
	}
	return nil
}

// apiRequest is the in-process API request of a dashboard request: its
// context (carrying v's user), remote address (for the rate limits)
// and request id.
func (d *Dashboard) apiRequest(r *http.Request, v *visitor, method, path string, query url.Values, body io.Reader) (*http.Request, error) {
	ctx := r.Context()
	if v != nil {
		ctx = api.AsSignedIn(ctx, v.principal)
	}
	target := path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, fmt.Errorf("web: %s %s: %w", method, path, err)
	}
	req.RemoteAddr = r.RemoteAddr
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// proxy serves an API request in the process straight to w (a CSV
// export, streamed).
func (d *Dashboard) proxy(w http.ResponseWriter, r *http.Request, v *visitor, path string, query url.Values) {
	req, err := d.apiRequest(r, v, http.MethodGet, path, query, nil)
	if err != nil {
		d.fail(w, r, v, http.StatusInternalServerError, err.Error())
		return
	}
	d.API.ServeHTTP(w, req)
}
