package syncproto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
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
	Start   time.Time `json:"start"`
	Columns []Column  `json:"cols"`
	Samples []Sample  `json:"s"`
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
	row := make([]any, 0, 1+len(s.Values))
	row = append(row, s.Offset.Milliseconds())
	for _, v := range s.Values {
		row = append(row, v)
	}
	return json.Marshal(row)
}

// UnmarshalJSON reads [offsetMs, "v1", ...].
func (s *Sample) UnmarshalJSON(data []byte) error {
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
	if ms < 0 || ms > int64(maxSampleSpan/time.Millisecond) {
		return fmt.Errorf("sample offset %d ms out of range", ms)
	}
	s.Offset = time.Duration(ms) * time.Millisecond
	s.Values = make([]string, len(row)-1)
	for i, raw := range row[1:] {
		if err := json.Unmarshal(raw, &s.Values[i]); err != nil {
			return fmt.Errorf("sample value %d: %w", i, err)
		}
	}
	return nil
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
		field := fmt.Sprintf("s[%d]", i)
		switch {
		case len(s.Values) != len(r.Columns):
			return invalid(field, "%d values for %d columns", len(s.Values), len(r.Columns))
		case s.Offset < last:
			return invalid(field, "offset %v before the previous sample's %v", s.Offset, last)
		}
		last = s.Offset
		for j, v := range s.Values {
			if len(v) > maxValueLen || bytes.ContainsFunc([]byte(v), isControl) {
				return invalid(fmt.Sprintf("%s[%d]", field, j+1), "not a value of at most %d printable characters", maxValueLen)
			}
		}
	}
	return nil
}
