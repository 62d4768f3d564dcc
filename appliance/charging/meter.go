package charging

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"

	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/store"
)

// Reading contexts and the measurand the session meter values come from.
const (
	MeasurandEnergyImportRegister = "Energy.Active.Import.Register"
	ContextTransactionBegin       = "Transaction.Begin"
	ContextTransactionEnd         = "Transaction.End"
)

// The defaults OCPP gives a sampled value's fields when the charger leaves
// them out; 1.6, 2.0.1 and 2.1 agree on them (2.x has no format: its value
// is always the plain reading, signed data travels beside it).
const (
	DefaultMeasurand = MeasurandEnergyImportRegister
	DefaultUnit      = "Wh"
	DefaultContext   = "Sample.Periodic"
	DefaultLocation  = "Outlet"
	DefaultFormat    = "Raw"
)

// WithDefaults returns r with the OCPP defaults of its empty measurand,
// unit, context, location and format filled in. The version adapters store
// every reading this way, so each says what it measured and nothing
// downstream needs to know a protocol's defaults. Phase has no default.
func (r MeterReading) WithDefaults() MeterReading {
	for _, f := range [...]struct {
		v   *string
		def string
	}{{&r.Measurand, DefaultMeasurand}, {&r.Unit, DefaultUnit}, {&r.Context, DefaultContext},
		{&r.Location, DefaultLocation}, {&r.Format, DefaultFormat}} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
	return r
}

// EnergyWh returns the reading in whole watt-hours when it is a reading of
// the total active import energy register: measurand
// Energy.Active.Import.Register (or empty, its default), no phase, not
// signed data, and a value convertible by [ToWh]. The session meter
// values of every protocol are read through it.
func (r MeterReading) EnergyWh() (int64, bool) {
	if (r.Measurand != "" && r.Measurand != MeasurandEnergyImportRegister) || r.Phase != "" || r.Format == "SignedData" {
		return 0, false
	}
	return ToWh(r.Value, r.Unit, r.Multiplier)
}

// ToWh converts an energy value (a decimal string) in unit, scaled by
// 10^multiplier, to watt-hours rounded to the nearest one. Units: "Wh" (or
// empty, the OCPP default) and "kWh". ok is false for other units, values
// that are not numbers, negative, or beyond int64.
func ToWh(value, unit string, multiplier int) (wh int64, ok bool) {
	switch unit {
	case "", "Wh":
	case "kWh":
		multiplier += 3
	default:
		return 0, false
	}
	v, err := strconv.ParseFloat(value, 64)
	if err != nil || math.IsNaN(v) || v < 0 {
		return 0, false
	}
	v = math.Round(v * math.Pow10(multiplier))
	if math.IsInf(v, 0) || v >= math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// startMeter finds a session's start meter value in rs: the register
// reading with context Transaction.Begin, else the earliest register
// reading that is not a Transaction.End one. at is that reading's time.
func startMeter(rs []MeterReading) (wh int64, at time.Time, ok bool) {
	best := -1
	for i, r := range rs {
		if _, isReg := r.EnergyWh(); !isReg || r.Context == ContextTransactionEnd {
			continue
		}
		if r.Context == ContextTransactionBegin {
			best = i
			break
		}
		if best < 0 || r.Timestamp.Before(rs[best].Timestamp) {
			best = i
		}
	}
	if best < 0 {
		return 0, time.Time{}, false
	}
	wh, _ = rs[best].EnergyWh()
	return wh, rs[best].Timestamp, true
}

// endMeter finds the register reading with context Transaction.End in rs
// (the last one, if several).
func endMeter(rs []MeterReading) (wh int64, ok bool) {
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].Context != ContextTransactionEnd {
			continue
		}
		if wh, ok := rs[i].EnergyWh(); ok {
			return wh, true
		}
	}
	return 0, false
}

// latestStoredMeter returns the latest register reading stored for
// transaction id, by timestamp.
func latestStoredMeter(tx *bbolt.Tx, id int64) (wh int64, ok bool, err error) {
	prefix := store.U64(uint64(id))
	var best MeterReading
	cur := tx.Bucket(bkReadings).Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		mv, err := decodeReport(v)
		if err != nil {
			return 0, false, fmt.Errorf("reading %x: %w", k, err)
		}
		for _, r := range mv.Readings {
			if w, isReg := r.EnergyWh(); isReg && (!ok || !r.Timestamp.Before(best.Timestamp)) {
				wh, best, ok = w, r, true
			}
		}
	}
	return wh, ok, nil
}
