package fleet

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Session is a charging session as the fleet views list it: the
// transaction's highest revision, its energy and its cost.
type Session struct {
	Site      string    `json:"site"`
	SiteName  string    `json:"siteName,omitempty"`
	ID        int64     `json:"id"`
	Charger   string    `json:"charger"`
	Connector int       `json:"connector"`
	IDTag     string    `json:"idTag,omitempty"`
	Start     time.Time `json:"start"`
	// Stop is zero while the session is open.
	Stop         time.Time `json:"stop,omitzero"`
	MeterStartWh int64     `json:"meterStartWh"`
	MeterStopWh  *int64    `json:"meterStopWh,omitempty"`
	// EnergyWh is the meter's stop minus its start, or while open its
	// latest energy register (live power) minus its start; nil when not
	// known.
	EnergyWh *int64 `json:"energyWh,omitempty"`
	// DurationSeconds runs to the stop, or to now while open.
	DurationSeconds int64  `json:"durationSeconds"`
	StopReason      string `json:"stopReason,omitempty"`
	// Cost is the energy at the site's price, rounded to the currency's
	// minor unit ("12.35"); "" when the site has no price or the energy
	// is not known.
	Cost     string `json:"cost,omitempty"`
	Currency string `json:"currency,omitempty"`
}

// SessionFilter selects sessions, newest start first.
type SessionFilter struct {
	Site    string
	Charger string // needs Site: charger ids are a site's
	// Token is an exact id tag.
	Token string
	// From and To bound the start: From <= start < To (zero: open).
	From, To time.Time
	// Open, when set, selects open (true) or stopped (false) sessions.
	Open  *bool
	Limit int // 1..1000; 0: 100
	// Cursor is SessionPage.Next of the previous page.
	Cursor string
}

// SessionPage is a page of sessions.
type SessionPage struct {
	Sessions []Session `json:"sessions"`
	// Next is the cursor of the next page; "" on the last.
	Next string `json:"next,omitempty"`
}

// sessionKey is a session's place in the order: start, site, id, all
// descending. A cursor is the key of a page's last session.
type sessionKey struct {
	start int64
	site  string
	id    int64
}

func (k sessionKey) cursor() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(k.start, 10) + "." + strconv.FormatInt(k.id, 10) + "." + k.site))
}

func parseCursor(c string) (sessionKey, error) {
	bad := fmt.Errorf("%w: cursor: not a cursor of this list (pass the previous page's next)", ErrInvalid)
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return sessionKey{}, bad
	}
	parts := strings.SplitN(string(raw), ".", 3)
	if len(parts) != 3 || parts[2] == "" {
		return sessionKey{}, bad
	}
	var k sessionKey
	k.site = parts[2]
	if k.start, err = strconv.ParseInt(parts[0], 10, 64); err != nil {
		return sessionKey{}, bad
	}
	if k.id, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
		return sessionKey{}, bad
	}
	return k, nil
}

// sessionQuery selects sessions (columns as scanSession reads them).
// The live energy is joined only for an open session, and only of its
// own transaction.
const sessionQuery = `SELECT t.site, COALESCE(s.name, ''), t.id, t.charger, t.connector, t.id_tag, t.start_at, t.stop_at,
	t.meter_start_wh, t.meter_stop_wh, t.record, s.price_per_kwh, COALESCE(s.currency, ''), lp.energy_wh, t.stop_at = 0 AND lp.energy_at <> 0
	FROM transactions t
	LEFT JOIN sites s ON s.id = t.site
	LEFT JOIN live_power lp ON t.stop_at = 0 AND lp.site = t.site AND lp.charger = t.charger AND lp.connector = t.connector AND lp.energy_tx = t.id`

// scanSession reads a row of sessionQuery; now is the store's time, for
// an open session's duration.
func scanSession(sc interface{ Scan(...any) error }, now int64) (Session, sessionKey, error) {
	var v Session
	var start, stop int64
	var meterStop, liveEnergy sql.NullInt64
	var price sql.NullInt64
	var record string
	var live sql.NullBool
	err := sc.Scan(&v.Site, &v.SiteName, &v.ID, &v.Charger, &v.Connector, &v.IDTag, &start, &stop, &v.MeterStartWh, &meterStop,
		&record, &price, &v.Currency, &liveEnergy, &live)
	if err != nil {
		return Session{}, sessionKey{}, err
	}
	v.Start, v.Stop = fromMS(start), fromMS(stop)
	end := stop
	if stop == 0 {
		end = max(now, start)
	}
	v.DurationSeconds = (end - start) / 1000
	switch {
	case meterStop.Valid:
		v.MeterStopWh = &meterStop.Int64
		energy := meterStop.Int64 - v.MeterStartWh
		v.EnergyWh = &energy
	case live.Valid && live.Bool && liveEnergy.Valid:
		energy := liveEnergy.Int64 - v.MeterStartWh
		v.EnergyWh = &energy
	}
	// The stop reason is in the record only: decoding that one field is
	// cheaper than a column every ingest writes.
	var rec struct {
		StopReason string `json:"stopReason"`
	}
	if err := json.Unmarshal([]byte(record), &rec); err != nil {
		return Session{}, sessionKey{}, fmt.Errorf("session %s/%d: record: %w", v.Site, v.ID, err)
	}
	v.StopReason = rec.StopReason
	if price.Valid && v.EnergyWh != nil {
		v.Cost = cost(*v.EnergyWh, price.Int64, v.Currency)
	} else {
		v.Currency = ""
	}
	return v, sessionKey{start: start, site: v.Site, id: v.ID}, nil
}

