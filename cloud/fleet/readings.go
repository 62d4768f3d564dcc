package fleet

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/constellation-ev/constellation/syncproto"
)

// Readings are stored as series (migration 0003): one row of
// reading_series per column of an applied Readings record, its values in
// one text, rather than one row per value under an eleven-column key,
// which was most of ingest's cost. The natural key of a reading (site,
// charger, connector, session, time, column) stays unique, and the first
// value stored under it stays, as when each value was inserted or
// ignored: a value whose key is stored already is dropped before its
// series is written. reading_groups keeps, per site, charger, connector
// and session, the latest time stored, so the usual record (it starts
// after the previous one ended) is written without a look-up; one that
// overlaps (a resend merged differently, a late record) is checked
// against the stored series it overlaps.

// readingGroup is the site, charger, connector and session of readings.
type readingGroup struct {
	site, charger string
	connector     int
	tx            int64
}

func compareGroups(a, b readingGroup) int {
	return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.charger, b.charger),
		cmp.Compare(a.connector, b.connector), cmp.Compare(a.tx, b.tx))
}

// series is the values of one column of one Readings record: times in
// Unix milliseconds, ascending and distinct, and the value at each.
type series struct {
	group  readingGroup
	col    syncproto.Column
	times  []int64
	values []string
}

// seriesOf cuts a Readings record into its series, one per column with a
// value. A (time, column) repeated within the record keeps its first
// value in the order of Rows (samples, then columns), as it did when each
// value was inserted or ignored.
func seriesOf(site string, m *syncproto.Readings) []series {
	g := readingGroup{site: site, charger: m.Charger, connector: m.Connector, tx: m.TransactionID}
	all := make([]series, 0, len(m.Columns))
	// Column c's values go to series of[c]: one per distinct column
	// (Validate refuses a column named twice; Apply does not validate).
	of := make([]int, len(m.Columns))
	for c, col := range m.Columns {
		of[c] = slices.IndexFunc(all, func(s series) bool { return s.col == col })
		if of[c] < 0 {
			of[c] = len(all)
			all = append(all, series{group: g, col: col, times: make([]int64, 0, len(m.Samples)), values: make([]string, 0, len(m.Samples))})
		}
	}
	ascending := make([]bool, len(all))
	for i := range ascending {
		ascending[i] = true
	}
	for _, smp := range m.Samples {
		at := ms(m.Start.Add(smp.Offset))
		for c, v := range smp.Values {
			if v == "" || c >= len(of) {
				continue
			}
			i := of[c]
			s := &all[i]
			if n := len(s.times); n > 0 && at <= s.times[n-1] {
				ascending[i] = false
			}
			s.times, s.values = append(s.times, at), append(s.values, v)
		}
	}
	out := all[:0]
	for i, s := range all {
		if !ascending[i] {
			s.sortDedup()
		}
		if len(s.times) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// sortDedup orders s by time and keeps the first value of each time.
func (s *series) sortDedup() {
	idx := make([]int, len(s.times))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(s.times[a], s.times[b]) })
	times, values := make([]int64, 0, len(idx)), make([]string, 0, len(idx))
	for _, i := range idx {
		if n := len(times); n > 0 && times[n-1] == s.times[i] {
			continue
		}
		times, values = append(times, s.times[i]), append(values, s.values[i])
	}
	s.times, s.values = times, values
}

// keep leaves in s the values whose time is not in taken.
func (s *series) keep(taken map[int64]bool) {
	times, values := s.times[:0], s.values[:0]
	for i, at := range s.times {
		if !taken[at] {
			times, values = append(times, at), append(values, s.values[i])
		}
	}
	s.times, s.values = times, values
}

// groupState is a reading group's row: the latest time stored, the
// series and the values stored.
type groupState struct {
	lastAt, series, values int64
	changed                bool
}

// Columns of the multi-row statements of readings.
const (
	groupColumns  = 7
	seriesColumns = 14
)

