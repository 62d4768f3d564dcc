package cloudsync

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Enrollment states shown in Status.Enrollment; a refusal is
// EnrollmentRefused followed by the reason ("refused: token used").
// Empty: the appliance had its credentials when it started.
const (
	EnrollmentEnrolling = "enrolling"
	EnrollmentEnrolled  = "enrolled"
	EnrollmentRefused   = "refused: "
)

// PendingSuffix names the file, beside the password file, that holds the
// password the appliance chose while the watchtower has not confirmed it.
const PendingSuffix = ".pending"

const (
	// passwordBytes is the randomness of the password the appliance
	// chooses for itself (hex encoded: 64 characters).
	passwordBytes = 32
	// enrollTimeout bounds one enrollment request, its answer included.
	enrollTimeout = 30 * time.Second
	// maxAnswer bounds what is read of the watchtower's answer.
	maxAnswer = 64 << 10
)

// refusals are the watchtower's answers that asking again cannot
// change, with the reason the status shows.
var refusals = map[int]string{
	http.StatusBadRequest:   "bad request",
	http.StatusUnauthorized: "token invalid",
	http.StatusForbidden:    "token used",
	http.StatusGone:         "token expired",
}

// CheckEnrollment checks the enrollment settings as New does, for
// configuration checks; the error starts with the setting's name
// (enroll_url, password_file).
func CheckEnrollment(enrollURL, tokenFile, passwordFile string) error {
	if enrollURL != "" {
		if _, err := enrollEndpoint(enrollURL); err != nil {
			return err
		}
	}
	switch {
	case tokenFile == "":
		return nil
	case enrollURL == "":
		return errors.New("enroll_url: required with enroll_token_file")
	case passwordFile == "":
		return errors.New("password_file: required with enroll_token_file (the credentials are stored there)")
	}
	return nil
}

// enrollEndpoint returns the enrollment endpoint of the watchtower at
// base, an http:// or https:// URL.
func enrollEndpoint(base string) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("enroll_url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("enroll_url: %q: want http:// or https:// and a host", u.Redacted())
	}
	if u.User != nil {
		return nil, errors.New("enroll_url: no credentials in the URL")
	}
	return u.JoinPath("api/v1", "enroll"), nil
}

// enroller trades a single-use enrollment token for the appliance's MQTT
// credentials. The appliance chooses its password and stores it (in the
// pending file) before it asks, so whatever happens to the request or
// its answer, the next attempt, after a restart too, asks with the same
// password, which the watchtower accepts again for the used token.
type enroller struct {
	endpoint     *url.URL
	site         string
	token        string
	tokenFile    string
	passwordFile string
	pendingFile  string
	http         *http.Client
}

