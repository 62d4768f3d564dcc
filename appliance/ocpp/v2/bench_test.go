package v2

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

// BenchmarkHandle is the CSMS's own work for the most frequent calls that
// touch memory only, between the transport's parse and write: decode (and
// for 2.0.1 the conversion to and from the 2.1 types), domain, encode.
func BenchmarkHandle(b *testing.B) {
	ctx := context.Background()
	for _, v := range []ocppj.Version{ocppj.V201, ocppj.V21} {
		a, _ := newTestAdapter(b, v, nil)
		for _, c := range []struct{ action, payload string }{
			{"Heartbeat", `{}`},
			{"Authorize", `{"idToken":{"idToken":"04A1B2C3","type":"ISO14443"}}`},
		} {
			b.Run(string(v)+"/"+c.action, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := a.Handle(ctx, "CP1", c.action, []byte(c.payload)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkReadings is the mapping of ten sampled values, with their text
// recovered from the payload.
func BenchmarkReadings(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"evseId":1,"meterValue":[{"timestamp":"2024-05-01T12:00:00.000Z","sampledValue":[`)
	for i := range 10 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"value":%d.%d,"context":"Sample.Periodic","measurand":"Energy.Active.Import.Register","phase":"L%d","location":"Outlet","unitOfMeasure":{"unit":"Wh"}}`, 1000+i, i, i%3+1)
	}
	sb.WriteString(`]}]}`)
	data := []byte(sb.String())
	req, _, err := v21.DecodeRequest("MeterValues", data, false)
	if err != nil {
		b.Fatal(err)
	}
	mvs := req.(*v21.MeterValuesRequest).MeterValue
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if rs := readings(mvs, sentValues(data)); len(rs) != 10 {
			b.Fatal(len(rs))
		}
	}
}
