package registrytest

import (
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

// Malformed is a payload (or a valid edge case) with the RPC error strict
// decoding gives it.
type Malformed struct {
	Action   string
	Response bool
	Data     string
	Code     ocppj.ErrorCode // "" for a valid payload
	Msg      string          // expected in the description (usually the field path)
	// SchemaAccepts marks a documented deliberate difference from the schema.
	SchemaAccepts bool
}

const (
	format     = ocppj.FormatViolation
	typ        = ocppj.TypeConstraintViolation
	occurrence = ocppj.OccurrenceConstraintViolation
	property   = ocppj.PropertyConstraintViolation
)

const station = `"chargingStation":{"model":"M","vendorName":"V"}`

// V2Malformed are malformed OCPP 2.x payloads, valid in both 2.0.1 and 2.1
// but for the error each has.
var V2Malformed = []Malformed{
	{Action: "Heartbeat", Data: ``, Code: format, Msg: "not valid JSON"},
	{Action: "Heartbeat", Data: `{`, Code: format, Msg: "not valid JSON"},
	{Action: "Heartbeat", Data: `[]`, Code: format, Msg: "not a JSON object"},
	{Action: "Heartbeat", Data: `{"foo":1}`, Code: format, Msg: "foo: unknown field"},
	{Action: "Heartbeat", Data: `{"customData":{"vendorId":"acme","anything":{"goes":[1,null]}}}`},
	{Action: "Heartbeat", Data: `{"customData":{"anything":1}}`, Code: occurrence, Msg: "customData.vendorId: required field missing"},
	{Action: "Heartbeat", Data: `{"customData":[]}`, Code: typ, Msg: "customData: expected object, got array"},
	{Action: "Heartbeat", Data: `{"customData":{"vendorId":"acme","x":}}`, Code: format, Msg: "not valid JSON"},
	{Action: "BootNotification", Data: `{"reason":"PowerUp",` + station + `}`},
	{Action: "BootNotification", Data: `{"reason":"PowerUp","chargingStation":{"model":"M","vendorName":"V","x":1}}`, Code: format, Msg: "chargingStation.x: unknown field"},
	{Action: "BootNotification", Data: `{"reason":"PowerUp","chargingStation":{"model":"M"}}`, Code: occurrence, Msg: "chargingStation.vendorName: required field missing"},
	{Action: "BootNotification", Data: `{"reason":"Nope",` + station + `}`, Code: property, Msg: `reason: value "Nope" not in enum`},
	{Action: "BootNotification", Data: `{"reason":"PowerUp","chargingStation":{"model":"123456789012345678901","vendorName":"V"}}`, Code: property, Msg: "chargingStation.model: length 21 exceeds maxLength 20"},
	{Action: "BootNotification", Data: `{"reason":"PowerUp","chargingStation":{"model":"ééééééééééééééééééééé","vendorName":"V"}}`, Code: property, Msg: "length 21 exceeds maxLength 20"},
	{Action: "BootNotification", Data: `{"reason":"PowerUp","chargingStation":{"model":"éééééééééééééééééééé","vendorName":"V"}}`},
	{Action: "BootNotification", Data: `{"reason":"PowerUp","reason":"PowerUp",` + station + `}`, Code: format, Msg: "reason: duplicate field", SchemaAccepts: true},
	{Action: "BootNotification", Response: true, Data: `{"currentTime":"2024-05-01T12:00:00+02:00","interval":300,"status":"Accepted"}`},
	{Action: "BootNotification", Response: true, Data: `{"currentTime":"2024-05-01T12:00:00","interval":300,"status":"Accepted"}`, Code: property, Msg: "currentTime: invalid date-time"},
	{Action: "BootNotification", Response: true, Data: `{"currentTime":"2024-05-01T12:00:00Z","interval":3e2,"status":"Accepted"}`},
	{Action: "BootNotification", Response: true, Data: `{"currentTime":"2024-05-01T12:00:00Z","interval":300.5,"status":"Accepted"}`, Code: property, Msg: "interval: 300.5 is not an integer"},
	{Action: "BootNotification", Response: true, Data: `{"currentTime":"2024-05-01T12:00:00Z","interval":"300","status":"Accepted"}`, Code: typ, Msg: "interval: expected integer, got string"},
	{Action: "DataTransfer", Data: `{"vendorId":"v","data":null}`},
	{Action: "DataTransfer", Data: `{"vendorId":"v","data":{"a":[1,{"b":"c"}],"d":true}}`},
	{Action: "DataTransfer", Data: `{"vendorId":"v","data":"text"}`},
	{Action: "DataTransfer", Data: `{"vendorId":"v","data":[1,]}`, Code: format, Msg: "not valid JSON"},
	{Action: "DataTransfer", Response: true, Data: `{"status":"Accepted","data":-1.5e3}`},
	{Action: "StatusNotification", Data: `{"timestamp":"2024-05-01T12:00:00Z","connectorStatus":"Available","evseId":1,"connectorId":1.5}`, Code: property, Msg: "connectorId: 1.5 is not an integer"},
	{Action: "StatusNotification", Data: `{"timestamp":"2024-05-01","connectorStatus":"Available","evseId":1,"connectorId":1}`, Code: property, Msg: "timestamp: invalid date-time"},
	{Action: "StatusNotification", Data: `{"timestamp":"2024-05-01T12:00:00Z","connectorStatus":"Available","evseId":"1","connectorId":1}`, Code: typ, Msg: "evseId: expected integer, got string"},
	{Action: "StatusNotification", Data: `{"timestamp":"2024-05-01T12:00:00Z","connectorStatus":"Available","evseId":1}`, Code: occurrence, Msg: "connectorId: required field missing"},
	{Action: "NotifyEVChargingNeeds", Data: `{"evseId":1,"chargingNeeds":{"requestedEnergyTransfer":"DC","dcChargingParameters":{"evMaxCurrent":1,"evMaxVoltage":1,"stateOfCharge":100}}}`},
	{Action: "NotifyEVChargingNeeds", Data: `{"evseId":1,"chargingNeeds":{"requestedEnergyTransfer":"DC","dcChargingParameters":{"evMaxCurrent":1,"evMaxVoltage":1,"stateOfCharge":101}}}`, Code: property, Msg: "chargingNeeds.dcChargingParameters.stateOfCharge: 101 is above maximum 100"},
	{Action: "NotifyEVChargingNeeds", Data: `{"evseId":1,"chargingNeeds":{"requestedEnergyTransfer":"DC","dcChargingParameters":{"evMaxCurrent":1,"evMaxVoltage":1,"stateOfCharge":-1}}}`, Code: property, Msg: "stateOfCharge: -1 is below minimum 0"},
	{Action: "ClearVariableMonitoring", Data: `{"id":[]}`, Code: occurrence, Msg: "id: 0 items, minItems is 1"},
	{Action: "ClearVariableMonitoring", Data: `{"id":[1,"2"]}`, Code: typ, Msg: "id[1]: expected integer, got string"},
	{Action: "TransactionEvent", Data: `{"eventType":"Started","timestamp":"2024-05-01T12:00:00Z","triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":"t1"},"offline":"yes"}`, Code: typ, Msg: "offline: expected boolean, got string"},
	{Action: "TransactionEvent", Data: `{"eventType":"Started","timestamp":"2024-05-01T12:00:00Z","triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":"t1"},"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[]}]}`, Code: occurrence, Msg: "meterValue[0].sampledValue: 0 items, minItems is 1"},
	{Action: "TransactionEvent", Data: `{"eventType":"Started","timestamp":"2024-05-01T12:00:00Z","triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":"t1"},"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[{"value":1.5e3,"measurand":"Energy.Active.Import.Register","unitOfMeasure":{"unit":"kWh","multiplier":-1}}]}]}`},
}

// TestMalformed: strict decoding gives each of s.Malformed its error, and
// the official schema agrees on valid or invalid, bar documented
// differences.
func (s Suite) TestMalformed(t *testing.T) {
	schemas := s.schemas(t)
	for _, tc := range s.Malformed {
		k := kind{tc.Action, tc.Response}
		t.Run(k.name(), func(t *testing.T) {
			_, _, err := s.decode(k, []byte(tc.Data), false)
			if tc.Code == "" {
				if err != nil {
					t.Errorf("%s: %v", tc.Data, err)
				}
			} else if Code(err) != tc.Code || !strings.Contains(err.Error(), tc.Msg) {
				t.Errorf("%s: got %v, want %s containing %q", tc.Data, err, tc.Code, tc.Msg)
			}
			schemaErr := schemaValid(schemas[k.name()], []byte(tc.Data))
			if want := tc.Code == "" || tc.SchemaAccepts; (schemaErr == nil) != want {
				t.Errorf("%s: the schema says %v; the table says valid=%v", tc.Data, schemaErr, want)
			}
		})
	}
}
