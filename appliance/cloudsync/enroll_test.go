package cloudsync

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// enrollRequest is what the fake watchtower received.
type enrollRequest struct {
	Site, Token, Password string
}

// fakeTower is a watchtower's enrollment endpoint on loopback: each
// request gets the next of answers, then the last one for good.
type fakeTower struct {
	*httptest.Server
	got chan enrollRequest

	mu      sync.Mutex
	answers []func(w http.ResponseWriter, req enrollRequest)
	count   int
}

func newFakeTower(t *testing.T, answers ...func(w http.ResponseWriter, req enrollRequest)) *fakeTower {
	t.Helper()
	f := &fakeTower{got: make(chan enrollRequest, 1000), answers: answers}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req enrollRequest
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/enroll" || json.NewDecoder(r.Body).Decode(&req) != nil {
			t.Errorf("%s %s: not an enrollment", r.Method, r.URL)
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		f.mu.Lock()
		answer := f.answers[min(f.count, len(f.answers)-1)]
		f.count++
		f.mu.Unlock()
		answer(w, req)
		select {
		case f.got <- req:
		default: // a test that stopped listening
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeTower) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// next waits for the next request the tower answered.
func (f *fakeTower) next(t *testing.T) enrollRequest {
	t.Helper()
	select {
	case r := <-f.got:
		return r
	case <-time.After(2 * time.Minute):
		t.Fatal("no enrollment request")
		return enrollRequest{}
	}
}

func answer(status int, body string) func(http.ResponseWriter, enrollRequest) {
	return func(w http.ResponseWriter, _ enrollRequest) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// enrolled is the watchtower's answer to an appliance that chose its password.
func enrolled(w http.ResponseWriter, req enrollRequest) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"site": req.Site, "username": req.Site})
}

// lost takes the request and drops the connection without an answer,
// as a link failing after the watchtower committed the enrollment.
func lost(w http.ResponseWriter, _ enrollRequest) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// enrollFiles are an appliance's enrollment files in a temp dir.
type enrollFiles struct {
	dir, password, pending, token string
}

const testToken = "enrollment-token-for-tests-0123456789"

func newEnrollFiles(t *testing.T) enrollFiles {
	t.Helper()
	dir := t.TempDir()
	f := enrollFiles{dir: dir, password: filepath.Join(dir, "state", "mqtt-password"), token: filepath.Join(dir, "boot", "token")}
	f.pending = f.password + PendingSuffix
	must(t, os.MkdirAll(filepath.Dir(f.token), 0o700))
	must(t, os.WriteFile(f.token, []byte(testToken+"\n"), 0o600))
	return f
}

func (f enrollFiles) options(tower string) func(*Options) {
	return func(o *Options) {
		o.PasswordFile, o.EnrollURL, o.EnrollTokenFile = f.password, tower, f.token
	}
}

