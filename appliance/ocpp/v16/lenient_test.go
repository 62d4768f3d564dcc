package v16

import (
	"strings"
	"testing"
	"time"
)

func TestLenientQuirks(t *testing.T) {
	tests := []struct {
		name, action, data string
		warning            string
		check              func(t *testing.T, v any)
	}{
		{
			name: "unknown field ignored", action: "StatusNotification",
			data:    `{"connectorId":1,"errorCode":"NoError","status":"Available","vendorExtra":{"a":[1,2,{"b":null}]}}`,
			warning: "vendorExtra: unknown field ignored",
			check: func(t *testing.T, v any) {
				if r := v.(*StatusNotificationRequest); r.Status != StatusAvailable || r.ConnectorId != 1 {
					t.Errorf("decoded %+v", r)
				}
			},
		},
		{
			name: "over-long string kept", action: "BootNotification",
			data:    `{"chargePointVendor":"A Very Long Vendor Name GmbH","chargePointModel":"M"}`,
			warning: "chargePointVendor: length 28 exceeds maxLength 20",
			check: func(t *testing.T, v any) {
				if r := v.(*BootNotificationRequest); r.ChargePointVendor != "A Very Long Vendor Name GmbH" {
					t.Errorf("vendor %q", r.ChargePointVendor)
				}
			},
		},
		{
			name: "empty sampledValue", action: "MeterValues",
			data:    `{"connectorId":1,"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[]}]}`,
			warning: "meterValue[0].sampledValue: 0 items, minItems is 1",
			check: func(t *testing.T, v any) {
				if r := v.(*MeterValuesRequest); len(r.MeterValue) != 1 || len(r.MeterValue[0].SampledValue) != 0 {
					t.Errorf("decoded %+v", r)
				}
			},
		},
		{
			name: "timestamp without time zone is UTC", action: "StartTransaction",
			data:    `{"connectorId":1,"idTag":"A","meterStart":0,"timestamp":"2024-05-01T12:00:00.25"}`,
			warning: "timestamp: date-time without time zone read as UTC",
			check: func(t *testing.T, v any) {
				want := time.Date(2024, 5, 1, 12, 0, 0, 250e6, time.UTC)
				if r := v.(*StartTransactionRequest); !r.Timestamp.Equal(want) {
					t.Errorf("timestamp %v, want %v", r.Timestamp, want)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := DecodeRequest(tc.action, []byte(tc.data), false); err == nil {
				t.Fatal("strict mode accepted the quirk")
			}
			v, warnings, err := DecodeRequest(tc.action, []byte(tc.data), true)
			if err != nil {
				t.Fatalf("lenient: %v", err)
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], tc.warning) {
				t.Fatalf("warnings %q, want one containing %q", warnings, tc.warning)
			}
			tc.check(t, v)
		})
	}
}

// TestLenientStillRejects: lenient mode is not a free pass.
func TestLenientStillRejects(t *testing.T) {
	for _, data := range []string{
		`{"connectorId":"1","errorCode":"NoError","status":"Available"}`,
		`{"connectorId":1,"errorCode":"NoError","status":"Open"}`,
		`{"connectorId":1,"errorCode":"NoError"}`,
		`{"connectorId":1,"errorCode":"NoError","status":"Available","timestamp":"yesterday"}`,
		`{"connectorId":1,"errorCode":"NoError","status":"Available","x":[}`,
	} {
		if _, _, err := DecodeRequest("StatusNotification", []byte(data), true); err == nil {
			t.Errorf("lenient mode accepted %s", data)
		}
	}
	if _, _, err := DecodeRequest("MeterValues", []byte(`{"connectorId":1,"meterValue":[]}`), true); err == nil {
		t.Error("lenient mode accepted an empty meterValue (only empty sampledValue is a known quirk)")
	}
}
