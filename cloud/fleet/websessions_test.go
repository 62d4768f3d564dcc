package fleet_test

import (
	"errors"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
)

// A dashboard session lives while it is used, an hour idle and twelve
// hours at most; a disabled user and a new password end it; only the
// secret's hash is stored.
func TestWebSessions(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, clock *cloudtest.Clock) {
		a := cli
		_, err := s.CreateUser(ctx, fleet.NewUser{Name: "root", Role: auth.Admin, PasswordHash: "h"}, a)
		must(t, err)
		u, err := s.CreateUser(ctx, fleet.NewUser{Name: "ada", Role: auth.Operator, PasswordHash: "h"}, a)
		must(t, err)
		ws, err := s.CreateWebSession(ctx, u.ID, "secret-1", "csrf-1")
		must(t, err)
		if ws.User.Name != "ada" || ws.CSRF != "csrf-1" || !ws.Expires.Equal(t0.Add(fleet.MaxSessionAge)) {
			t.Fatalf("session %+v", ws)
		}
		unauthenticated := func(secret, why string) {
			t.Helper()
			if _, err := s.WebSession(ctx, secret); !errors.Is(err, fleet.ErrUnauthenticated) {
				t.Errorf("%s: %v, want ErrUnauthenticated", why, err)
			}
		}
		unauthenticated("secret-2", "an unknown secret")
		// Used every 50 minutes, it lives past the idle hour, up to the
		// twelve hours.
		for range 20 {
			clock.Advance(50 * time.Minute)
			if _, err := s.WebSession(ctx, "secret-1"); err != nil {
				break
			}
		}
		if now := clock.Now(); now.Before(t0.Add(fleet.MaxSessionAge)) {
			t.Errorf("the session ended at %v, before its twelve hours", now.Sub(t0))
		}
		unauthenticated("secret-1", "past twelve hours")

		_, err = s.CreateWebSession(ctx, u.ID, "secret-3", "csrf-3")
		must(t, err)
		clock.Advance(fleet.SessionIdleTimeout)
		unauthenticated("secret-3", "an hour idle")

		_, err = s.CreateWebSession(ctx, u.ID, "secret-4", "csrf-4")
		must(t, err)
		disabled := true
		_, err = s.UpdateUser(ctx, u.ID, fleet.UserChange{Disabled: &disabled}, a)
		must(t, err)
		unauthenticated("secret-4", "a disabled user")
		disabled = false
		_, err = s.UpdateUser(ctx, u.ID, fleet.UserChange{Disabled: &disabled}, a)
		must(t, err)
		if _, err := s.WebSession(ctx, "secret-4"); err != nil {
			t.Errorf("enabled again: %v", err)
		}
		must(t, s.SetPassword(ctx, u.ID, "h2", a))
		unauthenticated("secret-4", "after a new password")

		_, err = s.CreateWebSession(ctx, u.ID, "secret-5", "csrf-5")
		must(t, err)
		must(t, s.DeleteWebSession(ctx, "secret-5"))
		unauthenticated("secret-5", "signed out")
		must(t, s.DeleteWebSession(ctx, "secret-5"))
	})
}
