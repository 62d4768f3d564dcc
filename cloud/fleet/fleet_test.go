package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/syncproto"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
)

// forEngines runs fn on a fresh store of every engine available.
func forEngines(t *testing.T, fn func(t *testing.T, s *fleet.Store, clock *cloudtest.Clock)) {
	for name, engine := range cloudtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			clock := cloudtest.NewClock(t0)
			logs := &cloudtest.Logs{}
			fn(t, engine(t).Open(t, clock, logs.Logger()), clock)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func hdr(site, key string) syncproto.Header {
	return syncproto.Header{Version: syncproto.Version, Site: site, Key: key, Time: t0}
}

// apply applies m and reports whether it took effect.
func apply(t *testing.T, s *fleet.Store, m syncproto.Message) bool {
	t.Helper()
	must(t, m.Validate())
	ok, err := s.Apply(ctx, m)
	must(t, err)
	return ok
}

// The schema comes up from nothing, and opening again migrates nothing.
func TestMigrationsFromEmpty(t *testing.T) {
	for name, engine := range cloudtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			e := engine(t)
			s := e.Open(t, nil, nil)
			_, err := s.CreateSite(ctx, "depot-7", "Depot")
			must(t, err)
			s.Close()
			s = e.Open(t, nil, nil)
			if _, err := s.Site(ctx, "depot-7"); err != nil {
				t.Fatalf("after reopening: %v", err)
			}
		})
	}
}

func TestTransactionsKeepTheHighestRev(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		tx := func(key string, rev int, event string) *syncproto.Transaction {
			m := &syncproto.Transaction{Header: hdr("a", key), Event: event, Rev: rev, ID: 42, Charger: "CP1", Connector: 1,
				IDTag: fmt.Sprint("rev", rev), Start: t0, MeterStartWh: 10}
			if event == syncproto.TxStopped {
				m.Stop, m.MeterStopWh = t0.Add(time.Hour), new(int64(500))
			}
			return m
		}
		if !apply(t, s, tx("k1", 1, syncproto.TxStarted)) || !apply(t, s, tx("k3", 3, syncproto.TxStopped)) {
			t.Fatal("first records not applied")
		}
		if apply(t, s, tx("k3", 3, syncproto.TxStopped)) {
			t.Error("a repeated key applied twice")
		}
		apply(t, s, tx("k2", 2, syncproto.TxUpdated)) // late: a lower rev under a new key
		txs, err := s.Transactions(ctx, fleet.TxFilter{Site: "a"}, false)
		must(t, err)
		if len(txs) != 1 || txs[0].Record.Rev != 3 || txs[0].Record.Event != syncproto.TxStopped || *txs[0].Record.MeterStopWh != 500 {
			t.Fatalf("transactions %+v", txs)
		}
	})
}

func TestReadingsDedupAcrossMergedBatches(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		col := syncproto.Column{Measurand: "Energy.Active.Import.Register", Unit: "Wh"}
		batch := func(key string, from, to int) *syncproto.Readings {
			r := &syncproto.Readings{Header: hdr("a", key), Charger: "CP1", Connector: 1, TransactionID: 7}
			for i := from; i < to; i++ {
				r.AddReadings(syncproto.Reading{Time: t0.Add(time.Duration(i) * 15 * time.Second), Column: col, Value: fmt.Sprint(1000 + i)})
			}
			return r
		}
		apply(t, s, batch("k-1-10", 0, 10))
		apply(t, s, batch("k-1-10", 0, 10))  // the same record again
		apply(t, s, batch("k-5-15", 5, 15))  // merged differently on a resend
		apply(t, s, batch("k-big", 0, 3000)) // several statements in one transaction
		rs, err := s.Readings(ctx, "a", 7)
		must(t, err)
		if len(rs) != 3000 {
			t.Fatalf("%d readings, want 3000", len(rs))
		}
		for i, r := range rs {
			if r.Value != fmt.Sprint(1000+i) || !r.Time.Equal(t0.Add(time.Duration(i)*15*time.Second)) || r.Column != col {
				t.Fatalf("reading %d: %+v", i, r)
			}
		}
	})
}

