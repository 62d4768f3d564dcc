package v21

import (
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/internal/registrytest"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
)

// TestSendMessage: NotifyPeriodicEventStream is sent with SEND: a request
// payload and no response.
func TestSendMessage(t *testing.T) {
	a, ok := Lookup("NotifyPeriodicEventStream")
	if !ok || a.Response != nil || a.Request == nil || a.Direction != ChargerToCSMS {
		t.Fatalf("registry entry %+v", a)
	}
	data := `{"id":1,"pending":0,"basetime":"2025-01-02T03:04:05Z","data":[{"t":0.5,"v":"230.1"}]}`
	schematest.Validate(t, ocppj.V21, a.Name, false, []byte(data))
	v, w, err := DecodeRequest(a.Name, []byte(data), false)
	if err != nil || len(w) > 0 {
		t.Fatalf("%v %v", err, w)
	}
	if r := v.(*NotifyPeriodicEventStreamRequest); r.Id != 1 || len(r.Data) != 1 || r.Data[0].V != "230.1" {
		t.Errorf("decoded %+v", r)
	}
}

// TestBounds: the minimum and maximum keywords 2.1 adds are checked, for
// integers, numbers and array items, with the same verdict as the schema.
func TestBounds(t *testing.T) {
	period := func(extra string) string {
		return `{"status":"Accepted","schedule":{"evseId":1,"duration":60,"scheduleStart":"2025-01-02T03:04:05Z","chargingRateUnit":"W",` +
			`"chargingSchedulePeriod":[{"startPeriod":0` + extra + `}]}}`
	}
	tests := []struct {
		action   string
		response bool
		data     string
		msg      string // "" for valid
	}{
		{"StatusNotification", false, `{"timestamp":"2025-01-02T03:04:05Z","connectorStatus":"Available","evseId":0,"connectorId":0}`, ""},
		{"StatusNotification", false, `{"timestamp":"2025-01-02T03:04:05Z","connectorStatus":"Available","evseId":-1,"connectorId":0}`, "evseId: -1 is below minimum 0"},
		{"GetCompositeSchedule", true, period(`,"dischargeLimit":-7.5,"numberPhases":3`), ""},
		{"GetCompositeSchedule", true, period(`,"dischargeLimit":0.001`), "dischargeLimit: 0.001 is above maximum 0"},
		{"GetCompositeSchedule", true, period(`,"dischargeLimit":1e-400`), "is above maximum 0"},
		{"GetCompositeSchedule", true, period(`,"numberPhases":4`), "numberPhases: 4 is above maximum 3"},
		{"ClearVariableMonitoring", false, `{"id":[0,7]}`, ""},
		{"ClearVariableMonitoring", false, `{"id":[0,-7]}`, "id[1]: -7 is below minimum 0"},
		{"NotifyEVChargingNeeds", false, `{"evseId":0,"chargingNeeds":{"requestedEnergyTransfer":"DC"}}`, "evseId: 0 is below minimum 1"},
	}
	for _, tc := range tests {
		decode := DecodeRequest
		if tc.response {
			decode = DecodeResponse
		}
		_, _, err := decode(tc.action, []byte(tc.data), false)
		schemaErr := schematest.Check(t, ocppj.V21, tc.action, tc.response, []byte(tc.data))
		if tc.msg == "" {
			if err != nil || schemaErr != nil {
				t.Errorf("%s: Decode %v, schema %v", tc.data, err, schemaErr)
			}
			continue
		}
		if registrytest.Code(err) != ocppj.PropertyConstraintViolation || !strings.Contains(err.Error(), tc.msg) || schemaErr == nil {
			t.Errorf("%s: Decode %v, want %q; schema %v", tc.data, err, tc.msg, schemaErr)
		}
	}
	lim := 0.5
	out := &GetCompositeScheduleResponse{Status: GenericAccepted, Schedule: &CompositeSchedule{ChargingRateUnit: ChargingRateUnitW, ScheduleStart: payload.NewDateTime(time.Now()),
		ChargingSchedulePeriod: []ChargingSchedulePeriod{{DischargeLimit: &lim}}}}
	if err := payload.Validate(out); registrytest.Code(err) != ocppj.PropertyConstraintViolation {
		t.Errorf("Validate of a positive dischargeLimit: %v", err)
	}
}
