package watchtower_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/cloudsync"
	"github.com/constellation-ev/constellation/appliance/cloudsync/synctest"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
)

// What the front does to an enrollment request.
type fault int

const (
	pass        fault = iota // forward it
	unavailable              // answer 503 without forwarding it
	lose                     // forward it, then drop the connection without the answer
)

// front stands in front of the watchtower's API like a load balancer:
// it forwards every request, counts the enrollment requests and the
// passwords they carried, and fails the nth as fault(n) says.
type front struct {
	*httptest.Server
	fault func(n int) fault

	mu        sync.Mutex
	enrolls   int
	passwords map[string]bool
}

func newFront(t *testing.T, tw *tower, fault func(n int) fault) *front {
	t.Helper()
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: tw.HTTPAddr()})
	f := &front{fault: fault, passwords: map[string]bool{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/enroll" {
			proxy.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var req struct{ Password string }
		_ = json.Unmarshal(body, &req)
		f.mu.Lock()
		f.enrolls++
		n := f.enrolls
		f.passwords[req.Password] = true
		f.mu.Unlock()
		what := pass
		if f.fault != nil {
			what = f.fault(n)
		}
		switch what {
		case unavailable:
			http.Error(w, `{"error":"upstream unavailable"}`, http.StatusServiceUnavailable)
		case lose:
			proxy.ServeHTTP(httptest.NewRecorder(), r) // the watchtower enrolls
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

// counts returns the enrollment requests seen and how many passwords
// they carried.
func (f *front) counts() (requests, passwords int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.enrolls, len(f.passwords)
}

// enrollingAppliance is an appliance's directory with only a token file
// (as an installer leaves it) and the options pointing at the
// watchtower's broker and at enrollURL.
func enrollingAppliance(t *testing.T, tw *tower, site, token, enrollURL string) (dir string, opts cloudsync.Options) {
	t.Helper()
	dir = t.TempDir()
	tokenFile := filepath.Join(dir, "boot", "constellation-token")
	must(t, os.MkdirAll(filepath.Dir(tokenFile), 0o700))
	must(t, os.WriteFile(tokenFile, []byte(token+"\n"), 0o600))
	return dir, cloudsync.Options{Broker: "tcp://" + tw.MQTTAddr(), Site: site, PasswordFile: filepath.Join(dir, "mqtt-password"),
		EnrollURL: enrollURL, EnrollTokenFile: tokenFile}
}

// online waits until the appliance is connected and the watchtower has
// the site online.
func online(t *testing.T, tw *tower, a *appliance) {
	t.Helper()
	waitFor(t, a.site+" online", func() bool {
		st, err := tw.Store.Site(ctx, a.site)
		return err == nil && st.Online && a.status(t).Connected
	})
}

// An appliance that starts with only a token enrolls itself, syncs,
// and after a restart never sends the token again (even when the token
// file could not be removed); its password is its own, stored 0600.
func TestApplianceEnrolls(t *testing.T) {
	tw := startTower(t)
	const site = "depot-9"
	token := tw.siteToken(t, site, "1h")
	fr := newFront(t, tw, nil)
	logs := &cloudtest.Logs{}
	dir, opts := enrollingAppliance(t, tw, site, token, fr.URL)
	opts.Logger = logs.Logger()
	a := startApplianceWith(t, dir, opts)
	online(t, tw, a)
	if st := a.status(t); st.Enrollment != cloudsync.EnrollmentEnrolled {
		t.Fatalf("enrollment %q, want enrolled", st.Enrollment)
	}
	if _, err := os.Stat(opts.EnrollTokenFile); !os.IsNotExist(err) {
		t.Fatalf("the token file is still there: %v", err)
	}
	pw, err := os.ReadFile(opts.PasswordFile)
	must(t, err)
	password := strings.TrimSpace(string(pw))
	must(t, tw.Store.Authenticate(ctx, site, password))
	if fi, err := os.Stat(opts.PasswordFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v, want mode 0600", fi.Mode(), err)
	}

	txs := []int64{a.session(t, "CP1", 5)}
	waitFor(t, "the session in the cloud", func() bool { return synced(t, tw, a, txs) })

	// A restart, the token file back (a read-only boot partition).
	a.stop()
	must(t, os.WriteFile(opts.EnrollTokenFile, []byte(token+"\n"), 0o600))
	a = startApplianceWith(t, dir, opts)
	waitFor(t, "the restarted appliance connected", func() bool { return a.status(t).Connected })
	if st := a.status(t); st.Enrollment != "" {
		t.Fatalf("enrollment %q after the restart, want none", st.Enrollment)
	}
	a.stop()
	if n, _ := fr.counts(); n != 1 {
		t.Fatalf("%d enrollment requests, want 1", n)
	}
	for _, l := range []string{logs.String(), tw.logs.String()} {
		if strings.Contains(l, token) || strings.Contains(l, password) {
			t.Fatal("a secret was logged")
		}
	}
}

// With the watchtower out of reach, the appliance keeps trying, and
// enrolls once it is reachable.
func TestEnrollmentWaitsForTheWatchtower(t *testing.T) {
	tw := startTower(t)
	const site = "depot-10"
	token := tw.siteToken(t, site, "1h")
	link := synctest.NewProxy(t, "tcp://"+tw.HTTPAddr())
	link.Cut()
	logs := &cloudtest.Logs{}
	dir, opts := enrollingAppliance(t, tw, site, token, strings.Replace(link.URL(), "tcp://", "http://", 1))
	opts.Logger = logs.Logger()
	a := startApplianceWith(t, dir, opts)
	waitFor(t, "two failed attempts", func() bool { return strings.Count(logs.String(), "sync enrollment failed") >= 2 })
	if st := a.status(t); st.Enrollment != cloudsync.EnrollmentEnrolling || st.Connected || !strings.Contains(st.LastError, "enroll") {
		t.Fatalf("status %+v while the watchtower is out of reach", st)
	}
	if st, err := tw.Store.Site(ctx, site); err != nil || st.Enrolled {
		t.Fatalf("site %+v %v: enrolled while out of reach", st, err)
	}
	link.Restore()
	online(t, tw, a)
	if st := a.status(t); st.Enrollment != cloudsync.EnrollmentEnrolled {
		t.Fatalf("enrollment %q, want enrolled", st.Enrollment)
	}
}

// The watchtower enrolls the site but its answer is lost (after a 503
// before): the appliance asks again with the same password, which the
// watchtower accepts again, and connects with it.
func TestEnrollmentAnswerLost(t *testing.T) {
	tw := startTower(t)
	const site = "depot-11"
	token := tw.siteToken(t, site, "1h")
	fr := newFront(t, tw, func(n int) fault {
		return map[int]fault{1: unavailable, 2: lose}[n]
	})
	dir, opts := enrollingAppliance(t, tw, site, token, fr.URL)
	a := startApplianceWith(t, dir, opts)
	online(t, tw, a)
	a.stop()
	if requests, passwords := fr.counts(); requests != 3 || passwords != 1 {
		t.Fatalf("%d requests with %d passwords, want 3 with 1", requests, passwords)
	}
	if n := strings.Count(tw.logs.String(), "site enrolled"); n != 2 {
		t.Fatalf("%d enrollments logged, want the lost one and its retry", n)
	}
	pw, err := os.ReadFile(opts.PasswordFile)
	must(t, err)
	must(t, tw.Store.Authenticate(ctx, site, strings.TrimSpace(string(pw))))
}

// A used or expired token is refused for good: the status says why and
// the appliance does not ask again.
func TestEnrollmentRefused(t *testing.T) {
	tw := startTower(t)
	fr := newFront(t, tw, nil)

	used := tw.siteToken(t, "used", "1h")
	if code := tw.call(t, false, "POST", "/api/v1/enroll", map[string]string{"site": "used", "token": used}, nil); code != http.StatusOK {
		t.Fatalf("enroll: %d", code)
	}
	dir, opts := enrollingAppliance(t, tw, "used", used, fr.URL)
	a := startApplianceWith(t, dir, opts)
	waitFor(t, "the refusal of a used token", func() bool { return a.status(t).Enrollment == cloudsync.EnrollmentRefused+"token used" })

	expired := tw.siteToken(t, "expired", "1m")
	tw.clock.Advance(time.Minute)
	dir, opts = enrollingAppliance(t, tw, "expired", expired, fr.URL)
	b := startApplianceWith(t, dir, opts)
	waitFor(t, "the refusal of an expired token", func() bool { return b.status(t).Enrollment == cloudsync.EnrollmentRefused+"token expired" })

	// Stopped, they cannot ask any more: one request each, ever.
	a.stop()
	b.stop()
	if n, _ := fr.counts(); n != 2 {
		t.Fatalf("%d enrollment requests, want 2", n)
	}
	for _, site := range []string{"used", "expired"} {
		if st, _ := tw.Store.Site(ctx, site); st.Online {
			t.Errorf("site %s online with a refused token", site)
		}
	}
}

// The enrollment API with the appliance's own password: the password
// is checked, never echoed, and a retry with it is accepted.
func TestEnrollWithOwnPassword(t *testing.T) {
	tw := startTower(t)
	token := tw.siteToken(t, "site-a", "1h")
	own := strings.Repeat("a1b2c3d4", 8)
	enroll := func(body map[string]string) (int, map[string]string) {
		var out map[string]string
		return tw.call(t, false, "POST", "/api/v1/enroll", body, &out), out
	}
	for _, short := range []string{"", "short"} {
		if code, out := enroll(map[string]string{"site": "site-a", "token": token, "password": short}); code != http.StatusBadRequest || !strings.Contains(out["error"], "password") {
			t.Errorf("password %q: %d %v, want 400 naming the password", short, code, out)
		}
	}
	for range 2 { // the second is the retry after a lost answer
		code, out := enroll(map[string]string{"site": "site-a", "token": token, "password": own})
		if code != http.StatusOK || out["site"] != "site-a" || out["username"] != "site-a" || len(out) != 2 {
			t.Fatalf("enroll: %d %v, want 200 with site and username only", code, out)
		}
	}
	must(t, tw.Store.Authenticate(ctx, "site-a", own))
	if code, _ := enroll(map[string]string{"site": "site-a", "token": token, "password": own + "x"}); code != http.StatusForbidden {
		t.Errorf("the used token with another password: %d, want 403", code)
	}
	if code, _ := enroll(map[string]string{"site": "site-a", "token": token}); code != http.StatusForbidden {
		t.Errorf("the used token without a password: %d, want 403", code)
	}
	if strings.Contains(tw.logs.String(), own) || strings.Contains(tw.logs.String(), token) {
		t.Error("a secret was logged")
	}
}
