package fleet

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/constellation-ev/constellation/syncproto"
)

// Site is a site as the operator sees it.
type Site struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Enrolled  bool      `json:"enrolled"`
	Revoked   bool      `json:"revoked"`
	CreatedAt time.Time `json:"createdAt"`
	Online    bool      `json:"online"`
	LastSeen  time.Time `json:"lastSeen,omitzero"`
	Boot      string    `json:"boot,omitempty"`
	BdSeq     uint64    `json:"bdSeq"`
	Software  string    `json:"software,omitempty"`
	Backlog   int64     `json:"backlog"`
	// DesiredApplied and AuthApplied are the versions the appliance
	// announced in its last birth; AuthVersion is the cloud's.
	DesiredApplied int64 `json:"desiredApplied"`
	AuthApplied    int64 `json:"authApplied"`
	AuthVersion    int64 `json:"authVersion"`
	// PricePerKWh is the site's tariff, a decimal ("0.295"; "": none),
	// in Currency (ISO 4217): what sessions' costs are computed with.
	PricePerKWh string `json:"pricePerKwh,omitempty"`
	Currency    string `json:"currency,omitempty"`
	// Counts of what the cloud holds for the site (Get only).
	Chargers     int64 `json:"chargers"`
	Transactions int64 `json:"transactions"`
	Readings     int64 `json:"readings"`
}

// NewSecret returns a new random secret (256 bits, URL-safe base64).
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashSecret is how secrets are stored.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// CreateSite registers a site (not yet enrolled), its authorization
// list holding the id tokens that work at every site.
func (s *Store) CreateSite(ctx context.Context, id, name string) (Site, error) {
	if err := syncproto.ValidateSiteID(id); err != nil {
		return Site{}, fmt.Errorf("fleet: create site: %w", err)
	}
	if len(name) > 255 {
		return Site{}, fmt.Errorf("fleet: create site: %w: name: longer than 255 bytes", ErrInvalid)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `INSERT INTO sites (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`, id, name, s.now())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrExists
		}
		return s.addAllSitesTokens(ctx, tx, id)
	})
	if err != nil {
		return Site{}, fmt.Errorf("fleet: create site %s: %w", id, err)
	}
	return s.Site(ctx, id)
}

// siteQuery selects sites with their counts: chargers, sessions and
// readings stored.
const siteQuery = `SELECT id, name, password_hash <> '', revoked, created_at, online, last_seen, boot, bd_seq, software,
	backlog, desired_applied, auth_applied, auth_version, price_per_kwh, currency, COALESCE(c.n, 0), COALESCE(t.n, 0), COALESCE(r.n, 0)
	FROM sites
	LEFT JOIN (SELECT site, COUNT(*) AS n FROM chargers GROUP BY site) c ON c.site = sites.id
	LEFT JOIN (SELECT site, COUNT(*) AS n FROM transactions GROUP BY site) t ON t.site = sites.id
	LEFT JOIN (SELECT site, CAST(SUM(value_count) AS BIGINT) AS n FROM reading_groups GROUP BY site) r ON r.site = sites.id`

func scanSite(sc interface{ Scan(...any) error }) (Site, error) {
	var st Site
	var created, seen int64
	var price sql.NullInt64
	err := sc.Scan(&st.ID, &st.Name, &st.Enrolled, &st.Revoked, &created, &st.Online, &seen, &st.Boot, &st.BdSeq,
		&st.Software, &st.Backlog, &st.DesiredApplied, &st.AuthApplied, &st.AuthVersion, &price, &st.Currency,
		&st.Chargers, &st.Transactions, &st.Readings)
	st.CreatedAt, st.LastSeen = fromMS(created), fromMS(seen)
	st.PricePerKWh = formatMicros(price)
	return st, err
}

