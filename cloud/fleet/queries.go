package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/constellation-ev/constellation/syncproto"
)

// Charger is a charger's latest status.
type Charger struct {
	ID        string    `json:"id"`
	Connected bool      `json:"connected"`
	Protocol  string    `json:"protocol,omitempty"`
	Vendor    string    `json:"vendor,omitempty"`
	Model     string    `json:"model,omitempty"`
	Serial    string    `json:"serial,omitempty"`
	Firmware  string    `json:"firmware,omitempty"`
	LastSeen  time.Time `json:"lastSeen,omitzero"`
	// Unsynced: the status was made before the appliance's clock was
	// synchronised, so LastSeen may be behind (syncproto Header.Unsynced).
	Unsynced   bool                  `json:"unsynced,omitempty"`
	Connectors []syncproto.Connector `json:"connectors"`
}

// Chargers lists site's chargers with their connectors.
func (s *Store) Chargers(ctx context.Context, site string) ([]Charger, error) {
	rows, err := s.query(ctx, s.db, `SELECT id, connected, protocol, vendor, model, serial, firmware, last_seen, unsynced FROM chargers WHERE site = ? ORDER BY id`, site)
	if err != nil {
		return nil, fmt.Errorf("fleet: chargers of %s: %w", site, err)
	}
	out := []Charger{}
	index := map[string]int{}
	for rows.Next() {
		var c Charger
		var seen int64
		if err := rows.Scan(&c.ID, &c.Connected, &c.Protocol, &c.Vendor, &c.Model, &c.Serial, &c.Firmware, &seen, &c.Unsynced); err != nil {
			rows.Close()
			return nil, fmt.Errorf("fleet: chargers of %s: %w", site, err)
		}
		c.LastSeen, c.Connectors = fromMS(seen), []syncproto.Connector{}
		index[c.ID] = len(out)
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fleet: chargers of %s: %w", site, err)
	}
	rows, err = s.query(ctx, s.db, `SELECT charger, id, status, error_code, info, at FROM connectors WHERE site = ? ORDER BY charger, id`, site)
	if err != nil {
		return nil, fmt.Errorf("fleet: connectors of %s: %w", site, err)
	}
	defer rows.Close()
	for rows.Next() {
		var charger string
		var c syncproto.Connector
		var at int64
		if err := rows.Scan(&charger, &c.ID, &c.Status, &c.ErrorCode, &c.Info, &at); err != nil {
			return nil, fmt.Errorf("fleet: connectors of %s: %w", site, err)
		}
		c.Time = fromMS(at)
		if i, ok := index[charger]; ok {
			out[i].Connectors = append(out[i].Connectors, c)
		}
	}
	return out, rows.Err()
}

// Reading is one stored meter reading.
type Reading struct {
	Time   time.Time        `json:"time"`
	Column syncproto.Column `json:"series"`
	Value  string           `json:"value"`
}

// Transaction is a stored session: the record of its highest revision,
// and its readings when asked for.
type Transaction struct {
	Site     string                 `json:"site"`
	Record   *syncproto.Transaction `json:"record"`
	Readings []Reading              `json:"readings,omitempty"`
}

// TxFilter selects transactions: Site is required, Charger optional.
type TxFilter struct {
	Site, Charger string
	Limit         int // 0: 1000
}

// Transactions lists the site's transactions (newest start first).
func (s *Store) Transactions(ctx context.Context, f TxFilter, withReadings bool) ([]Transaction, error) {
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.query(ctx, s.db, `SELECT record FROM transactions WHERE site = ? AND (? = '' OR charger = ?) ORDER BY start_at DESC, id DESC LIMIT ?`,
		f.Site, f.Charger, f.Charger, limit)
	if err != nil {
		return nil, fmt.Errorf("fleet: transactions of %s: %w", f.Site, err)
	}
	out := []Transaction{}
	for rows.Next() {
		var rec string
		t := Transaction{Site: f.Site, Record: &syncproto.Transaction{}}
		if err := rows.Scan(&rec); err != nil {
			rows.Close()
			return nil, fmt.Errorf("fleet: transactions of %s: %w", f.Site, err)
		}
		if err := json.Unmarshal([]byte(rec), t.Record); err != nil {
			rows.Close()
			return nil, fmt.Errorf("fleet: transactions of %s: %w", f.Site, err)
		}
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fleet: transactions of %s: %w", f.Site, err)
	}
	if withReadings {
		for i := range out {
			if out[i].Readings, err = s.Readings(ctx, f.Site, out[i].Record.ID); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// EventCount counts site's events (for tests and the site view).
func (s *Store) EventCount(ctx context.Context, site string) (int64, error) {
	var n int64
	if err := s.queryRow(ctx, s.db, `SELECT COUNT(*) FROM events WHERE site = ?`, site).Scan(&n); err != nil {
		return 0, fmt.Errorf("fleet: events of %s: %w", site, err)
	}
	return n, nil
}
