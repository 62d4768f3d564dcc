package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/syncproto"
)

// API is a client of the watchtower's JSON API (docs/watchtower.md).
type API struct {
	// Base is the API's URL, http://host:8090.
	Base string
	// Token is the operator's bearer token.
	Token  string
	Client *http.Client // nil: http.DefaultClient
}

// apiError is an answer other than the one expected.
type apiError struct {
	method, path string
	status       int
	msg          string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, e.msg)
}

// call sends a request (operator: with the bearer token) and decodes the
// answer into out; an answer other than want is an *apiError. A 429 (the
// watchtower limits enrollments per address) is tried again after the
// Retry-After it names, until ctx ends.
func (a *API) call(ctx context.Context, operator bool, method, path string, body, out any, want int) error {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	for {
		status, answer, retry, err := a.do(ctx, operator, method, path, data)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		if status == http.StatusTooManyRequests {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s %s: rate limited: %w", method, path, ctx.Err())
			case <-time.After(retry):
				continue
			}
		}
		if status != want {
			var e struct{ Error string }
			_ = json.Unmarshal(answer, &e)
			return &apiError{method: method, path: path, status: status, msg: e.Error}
		}
		if out != nil {
			if err := json.Unmarshal(answer, out); err != nil {
				return fmt.Errorf("%s %s: %w", method, path, err)
			}
		}
		return nil
	}
}

// do sends one request and returns the answer's status and body, and
// the wait a 429 asks for.
func (a *API) do(ctx context.Context, operator bool, method, path string, body []byte) (int, []byte, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.Base, "/")+path, rd)
	if err != nil {
		return 0, nil, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if operator {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	client := a.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, nil, 0, err
	}
	retry := time.Second
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
		retry = min(time.Duration(n)*time.Second, time.Minute)
	}
	return resp.StatusCode, data, retry, nil
}

// Enroll creates site, issues an enrollment token and trades it for the
// site's credentials, as an installer does. The password is returned,
// never logged.
func (a *API) Enroll(ctx context.Context, id string) (Site, error) {
	if err := a.call(ctx, true, "POST", "/api/v1/sites", map[string]string{"id": id, "name": "fleetsim"}, nil, http.StatusCreated); err != nil {
		return Site{}, err
	}
	var tok struct{ Token string }
	path := "/api/v1/sites/" + url.PathEscape(id) + "/tokens"
	if err := a.call(ctx, true, "POST", path, map[string]string{"ttl": "1h"}, &tok, http.StatusCreated); err != nil {
		return Site{}, err
	}
	var creds struct{ Username, Password string }
	if err := a.call(ctx, false, "POST", "/api/v1/enroll", map[string]string{"site": id, "token": tok.Token}, &creds, http.StatusOK); err != nil {
		return Site{}, err
	}
	if creds.Password == "" {
		return Site{}, fmt.Errorf("enroll %s: no password in the answer", id)
	}
	return Site{ID: id, Username: creds.Username, Password: creds.Password}, nil
}

