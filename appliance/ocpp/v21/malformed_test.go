package v21

import (
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

const (
	format     = ocppj.FormatViolation
	typ        = ocppj.TypeConstraintViolation
	occurrence = ocppj.OccurrenceConstraintViolation
	property   = ocppj.PropertyConstraintViolation
)

const station = `"chargingStation":{"model":"M","vendorName":"V"}`

// malformed payloads (and a few valid edge cases, code ""), each with the
// RPC error strict decoding gives.
var malformed = []struct {
	action   string
	response bool
	data     string
	code     ocppj.ErrorCode
	msg      string // expected in the description (usually the field path)
	// schemaAccepts marks a documented deliberate difference from the schema.
	schemaAccepts bool
}{
	{action: "Heartbeat", data: ``, code: format, msg: "not valid JSON"},
	{action: "Heartbeat", data: `{`, code: format, msg: "not valid JSON"},
	{action: "Heartbeat", data: `[]`, code: format, msg: "not a JSON object"},
	{action: "Heartbeat", data: `{"foo":1}`, code: format, msg: "foo: unknown field"},
	{action: "Heartbeat", data: `{"customData":{"vendorId":"acme","anything":{"goes":[1,null]}}}`},
	{action: "Heartbeat", data: `{"customData":{"anything":1}}`, code: occurrence, msg: "customData.vendorId: required field missing"},
	{action: "Heartbeat", data: `{"customData":[]}`, code: typ, msg: "customData: expected object, got array"},
	{action: "Heartbeat", data: `{"customData":{"vendorId":"acme","x":}}`, code: format, msg: "not valid JSON"},
	{action: "BootNotification", data: `{"reason":"PowerUp",` + station + `}`},
	{action: "BootNotification", data: `{"reason":"PowerUp","chargingStation":{"model":"M","vendorName":"V","x":1}}`, code: format, msg: "chargingStation.x: unknown field"},
	{action: "BootNotification", data: `{"reason":"PowerUp","chargingStation":{"model":"M"}}`, code: occurrence, msg: "chargingStation.vendorName: required field missing"},
	{action: "BootNotification", data: `{"reason":"Nope",` + station + `}`, code: property, msg: `reason: value "Nope" not in enum`},
	{action: "BootNotification", data: `{"reason":"PowerUp","chargingStation":{"model":"123456789012345678901","vendorName":"V"}}`, code: property, msg: "chargingStation.model: length 21 exceeds maxLength 20"},
	{action: "BootNotification", data: `{"reason":"PowerUp","chargingStation":{"model":"ééééééééééééééééééééé","vendorName":"V"}}`, code: property, msg: "length 21 exceeds maxLength 20"},
	{action: "BootNotification", data: `{"reason":"PowerUp","chargingStation":{"model":"éééééééééééééééééééé","vendorName":"V"}}`},
	{action: "BootNotification", data: `{"reason":"PowerUp","reason":"PowerUp",` + station + `}`, code: format, msg: "reason: duplicate field", schemaAccepts: true},
	{action: "BootNotification", response: true, data: `{"currentTime":"2024-05-01T12:00:00+02:00","interval":300,"status":"Accepted"}`},
	{action: "BootNotification", response: true, data: `{"currentTime":"2024-05-01T12:00:00","interval":300,"status":"Accepted"}`, code: property, msg: "currentTime: invalid date-time"},
	{action: "BootNotification", response: true, data: `{"currentTime":"2024-05-01T12:00:00Z","interval":3e2,"status":"Accepted"}`},
	{action: "BootNotification", response: true, data: `{"currentTime":"2024-05-01T12:00:00Z","interval":300.5,"status":"Accepted"}`, code: property, msg: "interval: 300.5 is not an integer"},
	{action: "BootNotification", response: true, data: `{"currentTime":"2024-05-01T12:00:00Z","interval":"300","status":"Accepted"}`, code: typ, msg: "interval: expected integer, got string"},
	{action: "DataTransfer", data: `{"vendorId":"v","data":null}`},
	{action: "DataTransfer", data: `{"vendorId":"v","data":{"a":[1,{"b":"c"}],"d":true}}`},
	{action: "DataTransfer", data: `{"vendorId":"v","data":"text"}`},
	{action: "DataTransfer", data: `{"vendorId":"v","data":[1,]}`, code: format, msg: "not valid JSON"},
	{action: "DataTransfer", response: true, data: `{"status":"Accepted","data":-1.5e3}`},
	{action: "StatusNotification", data: `{"timestamp":"2024-05-01T12:00:00Z","connectorStatus":"Available","evseId":1,"connectorId":1.5}`, code: property, msg: "connectorId: 1.5 is not an integer"},
	{action: "StatusNotification", data: `{"timestamp":"2024-05-01","connectorStatus":"Available","evseId":1,"connectorId":1}`, code: property, msg: "timestamp: invalid date-time"},
	{action: "StatusNotification", data: `{"timestamp":"2024-05-01T12:00:00Z","connectorStatus":"Available","evseId":"1","connectorId":1}`, code: typ, msg: "evseId: expected integer, got string"},
	{action: "StatusNotification", data: `{"timestamp":"2024-05-01T12:00:00Z","connectorStatus":"Available","evseId":1}`, code: occurrence, msg: "connectorId: required field missing"},
	{action: "NotifyEVChargingNeeds", data: `{"evseId":1,"chargingNeeds":{"requestedEnergyTransfer":"DC","dcChargingParameters":{"evMaxCurrent":1,"evMaxVoltage":1,"stateOfCharge":100}}}`},
	{action: "NotifyEVChargingNeeds", data: `{"evseId":1,"chargingNeeds":{"requestedEnergyTransfer":"DC","dcChargingParameters":{"evMaxCurrent":1,"evMaxVoltage":1,"stateOfCharge":101}}}`, code: property, msg: "chargingNeeds.dcChargingParameters.stateOfCharge: 101 is above maximum 100"},
	{action: "NotifyEVChargingNeeds", data: `{"evseId":1,"chargingNeeds":{"requestedEnergyTransfer":"DC","dcChargingParameters":{"evMaxCurrent":1,"evMaxVoltage":1,"stateOfCharge":-1}}}`, code: property, msg: "stateOfCharge: -1 is below minimum 0"},
	{action: "ClearVariableMonitoring", data: `{"id":[]}`, code: occurrence, msg: "id: 0 items, minItems is 1"},
	{action: "ClearVariableMonitoring", data: `{"id":[1,"2"]}`, code: typ, msg: "id[1]: expected integer, got string"},
	{action: "TransactionEvent", data: `{"eventType":"Started","timestamp":"2024-05-01T12:00:00Z","triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":"t1"},"offline":"yes"}`, code: typ, msg: "offline: expected boolean, got string"},
	{action: "TransactionEvent", data: `{"eventType":"Started","timestamp":"2024-05-01T12:00:00Z","triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":"t1"},"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[]}]}`, code: occurrence, msg: "meterValue[0].sampledValue: 0 items, minItems is 1"},
	{action: "TransactionEvent", data: `{"eventType":"Started","timestamp":"2024-05-01T12:00:00Z","triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":"t1"},"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[{"value":1.5e3,"measurand":"Energy.Active.Import.Register","unitOfMeasure":{"unit":"kWh","multiplier":-1}}]}]}`},
}

func TestMalformed(t *testing.T) {
	schemas := officialSchemas(t)
	for _, tc := range malformed {
		name := tc.action
		decode := DecodeRequest
		if tc.response {
			name += "Response"
			decode = DecodeResponse
		}
		t.Run(name, func(t *testing.T) {
			_, _, err := decode(tc.action, []byte(tc.data), false)
			if tc.code == "" {
				if err != nil {
					t.Errorf("%s: %v", tc.data, err)
				}
			} else if code(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%s: got %v, want %s containing %q", tc.data, err, tc.code, tc.msg)
			}
			schemaErr := schemaValid(schemas[name], []byte(tc.data))
			if want := tc.code == "" || tc.schemaAccepts; (schemaErr == nil) != want {
				t.Errorf("%s: the schema says %v; the table says valid=%v", tc.data, schemaErr, want)
			}
		})
	}
}