// read returns a file's content (trimmed) and mode.
func read(t *testing.T, path string) (string, fs.FileMode) {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	st, err := os.Stat(path)
	must(t, err)
	return strings.TrimSpace(string(data)), st.Mode().Perm()
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// The password is chosen and stored before the first request and
// survives failures and a restart: every request carries the same one.
// An answer that is not the watchtower's, a 503 and a lost answer are
// retried; once accepted, the password is the password file (0600),
// the token file is gone, and a restart never asks again.
func TestEnrollmentFiles(t *testing.T) {
	tower := newFakeTower(t, answer(http.StatusOK, "<html>captive portal</html>"), answer(http.StatusServiceUnavailable, `{"error":"busy"}`))
	files := newEnrollFiles(t)
	e := newEnv(t, "", files.options(tower.URL))
	if e.client.enroller == nil {
		t.Fatal("no enroller without a password file")
	}
	e.run(t)
	first := tower.next(t)
	if first.Site != e.opts.Site || first.Token != testToken || len(first.Password) != 2*passwordBytes {
		t.Fatalf("request %+v", first)
	}
	pending, mode := read(t, files.pending)
	if pending != first.Password || mode != 0o600 {
		t.Fatalf("pending file %q mode %v, want the password sent, 0600", pending, mode)
	}
	if tower.next(t).Password != first.Password {
		t.Fatal("the retry asked with another password")
	}
	st := e.waitStatus(t, "the 503 in the status", func(s Status) bool { return strings.Contains(s.LastError, "busy") })
	if st.Enrollment != EnrollmentEnrolling || st.Connected || exists(files.password) {
		t.Fatalf("status %+v, password file there: %v", st, exists(files.password))
	}

	// A restart before any acceptance: the same pending password.
	e.close(t)
	tower.mu.Lock()
	tower.answers, tower.count = []func(http.ResponseWriter, enrollRequest){lost, enrolled}, 0
	tower.mu.Unlock()
	for len(tower.got) > 0 { // what was answered before the restart
		<-tower.got
	}
	e.open(t)
	e.run(t)
	for range 2 {
		if r := tower.next(t); r.Password != first.Password || r.Token != testToken {
			t.Fatalf("after the restart: %+v", r)
		}
	}
	e.waitStatus(t, "enrolled", func(s Status) bool { return s.Enrollment == EnrollmentEnrolled })
	password, mode := read(t, files.password)
	if password != first.Password || mode != 0o600 {
		t.Fatalf("password file %q mode %v, want the pending password, 0600", password, mode)
	}
	if exists(files.pending) || exists(files.token) {
		t.Fatalf("pending file there: %v, token file there: %v", exists(files.pending), exists(files.token))
	}
	if string(e.client.password) != first.Password {
		t.Fatal("the client does not use the new password")
	}
	if logs := e.logs.String(); strings.Contains(logs, testToken) || strings.Contains(logs, first.Password) {
		t.Fatalf("a secret was logged:\n%s", logs)
	}
	if !strings.Contains(e.logs.String(), "sync enrollment failed") {
		t.Fatalf("no failure logged:\n%s", e.logs.String())
	}

	// With the password file, a token file put back is never used.
	must(t, os.WriteFile(files.token, []byte(testToken), 0o600))
	e.reopen(t)
	if e.client.enroller != nil || string(e.client.password) != first.Password {
		t.Fatal("the client would enroll again with a password file")
	}
	if st, _ := e.client.Status(); st.Enrollment != "" {
		t.Fatalf("enrollment %q with a password file", st.Enrollment)
	}
}

// A final refusal is reported with its reason and never asked again;
// the token and the pending password stay.
func TestEnrollmentRefused(t *testing.T) {
	for _, tt := range []struct {
		status int
		body   string
		want   string
	}{
		{http.StatusForbidden, `{"error":"fleet: enrollment token already used"}`, "refused: token used"},
		{http.StatusForbidden, `{"error":"fleet: site revoked"}`, "refused: site revoked"},
		{http.StatusGone, `{"error":"fleet: enrollment token expired"}`, "refused: token expired"},
		{http.StatusUnauthorized, `{"error":"fleet: enrollment token invalid"}`, "refused: token invalid"},
		{http.StatusBadRequest, `{"error":"echoing ` + testToken + `"}`, "refused: bad request"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			tower := newFakeTower(t, answer(tt.status, tt.body))
			files := newEnrollFiles(t)
			e := newEnv(t, "", files.options(tower.URL))
			e.run(t)
			st := e.waitStatus(t, "the refusal", func(s Status) bool { return s.Enrollment != EnrollmentEnrolling && s.Enrollment != "" })
			if st.Enrollment != tt.want || st.Connected {
				t.Fatalf("status %+v, want %q", st, tt.want)
			}
			e.close(t) // Run returns: nothing can ask any more
			if n := tower.requests(); n != 1 {
				t.Fatalf("%d requests, want 1", n)
			}
			if !exists(files.token) || !exists(files.pending) || exists(files.password) {
				t.Fatal("a refusal changed the files")
			}
			if strings.Contains(e.logs.String(), testToken) || strings.Contains(st.LastError, testToken) {
				t.Fatalf("the token was logged:\n%s", e.logs.String())
			}
		})
	}
}

// New refuses incomplete enrollment settings, naming them.
func TestEnrollmentOptions(t *testing.T) {
	files := newEnrollFiles(t)
	for _, tt := range []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"no token file", func(o *Options) { o.EnrollTokenFile = filepath.Join(files.dir, "none") }, "enroll_token_file"},
		{"no password file", func(o *Options) { o.PasswordFile = "" }, "password_file: required with enroll_token_file"},
		{"no url", func(o *Options) { o.EnrollURL = "" }, "enroll_url: required"},
		{"bad url", func(o *Options) { o.EnrollURL = "mqtt://tower:1883" }, "enroll_url: "},
		{"credentials in the url", func(o *Options) { o.EnrollURL = "https://u:p@tower" }, "enroll_url: no credentials"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := newEnv(t, "", nil).db
			o := Options{Broker: "tcp://127.0.0.1:1", Site: "depot-7"}
			files.options("http://tower.example:8090")(&o)
			tt.mutate(&o)
			if _, err := New(ctx, db, o); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want %q", err, tt.want)
			}
		})
	}
	must(t, os.WriteFile(files.token, []byte("\n"), 0o600))
	o := Options{Broker: "tcp://127.0.0.1:1", Site: "depot-7"}
	files.options("http://tower.example:8090")(&o)
	if _, err := New(ctx, newEnv(t, "", nil).db, o); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("an empty token file: %v", err)
	}
}

// A watchtower answering 429 with Retry-After is asked again no sooner
// than it said, whatever the backoff would have waited.
func TestEnrollmentHonoursRetryAfter(t *testing.T) {
	tower := newFakeTower(t, func(w http.ResponseWriter, _ enrollRequest) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":"too many attempts from this address; retry later"}`))
	})
	files := newEnrollFiles(t)
	e := newEnv(t, "", files.options(tower.URL))
	e.run(t)
	tower.next(t)
	e.waitStatus(t, "the 429 in the status", func(s Status) bool { return strings.Contains(s.LastError, "HTTP 429") })
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(e.logs.String(), "retry_in=1h0m0s") {
		if time.Now().After(deadline) {
			t.Fatalf("the retry is not an hour away:\n%s", e.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := tower.requests(); n != 1 {
		t.Errorf("%d requests, want 1 before the hour is over", n)
	}
}
