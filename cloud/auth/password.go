package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password length bounds, in characters.
const (
	MinPassword = 12
	MaxPassword = 256
)

// Argon2id parameters for a small server (OWASP's first choice for
// argon2id): 19 MiB of memory, 2 passes, 1 lane; a hash takes tens of
// milliseconds. hashSlots bounds how many run at once, so that a burst
// of logins costs at most hashSlots × 19 MiB.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
	hashSlots    = 4
)

var slots = make(chan struct{}, hashSlots)

// ErrPasswordMismatch: the password is not the one hashed.
var ErrPasswordMismatch = errors.New("auth: wrong password")

// CheckPassword checks a new password's length and encoding.
func CheckPassword(pw string) error {
	if !utf8.ValidString(pw) {
		return errors.New("password: not valid UTF-8")
	}
	switch n := utf8.RuneCountInString(pw); {
	case n < MinPassword:
		return fmt.Errorf("password: want at least %d characters", MinPassword)
	case n > MaxPassword:
		return fmt.Errorf("password: want at most %d characters", MaxPassword)
	}
	return nil
}

// HashPassword checks pw and returns its argon2id hash in the PHC
// string format: $argon2id$v=19$m=19456,t=2,p=1$SALT$HASH (unpadded
// standard base64), so that stored hashes keep their parameters when the
// defaults change.
func HashPassword(pw string) (string, error) {
	if err := CheckPassword(pw); err != nil {
		return "", err
	}
	salt := make([]byte, argonSaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read does not fail
	key := derive(pw, salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports nil when pw matches encoded (HashPassword's),
// ErrPasswordMismatch when not, and another error for a hash it cannot
// read. The comparison takes constant time.
func VerifyPassword(encoded, pw string) error {
	var (
		version, memory, passes int
		threads                 int
	)
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return errors.New("auth: password hash: not argon2id in PHC format")
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return fmt.Errorf("auth: password hash: version %q", parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &passes, &threads); err != nil {
		return fmt.Errorf("auth: password hash: parameters %q", parts[3])
	}
	// Bounds keep a damaged or hostile stored hash from costing
	// gigabytes or minutes.
	if memory < 8 || memory > 1<<20 || passes < 1 || passes > 16 || threads < 1 || threads > 16 {
		return fmt.Errorf("auth: password hash: parameters %q out of bounds", parts[3])
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return errors.New("auth: password hash: salt")
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return errors.New("auth: password hash: key")
	}
	if len(pw) > 4*MaxPassword {
		return ErrPasswordMismatch
	}
	got := derive(pw, salt, uint32(passes), uint32(memory), uint8(threads), uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return ErrPasswordMismatch
	}
	return nil
}

// dummyHash is verified against when there is no user, so that an
// unknown name costs as long as a wrong password.
var dummyHash, _ = HashPassword("not a password of anyone")

// SpendVerify costs what VerifyPassword does, for a name with no user.
func SpendVerify(pw string) { _ = VerifyPassword(dummyHash, pw) }

func derive(pw string, salt []byte, t, m uint32, p uint8, n uint32) []byte {
	slots <- struct{}{}
	defer func() { <-slots }()
	return argon2.IDKey([]byte(pw), salt, t, m, p, n)
}

// NewPassword returns a generated password (256 random bits).
func NewPassword() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
