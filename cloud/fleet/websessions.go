package fleet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// WebSession is a dashboard sign-in: the user it is for (as the store
// has them now: a role change applies at once, a disabled user has no
// session) and the CSRF token of its forms.
type WebSession struct {
	User    User
	CSRF    string
	Created time.Time
	Expires time.Time
}

// Limits of a dashboard session: signed out after IdleTimeout without a
// request, and after MaxSessionAge whatever happens.
const (
	SessionIdleTimeout = time.Hour
	MaxSessionAge      = 12 * time.Hour
	// touchEvery bounds the writes that keep a session alive to one a
	// minute per session, however many requests it makes.
	touchEvery = time.Minute
)

// CreateWebSession starts a session for user: secret is the cookie's
// value (only its hash is stored), csrf the token its forms carry.
// Expired sessions are deleted on the way. The context's PendingAudit
// is written with it.
func (s *Store) CreateWebSession(ctx context.Context, userID, secret, csrf string) (WebSession, error) {
	now := s.clock.Now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `DELETE FROM web_sessions WHERE expires_at <= ? OR last_seen <= ?`,
			now.UnixMilli(), now.Add(-SessionIdleTimeout).UnixMilli()); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, `INSERT INTO web_sessions (hash, user_id, csrf, created_at, last_seen, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			HashSecret(secret), userID, csrf, now.UnixMilli(), now.UnixMilli(), now.Add(MaxSessionAge).UnixMilli())
		return err
	})
	if err != nil {
		return WebSession{}, fmt.Errorf("fleet: create a session for %s: %w", userID, err)
	}
	return s.WebSession(ctx, secret)
}

// WebSession returns the live session of secret and keeps it alive; an
// unknown, expired or idle session, or one of a disabled user, is
// ErrUnauthenticated.
func (s *Store) WebSession(ctx context.Context, secret string) (WebSession, error) {
	now := s.clock.Now()
	var ws WebSession
	var created, lastSeen, expires int64
	var u User
	var uCreated, uUpdated int64
	err := s.queryRow(ctx, s.db, `SELECT s.csrf, s.created_at, s.last_seen, s.expires_at,
		u.id, u.name, u.display_name, u.role, u.disabled, u.created_at, u.updated_at
		FROM web_sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ?`, HashSecret(secret)).
		Scan(&ws.CSRF, &created, &lastSeen, &expires, &u.ID, &u.Name, &u.DisplayName, &u.Role, &u.Disabled, &uCreated, &uUpdated)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return WebSession{}, fmt.Errorf("fleet: session: %w: signed out", ErrUnauthenticated)
	case err != nil:
		return WebSession{}, fmt.Errorf("fleet: session: %w", err)
	case now.UnixMilli() >= expires || now.UnixMilli() >= lastSeen+SessionIdleTimeout.Milliseconds():
		return WebSession{}, fmt.Errorf("fleet: session: %w: expired", ErrUnauthenticated)
	case u.Disabled:
		return WebSession{}, fmt.Errorf("fleet: session: %w: user disabled", ErrUnauthenticated)
	}
	if now.UnixMilli()-lastSeen >= touchEvery.Milliseconds() {
		if _, err := s.exec(ctx, s.db, `UPDATE web_sessions SET last_seen = ? WHERE hash = ?`, now.UnixMilli(), HashSecret(secret)); err != nil {
			return WebSession{}, fmt.Errorf("fleet: session: keep alive: %w", err)
		}
	}
	u.CreatedAt, u.UpdatedAt = fromMS(uCreated), fromMS(uUpdated)
	ws.User, ws.Created, ws.Expires = u, fromMS(created), fromMS(expires)
	return ws, nil
}

// DeleteWebSession ends the session of secret (signing out); ending one
// that is gone is no error.
func (s *Store) DeleteWebSession(ctx context.Context, secret string) error {
	if _, err := s.exec(ctx, s.db, `DELETE FROM web_sessions WHERE hash = ?`, HashSecret(secret)); err != nil {
		return fmt.Errorf("fleet: end a session: %w", err)
	}
	return nil
}
