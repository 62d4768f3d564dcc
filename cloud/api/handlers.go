package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
)

// enroll trades an enrollment token for the site's MQTT credentials: a
// generated password, returned once, or the one the appliance sent,
// never echoed.
func (s *server) enroll(w http.ResponseWriter, r *http.Request) {
	req, ok := body[enrollRequest](w, r)
	if !ok {
		return
	}
	var (
		password string
		err      error
	)
	if req.Password != nil {
		err = s.Store.EnrollWithPassword(r.Context(), req.Site, req.Token, *req.Password)
	} else {
		password, err = s.Store.Enroll(r.Context(), req.Site, req.Token)
	}
	if err != nil {
		status := http.StatusInternalServerError
		switch {
		case errors.Is(err, fleet.ErrBadPassword):
			writeError(w, http.StatusBadRequest, fleet.ErrBadPassword.Error())
			return
		case errors.Is(err, fleet.ErrTokenInvalid):
			status = http.StatusUnauthorized
		case errors.Is(err, fleet.ErrTokenUsed), errors.Is(err, fleet.ErrRevoked):
			status = http.StatusForbidden
		case errors.Is(err, fleet.ErrTokenExpired):
			status = http.StatusGone
		}
		// Never the token itself: only who tried, and why it failed.
		s.Logger.Warn("enrollment refused", "site", clip(req.Site), "remote", r.RemoteAddr, "reason", err)
		if status == http.StatusInternalServerError {
			s.storeError(w, err)
			return
		}
		writeError(w, status, errors.Unwrap(err).Error())
		return
	}
	granted := password
	if req.Password != nil {
		granted = *req.Password
	}
	if err := s.Access.Grant(r.Context(), req.Site, granted); err != nil {
		// The store has the credentials: an appliance that chose its
		// password retries and is granted then.
		s.Logger.Error("giving an enrolled site access to the broker", "site", req.Site, "err", err)
		writeError(w, http.StatusServiceUnavailable, "enrolled, but the broker did not take the credentials; try again")
		return
	}
	s.Logger.Info("site enrolled", "site", req.Site, "remote", r.RemoteAddr, "own_password", req.Password != nil)
	answer := map[string]string{"site": req.Site, "username": req.Site}
	if password != "" {
		answer["password"] = password
	}
	writeJSON(w, http.StatusOK, answer)
}

func (s *server) createSite(w http.ResponseWriter, r *http.Request) {
	req, ok := body[createSiteRequest](w, r)
	if !ok {
		return
	}
	state(r).audit.Target = "site:" + clip(req.ID)
	site, err := s.Store.CreateSite(r.Context(), req.ID, req.Name)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, site)
}

func (s *server) listSites(w http.ResponseWriter, r *http.Request) {
	sites, err := s.Store.Sites(r.Context())
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sites": sites})
}

func (s *server) getSite(w http.ResponseWriter, r *http.Request) {
	site, err := s.Store.Site(r.Context(), r.PathValue("site"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, site)
}

func (s *server) createToken(w http.ResponseWriter, r *http.Request) {
	req, ok := body[tokenRequest](w, r)
	if !ok {
		return
	}
	ttl := DefaultTokenTTL
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 || d > 30*24*time.Hour {
			writeError(w, http.StatusBadRequest, "ttl: want a Go duration from 1s to 720h")
			return
		}
		ttl = d
	}
	site := r.PathValue("site")
	token, expires, err := s.Store.IssueToken(r.Context(), site, ttl)
	if err != nil {
		s.storeError(w, err)
		return
	}
	s.Logger.Info("enrollment token issued", "site", site, "expires", expires)
	writeJSON(w, http.StatusCreated, map[string]any{"site": site, "token": token, "expires": expires})
}

func (s *server) revoke(w http.ResponseWriter, r *http.Request) {
	site := r.PathValue("site")
	if err := s.Store.Revoke(r.Context(), site); err != nil {
		s.storeError(w, err)
		return
	}
	// The store refuses the site from now on; the broker's access goes
	// too (an open connection is dropped).
	if err := s.Access.Revoke(r.Context(), site); err != nil {
		s.Logger.Error("revoking a site's broker access", "site", site, "err", err)
		writeError(w, http.StatusBadGateway, "the site is revoked in the store, but the broker did not drop its access: "+err.Error()+"; try again")
		return
	}
	s.Logger.Info("site revoked", "site", site)
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) chargers(w http.ResponseWriter, r *http.Request) {
	site := r.PathValue("site")
	if _, err := s.Store.Site(r.Context(), site); err != nil {
		s.storeError(w, err)
		return
	}
	cs, err := s.Store.Chargers(r.Context(), site)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"chargers": cs})
}

