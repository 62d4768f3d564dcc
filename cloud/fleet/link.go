package fleet

import (
	"context"
	"fmt"

	"github.com/constellation-ev/constellation/syncproto"
)

// ApplyBirth records a new link session of a site's appliance: online,
// its boot, bdSeq, software, backlog and the versions it has applied. A
// birth older than the session recorded (lower bdSeq, which grows across
// the appliance's restarts) changes nothing: it reports false then.
func (s *Store) ApplyBirth(ctx context.Context, b *syncproto.Birth) (current bool, err error) {
	res, err := s.exec(ctx, s.db, `UPDATE sites SET online = ?, last_seen = ?, boot = ?, bd_seq = ?, software = ?, backlog = ?,
		desired_applied = ?, auth_applied = ? WHERE id = ? AND NOT revoked AND bd_seq <= ?`,
		true, s.now(), b.Boot, b.BdSeq, b.Software, b.Backlog, b.DesiredVersion, b.AuthListVersion, b.Site, b.BdSeq)
	if err != nil {
		return false, fmt.Errorf("fleet: birth of %s: %w", b.Site, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ApplyDeath marks the site offline if the death is of its current
// session (same boot and bdSeq); a stale death changes nothing and
// reports false.
func (s *Store) ApplyDeath(ctx context.Context, d *syncproto.Death) (current bool, err error) {
	res, err := s.exec(ctx, s.db, `UPDATE sites SET online = ?, last_seen = ? WHERE id = ? AND boot = ? AND bd_seq = ?`,
		false, s.now(), d.Site, d.Boot, d.BdSeq)
	if err != nil {
		return false, fmt.Errorf("fleet: death of %s: %w", d.Site, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
