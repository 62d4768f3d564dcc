package fleet

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
)

// Errors of users and API tokens; test them with errors.Is.
var (
	// ErrUnauthenticated: no such API token, or it is revoked, expired,
	// or its owner is disabled.
	ErrUnauthenticated = errors.New("fleet: invalid credentials")
	// ErrInvalid: a value out of its bounds; the message names the field.
	ErrInvalid = errors.New("fleet: invalid")
	// ErrRoleTooHigh: an API token's role above its owner's.
	ErrRoleTooHigh = errors.New("fleet: role above the owner's")
	// ErrLastAdmin: the change would leave no enabled admin.
	ErrLastAdmin = errors.New("fleet: the last enabled admin cannot be demoted or disabled")
)

// User is an operator as listed; the password hash stays in the store.
type User struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	DisplayName string    `json:"displayName"`
	Role        auth.Role `json:"role"`
	Disabled    bool      `json:"disabled"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// NewUser is a user to create.
type NewUser struct {
	Name, DisplayName string
	Role              auth.Role
	PasswordHash      string
}

// UserChange changes a user; nil fields stay.
type UserChange struct {
	DisplayName *string
	Role        *auth.Role
	Disabled    *bool
}

// APIToken is an API token as listed (never its secret).
type APIToken struct {
	ID        string    `json:"id"`
	Owner     string    `json:"owner"`
	OwnerName string    `json:"ownerName"`
	Name      string    `json:"name"`
	Role      auth.Role `json:"role"`
	CreatedAt time.Time `json:"createdAt"`
	LastUsed  time.Time `json:"lastUsed,omitzero"`
	Expires   time.Time `json:"expires,omitzero"`
	Revoked   bool      `json:"revoked"`
}

// Audit says who makes a change, for the entry the store writes with it.
type Audit struct {
	Actor, ActorUser, RequestID string
}

// PendingAudit is the audit entry of a change about to be made. Carried
// by a context (WithAudit), it is written by the store, with outcome ok,
// in the transaction of the first change made under that context, and
// only if that transaction commits: a change and its entry are both
// there or neither, and the entry is written once. A change that fails
// writes nothing; its caller audits the failure (RecordAudit).
type PendingAudit struct {
	Audit
	// Action and Target name the change, Message details it; the
	// store sets them for a change to users and tokens.
	Action, Target, Message string
	written                 atomic.Bool
}

// Written reports whether the store wrote the entry with its change.
func (p *PendingAudit) Written() bool { return p.written.Load() }

type pendingKey struct{}

// WithAudit returns ctx carrying p: the store writes p with the first
// change it commits under the context.
func WithAudit(ctx context.Context, p *PendingAudit) context.Context {
	return context.WithValue(ctx, pendingKey{}, p)
}

// pendingAudit is ctx's pending entry, nil if none or written already.
func pendingAudit(ctx context.Context) *PendingAudit {
	if p, ok := ctx.Value(pendingKey{}).(*PendingAudit); ok && !p.Written() {
		return p
	}
	return nil
}

// auditing returns ctx with a pending entry for a change to users or
// tokens: ctx's own (the API's request), or else one of a.
func auditing(ctx context.Context, a Audit) (context.Context, *PendingAudit) {
	if p := pendingAudit(ctx); p != nil {
		return ctx, p
	}
	p := &PendingAudit{Audit: a}
	return WithAudit(ctx, p), p
}

// describe names the change p audits.
func (p *PendingAudit) describe(action, target, message string) {
	p.Action, p.Target, p.Message = action, target, message
}

// Audit outcomes.
const (
	OutcomeOK    = "ok"
	OutcomeError = "error"
)

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID        string    `json:"id"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`
	ActorUser string    `json:"actorUser,omitempty"`
	Action    string    `json:"action"`
	Target    string    `json:"target,omitempty"`
	Outcome   string    `json:"outcome"`
	Message   string    `json:"message,omitempty"`
	RequestID string    `json:"requestId,omitempty"`
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	// Actor matches the actor or the user it acted for.
	Actor, Action string
	Since, Until  time.Time // zero: open
	// Before is the id of the last entry of the previous page.
	Before string
	Limit  int // 1..1000; 0: 100
}

// TokenPrefix starts every API token: it tells them from the legacy
// operator token and lets secret scanners find them.
const TokenPrefix = "cwt_"

var userName = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// ValidateUserName checks a login name: 1 to 64 of a-z 0-9 . _ @ -,
// starting with a letter or digit.
func ValidateUserName(name string) error {
	if !userName.MatchString(name) {
		return errors.New("name: want 1 to 64 of a-z 0-9 . _ @ -, starting with a letter or digit")
	}
	return nil
}

func validDisplayName(s string) error {
	if len(s) > 255 {
		return errors.New("displayName: longer than 255 bytes")
	}
	return nil
}

func validRole(r auth.Role) error {
	if !r.Valid() {
		_, err := auth.ParseRole(string(r))
		return err
	}
	return nil
}

func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return prefix + hex.EncodeToString(b[:])
}

// CreateUser creates a user with its audit entry; ErrExists if the name
// is taken. Here and in the other changes to users and tokens, the
// entry is ctx's PendingAudit, or else one of a.
func (s *Store) CreateUser(ctx context.Context, u NewUser, a Audit) (User, error) {
	if err := errors.Join(ValidateUserName(u.Name), validDisplayName(u.DisplayName), validRole(u.Role)); err != nil {
		return User{}, fmt.Errorf("fleet: create user: %w: %w", ErrInvalid, err)
	}
	if u.PasswordHash == "" {
		return User{}, fmt.Errorf("fleet: create user: %w: password", ErrInvalid)
	}
	id, now := newID("u"), s.now()
	ctx, p := auditing(ctx, a)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `INSERT INTO users (id, name, display_name, role, password_hash, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`, id, u.Name, u.DisplayName, string(u.Role), u.PasswordHash, now, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("user %q: %w", u.Name, ErrExists)
		}
		p.describe("user.create", "user:"+u.Name, "role "+string(u.Role))
		return nil
	})
	if err != nil {
		return User{}, fmt.Errorf("fleet: create user: %w", err)
	}
	return s.User(ctx, id)
}

const userCols = `id, name, display_name, role, disabled, created_at, updated_at`

func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var u User
	var created, updated int64
	err := sc.Scan(&u.ID, &u.Name, &u.DisplayName, &u.Role, &u.Disabled, &created, &updated)
	u.CreatedAt, u.UpdatedAt = fromMS(created), fromMS(updated)
	return u, err
}

// User returns the user of id.
func (s *Store) User(ctx context.Context, id string) (User, error) {
	return s.user(ctx, s.db, `id`, id)
}

// UserByName returns the user named name and its password hash.
func (s *Store) UserByName(ctx context.Context, name string) (User, string, error) {
	var hash string
	u, err := s.user(ctx, s.db, `name`, name)
	if err == nil {
		err = s.queryRow(ctx, s.db, `SELECT password_hash FROM users WHERE id = ?`, u.ID).Scan(&hash)
	}
	return u, hash, err
}

// PasswordHash returns the password hash of user id.
func (s *Store) PasswordHash(ctx context.Context, id string) (string, error) {
	var hash string
	err := s.queryRow(ctx, s.db, `SELECT password_hash FROM users WHERE id = ?`, id).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("fleet: user %q: %w", id, ErrNotFound)
	}
	return hash, err
}

func (s *Store) user(ctx context.Context, q querier, col, v string) (User, error) {
	u, err := scanUser(s.queryRow(ctx, q, `SELECT `+userCols+` FROM users WHERE `+col+` = ?`, v))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("fleet: user %q: %w", v, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("fleet: user %q: %w", v, err)
	}
	return u, nil
}

// Users lists the users by name.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.query(ctx, s.db, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("fleet: users: %w", err)
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("fleet: users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// UpdateUser changes a user with its audit entry. It refuses to demote
// or disable the last enabled admin (ErrLastAdmin).
func (s *Store) UpdateUser(ctx context.Context, id string, c UserChange, a Audit) (User, error) {
	if c.DisplayName != nil {
		if err := validDisplayName(*c.DisplayName); err != nil {
			return User{}, fmt.Errorf("fleet: update user: %w: %w", ErrInvalid, err)
		}
	}
	if c.Role != nil {
		if err := validRole(*c.Role); err != nil {
			return User{}, fmt.Errorf("fleet: update user: %w: %w", ErrInvalid, err)
		}
	}
	ctx, p := auditing(ctx, a)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		u, err := s.user(ctx, tx, `id`, id)
		if err != nil {
			return err
		}
		var what []string
		if c.DisplayName != nil && *c.DisplayName != u.DisplayName {
			u.DisplayName = *c.DisplayName
			what = append(what, "displayName")
		}
		if c.Role != nil && *c.Role != u.Role {
			what = append(what, fmt.Sprintf("role %s -> %s", u.Role, *c.Role))
			u.Role = *c.Role
		}
		if c.Disabled != nil && *c.Disabled != u.Disabled {
			u.Disabled = *c.Disabled
			what = append(what, fmt.Sprintf("disabled %t", u.Disabled))
		}
		if _, err := s.exec(ctx, tx, `UPDATE users SET display_name = ?, role = ?, disabled = ?, updated_at = ? WHERE id = ?`,
			u.DisplayName, string(u.Role), u.Disabled, s.now(), id); err != nil {
			return err
		}
		// Checked after the write, in its transaction: two admins
		// demoting each other at once cannot both pass on SQLite's one
		// writer; on PostgreSQL the row lock of the UPDATE orders them.
		var admins int
		if err := s.queryRow(ctx, tx, `SELECT COUNT(*) FROM users WHERE role = ? AND NOT disabled`, string(auth.Admin)).Scan(&admins); err != nil {
			return err
		}
		if admins == 0 {
			return ErrLastAdmin
		}
		p.describe("user.update", "user:"+u.Name, strings.Join(what, ", "))
		return nil
	})
	if err != nil {
		return User{}, fmt.Errorf("fleet: update user %s: %w", id, err)
	}
	return s.User(ctx, id)
}

// SetPassword replaces a user's password hash, with its audit entry,
// and ends the user's dashboard sessions.
func (s *Store) SetPassword(ctx context.Context, id, hash string, a Audit) error {
	ctx, p := auditing(ctx, a)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		u, err := s.user(ctx, tx, `id`, id)
		if err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, hash, s.now(), id); err != nil {
			return err
		}
		// A new password signs the user out of every dashboard session.
		if _, err := s.exec(ctx, tx, `DELETE FROM web_sessions WHERE user_id = ?`, id); err != nil {
			return err
		}
		p.describe("user.password", "user:"+u.Name, "")
		return nil
	})
	if err != nil {
		return fmt.Errorf("fleet: set password of %s: %w", id, err)
	}
	return nil
}

// CreateAPIToken creates an API token for owner with role (at most the
// owner's: ErrRoleTooHigh) and an optional expiry, with its audit
// entry. The secret is returned once; only its hash is stored.
func (s *Store) CreateAPIToken(ctx context.Context, owner, name string, role auth.Role, expires time.Time, a Audit) (APIToken, string, error) {
	if name == "" || len(name) > 100 {
		return APIToken{}, "", fmt.Errorf("fleet: create token: %w: name: want 1 to 100 bytes", ErrInvalid)
	}
	if err := validRole(role); err != nil {
		return APIToken{}, "", fmt.Errorf("fleet: create token: %w: %w", ErrInvalid, err)
	}
	if !expires.IsZero() && !expires.After(s.clock.Now()) {
		return APIToken{}, "", fmt.Errorf("fleet: create token: %w: expires: in the past", ErrInvalid)
	}
	id, secret := newID("t"), TokenPrefix+NewSecret()
	ctx, p := auditing(ctx, a)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		u, err := s.user(ctx, tx, `id`, owner)
		if err != nil {
			return err
		}
		if u.Disabled {
			return fmt.Errorf("user %s is disabled: %w", u.Name, ErrInvalid)
		}
		if !u.Role.Allows(role) {
			return fmt.Errorf("%w: %s above %s", ErrRoleTooHigh, role, u.Role)
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO api_tokens (id, owner, name, role, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			id, owner, name, string(role), HashSecret(secret), s.now(), ms(expires)); err != nil {
			return err
		}
		p.describe("token.create", "token:"+id, fmt.Sprintf("for %s, role %s", u.Name, role))
		return nil
	})
	if err != nil {
		return APIToken{}, "", fmt.Errorf("fleet: create token: %w", err)
	}
	t, err := s.APIToken(ctx, id)
	return t, secret, err
}

const tokenQuery = `SELECT t.id, t.owner, u.name, t.name, t.role, t.created_at, t.last_used, t.expires_at, t.revoked_at <> 0
	FROM api_tokens t JOIN users u ON u.id = t.owner`

func scanToken(sc interface{ Scan(...any) error }) (APIToken, error) {
	var t APIToken
	var created, used, expires int64
	err := sc.Scan(&t.ID, &t.Owner, &t.OwnerName, &t.Name, &t.Role, &created, &used, &expires, &t.Revoked)
	t.CreatedAt, t.LastUsed, t.Expires = fromMS(created), fromMS(used), fromMS(expires)
	return t, err
}

// APIToken returns the token of id.
func (s *Store) APIToken(ctx context.Context, id string) (APIToken, error) {
	t, err := scanToken(s.queryRow(ctx, s.db, tokenQuery+` WHERE t.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return APIToken{}, fmt.Errorf("fleet: token %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("fleet: token %q: %w", id, err)
	}
	return t, nil
}