// applySeries writes the series of a batch's Readings records (one
// slice per record, in the order they were applied), each without the
// values stored before it.
func (s *Store) applySeries(ctx context.Context, tx *sql.Tx, records [][]series) error {
	if len(records) == 0 {
		return nil
	}
	keys, groups, err := s.lockGroups(ctx, tx, records)
	if err != nil {
		return fmt.Errorf("groups: %w", err)
	}
	var args []any
	var written []*series
	for _, rec := range records {
		if len(rec) == 0 {
			continue
		}
		// A record overlaps what is stored when it starts before its
		// group's latest value; its own series (distinct columns) never
		// overlap each other.
		g := groups[rec[0].group]
		overlaps := g.series > 0
		if overlaps {
			first := rec[0].times[0]
			for _, r := range rec[1:] {
				first = min(first, r.times[0])
			}
			overlaps = first <= g.lastAt
		}
		lastAt := g.lastAt
		for i := range rec {
			r := &rec[i]
			if overlaps {
				if err := s.dropStored(ctx, tx, r, written); err != nil {
					return err
				}
				if len(r.times) == 0 {
					continue
				}
			}
			last := r.times[len(r.times)-1]
			c := r.col
			args = append(args, r.group.site, r.group.tx, r.group.charger, r.group.connector, g.series,
				c.Measurand, c.Phase, c.Unit, c.Context, c.Location, c.Format, r.times[0], last, encodeSamples(r))
			written = append(written, r)
			if g.series == 0 || last > lastAt {
				lastAt = last
			}
			g.series++
			g.values += int64(len(r.times))
			g.changed = true
		}
		g.lastAt = lastAt
	}
	err = s.execRows(ctx, tx, `INSERT INTO reading_series (site, tx, charger, connector, seq, measurand, phase, unit, context, location, format, first_at, last_at, samples) VALUES `,
		seriesColumns, ``, args)
	if err != nil {
		return fmt.Errorf("series: %w", err)
	}
	args = args[:0]
	for _, k := range keys {
		if g := groups[k]; g.changed {
			args = append(args, k.site, k.charger, k.connector, k.tx, g.lastAt, g.series, g.values)
		}
	}
	err = s.execRows(ctx, tx, `INSERT INTO reading_groups (site, charger, connector, tx, last_at, series_count, value_count) VALUES `, groupColumns,
		` ON CONFLICT (site, charger, connector, tx) DO UPDATE SET last_at = excluded.last_at, series_count = excluded.series_count,
		value_count = excluded.value_count`, args)
	if err != nil {
		return fmt.Errorf("groups: %w", err)
	}
	return nil
}

// lockGroups returns the groups of records, in order, with their rows,
// creating the missing ones. The upsert locks each row (PostgreSQL)
// until tx ends, always in that order, so replicas writing one group's
// series take turns, each seeing what the one before it committed.
func (s *Store) lockGroups(ctx context.Context, tx *sql.Tx, records [][]series) ([]readingGroup, map[readingGroup]*groupState, error) {
	groups := make(map[readingGroup]*groupState)
	keys := make([]readingGroup, 0, len(records))
	for _, rec := range records {
		if len(rec) > 0 && groups[rec[0].group] == nil {
			groups[rec[0].group] = &groupState{}
			keys = append(keys, rec[0].group)
		}
	}
	slices.SortFunc(keys, compareGroups)
	args := make([]any, 0, len(keys)*groupColumns)
	for _, k := range keys {
		args = append(args, k.site, k.charger, k.connector, k.tx, 0, 0, 0)
	}
	err := s.queryRows(ctx, tx, `INSERT INTO reading_groups (site, charger, connector, tx, last_at, series_count, value_count) VALUES `, groupColumns,
		` ON CONFLICT (site, charger, connector, tx) DO UPDATE SET series_count = reading_groups.series_count
		RETURNING site, charger, connector, tx, last_at, series_count, value_count`, args, func(rows *sql.Rows) error {
			var k readingGroup
			var g groupState
			if err := rows.Scan(&k.site, &k.charger, &k.connector, &k.tx, &g.lastAt, &g.series, &g.values); err != nil {
				return err
			}
			if p := groups[k]; p != nil {
				*p = g
			}
			return nil
		})
	return keys, groups, err
}

