package charging

import (
	"reflect"
	"testing"
	"time"
)

func TestReportRoundTrip(t *testing.T) {
	for _, mv := range []MeterValues{
		{ChargerID: "CP1", ConnectorID: 2, TransactionID: 77, Readings: []MeterReading{
			{Timestamp: t0, Value: "1234.5", Measurand: "Energy.Active.Import.Register", Unit: "Wh", Context: "Sample.Periodic"},
			{Timestamp: t0.Add(-time.Hour + time.Millisecond), Value: "16", Measurand: "Current.Import", Phase: "L1", Unit: "A"},
			{Timestamp: time.Date(1970, 1, 1, 0, 0, 1, 0, time.UTC), Value: "x", Measurand: "Vendor.Custom", Format: "SignedData", Location: "Outlet"},
		}},
		{ChargerID: "CP2"},
		{ChargerID: "CP3", ConnectorID: 1, TransactionID: 9, Readings: []MeterReading{
			{Timestamp: t0, Value: "12.5", Measurand: "Energy.Active.Import.Register", Unit: "Wh", Multiplier: 3},
			{Timestamp: t0, Value: "7", Measurand: "Current.Import", Unit: "A", Multiplier: -1},
			{Timestamp: t0, Value: "230", Measurand: "Voltage", Unit: "V"},
		}},
	} {
		enc := encodeReport(nil, mv)
		got, err := decodeReport(enc)
		if err != nil {
			t.Fatal(err)
		}
		if len(mv.Readings) == 0 {
			mv.Readings = nil
		}
		if !reflect.DeepEqual(got, mv) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, mv)
		}
		t.Logf("%d readings: %d bytes", len(mv.Readings), len(enc))
	}
	one := encodeReport(nil, MeterValues{ChargerID: "CHARGER-0001", ConnectorID: 1, TransactionID: 1234,
		Readings: []MeterReading{{Timestamp: t0, Value: "123456.7", Measurand: "Energy.Active.Import.Register", Unit: "Wh"}}})
	if len(one) > 40 {
		t.Fatalf("typical report takes %d bytes, want compact (<= 40)", len(one))
	}
	if one[0] != reportVersion {
		t.Fatalf("report without multipliers written as version %d, want %d (unchanged bytes and keys)", one[0], reportVersion)
	}
}

func FuzzDecodeReport(f *testing.F) {
	f.Add(encodeReport(nil, MeterValues{ChargerID: "CP", Readings: []MeterReading{reading(t0, "1")}}))
	f.Add([]byte{1, 0xff})
	f.Add(encodeReport(nil, MeterValues{ChargerID: "CP", Readings: []MeterReading{{Timestamp: t0, Value: "1", Multiplier: -3}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		mv, err := decodeReport(b)
		if err != nil {
			return
		}
		again, err := decodeReport(encodeReport(nil, mv))
		if err != nil || !reflect.DeepEqual(again, mv) {
			t.Fatalf("re-encode: %v %+v vs %+v", err, again, mv)
		}
	})
}