// APITokens lists owner's tokens ("": everyone's), newest first.
func (s *Store) APITokens(ctx context.Context, owner string) ([]APIToken, error) {
	q, args := tokenQuery, []any{}
	if owner != "" {
		q, args = q+` WHERE t.owner = ?`, append(args, owner)
	}
	rows, err := s.query(ctx, s.db, q+` ORDER BY t.created_at DESC, t.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("fleet: tokens: %w", err)
	}
	defer rows.Close()
	out := []APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("fleet: tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeAPIToken revokes a token, with its audit entry; revoking a
// revoked token changes nothing and succeeds (audited as such).
func (s *Store) RevokeAPIToken(ctx context.Context, id string, a Audit) error {
	ctx, p := auditing(ctx, a)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, s.now(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			if err := s.queryRow(ctx, tx, `SELECT 1 FROM api_tokens WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			} else if err != nil {
				return err
			}
			p.describe("token.revoke", "token:"+id, "already revoked")
			return nil
		}
		p.describe("token.revoke", "token:"+id, "")
		return nil
	})
	if err != nil {
		return fmt.Errorf("fleet: revoke token %s: %w", id, err)
	}
	return nil
}

// AuthenticateToken returns the principal of an API token secret: its
// effective role is the token's, capped by its owner's current role.
// Revoked and expired tokens and disabled owners are ErrUnauthenticated.
func (s *Store) AuthenticateToken(ctx context.Context, secret string) (auth.Principal, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return auth.Principal{}, ErrUnauthenticated
	}
	var (
		p                      auth.Principal
		tokenRole, userRole    auth.Role
		used, expires, revoked int64
		disabled               bool
	)
	err := s.queryRow(ctx, s.db, `SELECT t.id, t.role, t.last_used, t.expires_at, t.revoked_at, u.id, u.name, u.role, u.disabled
		FROM api_tokens t JOIN users u ON u.id = t.owner WHERE t.hash = ?`, HashSecret(secret)).
		Scan(&p.TokenID, &tokenRole, &used, &expires, &revoked, &p.UserID, &p.UserName, &userRole, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return auth.Principal{}, fmt.Errorf("fleet: authenticate: %w", err)
	}
	now := s.now()
	switch {
	case revoked != 0:
		return auth.Principal{}, fmt.Errorf("%w: token revoked", ErrUnauthenticated)
	case expires != 0 && now >= expires:
		return auth.Principal{}, fmt.Errorf("%w: token expired", ErrUnauthenticated)
	case disabled:
		return auth.Principal{}, fmt.Errorf("%w: user disabled", ErrUnauthenticated)
	}
	// last_used is a hint for the operator, written at most once a
	// minute per token rather than at every request.
	if now-used >= time.Minute.Milliseconds() {
		if _, err := s.exec(ctx, s.db, `UPDATE api_tokens SET last_used = ? WHERE id = ?`, now, p.TokenID); err != nil {
			s.log.Warn("recording a token's use", "token", p.TokenID, "err", err)
		}
	}
	p.Kind, p.Role = auth.KindToken, tokenRole.Min(userRole)
	return p, nil
}

