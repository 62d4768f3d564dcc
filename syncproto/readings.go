package syncproto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Readings is a batch of one connector's meter readings, in columns: each
// distinct series (measurand, phase, unit, context, location, format) is
// named once, and each sample instant is one row of values. A batch of
// five minutes of a session costs a few bytes per value instead of the
// hundred an OCPP sampledValue takes.
type Readings struct {
	Header
	Charger   string `json:"charger"`
	Connector int    `json:"connector"`
	// TransactionID is the appliance's id of the session the readings
	// belong to; 0 for readings outside a session.
	TransactionID int64 `json:"tx,omitempty"`
	// Start is the time of the first sample; samples count from it.
	Start   time.Time  `json:"start"`
	Columns []Column   `json:"cols"`
	Samples SampleList `json:"s"`
}

// Column describes one series of a batch.
type Column struct {
	Measurand string `json:"m"`
	Phase     string `json:"p,omitempty"`
	Unit      string `json:"u,omitempty"`
	Context   string `json:"c,omitempty"`
	Location  string `json:"l,omitempty"`
	Format    string `json:"f,omitempty"`
}

// Sample is one instant of a batch: its offset from Readings.Start and one
// value per column, the decimal text exactly as the charger wrote it (""
// where the column has no value at that instant). It is written as a JSON
// array: [offset in milliseconds, "value", ...].
type Sample struct {
	Offset time.Duration
	Values []string
}

// MarshalJSON writes s as [offsetMs, "v1", "v2", ...].
func (s Sample) MarshalJSON() ([]byte, error) {
	return s.appendJSON(make([]byte, 0, s.sizeJSON()))
}

// sizeJSON is about the length of s's row: room for plain values.
func (s Sample) sizeJSON() int {
	n := 24
	for _, v := range s.Values {
		n += len(v) + 3
	}
	return n
}

// appendJSON appends s's row to b.
func (s Sample) appendJSON(b []byte) ([]byte, error) {
	b = append(b, '[')
	b = strconv.AppendInt(b, s.Offset.Milliseconds(), 10)
	for _, v := range s.Values {
		b = append(b, ',')
		if !plainJSON(v) {
			q, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			b = append(b, q...)
			continue
		}
		b = append(b, '"')
		b = append(b, v...)
		b = append(b, '"')
	}
	return append(b, ']'), nil
}

// SampleList is a batch's samples. It reads and writes the JSON array of
// rows as a whole, which is what makes a Readings record cheap to encode
// and decode: per row, encoding/json would call Sample's methods through
// reflection, check and copy each row's bytes again, and allocate the
// row's values one by one.
type SampleList []Sample

