package fleet_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/syncproto"
)

// Every audited change writes its entry in its own transaction: when
// the entry cannot be written (a fault injected after the change's
// statements), the change is rolled back too; when it can, both are
// there, and the entry once, however many changes follow under the same
// context.
func TestAuditedChangeAndEntryTogether(t *testing.T) {
	for name, engine := range cloudtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			e := engine(t)
			s := e.Open(t, cloudtest.NewClock(t0), nil)
			driver := map[string]string{fleet.SQLite: "sqlite", fleet.Postgres: "pgx"}[e.Driver]
			db, err := sql.Open(driver, e.DSN)
			must(t, err)
			t.Cleanup(func() { db.Close() })
			count := func(query string) int64 {
				t.Helper()
				var n int64
				if err := db.QueryRowContext(ctx, query).Scan(&n); err != nil {
					t.Fatalf("%s: %v", query, err)
				}
				return n
			}

			_, err = s.CreateSite(ctx, "a", "")
			must(t, err)
			root, err := s.CreateUser(ctx, fleet.NewUser{Name: "root", Role: auth.Admin, PasswordHash: "h"}, cli)
			must(t, err)
			old, _, err := s.CreateAPIToken(ctx, root.ID, "old", auth.Admin, time.Time{}, cli)
			must(t, err)
			display := "Root"
			cases := []struct {
				action string
				change func(ctx context.Context) error
				// state counts what the change changes.
				state string
			}{
				{"site.create", func(ctx context.Context) error { _, err := s.CreateSite(ctx, "b", ""); return err },
					`SELECT COUNT(*) FROM sites`},
				{"site.token", func(ctx context.Context) error { _, _, err := s.IssueToken(ctx, "a", time.Hour); return err },
					`SELECT COUNT(*) FROM enrollment_tokens`},
				{"site.desired", func(ctx context.Context) error {
					_, err := s.SetDesired(ctx, "a", map[string]string{"K": "v"})
					return err
				}, `SELECT COUNT(*) FROM desired`},
				{"site.authlist.replace", func(ctx context.Context) error {
					_, err := s.ChangeAuthList(ctx, "a", fleet.AuthChange{Replace: true, Put: []syncproto.AuthEntry{{ID: "TAG1", Status: "Accepted"}}})
					return err
				}, `SELECT auth_version FROM sites WHERE id = 'a'`},
				{"command.create", func(ctx context.Context) error {
					_, err := s.CreateCommand(ctx, "a", "CP1", "reset", []byte(`{"type":"Soft"}`), t0.Add(time.Minute))
					return err
				}, `SELECT COUNT(*) FROM commands`},
				{"user.create", func(ctx context.Context) error {
					_, err := s.CreateUser(ctx, fleet.NewUser{Name: "olga", Role: auth.Operator, PasswordHash: "h"}, cli)
					return err
				}, `SELECT COUNT(*) FROM users`},
				{"user.update", func(ctx context.Context) error {
					_, err := s.UpdateUser(ctx, root.ID, fleet.UserChange{DisplayName: &display}, cli)
					return err
				}, `SELECT COUNT(*) FROM users WHERE display_name = 'Root'`},
				{"user.password", func(ctx context.Context) error { return s.SetPassword(ctx, root.ID, "h2", cli) },
					`SELECT COUNT(*) FROM users WHERE password_hash = 'h2'`},
				{"token.create", func(ctx context.Context) error {
					_, _, err := s.CreateAPIToken(ctx, root.ID, "new", auth.Viewer, time.Time{}, cli)
					return err
				}, `SELECT COUNT(*) FROM api_tokens`},
				{"token.revoke", func(ctx context.Context) error { return s.RevokeAPIToken(ctx, old.ID, cli) },
					`SELECT COUNT(*) FROM api_tokens WHERE revoked_at <> 0`},
				{"site.revoke", func(ctx context.Context) error { return s.Revoke(ctx, "a") },
					`SELECT COUNT(*) FROM sites WHERE revoked`},
			}
			request := func(action string) (context.Context, *fleet.PendingAudit) {
				p := &fleet.PendingAudit{Audit: fleet.Audit{Actor: "user:root", ActorUser: "root", RequestID: "r-" + action},
					Action: action, Target: "/" + action}
				return fleet.WithAudit(ctx, p), p
			}
			entries := `SELECT COUNT(*) FROM audit_log`

			// The entry's insert fails: nothing of the change stays.
			remove := boom(t, e, "audit_log", "outcome", fleet.OutcomeOK)
			for _, c := range cases {
				before, n := count(c.state), count(entries)
				ctx, p := request(c.action)
				if err := c.change(ctx); err == nil || !strings.Contains(err.Error(), "boom") {
					t.Fatalf("%s with its entry failing: %v", c.action, err)
				}
				if p.Written() || count(c.state) != before || count(entries) != n {
					t.Fatalf("%s: a failed entry left the change (%d -> %d) or an entry (%d -> %d), written %t",
						c.action, before, count(c.state), n, count(entries), p.Written())
				}
			}
			remove()

			// Both, and the entry once.
			for _, c := range cases {
				before, n := count(c.state), count(entries)
				ctx, p := request(c.action)
				must(t, c.change(ctx))
				if !p.Written() || count(c.state) == before || count(entries) != n+1 {
					t.Fatalf("%s: change %d -> %d, entries %d -> %d, written %t", c.action, before, count(c.state), n, count(entries), p.Written())
				}
				log, err := s.AuditLog(ctx, fleet.AuditFilter{Action: c.action, Limit: 1})
				must(t, err)
				if len(log) != 1 || log[0].Outcome != fleet.OutcomeOK || log[0].RequestID != "r-"+c.action || log[0].Actor != "user:root" {
					t.Fatalf("%s: entry %+v", c.action, log)
				}
				// A write that follows under the request's context (a
				// command sent, say) is not audited again.
				_, err = s.SetDesired(ctx, "b", map[string]string{"n": c.action})
				must(t, err)
				if count(entries) != n+1 {
					t.Fatalf("%s: a second write under its context wrote another entry", c.action)
				}
			}
		})
	}
}
