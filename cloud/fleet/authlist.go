package fleet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/constellation-ev/constellation/syncproto"
)

// AuthChange changes a site's authorization list: with Replace, the list
// becomes Put (every other entry is removed); otherwise Put entries are
// added or changed and Remove ids removed.
type AuthChange struct {
	Replace bool
	Put     []syncproto.AuthEntry
	Remove  []string
}

// ChangeAuthList applies a change and returns the list's new version.
func (s *Store) ChangeAuthList(ctx context.Context, site string, c AuthChange) (int64, error) {
	var version int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		version, err = s.changeAuthList(ctx, tx, site, c)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("fleet: change the authorization list of %s: %w", site, err)
	}
	return version, nil
}

// changeAuthList applies c to site's list in tx, the list's version
// bumped once, and returns the new version: the one way a list changes,
// an operator's change of one site's list and the id tokens' changes
// across sites alike. Entries are written in multi-row statements: a
// change of thousands of entries is a few statements.
func (s *Store) changeAuthList(ctx context.Context, tx *sql.Tx, site string, c AuthChange) (int64, error) {
	// The version is bumped first: the site's row stays locked until
	// commit, so concurrent changes of one list (on PostgreSQL) take
	// one version each rather than both the same.
	var version int64
	err := s.queryRow(ctx, tx, `UPDATE sites SET auth_version = auth_version + 1 WHERE id = ? RETURNING auth_version`, site).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	} else if err != nil {
		return 0, err
	}
	if c.Replace {
		if _, err := s.exec(ctx, tx, `UPDATE auth_entries SET removed = ?, version = ? WHERE site = ? AND NOT removed`, true, version, site); err != nil {
			return 0, err
		}
	}
	// One row per id, the last put winning: a multi-row upsert may not
	// change a row twice (PostgreSQL refuses it).
	last := make(map[string]int, len(c.Put))
	for i, e := range c.Put {
		last[e.ID] = i
	}
	rows := make([]any, 0, len(last)*7)
	for i, e := range c.Put {
		if last[e.ID] == i {
			rows = append(rows, site, e.ID, e.Status, ms(e.Expiry), e.Parent, version, false)
		}
	}
	err = s.execRows(ctx, tx, `INSERT INTO auth_entries (site, id, status, expiry, parent, version, removed)`, 7,
		` ON CONFLICT (site, id) DO UPDATE SET status = excluded.status, expiry = excluded.expiry, parent = excluded.parent,
		version = excluded.version, removed = excluded.removed`, rows)
	if err != nil {
		return 0, err
	}
	ids := make([]any, len(c.Remove))
	for i, id := range c.Remove {
		ids[i] = id
	}
	err = s.execRows(ctx, tx, `UPDATE auth_entries SET removed = ?, version = ? WHERE site = ? AND NOT removed AND id IN (`, 1, `)`,
		ids, true, version, site)
	return version, err
}

// execRows runs in tx the multi-row statements of head, the rows of
// args (cols values each) and tail (dialect.rowStatements), each with
// lead, the parameters of head, before its rows' arguments. The rows go
// where head ends: the rows of an INSERT, or the list of an IN (...).
// No rows, no statement.
func (s *Store) execRows(ctx context.Context, tx *sql.Tx, head string, cols int, tail string, args []any, lead ...any) error {
	stmts, err := s.d.rowStatements(head, cols, tail, args)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if _, err := s.exec(ctx, tx, st.query, append(slices.Clip(lead), st.args...)...); err != nil {
			return err
		}
	}
	return nil
}

// AuthList returns site's list at its current version (entries by id).
func (s *Store) AuthList(ctx context.Context, site string) (version int64, entries []syncproto.AuthEntry, err error) {
	m, err := s.AuthListMessage(ctx, site, 0)
	if err != nil || m == nil {
		return 0, []syncproto.AuthEntry{}, err
	}
	return m.Version, m.Entries, nil
}

// AuthListMessage returns what brings an appliance holding version have
// of site's list up to date: nil when it is, a delta from have when have
// is 1 or more (removals are kept as tombstones, so any earlier version
// has one), the full list otherwise.
func (s *Store) AuthListMessage(ctx context.Context, site string, have int64) (*syncproto.AuthList, error) {
	st, err := s.Site(ctx, site)
	if err != nil {
		return nil, err
	}
	if st.AuthVersion == 0 || have == st.AuthVersion && have > 0 {
		return nil, nil
	}
	m := &syncproto.AuthList{Header: s.header(site), Version: st.AuthVersion, Entries: []syncproto.AuthEntry{}}
	full := have < 1 || have > st.AuthVersion
	if full {
		m.Full = true
		have = 0
	} else {
		m.BaseVersion = have
	}
	rows, err := s.query(ctx, s.db, `SELECT id, status, expiry, parent, removed FROM auth_entries WHERE site = ? AND version > ? ORDER BY id`, site, have)
	if err != nil {
		return nil, fmt.Errorf("fleet: authorization list of %s: %w", site, err)
	}
	defer rows.Close()
	for rows.Next() {
		var e syncproto.AuthEntry
		var expiry int64
		var removed bool
		if err := rows.Scan(&e.ID, &e.Status, &expiry, &e.Parent, &removed); err != nil {
			return nil, fmt.Errorf("fleet: authorization list of %s: %w", site, err)
		}
		e.Expiry = fromMS(expiry)
		switch {
		case !removed:
			m.Entries = append(m.Entries, e)
		case !full:
			m.Removed = append(m.Removed, e.ID)
		}
	}
	return m, rows.Err()
}
