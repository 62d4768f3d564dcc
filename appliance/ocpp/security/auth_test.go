package security

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/internal/testpki"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/gorilla/websocket"
)

func TestHashPassword(t *testing.T) {
	pw := "0123456789abcdefXYZ"
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "pbkdf2-sha256$10000$") {
		t.Errorf("hash %q", h)
	}
	if h2, _ := HashPassword(pw); h2 == h {
		t.Error("two hashes of the same password are equal: no salt")
	}
	if ok, err := VerifyPassword(h, pw); !ok || err != nil {
		t.Errorf("VerifyPassword(right) = %v, %v", ok, err)
	}
	if ok, err := VerifyPassword(h, pw+"x"); ok || err != nil {
		t.Errorf("VerifyPassword(wrong) = %v, %v", ok, err)
	}
	for _, bad := range []string{"short", strings.Repeat("x", 41)} {
		if _, err := HashPassword(bad); !errors.Is(err, ErrPasswordLength) {
			t.Errorf("HashPassword(%q) err %v", bad, err)
		}
	}
	for _, bad := range []string{"", "md5$1$2$3", "pbkdf2-sha256$10$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"pbkdf2-sha256$10000$!!$AAAAAAAAAAAAAAAAAAAAAA", "pbkdf2-sha256$10000$AAAAAAAAAAAAAAAAAAAAAA$AA"} {
		if _, err := VerifyPassword(bad, pw); !errors.Is(err, ErrBadHash) {
			t.Errorf("VerifyPassword(%q) err %v, want ErrBadHash", bad, err)
		}
	}
}

func FuzzVerifyPassword(f *testing.F) {
	f.Add("pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5", "password")
	f.Add("pbkdf2-sha256$x$$", "")
	f.Add("$$$", "a")
	f.Fuzz(func(t *testing.T, encoded, pw string) {
		ok, err := VerifyPassword(encoded, pw)
		if err != nil && ok {
			t.Fatal("ok with error")
		}
	})
}

// pki is a throwaway CA with server and charger certificates.
func hash(t *testing.T, pw string) string {
	t.Helper()
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestProfilesOverLoopback(t *testing.T) {
	p := testpki.New(t)
	const pw1, pw2 = "profile-one-secret-key", "profile-two-secret-key"
	auth, err := New(Config{Unknown: AcceptUnknown, Chargers: []Charger{
		{ID: "CP1", Profile: ProfileBasic, PasswordHash: hash(t, pw1)},
		{ID: "CP2", Profile: ProfileTLSBasic, PasswordHash: hash(t, pw2)},
		{ID: "CP3", Profile: ProfileMutualTLS},
		{ID: "CP0", Profile: ProfileNone},
	}})
	if err != nil {
		t.Fatal(err)
	}
	strict := rpc.NewServer(rpc.ServerOptions{Authenticator: auth})
	open := rpc.NewServer(rpc.ServerOptions{Authenticator: auth.Listener(true)})

	plain := httptest.NewServer(strict)
	defer plain.Close()
	plainOpen := httptest.NewServer(open)
	defer plainOpen.Close()
	secure := httptest.NewUnstartedServer(strict)
	secure.TLS = &tls.Config{
		Certificates: []tls.Certificate{p.Server},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    p.Pool,
	}
	secure.StartTLS()
	defer secure.Close()
	defer strict.Shutdown(context.Background())
	defer open.Shutdown(context.Background())

	ws := func(s *httptest.Server, id string) string {
		return "ws" + strings.TrimPrefix(s.URL, "http") + "/ocpp/" + id
	}
	cp3 := p.Issue(t, "CP3", x509.ExtKeyUsageClientAuth)
	other := p.Issue(t, "OTHER", x509.ExtKeyUsageClientAuth)
	tlsWith := func(certs ...tls.Certificate) *tls.Config {
		return &tls.Config{RootCAs: p.Pool, Certificates: certs}
	}

	tests := []struct {
		name   string
		url    string
		opts   rpc.DialOptions
		status int // 0 = connects
	}{
		{"p1 ok", ws(plain, "CP1"), rpc.DialOptions{Username: "CP1", Password: pw1}, 0},
		{"p1 wrong password", ws(plain, "CP1"), rpc.DialOptions{Username: "CP1", Password: pw2}, 401},
		{"p1 no credentials", ws(plain, "CP1"), rpc.DialOptions{}, 401},
		{"p1 other username", ws(plain, "CP1"), rpc.DialOptions{Username: "CP2", Password: pw1}, 401},
		{"p2 without TLS", ws(plain, "CP2"), rpc.DialOptions{Username: "CP2", Password: pw2}, 403},
		{"p2 ok", ws(secure, "CP2"), rpc.DialOptions{Username: "CP2", Password: pw2, TLSConfig: tlsWith()}, 0},
		{"p2 wrong password", ws(secure, "CP2"), rpc.DialOptions{Username: "CP2", Password: pw1, TLSConfig: tlsWith()}, 401},
		{"p3 ok", ws(secure, "CP3"), rpc.DialOptions{TLSConfig: tlsWith(cp3)}, 0},
		{"p3 other CN", ws(secure, "CP3"), rpc.DialOptions{TLSConfig: tlsWith(other)}, 403},
		{"p3 no certificate", ws(secure, "CP3"), rpc.DialOptions{TLSConfig: tlsWith()}, 403},
		{"p3 without TLS", ws(plain, "CP3"), rpc.DialOptions{}, 403},
		{"p0 listed, no credentials", ws(plain, "CP0"), rpc.DialOptions{}, 0},
		{"unknown on strict listener", ws(plain, "NEW"), rpc.DialOptions{}, 403},
		{"unknown on open listener", ws(plainOpen, "NEW"), rpc.DialOptions{}, 0},
		{"known still checked on open listener", ws(plainOpen, "CP1"), rpc.DialOptions{}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := rpc.Dial(context.Background(), tt.url, tt.opts)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				c.Close(websocket.CloseNormalClosure, "")
				return
			}
			var he *rpc.HandshakeError
			if !errors.As(err, &he) || he.StatusCode != tt.status {
				t.Fatalf("err %v, want HTTP %d", err, tt.status)
			}
		})
	}
}