// Site returns a site with its counts.
func (s *Store) Site(ctx context.Context, id string) (Site, error) {
	st, err := scanSite(s.queryRow(ctx, s.db, siteQuery+` WHERE sites.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Site{}, fmt.Errorf("fleet: site %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Site{}, fmt.Errorf("fleet: site %q: %w", id, err)
	}
	return st, nil
}

// Sites lists every site with its counts, by id.
func (s *Store) Sites(ctx context.Context) ([]Site, error) {
	rows, err := s.query(ctx, s.db, siteQuery+` ORDER BY sites.id`)
	if err != nil {
		return nil, fmt.Errorf("fleet: sites: %w", err)
	}
	defer rows.Close()
	out := []Site{}
	for rows.Next() {
		st, err := scanSite(rows)
		if err != nil {
			return nil, fmt.Errorf("fleet: sites: %w", err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// IssueToken returns a new single-use enrollment token for site, valid
// for ttl. Only its hash is stored.
func (s *Store) IssueToken(ctx context.Context, site string, ttl time.Duration) (token string, expires time.Time, err error) {
	if ttl <= 0 {
		return "", time.Time{}, fmt.Errorf("fleet: enrollment token: ttl %v: want a positive duration", ttl)
	}
	st, err := s.Site(ctx, site)
	if err != nil {
		return "", time.Time{}, err
	}
	if st.Revoked {
		return "", time.Time{}, fmt.Errorf("fleet: enrollment token for %s: %w", site, ErrRevoked)
	}
	token = NewSecret()
	now := s.clock.Now()
	expires = now.Add(ttl)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO enrollment_tokens (hash, site, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			HashSecret(token), site, now.UnixMilli(), expires.UnixMilli())
		return err
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("fleet: enrollment token for %s: %w", site, err)
	}
	return token, expires.UTC(), nil
}

// Bounds of a password an appliance chooses for itself
// (EnrollWithPassword): 32 characters are at least 128 bits in hex and
// 192 in base64; the upper bound keeps a request's hashing cheap.
const (
	MinPasswordLen = 32
	MaxPasswordLen = 256
)

// ErrBadPassword: a password an appliance chose is shorter than
// MinPasswordLen or longer than MaxPasswordLen.
var ErrBadPassword = fmt.Errorf("fleet: password: want %d to %d characters", MinPasswordLen, MaxPasswordLen)

// Enroll trades site's enrollment token for a new MQTT password,
// returned once and stored hashed; a later enrollment replaces it. The
// error wraps ErrTokenInvalid, ErrTokenUsed, ErrTokenExpired or
// ErrRevoked.
func (s *Store) Enroll(ctx context.Context, site, token string) (password string, err error) {
	password = NewSecret()
	if err := s.enroll(ctx, site, token, HashSecret(password), false); err != nil {
		return "", err
	}
	return password, nil
}

// EnrollWithPassword trades site's enrollment token for the MQTT
// password the appliance chose, stored hashed; a later enrollment
// replaces it. The appliance stores its password before it asks, so it
// asks again with the same one when the answer got lost: a used token
// is accepted again with the password that is still the site's. The
// error wraps ErrBadPassword, ErrTokenInvalid, ErrTokenUsed,
// ErrTokenExpired or ErrRevoked.
func (s *Store) EnrollWithPassword(ctx context.Context, site, token, password string) error {
	if n := len(password); n < MinPasswordLen || n > MaxPasswordLen {
		return fmt.Errorf("fleet: enroll %s: %w", site, ErrBadPassword)
	}
	return s.enroll(ctx, site, token, HashSecret(password), true)
}

// enroll marks token used and makes hash the site's credential. With
// again, a used token whose site's credential is already hash succeeds
// without changing anything.
func (s *Store) enroll(ctx context.Context, site, token, hash string, again bool) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var tokSite string
		var expires, used int64
		err := s.queryRow(ctx, tx, `SELECT site, expires_at, used_at FROM enrollment_tokens WHERE hash = ?`, HashSecret(token)).
			Scan(&tokSite, &expires, &used)
		switch {
		case errors.Is(err, sql.ErrNoRows) || err == nil && subtle.ConstantTimeCompare([]byte(tokSite), []byte(site)) != 1:
			return ErrTokenInvalid
		case err != nil:
			return err
		case used != 0 && again:
			return s.sameCredential(ctx, tx, site, hash)
		case used != 0:
			return ErrTokenUsed
		case s.now() >= expires:
			return ErrTokenExpired
		}
		var revoked bool
		if err := s.queryRow(ctx, tx, `SELECT revoked FROM sites WHERE id = ?`, site).Scan(&revoked); err != nil {
			return err
		}
		if revoked {
			return ErrRevoked
		}
		// The condition on used_at makes two concurrent trades of one
		// token yield one password.
		res, err := s.exec(ctx, tx, `UPDATE enrollment_tokens SET used_at = ? WHERE hash = ? AND used_at = 0`, s.now(), HashSecret(token))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrTokenUsed
		}
		_, err = s.exec(ctx, tx, `UPDATE sites SET password_hash = ? WHERE id = ?`, hash, site)
		return err
	})
	if err != nil {
		return fmt.Errorf("fleet: enroll %s: %w", site, err)
	}
	return nil
}

// sameCredential accepts a used token again when hash is still the
// site's credential: the enrollment happened, only its answer was lost.
// The token's expiry does not matter then, and a revoked site (whose
// credential is cleared) or one enrolled since with another password
// is refused as a used token.
func (s *Store) sameCredential(ctx context.Context, tx *sql.Tx, site, hash string) error {
	var current string
	var revoked bool
	if err := s.queryRow(ctx, tx, `SELECT password_hash, revoked FROM sites WHERE id = ?`, site).Scan(&current, &revoked); err != nil {
		return err
	}
	if revoked || current == "" || subtle.ConstantTimeCompare([]byte(current), []byte(hash)) != 1 {
		return ErrTokenUsed
	}
	return nil
}

// Authenticate checks an appliance's MQTT credentials: the user name is
// the site id. It returns nil only for an enrolled, unrevoked site with
// this password.
func (s *Store) Authenticate(ctx context.Context, site, password string) error {
	var hash string
	var revoked bool
	err := s.queryRow(ctx, s.db, `SELECT password_hash, revoked FROM sites WHERE id = ?`, site).Scan(&hash, &revoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("fleet: site %q: %w", site, ErrNotFound)
	case err != nil:
		return fmt.Errorf("fleet: authenticate %q: %w", site, err)
	case revoked:
		return fmt.Errorf("fleet: site %q: %w", site, ErrRevoked)
	case hash == "" || subtle.ConstantTimeCompare([]byte(hash), []byte(HashSecret(password))) != 1:
		return fmt.Errorf("fleet: site %q: wrong password", site)
	}
	return nil
}

// Revoke cuts a site off: its credentials and unused tokens stop working.
func (s *Store) Revoke(ctx context.Context, site string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `UPDATE sites SET revoked = ?, password_hash = '', online = ? WHERE id = ?`, true, false, site)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("fleet: revoke %q: %w", site, err)
	}
	return nil
}
