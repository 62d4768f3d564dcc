package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
)

// anySession signs every cookie in as an admin.
type anySession struct{}

func (anySession) WebSession(context.Context, string) (fleet.WebSession, error) {
	return fleet.WebSession{User: fleet.User{ID: "u1", Name: "ada", Role: auth.Admin}, CSRF: "c"}, nil
}
func (anySession) DeleteWebSession(context.Context, string) error { return nil }

// A live page outlives the server's read timeout (the watchtower's is a
// minute): net/http lifts the read deadline once the request is read,
// and the stream keeps sending after it.
func TestLiveStreamOutlivesReadTimeout(t *testing.T) {
	n := 0
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++ // a new site at each look: every check sends an event
		_ = json.NewEncoder(w).Encode(fleet.Overview{Sites: []fleet.SiteSummary{{ID: strings.Repeat("s", n%50+1)}}})
	})
	d, err := New(Options{API: api, Sessions: anySession{}, LiveEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(d)
	srv.Config.ReadTimeout = 200 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: "secret"})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	start := time.Now()
	events := 0
	for time.Since(start) < time.Second && sc.Scan() {
		if sc.Text() == "event: live" {
			events++
		}
	}
	if time.Since(start) < time.Second {
		t.Fatalf("the stream ended after %v (%d events, %v): want it past the 200 ms read timeout", time.Since(start), events, sc.Err())
	}
}