// dropStored removes from r the values whose key is stored already, in
// the database or in the series written before it in this batch.
func (s *Store) dropStored(ctx context.Context, tx *sql.Tx, r *series, written []*series) error {
	first, last := r.times[0], r.times[len(r.times)-1]
	taken := map[int64]bool{}
	for _, w := range written {
		if w.group == r.group && w.col == r.col {
			for _, at := range w.times {
				taken[at] = true
			}
		}
	}
	c := r.col
	rows, err := s.query(ctx, tx, `SELECT first_at, samples FROM reading_series
		WHERE site = ? AND tx = ? AND charger = ? AND connector = ? AND measurand = ? AND phase = ? AND unit = ? AND context = ?
		AND location = ? AND format = ? AND last_at >= ? AND first_at <= ?`,
		r.group.site, r.group.tx, r.group.charger, r.group.connector, c.Measurand, c.Phase, c.Unit, c.Context, c.Location, c.Format, first, last)
	if err != nil {
		return fmt.Errorf("stored series: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var at int64
		var samples string
		if err := rows.Scan(&at, &samples); err != nil {
			return fmt.Errorf("stored series: %w", err)
		}
		err := decodeSamples(at, samples, func(at int64, _ string) { taken[at] = true })
		if err != nil {
			return fmt.Errorf("stored series: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("stored series: %w", err)
	}
	r.keep(taken)
	return nil
}

// encodeSamples writes a series' values as stored: a JSON array of
// [milliseconds after the first value, "value"].
func encodeSamples(r *series) string {
	n := 2
	for _, v := range r.values {
		n += len(v) + 16
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, at := range r.times {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, at-r.times[0], 10)
		b = append(b, ',')
		b = appendJSONString(b, r.values[i])
		b = append(b, ']')
	}
	return string(append(b, ']'))
}

// appendJSONString appends v as a JSON string. Values are printable
// (syncproto says so) and mostly plain digits, so this is a copy.
func appendJSONString(b []byte, v string) []byte {
	plain := true
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		b = append(b, '"')
		b = append(b, v...)
		return append(b, '"')
	}
	q, _ := json.Marshal(v) // a string always encodes
	return append(b, q...)
}

// decodeSamples reads what encodeSamples wrote, handing each value with
// its time (Unix milliseconds) to fn.
func decodeSamples(firstAt int64, text string, fn func(at int64, value string)) error {
	var pairs [][]json.RawMessage
	if err := json.Unmarshal([]byte(text), &pairs); err != nil {
		return fmt.Errorf("samples: %w", err)
	}
	for i, p := range pairs {
		if len(p) != 2 {
			return fmt.Errorf("samples[%d]: %d elements, want [offset, value]", i, len(p))
		}
		off, err := strconv.ParseInt(string(p[0]), 10, 64)
		if err != nil {
			return fmt.Errorf("samples[%d] offset: %w", i, err)
		}
		var v string
		if err := json.Unmarshal(p[1], &v); err != nil {
			return fmt.Errorf("samples[%d] value: %w", i, err)
		}
		fn(firstAt+off, v)
	}
	return nil
}

// Readings returns the readings of site's transaction tx, in time order
// (then by column).
func (s *Store) Readings(ctx context.Context, site string, tx int64) ([]Reading, error) {
	rows, err := s.query(ctx, s.db, `SELECT measurand, phase, unit, context, location, format, first_at, samples FROM reading_series
		WHERE site = ? AND tx = ? ORDER BY charger, connector, seq`, site, tx)
	if err != nil {
		return nil, fmt.Errorf("fleet: readings of %s/%d: %w", site, tx, err)
	}
	defer rows.Close()
	out := []Reading{}
	for rows.Next() {
		var c syncproto.Column
		var first int64
		var samples string
		if err := rows.Scan(&c.Measurand, &c.Phase, &c.Unit, &c.Context, &c.Location, &c.Format, &first, &samples); err != nil {
			return nil, fmt.Errorf("fleet: readings of %s/%d: %w", site, tx, err)
		}
		err := decodeSamples(first, samples, func(at int64, v string) {
			out = append(out, Reading{Time: fromMS(at), Column: c, Value: v})
		})
		if err != nil {
			return nil, fmt.Errorf("fleet: readings of %s/%d: %w", site, tx, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fleet: readings of %s/%d: %w", site, tx, err)
	}
	// The order the per-value rows were read in: by time, then column
	// (bytewise, as SQLite and PostgreSQL's C collation compare).
	slices.SortStableFunc(out, func(a, b Reading) int {
		x, y := &a.Column, &b.Column
		return cmp.Or(a.Time.Compare(b.Time), strings.Compare(x.Measurand, y.Measurand), strings.Compare(x.Phase, y.Phase),
			strings.Compare(x.Unit, y.Unit), strings.Compare(x.Context, y.Context), strings.Compare(x.Location, y.Location),
			strings.Compare(x.Format, y.Format))
	})
	return out, nil
}
