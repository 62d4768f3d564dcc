package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if err := VerifyPassword(h, "correct horse battery"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if err := VerifyPassword(h, "correct horse batterz"); !errors.Is(err, ErrPasswordMismatch) {
		t.Fatalf("wrong password: %v", err)
	}
	h2, _ := HashPassword("correct horse battery")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=19456,t=2,p=1$!!$a2V5", h[:len(h)-3]} {
		if err := VerifyPassword(bad, "correct horse battery"); err == nil || errors.Is(err, ErrPasswordMismatch) && bad != h[:len(h)-3] {
			t.Errorf("hash %q: %v", bad, err)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	for pw, ok := range map[string]bool{"short": false, strings.Repeat("é", 12): true, strings.Repeat("a", 256): true,
		strings.Repeat("a", 257): false, "\xff" + strings.Repeat("a", 12): false} {
		if err := CheckPassword(pw); (err == nil) != ok {
			t.Errorf("%q: %v", pw, err)
		}
	}
	if _, err := HashPassword("short"); err == nil {
		t.Error("a short password hashed")
	}
}

func TestRoles(t *testing.T) {
	if !Admin.Allows(Operator) || !Operator.Allows(Viewer) || Viewer.Allows(Operator) || Operator.Allows(Admin) || Role("x").Allows(Viewer) || Role("").Allows("") {
		t.Fatal("role order")
	}
	if Admin.Min(Viewer) != Viewer || Viewer.Min(Admin) != Viewer {
		t.Fatal("min")
	}
	if _, err := ParseRole("root"); err == nil {
		t.Fatal("root parsed")
	}
	ctx := WithPrincipal(context.Background(), Principal{Kind: KindToken, TokenID: "t1", Role: Viewer})
	if p, ok := From(ctx); !ok || p.Actor() != "token:t1" {
		t.Fatal(p)
	}
}
