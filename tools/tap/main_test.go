package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestTap: the UID goes to the API as JSON; its answer or error is shown.
func TestTap(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = r.Method + " " + r.URL.Path + " " + string(b)
		if strings.Contains(string(b), "bad") {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"uid: not hex"}`)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"uid":"04A1B2C3"}`)
	}))
	defer srv.Close()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-api", srv.URL + "/", "04:a1:b2:c3"}, &out); err != nil {
		t.Fatal(err)
	}
	if got != `POST /api/v1/station/tap {"uid":"04:a1:b2:c3"}` || out.String() != "tapped 04A1B2C3\n" {
		t.Errorf("sent %q, printed %q", got, out.String())
	}
	if err := run(context.Background(), []string{"-api", srv.URL, "bad"}, &out); err == nil || !strings.Contains(err.Error(), "400 Bad Request: uid: not hex") {
		t.Errorf("bad uid: %v", err)
	}
	if err := run(context.Background(), nil, &out); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("no uid: %v", err)
	}
}
