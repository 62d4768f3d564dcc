package fleet

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
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

// lockedGroups is the reading groups of a batch, in the order they are
// locked, and their rows once the lock's statement ran.
type lockedGroups struct {
	keys  []readingGroup
	state map[readingGroup]*groupState
}

// lockGroups queues the statement that locks the groups of records,
// creating the missing ones, and returns them, their state read once
// the statement ran. The upsert locks each row (PostgreSQL) until the
// transaction ends, always in the groups' order, so replicas writing
// one group's series take turns, each seeing what the one before it
// committed.
func (s *Store) lockGroups(q *txQueue, records [][]series) *lockedGroups {
	lg := &lockedGroups{state: make(map[readingGroup]*groupState)}
	for _, rec := range records {
		if len(rec) > 0 && lg.state[rec[0].group] == nil {
			lg.state[rec[0].group] = &groupState{}
			lg.keys = append(lg.keys, rec[0].group)
		}
	}
	slices.SortFunc(lg.keys, compareGroups)
	args := make([]any, 0, len(lg.keys)*groupColumns)
	for _, k := range lg.keys {
		args = append(args, k.site, k.charger, k.connector, k.tx, 0, 0, 0)
	}
	q.insertRows("reading groups", `INSERT INTO reading_groups (site, charger, connector, tx, last_at, series_count, value_count)`, groupColumns,
		` ON CONFLICT (site, charger, connector, tx) DO UPDATE SET series_count = reading_groups.series_count
		RETURNING site, charger, connector, tx, last_at, series_count, value_count`, args, func(row scanner) error {
			var k readingGroup
			var g groupState
			if err := row.Scan(&k.site, &k.charger, &k.connector, &k.tx, &g.lastAt, &g.series, &g.values); err != nil {
				return err
			}
			if p := lg.state[k]; p != nil {
				*p = g
			}
			return nil
		})
	return lg
}

// overlaps reports whether rec, of group g, starts at or before the
// group's latest value: only then may it repeat a reading stored (or
// written before it in the batch).
func (g *groupState) overlaps(rec []series) bool {
	if g.series == 0 {
		return false
	}
	first := rec[0].times[0]
	for _, r := range rec[1:] {
		first = min(first, r.times[0])
	}
	return first <= g.lastAt
}

// wrote moves g past the series r, written after its series so far.
func (g *groupState) wrote(r *series) {
	if last := r.times[len(r.times)-1]; g.series == 0 || last > g.lastAt {
		g.lastAt = last
	}
	g.series++
	g.values += int64(len(r.times))
	g.changed = true
}

// applySeries queues the series of a batch's Readings records (one
// slice per record, in the order they were applied), each without the
// values stored before it, and the new state of their groups, locked
// by lockGroups.
func (s *Store) applySeries(ctx context.Context, q *txQueue, records [][]series, groups *lockedGroups) error {
	if len(records) == 0 {
		return nil
	}
	stored, err := s.storedTimes(ctx, q, records, groups)
	if err != nil {
		return err
	}
	var args []any
	var written []*series
	for ri, rec := range records {
		if len(rec) == 0 {
			continue
		}
		// A record overlaps what is stored when it starts before its
		// group's latest value; its own series (distinct columns) never
		// overlap each other.
		g := groups.state[rec[0].group]
		overlaps := g.overlaps(rec)
		if overlaps && stored[ri] == nil {
			return fmt.Errorf("record %d of the batch overlaps its group's readings, which were not looked up", ri)
		}
		for i := range rec {
			r := &rec[i]
			if overlaps {
				dropTaken(r, stored[ri][i], written)
				if len(r.times) == 0 {
					continue
				}
			}
			c := r.col
			args = append(args, r.group.site, r.group.tx, r.group.charger, r.group.connector, g.series,
				c.Measurand, c.Phase, c.Unit, c.Context, c.Location, c.Format, r.times[0], r.times[len(r.times)-1], encodeSamples(r))
			written = append(written, r)
			g.wrote(r)
		}
	}
	q.insertRows("series", `INSERT INTO reading_series (site, tx, charger, connector, seq, measurand, phase, unit, context, location, format, first_at, last_at, samples)`,
		seriesColumns, ``, args, nil)
	args = args[:0:0]
	for _, k := range groups.keys {
		if g := groups.state[k]; g.changed {
			args = append(args, k.site, k.charger, k.connector, k.tx, g.lastAt, g.series, g.values)
		}
	}
	q.insertRows("reading groups", `INSERT INTO reading_groups (site, charger, connector, tx, last_at, series_count, value_count)`, groupColumns,
		` ON CONFLICT (site, charger, connector, tx) DO UPDATE SET last_at = excluded.last_at, series_count = excluded.series_count,
		value_count = excluded.value_count`, args, nil)
	return nil
}

// storedTimes looks up, in one flush of q, the times stored of every
// series of the records that may overlap what is stored: stored[r][i]
// is the times of records[r][i], nil for a record not looked up.
//
// Which records overlap is known exactly only in order, each after the
// values dropped from the ones before it; the records looked up are
// those that would overlap were nothing dropped, a superset: dropping
// values only lowers a group's latest time and its count of series.
// Nothing of the batch is written to reading_series before its series
// are, so what is read here is what a look-up at each record would read.
func (s *Store) storedTimes(ctx context.Context, q *txQueue, records [][]series, groups *lockedGroups) ([][]map[int64]bool, error) {
	est := make(map[readingGroup]groupState, len(groups.state))
	for k, g := range groups.state {
		est[k] = *g
	}
	stored := make([][]map[int64]bool, len(records))
	lookups := 0
	for ri, rec := range records {
		if len(rec) == 0 {
			continue
		}
		g := est[rec[0].group]
		if g.overlaps(rec) {
			stored[ri] = make([]map[int64]bool, len(rec))
			for i := range rec {
				stored[ri][i] = map[int64]bool{}
				queueStored(q, &rec[i], stored[ri][i])
				lookups++
			}
		}
		for i := range rec {
			g.wrote(&rec[i])
		}
		est[rec[0].group] = g
	}
	if lookups == 0 {
		return stored, nil
	}
	return stored, q.flush(ctx)
}

// queueStored queues the look-up of the times stored in r's group and
// column between r's first and last time, added to taken.
func queueStored(q *txQueue, r *series, taken map[int64]bool) {
	first, last := r.times[0], r.times[len(r.times)-1]
	c := r.col
	q.query("stored series", `SELECT first_at, samples FROM reading_series
		WHERE site = ? AND tx = ? AND charger = ? AND connector = ? AND measurand = ? AND phase = ? AND unit = ? AND context = ?
		AND location = ? AND format = ? AND last_at >= ? AND first_at <= ?`, func(row scanner) error {
		var at int64
		var samples string
		if err := row.Scan(&at, &samples); err != nil {
			return err
		}
		return decodeSamples(at, samples, func(at int64, _ string) { taken[at] = true })
	}, r.group.site, r.group.tx, r.group.charger, r.group.connector, c.Measurand, c.Phase, c.Unit, c.Context, c.Location, c.Format, first, last)
}

// dropTaken removes from r the values whose key is stored already: in
// the database (stored, its times there) or in the series written
// before it in this batch.
func dropTaken(r *series, stored map[int64]bool, written []*series) {
	taken := maps.Clone(stored)
	if taken == nil {
		taken = map[int64]bool{}
	}
	for _, w := range written {
		if w.group == r.group && w.col == r.col {
			for _, at := range w.times {
				taken[at] = true
			}
		}
	}
	r.keep(taken)
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
