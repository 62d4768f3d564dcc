package charging

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// Meter reports are the hottest records, so they are stored in a compact
// binary form instead of JSON: varints, timestamps as second deltas, and
// the usual measurand/phase/unit/context/location/format strings as one
// byte from dict. A typical one-reading report takes ~30 bytes.
//
// Version 2 adds a varint Multiplier after each reading's format; it is
// written only when a reading has a non-zero multiplier, so reports without
// one keep the version 1 bytes (and their content-hash keys).

const (
	reportVersion           = 1
	reportVersionMultiplier = 2
)

// dict is append-only: stored records refer to its indexes.
var dict = [...]string{
	"", "Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Voltage", "SoC",
	"Current.Offered", "Energy.Active.Export.Register", "Power.Offered", "Temperature", "Frequency",
	"Power.Factor", "Energy.Active.Import.Interval", "Power.Active.Export", "Current.Export",
	"L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1",
	"Wh", "kWh", "W", "kW", "A", "V", "Percent", "Celsius", "K", "varh", "kvarh", "var", "kvar", "VA", "kVA", "Fahrenheit",
	"Sample.Periodic", "Sample.Clock", "Transaction.Begin", "Transaction.End", "Interruption.Begin",
	"Interruption.End", "Trigger", "Other", "Outlet", "Inlet", "Body", "Cable", "EV", "Raw", "SignedData",
}

const literal = 0xFF

var dictIndex = func() map[string]byte {
	m := make(map[string]byte, len(dict))
	for i, s := range dict {
		m[s] = byte(i)
	}
	return m
}()

var errCorrupt = errors.New("corrupt meter record")

// encodeReport appends the compact form of mv to b.
func encodeReport(b []byte, mv MeterValues) []byte {
	version := byte(reportVersion)
	for _, r := range mv.Readings {
		if r.Multiplier != 0 {
			version = reportVersionMultiplier
			break
		}
	}
	b = append(b, version)
	b = appendString(b, string(mv.ChargerID))
	b = binary.AppendUvarint(b, uint64(mv.ConnectorID))
	b = binary.AppendUvarint(b, uint64(mv.TransactionID))
	b = binary.AppendUvarint(b, uint64(len(mv.Readings)))
	var prev int64
	for _, r := range mv.Readings {
		sec := r.Timestamp.Unix()
		b = binary.AppendVarint(b, sec-prev)
		b = binary.AppendUvarint(b, uint64(r.Timestamp.Nanosecond()))
		prev = sec
		b = appendString(b, r.Value)
		for _, s := range [...]string{r.Measurand, r.Phase, r.Unit, r.Context, r.Location, r.Format} {
			if i, ok := dictIndex[s]; ok {
				b = append(b, i)
			} else {
				b = appendString(append(b, literal), s)
			}
		}
		if version == reportVersionMultiplier {
			b = binary.AppendVarint(b, int64(r.Multiplier))
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decoder reads a record; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) word() string {
	if d.err != nil {
		return ""
	}
	if len(d.b) == 0 {
		d.err = errCorrupt
		return ""
	}
	c := d.b[0]
	d.b = d.b[1:]
	if c == literal {
		return d.string()
	}
	if int(c) >= len(dict) {
		d.err = errCorrupt
		return ""
	}
	return dict[c]
}

var zeroUnix = time.Time{}.Unix()

// decodeReport is the inverse of encodeReport. Times come back in UTC.
func decodeReport(b []byte) (MeterValues, error) {
	if len(b) == 0 || (b[0] != reportVersion && b[0] != reportVersionMultiplier) {
		return MeterValues{}, fmt.Errorf("%w: unknown version", errCorrupt)
	}
	withMultiplier := b[0] == reportVersionMultiplier
	d := decoder{b: b[1:]}
	mv := MeterValues{ChargerID: ChargerID(d.string())}
	mv.ConnectorID = int(d.uvarint())
	mv.TransactionID = int64(d.uvarint())
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) { // each reading takes several bytes
		d.err = errCorrupt
	}
	if d.err == nil && n > 0 {
		mv.Readings = make([]MeterReading, 0, n)
	}
	var prev int64
	for i := uint64(0); i < n && d.err == nil; i++ {
		sec := prev + d.varint()
		nsec := d.uvarint()
		prev = sec
		r := MeterReading{Value: d.string()}
		if sec != zeroUnix || nsec != 0 {
			r.Timestamp = time.Unix(sec, int64(nsec)).UTC()
		}
		r.Measurand, r.Phase, r.Unit = d.word(), d.word(), d.word()
		r.Context, r.Location, r.Format = d.word(), d.word(), d.word()
		if withMultiplier {
			m := d.varint()
			if m < math.MinInt32 || m > math.MaxInt32 {
				d.err = errCorrupt
			}
			r.Multiplier = int(m)
		}
		mv.Readings = append(mv.Readings, r)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return MeterValues{}, fmt.Errorf("decode meter report: %w", d.err)
	}
	return mv, nil
}

// readingKey is the key of a stored report: transaction id (0: none) then a
// content hash, so a re-sent identical report lands on the same key.
func readingKey(txID int64, enc []byte) []byte {
	sum := sha256.Sum256(enc)
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(txID))
	return append(k, sum[:8]...)
}

// idemKey hashes the identifying fields of a request into a 16-byte key.
func idemKey(parts ...any) []byte {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%v\x00", p)
	}
	return h.Sum(nil)[:16]
}
