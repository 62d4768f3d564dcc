// Package security implements the OCPP security profiles for the CSMS's
// websocket listener:
//
//   - profile 1: HTTP Basic auth per charger (username = charger id) over
//     plain ws;
//   - profile 2: TLS plus HTTP Basic auth;
//   - profile 3: mutual TLS, the verified client certificate's CN is the
//     charger id.
//
// Passwords are stored as salted PBKDF2-SHA256 hashes; successful
// verifications are cached in memory so reconnect storms stay cheap.
//
// For profile 3 the TLS listener must verify client certificates itself
// (tls.Config ClientAuth = tls.VerifyClientCertIfGiven, ClientCAs = the
// charger CA); this package only reads r.TLS.VerifiedChains.
package security

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
)

// Security profiles.
const (
	// ProfileNone admits a listed charger without credentials: for chargers
	// that cannot authenticate, on a network the installer trusts.
	ProfileNone      = 0
	ProfileBasic     = 1
	ProfileTLSBasic  = 2
	ProfileMutualTLS = 3
)

// Charger is one known charger's credentials.
type Charger struct {
	ID      string
	Profile int
	// PasswordHash from HashPassword; unused for profile 3.
	PasswordHash string
}

// Policy says what to do with chargers that are not configured.
type Policy string

// Unknown-charger policies.
const (
	// RejectUnknown refuses unknown chargers with HTTP 403 (the default).
	RejectUnknown Policy = "reject"
	// AcceptUnknown lets unknown chargers connect without credentials, but
	// only through a listener that allows it: see [Authenticator.Listener].
	AcceptUnknown Policy = "accept"
)

// Config configures an Authenticator.
type Config struct {
	Chargers []Charger
	Unknown  Policy // "" means RejectUnknown
	Logger   *slog.Logger
}

// Authenticator checks chargers against their configured security
// profile. Its Authenticate never admits unknown chargers; use Listener to
// get one that does, for a listener meant for onboarding new chargers.
type Authenticator struct {
	log     *slog.Logger
	unknown Policy
	key     []byte // per-process HMAC key for the verification cache

	mu       sync.RWMutex
	chargers map[string]Charger
	verified map[string][]byte // charger id -> HMAC(hash, password) last verified
}

var _ rpc.Authenticator = (*Authenticator)(nil)

// New returns an Authenticator for cfg.
func New(cfg Config) (*Authenticator, error) {
	switch cfg.Unknown {
	case "":
		cfg.Unknown = RejectUnknown
	case RejectUnknown, AcceptUnknown:
	default:
		return nil, fmt.Errorf("security: unknown charger policy %q (want accept or reject)", cfg.Unknown)
	}
	a := &Authenticator{log: cfg.Logger, unknown: cfg.Unknown, key: make([]byte, 32)}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if _, err := rand.Read(a.key); err != nil {
		return nil, fmt.Errorf("security: cache key: %w", err)
	}
	if err := a.SetChargers(cfg.Chargers); err != nil {
		return nil, err
	}
	return a, nil
}

// SetChargers replaces the charger table and forgets cached verifications.
func (a *Authenticator) SetChargers(chargers []Charger) error {
	m := make(map[string]Charger, len(chargers))
	for _, c := range chargers {
		if c.ID == "" {
			return errors.New("security: charger with empty id")
		}
		switch c.Profile {
		case ProfileBasic, ProfileTLSBasic:
			if _, _, _, err := parseHash(c.PasswordHash); err != nil {
				return fmt.Errorf("security: charger %s: %w", c.ID, err)
			}
		case ProfileNone, ProfileMutualTLS:
		default:
			return fmt.Errorf("security: charger %s: unknown security profile %d", c.ID, c.Profile)
		}
		m[c.ID] = c
	}
	a.mu.Lock()
	a.chargers = m
	a.verified = map[string][]byte{}
	a.mu.Unlock()
	return nil
}

// Authenticate implements rpc.Authenticator; unknown chargers are refused
// whatever the policy.
func (a *Authenticator) Authenticate(r *http.Request, id string) error {
	return a.authenticate(r, id, false)
}

// Listener returns the rpc.Authenticator for one listener. allowUnknown
// says whether this listener admits unknown chargers; they are admitted,
// without credentials, only if it is true and the policy is AcceptUnknown.
func (a *Authenticator) Listener(allowUnknown bool) rpc.Authenticator {
	return listener{a: a, allowUnknown: allowUnknown}
}

type listener struct {
	a            *Authenticator
	allowUnknown bool
}

func (l listener) Authenticate(r *http.Request, id string) error {
	return l.a.authenticate(r, id, l.allowUnknown)
}

func (a *Authenticator) authenticate(r *http.Request, id string, allowUnknown bool) error {
	a.mu.RLock()
	c, known := a.chargers[id]
	a.mu.RUnlock()
	if !known {
		if allowUnknown && a.unknown == AcceptUnknown {
			a.log.Info("unknown charger admitted by policy", "charger", id)
			return nil
		}
		return fmt.Errorf("unknown charger %q: %w", id, rpc.ErrForbidden)
	}
	if c.Profile == ProfileNone {
		return nil
	}
	if c.Profile >= ProfileTLSBasic && r.TLS == nil {
		return fmt.Errorf("charger %q: security profile %d requires TLS: %w", id, c.Profile, rpc.ErrForbidden)
	}
	if c.Profile == ProfileMutualTLS {
		if len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
			return fmt.Errorf("charger %q: no verified client certificate: %w", id, rpc.ErrForbidden)
		}
		if cn := r.TLS.PeerCertificates[0].Subject.CommonName; cn != id {
			return fmt.Errorf("charger %q: certificate CN %q does not match: %w", id, cn, rpc.ErrForbidden)
		}
		return nil
	}
	user, pw, ok := r.BasicAuth()
	if !ok {
		return fmt.Errorf("charger %q: no Basic credentials: %w", id, rpc.ErrUnauthorized)
	}
	if user != id {
		return fmt.Errorf("charger %q: Basic username does not match identity: %w", id, rpc.ErrUnauthorized)
	}
	if !a.checkPassword(c, pw) {
		return fmt.Errorf("charger %q: wrong password: %w", id, rpc.ErrUnauthorized)
	}
	return nil
}

// checkPassword verifies pw, using the cache of verified secrets first.
// The cache key covers the stored hash too, so a changed hash never
// matches an old entry. Failures are not cached.
func (a *Authenticator) checkPassword(c Charger, pw string) bool {
	h := hmac.New(sha256.New, a.key)
	h.Write([]byte(c.PasswordHash))
	h.Write([]byte{0})
	h.Write([]byte(pw))
	mac := h.Sum(nil)

	a.mu.RLock()
	cached := a.verified[c.ID]
	a.mu.RUnlock()
	if cached != nil && hmac.Equal(cached, mac) {
		return true
	}
	ok, err := VerifyPassword(c.PasswordHash, pw)
	if err != nil {
		a.log.Error("stored password hash unusable", "charger", c.ID, "err", err)
		return false
	}
	if ok {
		a.mu.Lock()
		if cur, still := a.chargers[c.ID]; still && cur.PasswordHash == c.PasswordHash {
			a.verified[c.ID] = mac
		}
		a.mu.Unlock()
	}
	return ok
}