func TestEveryKindOnce(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		msgs := []syncproto.Message{
			&syncproto.ChargerStatus{Header: hdr("a", "s1"), Charger: "CP1", Connected: true, Vendor: "ACME",
				Connectors: []syncproto.Connector{{ID: 1, Status: "Charging"}}},
			&syncproto.Event{Header: hdr("a", "e1"), Event: syncproto.EventBoot, Charger: "CP1", At: t0},
			&syncproto.Reported{Header: hdr("a", "r1"), DesiredVersion: 1, Applied: true, Settings: map[string]string{"x": "1"}},
			&syncproto.ChargerConfig{Header: hdr("a", "c1"), Charger: "CP1", Configuration: map[string]syncproto.ConfigValue{"K": {Value: "v"}}},
		}
		for _, m := range msgs {
			if !apply(t, s, m) {
				t.Errorf("%s not applied", m.Kind())
			}
			if apply(t, s, m) {
				t.Errorf("%s applied twice", m.Kind())
			}
		}
		cs, err := s.Chargers(ctx, "a")
		must(t, err)
		if len(cs) != 1 || !cs[0].Connected || len(cs[0].Connectors) != 1 || cs[0].Connectors[0].Status != "Charging" {
			t.Errorf("chargers %+v", cs)
		}
		if n, err := s.EventCount(ctx, "a"); err != nil || n != 1 {
			t.Errorf("events %d, %v", n, err)
		}
		d, err := s.Desired(ctx, "a")
		must(t, err)
		if d.Reported == nil || d.Reported.Settings["x"] != "1" {
			t.Errorf("reported %+v", d.Reported)
		}
	})
}

func TestBirthAndStaleDeath(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		birth := func(seq uint64) bool {
			ok, err := s.ApplyBirth(ctx, &syncproto.Birth{Header: hdr("a", ""), Boot: "b1", BdSeq: seq})
			must(t, err)
			return ok
		}
		death := func(seq uint64) bool {
			ok, err := s.ApplyDeath(ctx, &syncproto.Death{Header: hdr("a", ""), Boot: "b1", BdSeq: seq})
			must(t, err)
			return ok
		}
		online := func() bool {
			st, err := s.Site(ctx, "a")
			must(t, err)
			return st.Online
		}
		if !birth(5) || !online() {
			t.Fatal("birth 5")
		}
		if birth(4) {
			t.Error("an older birth was taken")
		}
		if death(4) || !online() {
			t.Error("a stale death marked the site offline")
		}
		if !death(5) || online() {
			t.Error("the current death did not mark the site offline")
		}
	})
}

func TestAuthListVersions(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		if m, err := s.AuthListMessage(ctx, "a", 0); err != nil || m != nil {
			t.Fatalf("empty list: %+v %v", m, err)
		}
		e := func(id string) syncproto.AuthEntry { return syncproto.AuthEntry{ID: id, Status: "Accepted"} }
		v1, err := s.ChangeAuthList(ctx, "a", fleet.AuthChange{Replace: true, Put: []syncproto.AuthEntry{e("A"), e("B")}})
		must(t, err)
		v2, err := s.ChangeAuthList(ctx, "a", fleet.AuthChange{Put: []syncproto.AuthEntry{e("C")}, Remove: []string{"A"}})
		must(t, err)
		v3, err := s.ChangeAuthList(ctx, "a", fleet.AuthChange{Replace: true, Put: []syncproto.AuthEntry{e("D")}})
		must(t, err)
		if v1 != 1 || v2 != 2 || v3 != 3 {
			t.Fatalf("versions %d %d %d", v1, v2, v3)
		}
		full, err := s.AuthListMessage(ctx, "a", 0)
		must(t, err)
		must(t, full.Validate())
		if !full.Full || full.Version != 3 || len(full.Entries) != 1 || full.Entries[0].ID != "D" {
			t.Errorf("full %+v", full)
		}
		delta, err := s.AuthListMessage(ctx, "a", 1)
		must(t, err)
		must(t, delta.Validate())
		if delta.Full || delta.BaseVersion != 1 || len(delta.Entries) != 1 || fmt.Sprint(delta.Removed) != "[A B C]" {
			t.Errorf("delta from 1 %+v", delta)
		}
		if m, _ := s.AuthListMessage(ctx, "a", 3); m != nil {
			t.Errorf("up to date, sent %+v", m)
		}
		if m, _ := s.AuthListMessage(ctx, "a", 9); m == nil || !m.Full {
			t.Errorf("an unknown newer version: %+v, want the full list", m)
		}
	})
}