// MarshalJSON writes the rows as Sample.MarshalJSON does, in one array
// (null for a nil list, as encoding/json writes a nil slice).
func (l SampleList) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("null"), nil
	}
	n := 2
	for _, s := range l {
		n += s.sizeJSON() + 1
	}
	b := append(make([]byte, 0, n), '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = s.appendJSON(b); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads the array of rows. The usual array (rows of the
// shape MarshalJSON writes for plain values, no spaces) is read in one
// pass, its values cut from one copy of the array and held in one
// backing array: three allocations a batch instead of a few a row.
// Anything else goes through encoding/json and Sample.UnmarshalJSON,
// which also word the errors.
func (l *SampleList) UnmarshalJSON(data []byte) error {
	if rows, ok := scanSamples(data); ok {
		*l = rows
		return nil
	}
	return json.Unmarshal(data, (*[]Sample)(l))
}

// scanSamples reads an array of rows that scanSample would each read,
// separated by commas, with no spaces; ok is false for anything else
// (an empty array included), which the caller leaves to encoding/json.
// An offset out of range is left to it too, for its error.
func scanSamples(data []byte) (rows SampleList, ok bool) {
	if len(data) < 4 || data[0] != '[' || data[1] != '[' || data[len(data)-1] != ']' {
		return nil, false
	}
	text := string(data) // the values are cut from this one copy
	// Upper bounds, so that the backing arrays never grow: a row ends
	// with "]", and every value follows a comma.
	rows = make(SampleList, 0, strings.Count(text, "]"))
	values := make([]string, 0, strings.Count(text, ","))
	i := 1 // after the array's '['
	for {
		if i >= len(text) || text[i] != '[' {
			return nil, false
		}
		i++
		start := i
		for i < len(text) && text[i] >= '0' && text[i] <= '9' {
			i++
		}
		if i == start || (i > start+1 && text[start] == '0') {
			return nil, false
		}
		ms, err := strconv.ParseInt(text[start:i], 10, 64)
		if err != nil || ms > int64(maxSampleSpan/time.Millisecond) {
			return nil, false
		}
		first := len(values)
		for i < len(text) && text[i] == ',' {
			if i+1 >= len(text) || text[i+1] != '"' {
				return nil, false
			}
			end := strings.IndexByte(text[i+2:], '"')
			if end < 0 {
				return nil, false
			}
			v := text[i+2 : i+2+end]
			for j := 0; j < len(v); j++ {
				if c := v[j]; c < 0x20 || c >= 0x7f || c == '\\' {
					return nil, false
				}
			}
			values = append(values, v)
			i += 2 + end + 1
		}
		if i >= len(text) || text[i] != ']' {
			return nil, false
		}
		i++
		rows = append(rows, Sample{Offset: time.Duration(ms) * time.Millisecond, Values: values[first:len(values):len(values)]})
		switch {
		case i == len(text)-1: // the array's ']'
			return rows, true
		case i < len(text) && text[i] == ',':
			i++
		default:
			return nil, false
		}
	}
}

// plainJSON reports whether encoding/json writes v as itself in quotes:
// printable ASCII that it neither escapes nor HTML-escapes. Meter
// values are.
func plainJSON(v string) bool {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// UnmarshalJSON reads [offsetMs, "v1", ...]. The usual row (an integer
// and plain strings, no spaces) is read directly; anything else goes
// through encoding/json, which also words the errors.
func (s *Sample) UnmarshalJSON(data []byte) error {
	if ms, values, ok := scanSample(data); ok {
		return s.set(ms, values)
	}
	var row []json.RawMessage
	if err := json.Unmarshal(data, &row); err != nil {
		return err
	}
	if len(row) == 0 {
		return fmt.Errorf("sample: empty row, want [offsetMs, values...]")
	}
	var ms int64
	if err := json.Unmarshal(row[0], &ms); err != nil {
		return fmt.Errorf("sample offset: %w", err)
	}
	values := make([]string, len(row)-1)
	for i, raw := range row[1:] {
		if err := json.Unmarshal(raw, &values[i]); err != nil {
			return fmt.Errorf("sample value %d: %w", i, err)
		}
	}
	return s.set(ms, values)
}

// set checks the offset and sets the sample.
func (s *Sample) set(ms int64, values []string) error {
	if ms < 0 || ms > int64(maxSampleSpan/time.Millisecond) {
		return fmt.Errorf("sample offset %d ms out of range", ms)
	}
	s.Offset = time.Duration(ms) * time.Millisecond
	s.Values = values
	return nil
}

// scanSample reads a row of the shape MarshalJSON writes for plain
// values: [digits,"plain",...] with no spaces. ok is false for anything
// else, which the caller leaves to encoding/json.
func scanSample(data []byte) (ms int64, values []string, ok bool) {
	if len(data) < 3 || data[0] != '[' || data[len(data)-1] != ']' {
		return 0, nil, false
	}
	body := data[1 : len(data)-1]
	i := 0
	for i < len(body) && body[i] >= '0' && body[i] <= '9' {
		i++
	}
	if i == 0 || (i > 1 && body[0] == '0') {
		return 0, nil, false
	}
	ms, err := strconv.ParseInt(string(body[:i]), 10, 64)
	if err != nil {
		return 0, nil, false
	}
	n := bytes.Count(body[i:], []byte{','})
	values = make([]string, 0, n)
	for rest := body[i:]; len(rest) > 0; {
		if len(rest) < 3 || rest[0] != ',' || rest[1] != '"' {
			return 0, nil, false
		}
		end := bytes.IndexByte(rest[2:], '"')
		if end < 0 {
			return 0, nil, false
		}
		v := rest[2 : 2+end]
		for _, c := range v {
			if c < 0x20 || c >= 0x7f || c == '\\' {
				return 0, nil, false
			}
		}
		values = append(values, string(v))
		rest = rest[2+end+1:]
	}
	return ms, values, true
}

// Limits of a Readings batch.
const (
	MaxColumns    = 64
	MaxSamples    = 10000
	maxSampleSpan = 31 * 24 * time.Hour
	maxValueLen   = 64
)

// Reading is one value of one series at one time: the row form of a
// batch, for building and reading one.
type Reading struct {
	Time   time.Time
	Column Column
	Value  string
}

// AddReadings appends readings (in any order) to the batch, creating the
// columns and samples they need. Start is the earliest time of the batch.
func (r *Readings) AddReadings(rs ...Reading) {
	rows := append(r.Rows(), rs...)
	slices.SortStableFunc(rows, func(a, b Reading) int { return a.Time.Compare(b.Time) })
	r.Columns, r.Samples = nil, nil
	if len(rows) == 0 {
		return
	}
	r.Start = rows[0].Time
	col := map[Column]int{}
	for _, row := range rows {
		c, ok := col[row.Column]
		if !ok {
			c = len(r.Columns)
			col[row.Column] = c
			r.Columns = append(r.Columns, row.Column)
			for i := range r.Samples {
				r.Samples[i].Values = append(r.Samples[i].Values, "")
			}
		}
		off := row.Time.Sub(r.Start)
		if n := len(r.Samples); n == 0 || r.Samples[n-1].Offset != off || r.Samples[n-1].Values[c] != "" {
			r.Samples = append(r.Samples, Sample{Offset: off, Values: make([]string, len(r.Columns))})
		}
		r.Samples[len(r.Samples)-1].Values[c] = row.Value
	}
}

// Rows returns the batch's readings in sample order, columns in order
// within a sample.
func (r *Readings) Rows() []Reading {
	var out []Reading
	for _, s := range r.Samples {
		for c, v := range s.Values {
			if v != "" && c < len(r.Columns) {
				out = append(out, Reading{Time: r.Start.Add(s.Offset), Column: r.Columns[c], Value: v})
			}
		}
	}
	return out
}

// Validate checks the batch's shape: every sample has one value per
// column, offsets do not go back, values are short, and columns are
// distinct.
func (r *Readings) Validate() error {
	if err := r.validateHeader(true); err != nil {
		return err
	}
	if err := requireText("charger", r.Charger); err != nil {
		return err
	}
	switch {
	case r.Connector < 0:
		return invalid("connector", "%d is negative", r.Connector)
	case r.TransactionID < 0:
		return invalid("tx", "%d is negative", r.TransactionID)
	case r.Start.IsZero():
		return invalid("start", "required")
	case len(r.Columns) == 0 || len(r.Columns) > MaxColumns:
		return invalid("cols", "want 1 to %d columns, got %d", MaxColumns, len(r.Columns))
	case len(r.Samples) == 0 || len(r.Samples) > MaxSamples:
		return invalid("s", "want 1 to %d samples, got %d", MaxSamples, len(r.Samples))
	}
	seen := make(map[Column]bool, len(r.Columns))
	for i, c := range r.Columns {
		if c.Measurand == "" {
			return invalid(fmt.Sprintf("cols[%d].m", i), "required")
		}
		if seen[c] {
			return invalid(fmt.Sprintf("cols[%d]", i), "repeats an earlier column")
		}
		seen[c] = true
	}
	var last time.Duration
	for i, s := range r.Samples {
		switch {
		case len(s.Values) != len(r.Columns):
			return invalid(fmt.Sprintf("s[%d]", i), "%d values for %d columns", len(s.Values), len(r.Columns))
		case s.Offset < last:
			return invalid(fmt.Sprintf("s[%d]", i), "offset %v before the previous sample's %v", s.Offset, last)
		}
		last = s.Offset
		for j, v := range s.Values {
			if len(v) > maxValueLen || strings.ContainsFunc(v, isControl) {
				return invalid(fmt.Sprintf("s[%d][%d]", i, j+1), "not a value of at most %d printable characters", maxValueLen)
			}
		}
	}
	return nil
}