func TestVerificationCache(t *testing.T) {
	const pw = "a-very-random-charger-key"
	auth, err := New(Config{Chargers: []Charger{{ID: "CP1", Profile: ProfileBasic, PasswordHash: hash(t, pw)}}})
	if err != nil {
		t.Fatal(err)
	}
	req := func(user, pass string) *http.Request {
		r := httptest.NewRequest("GET", "/ocpp/CP1", nil)
		r.SetBasicAuth(user, pass)
		return r
	}
	if err := auth.Authenticate(req("CP1", pw), "CP1"); err != nil {
		t.Fatal(err)
	}
	if len(auth.verified) != 1 {
		t.Fatalf("cache has %d entries after success, want 1", len(auth.verified))
	}
	// A cached success does not let another password in.
	if err := auth.Authenticate(req("CP1", pw+"!"), "CP1"); !errors.Is(err, rpc.ErrUnauthorized) {
		t.Fatalf("wrong password after cached success: %v", err)
	}
	if err := auth.Authenticate(req("CP1", pw), "CP1"); err != nil {
		t.Fatalf("cached success: %v", err)
	}
	// A new hash (password rotated) invalidates the cache.
	const pw2 = "the-rotated-charger-key"
	if err := auth.SetChargers([]Charger{{ID: "CP1", Profile: ProfileBasic, PasswordHash: hash(t, pw2)}}); err != nil {
		t.Fatal(err)
	}
	if err := auth.Authenticate(req("CP1", pw), "CP1"); !errors.Is(err, rpc.ErrUnauthorized) {
		t.Fatalf("old password after rotation: %v", err)
	}
	if err := auth.Authenticate(req("CP1", pw2), "CP1"); err != nil {
		t.Fatalf("new password: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{Unknown: "maybe"},
		{Chargers: []Charger{{ID: "", Profile: 1}}},
		{Chargers: []Charger{{ID: "A", Profile: 4}}},
		{Chargers: []Charger{{ID: "A", Profile: 1, PasswordHash: "plaintext"}}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func BenchmarkAuthenticateCached(b *testing.B) {
	const pw = "a-very-random-charger-key"
	h, _ := HashPassword(pw)
	auth, _ := New(Config{Chargers: []Charger{{ID: "CP1", Profile: ProfileBasic, PasswordHash: h}}})
	r := httptest.NewRequest("GET", "/ocpp/CP1", nil)
	r.SetBasicAuth("CP1", pw)
	for b.Loop() {
		if err := auth.Authenticate(r, "CP1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyPassword(b *testing.B) {
	h, _ := HashPassword("a-very-random-charger-key")
	for b.Loop() {
		_, _ = VerifyPassword(h, "a-very-random-charger-key")
	}
}