func TestEnrollment(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, clock *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		_, err = s.CreateSite(ctx, "b", "")
		must(t, err)
		if _, err := s.CreateSite(ctx, "a", ""); !errors.Is(err, fleet.ErrExists) {
			t.Errorf("creating a twice: %v", err)
		}
		tok, _, err := s.IssueToken(ctx, "a", time.Hour)
		must(t, err)
		if _, err := s.Enroll(ctx, "b", tok); !errors.Is(err, fleet.ErrTokenInvalid) {
			t.Errorf("a's token for b: %v", err)
		}
		if _, err := s.Enroll(ctx, "a", fleet.NewSecret()); !errors.Is(err, fleet.ErrTokenInvalid) {
			t.Errorf("a guessed token: %v", err)
		}
		pw, err := s.Enroll(ctx, "a", tok)
		must(t, err)
		if _, err := s.Enroll(ctx, "a", tok); !errors.Is(err, fleet.ErrTokenUsed) {
			t.Errorf("a reused token: %v", err)
		}
		must(t, s.Authenticate(ctx, "a", pw))
		if s.Authenticate(ctx, "a", pw+"x") == nil || s.Authenticate(ctx, "b", pw) == nil || s.Authenticate(ctx, "b", "") == nil {
			t.Error("wrong credentials accepted")
		}
		old, _, err := s.IssueToken(ctx, "b", time.Hour)
		must(t, err)
		clock.Advance(time.Hour)
		if _, err := s.Enroll(ctx, "b", old); !errors.Is(err, fleet.ErrTokenExpired) {
			t.Errorf("an expired token: %v", err)
		}
		must(t, s.Revoke(ctx, "a"))
		if err := s.Authenticate(ctx, "a", pw); !errors.Is(err, fleet.ErrRevoked) {
			t.Errorf("a revoked site: %v", err)
		}
		if _, _, err := s.IssueToken(ctx, "a", time.Hour); !errors.Is(err, fleet.ErrRevoked) {
			t.Errorf("a token for a revoked site: %v", err)
		}
	})
}

// An appliance may choose its own password; asking again with the same
// one after the token was used succeeds (the first answer was lost),
// with another one it does not.
func TestEnrollmentWithOwnPassword(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, clock *cloudtest.Clock) {
		for _, id := range []string{"a", "b"} {
			_, err := s.CreateSite(ctx, id, "")
			must(t, err)
		}
		tok, _, err := s.IssueToken(ctx, "a", time.Hour)
		must(t, err)
		for _, short := range []string{"", strings.Repeat("x", fleet.MinPasswordLen-1), strings.Repeat("x", fleet.MaxPasswordLen+1)} {
			if err := s.EnrollWithPassword(ctx, "a", tok, short); !errors.Is(err, fleet.ErrBadPassword) {
				t.Errorf("a password of %d characters: %v", len(short), err)
			}
		}
		if st, _ := s.Site(ctx, "a"); st.Enrolled {
			t.Fatal("a refused password enrolled the site")
		}
		own := strings.Repeat("0123456789abcdef", 4)
		must(t, s.EnrollWithPassword(ctx, "a", tok, own))
		must(t, s.Authenticate(ctx, "a", own))
		// The retry after a lost answer, even past the token's expiry.
		clock.Advance(2 * time.Hour)
		must(t, s.EnrollWithPassword(ctx, "a", tok, own))
		must(t, s.Authenticate(ctx, "a", own))
		if err := s.EnrollWithPassword(ctx, "a", tok, own+"x"); !errors.Is(err, fleet.ErrTokenUsed) {
			t.Errorf("a used token with another password: %v", err)
		}
		if _, err := s.Enroll(ctx, "a", tok); !errors.Is(err, fleet.ErrTokenUsed) {
			t.Errorf("a used token without a password: %v", err)
		}
		if err := s.EnrollWithPassword(ctx, "b", tok, own); !errors.Is(err, fleet.ErrTokenInvalid) {
			t.Errorf("a's token for b: %v", err)
		}
		must(t, s.Authenticate(ctx, "a", own))

		// A later enrollment replaces the password: the old token no
		// longer stands for it.
		tok2, _, err := s.IssueToken(ctx, "a", time.Hour)
		must(t, err)
		other := strings.Repeat("fedcba9876543210", 4)
		must(t, s.EnrollWithPassword(ctx, "a", tok2, other))
		if err := s.EnrollWithPassword(ctx, "a", tok, own); !errors.Is(err, fleet.ErrTokenUsed) {
			t.Errorf("the first token after a new enrollment: %v", err)
		}
		if s.Authenticate(ctx, "a", own) == nil {
			t.Error("the replaced password still works")
		}
		// Revoked: the retry is refused too.
		must(t, s.Revoke(ctx, "a"))
		if err := s.EnrollWithPassword(ctx, "a", tok2, other); !errors.Is(err, fleet.ErrTokenUsed) {
			t.Errorf("a retry for a revoked site: %v", err)
		}
		// An expired, unused token stays expired with a password.
		old, _, err := s.IssueToken(ctx, "b", time.Minute)
		must(t, err)
		clock.Advance(time.Minute)
		if err := s.EnrollWithPassword(ctx, "b", old, own); !errors.Is(err, fleet.ErrTokenExpired) {
			t.Errorf("an expired token: %v", err)
		}
	})
}

