package v16

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
)

func meterValues10() []byte {
	var b strings.Builder
	b.WriteString(`{"connectorId":1,"transactionId":42,"meterValue":[{"timestamp":"2024-05-01T12:00:00.000Z","sampledValue":[`)
	for i := range 10 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"value":"%d.%d","context":"Sample.Periodic","measurand":"Energy.Active.Import.Register","phase":"L%d","location":"Outlet","unit":"Wh"}`, 1000+i, i, i%3+1)
	}
	b.WriteString(`]}]}`)
	return []byte(b.String())
}

func BenchmarkDecode(b *testing.B) {
	cases := []struct {
		name string
		data []byte
		new  func() any
	}{
		{"Heartbeat", []byte(`{}`), func() any { return new(HeartbeatRequest) }},
		{"StatusNotification", []byte(`{"connectorId":1,"errorCode":"NoError","status":"Charging","timestamp":"2024-05-01T12:00:00Z"}`), func() any { return new(StatusNotificationRequest) }},
		{"MeterValues10", meterValues10(), func() any { return new(MeterValuesRequest) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			v := c.new()
			if _, err := payload.Decode(c.data, v, payload.Options{}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := payload.Decode(c.data, v, payload.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHandleHeartbeat is the CSMS's own work for the most frequent
// call, between the transport's parse and write: decode, domain, encode.
func BenchmarkHandleHeartbeat(b *testing.B) {
	a, _, _ := newTestAdapter(b, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Handle(ctx, "CP1", "Heartbeat", []byte(`{}`)); err != nil {
			b.Fatal(err)
		}
	}
}
