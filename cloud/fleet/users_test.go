package fleet_test

import (
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
)

var cli = fleet.Audit{Actor: "cli"}

// Users and tokens: a token's role is capped by its owner's, revoked,
// expired and disabled ones authenticate no more, the last admin stays,
// and every change has its audit entry, a failed one none.
func TestUsersAndTokens(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, clock *cloudtest.Clock) {
		admin, err := s.CreateUser(ctx, fleet.NewUser{Name: "root", Role: auth.Admin, PasswordHash: "h"}, cli)
		must(t, err)
		if _, err := s.CreateUser(ctx, fleet.NewUser{Name: "root", Role: auth.Viewer, PasswordHash: "h"}, cli); !errors.Is(err, fleet.ErrExists) {
			t.Fatalf("a taken name: %v", err)
		}
		if _, err := s.CreateUser(ctx, fleet.NewUser{Name: "Bad Name", Role: auth.Viewer, PasswordHash: "h"}, cli); !errors.Is(err, fleet.ErrInvalid) {
			t.Fatalf("a bad name: %v", err)
		}
		op, err := s.CreateUser(ctx, fleet.NewUser{Name: "olga", Role: auth.Operator, PasswordHash: "h"}, cli)
		must(t, err)
		if _, _, err := s.CreateAPIToken(ctx, op.ID, "x", auth.Admin, time.Time{}, cli); !errors.Is(err, fleet.ErrRoleTooHigh) {
			t.Fatalf("a token above its owner: %v", err)
		}
		tok, secret, err := s.CreateAPIToken(ctx, op.ID, "script", auth.Operator, clock.Now().Add(time.Hour), cli)
		must(t, err)
		p, err := s.AuthenticateToken(ctx, secret)
		if err != nil || p.Role != auth.Operator || p.UserName != "olga" || p.TokenID != tok.ID {
			t.Fatalf("authenticate: %+v %v", p, err)
		}
		// Demoting the owner caps the token.
		viewer := auth.Viewer
		_, err = s.UpdateUser(ctx, op.ID, fleet.UserChange{Role: &viewer}, cli)
		must(t, err)
		if p, _ := s.AuthenticateToken(ctx, secret); p.Role != auth.Viewer {
			t.Fatalf("a demoted owner's token: %s", p.Role)
		}
		// The last admin cannot go; the failed change leaves no trace.
		before, err := s.AuditLog(ctx, fleet.AuditFilter{})
		must(t, err)
		yes := true
		if _, err := s.UpdateUser(ctx, admin.ID, fleet.UserChange{Disabled: &yes}, cli); !errors.Is(err, fleet.ErrLastAdmin) {
			t.Fatalf("disabling the last admin: %v", err)
		}
		if u, _ := s.User(ctx, admin.ID); u.Disabled {
			t.Fatal("the last admin was disabled")
		}
		after, err := s.AuditLog(ctx, fleet.AuditFilter{})
		must(t, err)
		if len(after) != len(before) {
			t.Fatalf("a failed change wrote %d audit entries", len(after)-len(before))
		}
		// Expiry, then revocation (twice: idempotent, one entry).
		clock.Advance(time.Hour)
		if _, err := s.AuthenticateToken(ctx, secret); !errors.Is(err, fleet.ErrUnauthenticated) {
			t.Fatalf("expired: %v", err)
		}
		_, secret2, err := s.CreateAPIToken(ctx, admin.ID, "other", auth.Viewer, time.Time{}, cli)
		must(t, err)
		ts, err := s.APITokens(ctx, admin.ID)
		must(t, err)
		if len(ts) != 1 {
			t.Fatalf("admin's tokens: %+v", ts)
		}
		must(t, s.RevokeAPIToken(ctx, ts[0].ID, cli))
		must(t, s.RevokeAPIToken(ctx, ts[0].ID, cli))
		if err := s.RevokeAPIToken(ctx, "tnone", cli); !errors.Is(err, fleet.ErrNotFound) {
			t.Fatalf("revoking no token: %v", err)
		}
		if _, err := s.AuthenticateToken(ctx, secret2); !errors.Is(err, fleet.ErrUnauthenticated) {
			t.Fatalf("revoked: %v", err)
		}
		if _, err := s.AuthenticateToken(ctx, "cwt_guess"); !errors.Is(err, fleet.ErrUnauthenticated) {
			t.Fatalf("guessed: %v", err)
		}
		revokes, err := s.AuditLog(ctx, fleet.AuditFilter{Action: "token.revoke"})
		must(t, err)
		if len(revokes) != 2 || revokes[0].Message != "already revoked" || revokes[0].Actor != "cli" || revokes[0].Outcome != fleet.OutcomeOK {
			t.Fatalf("revocation entries %+v", revokes)
		}
		// Pages, newest first.
		all, err := s.AuditLog(ctx, fleet.AuditFilter{})
		must(t, err)
		var paged []fleet.AuditEntry
		for before := ""; ; {
			page, err := s.AuditLog(ctx, fleet.AuditFilter{Limit: 2, Before: before})
			must(t, err)
			paged = append(paged, page...)
			if len(page) < 2 {
				break
			}
			before = page[1].ID
		}
		if len(paged) != len(all) || len(all) < 6 || all[0].Action != "token.revoke" {
			t.Fatalf("paged %d of %d; first %+v", len(paged), len(all), all[0])
		}
	})
}

// Migration 0005 comes up on a store with data, which stays.
func TestMigrationToUsers(t *testing.T) {
	for name, engine := range cloudtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			e := engine(t)
			s, err := fleet.OpenUpTo(ctx, fleet.Options{Driver: e.Driver, DSN: e.DSN}, 4)
			must(t, err)
			s.Close()
			// The site as version 4's store wrote it (its CreateSite reads
			// tables of later versions).
			db, err := sql.Open(map[string]string{fleet.SQLite: "sqlite", fleet.Postgres: "pgx"}[e.Driver], e.DSN)
			must(t, err)
			defer db.Close()
			_, err = db.ExecContext(ctx, `INSERT INTO sites (id, name, created_at) VALUES ('site-a', 'Depot', 1)`)
			must(t, err)
			s, err = fleet.Open(ctx, fleet.Options{Driver: e.Driver, DSN: e.DSN})
			must(t, err)
			defer s.Close()
			if st, err := s.Site(ctx, "site-a"); err != nil || st.Name != "Depot" {
				t.Fatalf("site after the migration: %+v %v", st, err)
			}
			if _, err := s.CreateUser(ctx, fleet.NewUser{Name: "root", Role: auth.Admin, PasswordHash: "h"}, cli); err != nil {
				t.Fatal(err)
			}
		})
	}
}
