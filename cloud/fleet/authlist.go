package fleet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
		var revoked bool
		err := s.queryRow(ctx, tx, `SELECT auth_version, revoked FROM sites WHERE id = ?`, site).Scan(&version, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		version++
		if c.Replace {
			if _, err := s.exec(ctx, tx, `UPDATE auth_entries SET removed = ?, version = ? WHERE site = ? AND NOT removed`, true, version, site); err != nil {
				return err
			}
		}
		for _, e := range c.Put {
			_, err := s.exec(ctx, tx, `INSERT INTO auth_entries (site, id, status, expiry, parent, version, removed) VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (site, id) DO UPDATE SET status = excluded.status, expiry = excluded.expiry, parent = excluded.parent,
				version = excluded.version, removed = excluded.removed`,
				site, e.ID, e.Status, ms(e.Expiry), e.Parent, version, false)
			if err != nil {
				return err
			}
		}
		for _, id := range c.Remove {
			if _, err := s.exec(ctx, tx, `UPDATE auth_entries SET removed = ?, version = ? WHERE site = ? AND id = ? AND NOT removed`, true, version, site, id); err != nil {
				return err
			}
		}
		_, err = s.exec(ctx, tx, `UPDATE sites SET auth_version = ? WHERE id = ?`, version, site)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("fleet: change the authorization list of %s: %w", site, err)
	}
	return version, nil
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