// newEnroller reads the token; roots (nil: the system's) verify an
// https watchtower. New has checked the settings (CheckEnrollment).
func newEnroller(opts Options, roots *x509.CertPool) (*enroller, error) {
	endpoint, err := enrollEndpoint(opts.EnrollURL)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(opts.EnrollTokenFile)
	if err != nil {
		return nil, fmt.Errorf("no password_file yet, and enroll_token_file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return nil, fmt.Errorf("enroll_token_file: %s is empty", opts.EnrollTokenFile)
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: enrollTimeout,
		// One request every few minutes at most: nothing to keep open.
		DisableKeepAlives: true,
	}
	return &enroller{
		endpoint:     endpoint,
		site:         opts.Site,
		token:        token,
		tokenFile:    opts.EnrollTokenFile,
		passwordFile: opts.PasswordFile,
		pendingFile:  opts.PasswordFile + PendingSuffix,
		http: &http.Client{Transport: tr, Timeout: enrollTimeout,
			// A redirect could carry the token elsewhere, over plain
			// HTTP even: the configured URL is the only one trusted.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}, nil
}

// enroll trades the token for the password, retrying after a growing,
// random wait, until the watchtower accepts (it returns the password,
// now in the password file), refuses for good or ctx ends (nil).
func (c *Client) enroll(ctx context.Context, e *enroller) []byte {
	c.setEnrollment(EnrollmentEnrolling)
	c.log.Info("sync enrolling", "url", e.endpoint.Redacted(), "site", c.site)
	for attempt := 1; ; attempt++ {
		pw, err := e.attempt(ctx)
		if err == nil {
			c.setEnrollment(EnrollmentEnrolled)
			c.log.Info("sync enrolled", "site", c.site, "password_file", e.passwordFile)
			// The token is used now; leaving it behind (a read-only boot
			// partition) is harmless, so a failure is only worth a warning.
			if err := os.Remove(e.tokenFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
				c.log.Warn("sync enrollment token file not removed", "err", err)
			}
			return pw
		}
		if ctx.Err() != nil {
			return nil
		}
		c.note("enroll", err)
		if r, ok := errors.AsType[*refusal](err); ok {
			c.setEnrollment(EnrollmentRefused + r.reason)
			c.log.Error("sync enrollment refused; not asking again", "reason", r.reason, "err", err)
			return nil
		}
		wait := c.backoff(attempt)
		if r, ok := errors.AsType[*retryLater](err); ok {
			wait = max(wait, r.after)
		}
		c.log.Warn("sync enrollment failed", "attempt", attempt, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// attempt is one try: the pending password (chosen and stored first),
// the request, and on success the pending password becomes the password.
func (e *enroller) attempt(ctx context.Context) ([]byte, error) {
	pw, err := e.pendingPassword()
	if err != nil {
		return nil, fmt.Errorf("pending password: %w", err)
	}
	if err := e.post(ctx, pw); err != nil {
		return nil, err
	}
	// Until this rename the pending file is what a retry asks with.
	if err := renameDurable(e.pendingFile, e.passwordFile); err != nil {
		return nil, fmt.Errorf("store the password: %w", err)
	}
	return pw, nil
}

// pendingPassword returns the password of the pending file, choosing
// and storing one first when there is none.
func (e *enroller) pendingPassword() ([]byte, error) {
	data, err := os.ReadFile(e.pendingFile)
	switch {
	case err == nil:
		// Only a whole file is ever renamed into place, so anything but
		// a password of ours was put there by something else: replace it.
		if pw := bytes.TrimSpace(data); validPassword(pw) {
			return pw, nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	var raw [passwordBytes]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read does not fail
	pw := []byte(hex.EncodeToString(raw[:]))
	if err := writeFileDurable(e.pendingFile, append(pw, '\n')); err != nil {
		return nil, err
	}
	return pw, nil
}

func validPassword(pw []byte) bool {
	_, err := hex.DecodeString(string(pw))
	return err == nil && len(pw) == 2*passwordBytes
}

// post asks the watchtower to enroll the site with password pw.
func (e *enroller) post(ctx context.Context, pw []byte) error {
	body, err := json.Marshal(map[string]string{"site": e.site, "token": e.token, "password": string(pw)})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.endpoint.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	// The error names the URL, never the body with the secrets.
	resp, err := e.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("HTTP %d, reading the answer: %w", resp.StatusCode, err)
	}
	var answer struct {
		Site  string `json:"site"`
		Error string `json:"error"`
	}
	decodeErr := json.Unmarshal(data, &answer)
	msg := e.scrub(answer.Error, pw)
	if reason, ok := refusals[resp.StatusCode]; ok {
		// One 403 is the site revoked rather than the token used.
		if resp.StatusCode == http.StatusForbidden && strings.Contains(msg, "revoked") {
			reason = "site revoked"
		}
		return &refusal{status: resp.StatusCode, reason: reason, msg: msg}
	}
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("HTTP %d: %s", resp.StatusCode, cmp.Or(msg, http.StatusText(resp.StatusCode)))
		// A watchtower slowing enrollments down says when to come back.
		if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs > 0 {
			return &retryLater{err: err, after: min(time.Duration(secs)*time.Second, time.Hour)}
		}
		return err
	}
	// A captive portal answers 200 too: only the watchtower's answer for
	// this site means the credentials are in place.
	if decodeErr != nil || answer.Site != e.site {
		return errors.New("HTTP 200 without the watchtower's answer for this site")
	}
	return nil
}

// scrub bounds a message from the other side and takes out the secrets
// it could echo (a misbehaving proxy), as it goes into logs and status.
func (e *enroller) scrub(msg string, pw []byte) string {
	msg = strings.ReplaceAll(msg, e.token, "[token]")
	msg = strings.ReplaceAll(msg, string(pw), "[password]")
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return strings.ToValidUTF8(msg, "?")
}

// retryLater is a failure whose answer said how long to wait
// (Retry-After, in seconds).
type retryLater struct {
	err   error
	after time.Duration
}

func (r *retryLater) Error() string { return r.err.Error() }
func (r *retryLater) Unwrap() error { return r.err }

// refusal is the watchtower's final answer: asking again cannot change it.
type refusal struct {
	status      int
	reason, msg string
}

func (r *refusal) Error() string {
	return fmt.Sprintf("refused with HTTP %d (%s): %s", r.status, r.reason, r.msg)
}

// writeFileDurable replaces path with data (mode 0600) so that a crash
// leaves either no file or the whole one, never a part: a temporary
// file in the same directory, synced, renamed over path, and the
// directory synced, without which the rename itself may not survive.
func writeFileDurable(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return renameDurable(f.Name(), path)
}

// renameDurable renames from to to and syncs the directory of to.
func renameDurable(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(to))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", d.Name(), err)
	}
	return nil
}
