package fleet

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/constellation-ev/constellation/syncproto"
)

// Desired is a site's desired configuration and what the appliance last
// reported of it.
type Desired struct {
	Version   int64             `json:"version"`
	Settings  map[string]string `json:"settings"`
	UpdatedAt time.Time         `json:"updatedAt,omitzero"`
	Reported  *Reported         `json:"reported,omitempty"`
}

// Reported is the appliance's report on a desired version.
type Reported struct {
	DesiredVersion int64             `json:"desiredVersion"`
	Applied        bool              `json:"applied"`
	Error          string            `json:"error,omitempty"`
	Settings       map[string]string `json:"settings"`
	At             time.Time         `json:"at"`
}

// Desired returns site's desired configuration (version 0 and no
// settings when none was set) with the last report.
func (s *Store) Desired(ctx context.Context, site string) (Desired, error) {
	if _, err := s.Site(ctx, site); err != nil {
		return Desired{}, err
	}
	d := Desired{Settings: map[string]string{}}
	var settings string
	var updated int64
	err := s.queryRow(ctx, s.db, `SELECT version, settings, updated_at FROM desired WHERE site = ?`, site).Scan(&d.Version, &settings, &updated)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return Desired{}, fmt.Errorf("fleet: desired of %s: %w", site, err)
	default:
		d.UpdatedAt = fromMS(updated)
		if err := json.Unmarshal([]byte(settings), &d.Settings); err != nil {
			return Desired{}, fmt.Errorf("fleet: desired of %s: %w", site, err)
		}
	}
	var r Reported
	var at int64
	err = s.queryRow(ctx, s.db, `SELECT desired_version, applied, error, settings, at FROM reported WHERE site = ?`, site).
		Scan(&r.DesiredVersion, &r.Applied, &r.Error, &settings, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return Desired{}, fmt.Errorf("fleet: reported of %s: %w", site, err)
	default:
		r.At = fromMS(at)
		if err := json.Unmarshal([]byte(settings), &r.Settings); err != nil {
			return Desired{}, fmt.Errorf("fleet: reported of %s: %w", site, err)
		}
		d.Reported = &r
	}
	return d, nil
}

// SetDesired replaces site's desired configuration, with the next version.
func (s *Store) SetDesired(ctx context.Context, site string, settings map[string]string) (int64, error) {
	if settings == nil {
		settings = map[string]string{}
	}
	var version int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var revoked bool
		if err := s.queryRow(ctx, tx, `SELECT revoked FROM sites WHERE id = ?`, site).Scan(&revoked); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		err := s.queryRow(ctx, tx, `SELECT version FROM desired WHERE site = ?`, site).Scan(&version)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		version++
		_, err = s.exec(ctx, tx, `INSERT INTO desired (site, version, settings, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (site) DO UPDATE SET version = excluded.version, settings = excluded.settings, updated_at = excluded.updated_at`,
			site, version, mustJSON(settings), s.now())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("fleet: set desired of %s: %w", site, err)
	}
	return version, nil
}

// DesiredMessage returns the Desired message to send site, or nil when
// no desired configuration was set.
func (s *Store) DesiredMessage(ctx context.Context, site string) (*syncproto.Desired, error) {
	d, err := s.Desired(ctx, site)
	if err != nil || d.Version == 0 {
		return nil, err
	}
	return &syncproto.Desired{Header: s.header(site), Version: d.Version, Settings: d.Settings}, nil
}

// header is the header of a downstream message to site.
func (s *Store) header(site string) syncproto.Header {
	return syncproto.Header{Version: syncproto.Version, Site: site, Time: s.clock.Now().UTC()}
}