// RecordAudit writes an audit entry of its own: a change that failed
// (a change made writes its entry with it: PendingAudit).
func (s *Store) RecordAudit(ctx context.Context, a Audit, action, target, outcome, message string) error {
	query, args := s.auditInsert(a, action, target, outcome, message)
	if _, err := s.db.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("fleet: audit: %w", err)
	}
	return nil
}

// auditInsert is the statement (in the engine's placeholders) that
// writes an audit entry: the one way entries are written.
func (s *Store) auditInsert(a Audit, action, target, outcome, message string) (string, []any) {
	now := s.now()
	// Time, then this store's sequence (entries of one millisecond keep
	// their order), then random bits (replicas sharing PostgreSQL).
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := fmt.Sprintf("%012x%010x%s", now, s.auditSeq.Add(1)&0xffffffffff, hex.EncodeToString(b[:]))
	return s.d.rebind(`INSERT INTO audit_log (id, at, actor, actor_user, action, target, outcome, message, request_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), []any{id, now, a.Actor, a.ActorUser, action, clip(target, 255), outcome, clip(message, 1000), clip(a.RequestID, 64)}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// AuditLog returns the entries f selects, newest first.
func (s *Store) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	q := `SELECT id, at, actor, actor_user, action, target, outcome, message, request_id FROM audit_log WHERE 1 = 1`
	var args []any
	if f.Actor != "" {
		q, args = q+` AND (actor = ? OR actor_user = ?)`, append(args, f.Actor, f.Actor)
	}
	if f.Action != "" {
		q, args = q+` AND action = ?`, append(args, f.Action)
	}
	if !f.Since.IsZero() {
		q, args = q+` AND at >= ?`, append(args, ms(f.Since))
	}
	if !f.Until.IsZero() {
		q, args = q+` AND at < ?`, append(args, ms(f.Until))
	}
	if f.Before != "" {
		q, args = q+` AND id < ?`, append(args, f.Before)
	}
	rows, err := s.query(ctx, s.db, q+` ORDER BY id DESC LIMIT ?`, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("fleet: audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.ActorUser, &e.Action, &e.Target, &e.Outcome, &e.Message, &e.RequestID); err != nil {
			return nil, fmt.Errorf("fleet: audit log: %w", err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
