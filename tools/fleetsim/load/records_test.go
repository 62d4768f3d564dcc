package load

import (
	"reflect"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/syncproto"
)

// A Readings record built in columns is the one AddReadings makes of its
// rows, and valid.
func TestBatchIsAddReadingsOfItsRows(t *testing.T) {
	for _, samples := range []int{1, 2, 20} {
		c := &charger{site: "depot-7", id: "CP1", samples: samples, now: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), meterWh: 1000,
			tx: &syncproto.Transaction{ID: 42}}
		got := c.batch()
		want := &syncproto.Readings{Header: got.Header, Charger: "CP1", Connector: 1, TransactionID: 42}
		want.AddReadings(got.Rows()...)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%d samples: built\n%+v\nAddReadings makes\n%+v", samples, got, want)
		}
		got.Version, got.Key = syncproto.Version, "k1"
		if err := got.Validate(); err != nil {
			t.Errorf("%d samples: %v", samples, err)
		}
		if n := len(got.Rows()); n != 2*samples {
			t.Errorf("%d samples: %d values, want %d", samples, n, 2*samples)
		}
	}
}
