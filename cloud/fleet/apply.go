package fleet

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/constellation-ev/constellation/syncproto"
)

// Apply stores an upstream keyed record, once per (site, key): it
// reports false when the key was applied before (nothing changes then).
// The record and its key's mark are written in one SQL transaction. The
// caller has decoded and validated m (syncproto.Decode).
func (s *Store) Apply(ctx context.Context, m syncproto.Message) (applied bool, err error) {
	h := m.Head()
	if h.Key == "" {
		return false, fmt.Errorf("fleet: apply %s: %w: no idempotency key", m.Kind(), syncproto.ErrInvalid)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `INSERT INTO applied_keys (site, key, kind, applied_at) VALUES (?, ?, ?, ?) ON CONFLICT (site, key) DO NOTHING`,
			h.Site, h.Key, string(m.Kind()), s.now())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		applied = true
		return s.applyRecord(ctx, tx, m)
	})
	if err != nil {
		return false, fmt.Errorf("fleet: apply %s %s/%s: %w", m.Kind(), h.Site, h.Key, err)
	}
	return applied, nil
}

func (s *Store) applyRecord(ctx context.Context, tx *sql.Tx, m syncproto.Message) error {
	site := m.Head().Site
	switch m := m.(type) {
	case *syncproto.ChargerStatus:
		return s.applyStatus(ctx, tx, m)
	case *syncproto.Transaction:
		return s.applyTransaction(ctx, tx, m)
	case *syncproto.Readings:
		return s.insertReadings(ctx, tx, m)
	case *syncproto.Event:
		_, err := s.exec(ctx, tx, `INSERT INTO events (site, key, event, charger, at, code, detail) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (site, key) DO NOTHING`, site, m.Key, m.Event, m.Charger, ms(m.At), m.Code, mustJSON(m.Detail))
		return err
	case *syncproto.Reported:
		_, err := s.exec(ctx, tx, `INSERT INTO reported (site, desired_version, applied, error, settings, at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (site) DO UPDATE SET desired_version = excluded.desired_version, applied = excluded.applied,
			error = excluded.error, settings = excluded.settings, at = excluded.at
			WHERE excluded.desired_version >= reported.desired_version`,
			site, m.DesiredVersion, m.Applied, m.Error, mustJSON(m.Settings), ms(m.Time))
		return err
	case *syncproto.ChargerConfig:
		_, err := s.exec(ctx, tx, `INSERT INTO charger_config (site, charger, configuration, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (site, charger) DO UPDATE SET configuration = excluded.configuration, at = excluded.at`,
			site, m.Charger, mustJSON(m.Configuration), ms(m.Time))
		return err
	case *syncproto.CommandResult:
		return s.applyResult(ctx, tx, m)
	}
	return fmt.Errorf("%w: %s is not an upstream record", syncproto.ErrInvalid, m.Kind())
}

// applyStatus keeps a charger's latest status: an appliance sends each
// charger's records in order, one at a time, so the last applied is the
// latest.
func (s *Store) applyStatus(ctx context.Context, tx *sql.Tx, m *syncproto.ChargerStatus) error {
	_, err := s.exec(ctx, tx, `INSERT INTO chargers (site, id, connected, protocol, vendor, model, serial, firmware, last_seen, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (site, id) DO UPDATE SET connected = excluded.connected, protocol = excluded.protocol, vendor = excluded.vendor,
		model = excluded.model, serial = excluded.serial, firmware = excluded.firmware, last_seen = excluded.last_seen, updated_at = excluded.updated_at`,
		m.Site, m.Charger, m.Connected, m.Protocol, m.Vendor, m.Model, m.Serial, m.Firmware, ms(m.LastSeen), ms(m.Time))
	if err != nil {
		return err
	}
	for _, c := range m.Connectors {
		_, err := s.exec(ctx, tx, `INSERT INTO connectors (site, charger, id, status, error_code, info, at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (site, charger, id) DO UPDATE SET status = excluded.status, error_code = excluded.error_code, info = excluded.info, at = excluded.at`,
			m.Site, m.Charger, c.ID, c.Status, c.ErrorCode, c.Info, ms(c.Time))
		if err != nil {
			return err
		}
	}
	return nil
}

// applyTransaction keeps the record of the highest revision.
func (s *Store) applyTransaction(ctx context.Context, tx *sql.Tx, m *syncproto.Transaction) error {
	_, err := s.exec(ctx, tx, `INSERT INTO transactions (site, id, rev, event, charger, connector, id_tag, start_at, stop_at, meter_start_wh, meter_stop_wh, record)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (site, id) DO UPDATE SET rev = excluded.rev, event = excluded.event, charger = excluded.charger,
		connector = excluded.connector, id_tag = excluded.id_tag, start_at = excluded.start_at, stop_at = excluded.stop_at,
		meter_start_wh = excluded.meter_start_wh, meter_stop_wh = excluded.meter_stop_wh, record = excluded.record
		WHERE excluded.rev > transactions.rev`,
		m.Site, m.ID, m.Rev, m.Event, m.Charger, m.Connector, m.IDTag, ms(m.Start), ms(m.Stop), m.MeterStartWh, m.MeterStopWh, mustJSON(m))
	return err
}

// readingColumns is the number of parameters of one reading row.
const readingColumns = 12

// insertReadings inserts a batch's rows, ignoring those stored before
// (same natural key), in multi-row statements.
func (s *Store) insertReadings(ctx context.Context, tx *sql.Tx, m *syncproto.Readings) error {
	rows := m.Rows()
	const perStmt = maxParams / readingColumns
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), perStmt)]
		rows = rows[len(chunk):]
		var q strings.Builder
		q.WriteString(`INSERT INTO readings (site, charger, connector, tx, at, measurand, phase, unit, context, location, format, value) VALUES `)
		args := make([]any, 0, len(chunk)*readingColumns)
		for i, r := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
			c := r.Column
			args = append(args, m.Site, m.Charger, m.Connector, m.TransactionID, ms(r.Time), c.Measurand, c.Phase, c.Unit, c.Context, c.Location, c.Format, r.Value)
		}
		q.WriteString(` ON CONFLICT DO NOTHING`)
		if _, err := s.exec(ctx, tx, q.String(), args...); err != nil {
			return fmt.Errorf("readings: %w", err)
		}
	}
	return nil
}

// mustJSON encodes a value of the store's own types, which always encode.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}
