package security

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultIterations is the PBKDF2-SHA256 iteration count for new hashes.
// Charger passwords are machine-generated keys of 16 to 40 characters, so
// their entropy, not the iteration count, is what resists guessing; 10,000
// keeps one verification to a few milliseconds on a Raspberry Pi, so a
// reboot reconnect storm of thousands of chargers stays cheap.
const DefaultIterations = 10_000

// Password length limits set by OCPP for charger Basic auth passwords.
const (
	MinPasswordLen = 16
	MaxPasswordLen = 40
)

const (
	hashScheme = "pbkdf2-sha256"
	saltLen    = 16
	keyLen     = 32
	// Bounds on a stored iteration count, so a bad config cannot make
	// every verification trivially weak or a CPU sink.
	minIterations = 1_000
	maxIterations = 10_000_000
)

// Errors about passwords and their hashes.
var (
	ErrPasswordLength = fmt.Errorf("security: password must be %d to %d characters", MinPasswordLen, MaxPasswordLen)
	ErrBadHash        = errors.New("security: malformed password hash")
)

var b64 = base64.RawStdEncoding

// HashPassword returns a salted PBKDF2-SHA256 hash of pw, encoded as
// pbkdf2-sha256$iterations$salt$hash (unpadded standard base64).
func HashPassword(pw string) (string, error) {
	if err := CheckPassword(pw); err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("security: salt: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, pw, salt, DefaultIterations, keyLen)
	if err != nil {
		return "", fmt.Errorf("security: hash: %w", err)
	}
	return hashScheme + "$" + strconv.Itoa(DefaultIterations) + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key), nil
}

// CheckPassword reports whether pw may be a charger's password: the
// length OCPP sets for Basic auth passwords (ErrPasswordLength). It is
// the rule HashPassword applies, for callers that check a password long
// before they hash it (the installer's settings file).
func CheckPassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPasswordLen || n > MaxPasswordLen {
		return ErrPasswordLength
	}
	return nil
}

// VerifyPassword reports whether pw matches the encoded hash, comparing in
// constant time. A malformed hash is ErrBadHash.
func VerifyPassword(encoded, pw string) (bool, error) {
	iter, salt, want, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	got, err := pbkdf2.Key(sha256.New, pw, salt, iter, len(want))
	if err != nil {
		return false, fmt.Errorf("security: verify: %w", err)
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func parseHash(encoded string) (iter int, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 || parts[0] != hashScheme {
		return 0, nil, nil, ErrBadHash
	}
	iter, err = strconv.Atoi(parts[1])
	if err != nil || iter < minIterations || iter > maxIterations {
		return 0, nil, nil, fmt.Errorf("%w: iteration count", ErrBadHash)
	}
	if salt, err = b64.DecodeString(parts[2]); err != nil || len(salt) < 8 {
		return 0, nil, nil, fmt.Errorf("%w: salt", ErrBadHash)
	}
	if key, err = b64.DecodeString(parts[3]); err != nil || len(key) < 16 || len(key) > 64 {
		return 0, nil, nil, fmt.Errorf("%w: key", ErrBadHash)
	}
	return iter, salt, key, nil
}