func TestCommandsExpire(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, clock *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		c, err := s.CreateCommand(ctx, "a", "CP1", "reset", []byte(`{"type":"Soft"}`), t0.Add(time.Minute))
		must(t, err)
		if q, err := s.QueuedCommands(ctx, "a"); err != nil || len(q) != 1 || q[0].ID != c.ID {
			t.Fatalf("queued %+v %v", q, err)
		}
		clock.Advance(time.Minute)
		got, err := s.Command(ctx, c.ID)
		must(t, err)
		if got.Status != syncproto.CommandExpired {
			t.Errorf("status %q at the deadline, want expired", got.Status)
		}
		if q, _ := s.QueuedCommands(ctx, "a"); len(q) != 0 {
			t.Errorf("an expired command is still queued: %+v", q)
		}
		// The appliance's answer is final, and applied once.
		res := &syncproto.CommandResult{Header: hdr("a", "r1"), CommandID: c.ID, Status: syncproto.CommandRejected, Action: "Reset"}
		apply(t, s, res)
		got, err = s.Command(ctx, c.ID)
		must(t, err)
		if got.Status != syncproto.CommandRejected || got.Action != "Reset" {
			t.Errorf("after the result: %+v", got)
		}
		// Another site's result does not touch the command.
		_, err = s.CreateSite(ctx, "b", "")
		must(t, err)
		apply(t, s, &syncproto.CommandResult{Header: hdr("b", "r1"), CommandID: c.ID, Status: syncproto.CommandAccepted})
		if got, _ := s.Command(ctx, c.ID); got.Status != syncproto.CommandRejected {
			t.Errorf("site b changed site a's command: %+v", got)
		}
	})
}

func TestRebindOnlyForPostgres(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		// Queries with several placeholders work on both engines: a
		// filtered list exercises them.
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		txs, err := s.Transactions(ctx, fleet.TxFilter{Site: "a", Charger: "CP9"}, true)
		must(t, err)
		if len(txs) != 0 {
			t.Errorf("%+v", txs)
		}
	})
}

// TestSitesCountLikeSite: the list of sites gives each one the counts it
// has on its own: chargers, sessions, readings.
func TestSitesCountLikeSite(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		for _, id := range []string{"a", "b", "empty"} {
			_, err := s.CreateSite(ctx, id, "")
			must(t, err)
		}
		for i, site := range []string{"a", "a", "b"} {
			apply(t, s, &syncproto.ChargerStatus{Header: hdr(site, fmt.Sprintf("s%d", i)), Charger: fmt.Sprintf("CP%d", i), Connected: true})
			apply(t, s, &syncproto.Transaction{Header: hdr(site, fmt.Sprintf("t%d", i)), Event: syncproto.TxStarted, Rev: 1, ID: int64(i + 1),
				Charger: fmt.Sprintf("CP%d", i), Connector: 1, IDTag: "T", Start: t0})
		}
		sites, err := s.Sites(ctx)
		must(t, err)
		if len(sites) != 3 {
			t.Fatalf("sites %+v", sites)
		}
		for _, listed := range sites {
			one, err := s.Site(ctx, listed.ID)
			must(t, err)
			if listed.Chargers != one.Chargers || listed.Transactions != one.Transactions || listed.Readings != one.Readings {
				t.Errorf("%s: listed %+v, alone %+v", listed.ID, listed, one)
			}
		}
		if sites[0].Chargers != 2 || sites[0].Transactions != 2 || sites[1].Chargers != 1 || sites[2].Chargers != 0 {
			t.Errorf("counts: %+v", sites)
		}
	})
}