// Provision enrolls sites prefix-0001 ... prefix-n, a few at a time. The
// watchtower limits enrollments per address (limits.auth_per_minute,
// default 10): past it, Provision waits as told, so a load test's
// watchtower turns the limit off (-1), or its sites are enrolled once
// and their credentials reused.
func Provision(ctx context.Context, a *API, prefix string, n int) ([]Site, error) {
	if n <= 0 {
		return nil, errors.New("load: provision: want one site or more")
	}
	sites := make([]Site, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range n {
		id := fmt.Sprintf("%s-%04d", prefix, i+1)
		if err := syncproto.ValidateSiteID(id); err != nil {
			return nil, fmt.Errorf("load: provision: %w", err)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			sites[i], errs[i] = a.Enroll(ctx, id)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("load: provision: %w", err)
	}
	return sites, nil
}

// Counts is what the watchtower holds for a site.
type Counts struct {
	Chargers, Transactions, Readings int64
}

// Counts returns what the watchtower holds for each site, by id.
func (a *API) Counts(ctx context.Context, sites []Site) (map[string]Counts, error) {
	out := make(map[string]Counts, len(sites))
	for _, s := range sites {
		var c Counts
		if err := a.call(ctx, true, "GET", "/api/v1/sites/"+url.PathEscape(s.ID), nil, &c, http.StatusOK); err != nil {
			return nil, fmt.Errorf("load: counts: %w", err)
		}
		out[s.ID] = c
	}
	return out, nil
}

// transactions returns the highest stored revision of site's sessions
// (the API lists the 1000 that started last).
func (a *API) transactions(ctx context.Context, site string) (map[int64]int, error) {
	var list struct {
		Transactions []struct {
			Record syncproto.Transaction
		}
	}
	if err := a.call(ctx, true, "GET", "/api/v1/sites/"+url.PathEscape(site)+"/transactions", nil, &list, http.StatusOK); err != nil {
		return nil, err
	}
	out := make(map[int64]int, len(list.Transactions))
	for _, t := range list.Transactions {
		out[t.Record.ID] = t.Record.Rev
	}
	return out, nil
}

// Verify checks through the API that the watchtower stored what res says
// was acknowledged since before (Counts taken before the run): as many
// new sessions and readings values, the chargers, and each session at its
// highest acknowledged revision. Records without a PUBACK (res.Failed)
// may or may not have been stored: with some, more may be stored than
// acknowledged, never less. The error lists every difference.
func Verify(ctx context.Context, a *API, before map[string]Counts, res Result) error {
	var problems []string
	bad := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	sites := make([]Site, 0, len(res.PerSite))
	for _, s := range res.PerSite {
		sites = append(sites, Site{ID: s.ID})
	}
	after, err := a.Counts(ctx, sites)
	if err != nil {
		return err
	}
	// What was acknowledged is committed already: no waiting here.
	for _, s := range res.PerSite {
		b, c := before[s.ID], after[s.ID]
		check := func(what string, stored, acked int64) {
			if stored < acked || stored > acked && s.Failed == 0 {
				bad("site %s: %d new %s stored, %d acknowledged", s.ID, stored, what, acked)
			}
		}
		check("transactions", c.Transactions-b.Transactions, int64(len(s.Transactions)))
		check("readings", c.Readings-b.Readings, s.Readings)
		if c.Chargers < int64(s.Chargers) {
			bad("site %s: %d chargers stored, %d acknowledged", s.ID, c.Chargers, s.Chargers)
		}
		if len(s.Transactions) == 0 {
			continue
		}
		revs, err := a.transactions(ctx, s.ID)
		if err != nil {
			return fmt.Errorf("load: verify: %w", err)
		}
		for id, rev := range s.Transactions {
			got, ok := revs[id]
			if !ok {
				if len(revs) < 1000 {
					bad("site %s: session %d not stored", s.ID, id)
				}
				continue // beyond the 1000 the API lists
			}
			if got < rev || got > rev && s.Failed == 0 {
				bad("site %s: session %d stored at revision %d, %d acknowledged", s.ID, id, got, rev)
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("load: verify: %s", strings.Join(problems, "; "))
	}
	return nil
}

// WaitStored waits until Verify passes, polling every interval, and
// returns how long after res.Start that was: with an external broker, a
// PUBACK says only that the broker has a record, and the watchtower's
// replicas store it after; the acknowledged records over this time is
// the rate the watchtower stored them at. It returns Verify's last error
// when ctx ends first.
func WaitStored(ctx context.Context, a *API, before map[string]Counts, res Result, interval time.Duration) (time.Duration, error) {
	for {
		err := Verify(ctx, a, before, res)
		if err == nil {
			return time.Since(res.Start), nil
		}
		select {
		case <-ctx.Done():
			return 0, err
		case <-time.After(interval):
		}
	}
}

// WaitOffline waits until the watchtower shows every site offline (after
// Close, the broker publishes each site's death), or ctx ends.
func (a *API) WaitOffline(ctx context.Context, sites []Site) error {
	for _, s := range sites {
		for {
			var st struct{ Online bool }
			if err := a.call(ctx, true, "GET", "/api/v1/sites/"+url.PathEscape(s.ID), nil, &st, http.StatusOK); err != nil {
				return fmt.Errorf("load: %w", err)
			}
			if !st.Online {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("load: site %s still online: %w", s.ID, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}