// maxSessionPage bounds a page of sessions.
const maxSessionPage = 1000

// Sessions returns a page of the sessions f selects, newest start
// first. It pages by keyset (the cursor is the last session's start,
// site and id), so a page deep in the list costs what the first does,
// and counts nothing: the indexes of migration 0006 serve every filter.
func (s *Store) Sessions(ctx context.Context, f SessionFilter) (SessionPage, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, maxSessionPage)
	page := SessionPage{Sessions: []Session{}}
	var last sessionKey
	err := s.sessions(ctx, f, f.Limit+1, func(v Session, k sessionKey) error {
		if len(page.Sessions) == f.Limit {
			page.Next = last.cursor()
			return nil
		}
		page.Sessions, last = append(page.Sessions, v), k
		return nil
	})
	if err != nil {
		return SessionPage{}, err
	}
	return page, nil
}

// ExportSessions hands every session f selects (f.Limit and f.Cursor
// aside: all of them, from the first) to fn, newest start first, until
// fn returns an error, which it returns. It reads a page at a time, so
// that neither the sessions nor a database connection are held while
// fn writes them out (SQLite has one connection).
func (s *Store) ExportSessions(ctx context.Context, f SessionFilter, fn func(Session) error) error {
	f.Cursor = ""
	for {
		var last sessionKey
		n := 0
		err := s.sessions(ctx, f, maxSessionPage, func(_ Session, k sessionKey) error {
			last = k
			n++
			return nil
		}, fn)
		if err != nil {
			return err
		}
		if n < maxSessionPage {
			return nil
		}
		f.Cursor = last.cursor()
	}
}

// sessions runs f's query for limit rows, handing each to each of fns
// in turn (the rows are read first, then handed: the connection is
// free while fns run).
func (s *Store) sessions(ctx context.Context, f SessionFilter, limit int, keyed func(Session, sessionKey) error, fns ...func(Session) error) error {
	if f.Charger != "" && f.Site == "" {
		return fmt.Errorf("fleet: sessions: %w: charger: needs a site", ErrInvalid)
	}
	q, args := sessionQuery+` WHERE 1 = 1`, []any{}
	if f.Site != "" {
		q, args = q+` AND t.site = ?`, append(args, f.Site)
	}
	if f.Charger != "" {
		q, args = q+` AND t.charger = ?`, append(args, f.Charger)
	}
	if f.Token != "" {
		q, args = q+` AND t.id_tag = ?`, append(args, f.Token)
	}
	if !f.From.IsZero() {
		q, args = q+` AND t.start_at >= ?`, append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		q, args = q+` AND t.start_at < ?`, append(args, ms(f.To))
	}
	if f.Open != nil {
		if *f.Open {
			q += ` AND t.stop_at = 0`
		} else {
			q += ` AND t.stop_at <> 0`
		}
	}
	if f.Cursor != "" {
		k, err := parseCursor(f.Cursor)
		if err != nil {
			return fmt.Errorf("fleet: sessions: %w", err)
		}
		// Of one site, the order is (start, id): the comparison then
		// matches the index (site, start_at, id).
		if f.Site != "" {
			if k.site != f.Site {
				return fmt.Errorf("fleet: sessions: %w: cursor: of another site's list", ErrInvalid)
			}
			q, args = q+` AND (t.start_at, t.id) < (?, ?)`, append(args, k.start, k.id)
		} else {
			q, args = q+` AND (t.start_at, t.site, t.id) < (?, ?, ?)`, append(args, k.start, k.site, k.id)
		}
	}
	rows, err := s.query(ctx, s.db, q+` ORDER BY t.start_at DESC, t.site DESC, t.id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return fmt.Errorf("fleet: sessions: %w", err)
	}
	now := s.now()
	type row struct {
		v Session
		k sessionKey
	}
	var page []row
	for rows.Next() {
		v, k, err := scanSession(rows, now)
		if err != nil {
			rows.Close()
			return fmt.Errorf("fleet: sessions: %w", err)
		}
		page = append(page, row{v, k})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("fleet: sessions: %w", err)
	}
	for _, r := range page {
		if err := keyed(r.v, r.k); err != nil {
			return err
		}
		for _, fn := range fns {
			if err := fn(r.v); err != nil {
				return err
			}
		}
	}
	return nil
}