func (s *server) transactions(w http.ResponseWriter, r *http.Request) {
	site := r.PathValue("site")
	if _, err := s.Store.Site(r.Context(), site); err != nil {
		s.storeError(w, err)
		return
	}
	q := r.URL.Query()
	txs, err := s.Store.Transactions(r.Context(), fleet.TxFilter{Site: site, Charger: q.Get("charger")}, q.Get("readings") == "true")
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"transactions": txs})
}

func (s *server) getDesired(w http.ResponseWriter, r *http.Request) {
	d, err := s.Store.Desired(r.Context(), r.PathValue("site"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// putDesired replaces the desired configuration and publishes it.
func (s *server) putDesired(w http.ResponseWriter, r *http.Request) {
	req, ok := body[desiredRequest](w, r)
	if !ok {
		return
	}
	site := r.PathValue("site")
	version, err := s.Store.SetDesired(r.Context(), site, req.Settings)
	if err != nil {
		s.storeError(w, err)
		return
	}
	s.publish(site, "desired", s.Downlink.Desired(r.Context(), site, version-1))
	s.getDesired(w, r)
}

func (s *server) getAuthList(w http.ResponseWriter, r *http.Request) {
	site := r.PathValue("site")
	if _, err := s.Store.Site(r.Context(), site); err != nil {
		s.storeError(w, err)
		return
	}
	version, entries, err := s.Store.AuthList(r.Context(), site)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": version, "entries": entries})
}

func (s *server) putAuthList(w http.ResponseWriter, r *http.Request) {
	req, ok := body[authListRequest](w, r)
	if ok {
		s.changeAuth(w, r, fleet.AuthChange{Replace: true, Put: req.Entries})
	}
}

func (s *server) changeAuthList(w http.ResponseWriter, r *http.Request) {
	req, ok := body[authChangeRequest](w, r)
	if ok {
		s.changeAuth(w, r, fleet.AuthChange{Put: req.Put, Remove: req.Remove})
	}
}

// changeAuth applies a change and publishes it as a delta from the
// previous version (an appliance on another version gets what it lacks
// at its next birth).
func (s *server) changeAuth(w http.ResponseWriter, r *http.Request, c fleet.AuthChange) {
	site := r.PathValue("site")
	if err := checkEntries(site, c.Put, c.Remove); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	version, err := s.Store.ChangeAuthList(r.Context(), site, c)
	if err != nil {
		s.storeError(w, err)
		return
	}
	s.publish(site, "authorization list", s.Downlink.AuthList(r.Context(), site, version-1))
	s.getAuthList(w, r)
}

// createCommand queues a command and sends it if the site is online;
// an offline site gets it at its next birth, unless its deadline passed.
func (s *server) createCommand(w http.ResponseWriter, r *http.Request) {
	req, ok := body[commandRequest](w, r)
	if !ok {
		return
	}
	deadline := req.Deadline
	if deadline.IsZero() {
		timeout := DefaultCommandTimeout
		if req.Timeout != "" {
			d, err := time.ParseDuration(req.Timeout)
			if err != nil || d <= 0 {
				writeError(w, http.StatusBadRequest, "timeout: want a positive Go duration")
				return
			}
			timeout = d
		}
		deadline = s.Clock.Now().Add(timeout)
	}
	if !deadline.After(s.Clock.Now()) {
		writeError(w, http.StatusBadRequest, "deadline: in the past")
		return
	}
	site := r.PathValue("site")
	c, err := s.Store.CreateCommand(r.Context(), site, req.Charger, req.Command, req.Args, deadline)
	if err != nil {
		s.storeError(w, err)
		return
	}
	if st, err := s.Store.Site(r.Context(), site); err == nil && st.Online {
		s.publish(site, "commands", s.Downlink.Queued(r.Context(), site))
	}
	if c, err = s.Store.Command(r.Context(), c.ID); err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

func (s *server) getCommand(w http.ResponseWriter, r *http.Request) {
	c, err := s.Store.Command(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// publish logs a failure to send a change: the change is stored, and the
// site's next birth brings it.
func (s *server) publish(site, what string, err error) {
	if err != nil {
		s.Logger.Error("publishing a change", "site", site, "what", what, "err", err)
	}
}

// clip bounds what a log line quotes of outside input.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
