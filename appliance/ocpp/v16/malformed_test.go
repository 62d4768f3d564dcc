package v16

import (
	"errors"
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
	{action: "Heartbeat", data: `"hello"`, code: format, msg: "not a JSON object"},
	{action: "Heartbeat", data: `{} {}`, code: format, msg: "not valid JSON"},
	{action: "Heartbeat", data: `{"foo":1}`, code: format, msg: "foo: unknown field"},
	{action: "Authorize", data: `{"idTag":"A","idTag":"B"}`, code: format, msg: "idTag: duplicate field", schemaAccepts: true},
	{action: "StatusNotification", data: `{"connectorId":"1","errorCode":"NoError","status":"Available"}`, code: typ, msg: "connectorId: expected integer, got string"},
	// A type error before a syntax error is still a syntax error.
	{action: "StatusNotification", data: `{"connectorId":"1","errorCode":"NoError","status":"Available"`, code: format, msg: "not valid JSON"},
	{action: "StatusNotification", data: `{"connectorId":1,"errorCode":"NoError","status":"Available","timestamp":12}`, code: typ, msg: "timestamp: expected date-time string, got number"},
	{action: "StatusNotification", data: `{"connectorId":1,"errorCode":"NoError"}`, code: occurrence, msg: "status: required field missing"},
	{action: "StatusNotification", data: `{"connectorId":1,"errorCode":"NoError","status":"Open"}`, code: property, msg: `status: value "Open" not in enum`},
	{action: "StatusNotification", data: `{"connectorId":1.5,"errorCode":"NoError","status":"Available"}`, code: property, msg: "connectorId: 1.5 is not an integer"},
	{action: "StatusNotification", data: `{"connectorId":1,"errorCode":"NoError","status":"Available","info":"` + strings.Repeat("x", 51) + `"}`, code: property, msg: "info: length 51 exceeds maxLength 50"},
	{action: "StatusNotification", data: `{"connectorId":null,"errorCode":"NoError","status":"Available"}`, code: typ, msg: "connectorId: expected integer, got null"},
	{action: "StatusNotification", data: `{"connectorId":99999999999999999999,"errorCode":"NoError","status":"Available"}`, code: property, msg: "connectorId: 99999999999999999999 is out of range", schemaAccepts: true},
	{action: "Authorize", data: `{}`, code: occurrence, msg: "idTag: required field missing"},
	{action: "Authorize", data: `{"idTag":"ÄÖÜäöüßÄÖÜäöüßÄÖÜäöüX"}`, code: property, msg: "idTag: length 21 exceeds maxLength 20"}, // characters, not bytes
	{action: "Authorize", data: `{"idTag":"ÄÖÜäöüßÄÖÜäöüßÄÖÜäöü"}`, code: "", msg: ""},
	{action: "Authorize", data: `{"idTag":42}`, code: typ, msg: "idTag: expected string, got number"},
	{action: "Authorize", response: true, data: `{"idTagInfo":{}}`, code: occurrence, msg: "idTagInfo.status: required field missing"},
	{action: "Authorize", response: true, data: `{"idTagInfo":{"status":"Accepted","expiryDate":"tomorrow"}}`, code: property, msg: "idTagInfo.expiryDate: invalid date-time"},
	{action: "Authorize", response: true, data: `{"idTagInfo":"Accepted"}`, code: typ, msg: "idTagInfo: expected object, got string"},
	{action: "BootNotification", data: `{"chargePointVendor":"Acme"}`, code: occurrence, msg: "chargePointModel: required field missing"},
	{action: "BootNotification", response: true, data: `{"status":"Accepted","currentTime":"2024-05-01T12:00:00","interval":60}`, code: property, msg: "currentTime: invalid date-time"},
	{action: "BootNotification", response: true, data: `{"status":"Accepted","currentTime":"2024-02-30T12:00:00Z","interval":60}`, code: property, msg: "currentTime: invalid date-time"},
	{action: "BootNotification", response: true, data: `{"status":"Accepted","currentTime":"2024-05-01T12:00:00Z","interval":"60"}`, code: typ, msg: "interval: expected integer, got string"},
	{action: "MeterValues", data: `{"connectorId":1}`, code: occurrence, msg: "meterValue: required field missing"},
	{action: "MeterValues", data: `{"connectorId":1,"meterValue":[]}`, code: occurrence, msg: "meterValue: 0 items, minItems is 1"},
	{action: "MeterValues", data: `{"connectorId":1,"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[]}]}`, code: occurrence, msg: "meterValue[0].sampledValue: 0 items"},
	{action: "MeterValues", data: `{"connectorId":1,"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[{"value":"1"},{"unit":"Wh"}]}]}`, code: occurrence, msg: "meterValue[0].sampledValue[1].value: required field missing"},
	{action: "MeterValues", data: `{"connectorId":1,"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[{"value":1}]}]}`, code: typ, msg: "meterValue[0].sampledValue[0].value: expected string, got number"},
	{action: "MeterValues", data: `{"connectorId":1,"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[{"value":"1","unit":"kwh"}]}]}`, code: property, msg: `meterValue[0].sampledValue[0].unit: value "kwh" not in enum`},
	{action: "MeterValues", data: `{"connectorId":1,"meterValue":{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[{"value":"1"}]}}`, code: typ, msg: "meterValue: expected array, got object"},
	{action: "MeterValues", data: `{"connectorId":1,"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[{"value":"1","extra":true}]}]}`, code: format, msg: "meterValue[0].sampledValue[0].extra: unknown field"},
	{action: "StopTransaction", data: `{"meterStop":1,"timestamp":"2024-05-01T12:00:00Z"}`, code: occurrence, msg: "transactionId: required field missing"},
	{action: "StopTransaction", data: `{"meterStop":1,"timestamp":"2024-05-01T12:00:00Z","transactionId":1,"reason":"Stolen"}`, code: property, msg: "reason: value"},
	{action: "StopTransaction", data: `{"meterStop":1,"timestamp":"2024-05-01T12:00:00Z","transactionId":1,"transactionData":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[]}]}`, code: occurrence, msg: "transactionData[0].sampledValue: 0 items", schemaAccepts: true},
	{action: "StartTransaction", data: `{"connectorId":1,"idTag":"A","meterStart":1e400,"timestamp":"2024-05-01T12:00:00Z"}`, code: property, msg: "meterStart: 1e400 is out of range", schemaAccepts: true},
	{action: "StartTransaction", data: `{"connectorId":1,"idTag":"A","meterStart":10,"timestamp":"2016-12-31T23:59:60Z"}`, code: property, msg: "timestamp: invalid date-time", schemaAccepts: true},
	{action: "GetConfiguration", response: true, data: `{"configurationKey":[{"key":"A","readonly":"true"}]}`, code: typ, msg: "configurationKey[0].readonly: expected boolean, got string"},
	{action: "GetConfiguration", response: true, data: `{"configurationKey":[{"key":"A"}]}`, code: occurrence, msg: "configurationKey[0].readonly: required field missing"},
	{action: "GetConfiguration", data: `{"key":["ok","` + strings.Repeat("k", 51) + `"]}`, code: property, msg: "key[1]: length 51 exceeds maxLength 50"},
	{action: "GetDiagnostics", data: `{"location":"not a uri"}`, code: property, msg: "location: \"not a uri\" is not an absolute URI"},
	{action: "UpdateFirmware", data: `{"location":"https://x/fw.bin"}`, code: occurrence, msg: "retrieveDate: required field missing"},
	{action: "SetChargingProfile", data: `{"connectorId":0,"csChargingProfiles":{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Absolute","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":16.25}]}}}`,
		code: property, msg: "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit: 16.25 is not a multiple of 1e-1"},
	{action: "SetChargingProfile", data: `{"connectorId":0,"csChargingProfiles":{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Absolute","chargingSchedule":{"chargingRateUnit":"A"}}}`,
		code: occurrence, msg: "csChargingProfiles.chargingSchedule.chargingSchedulePeriod: required field missing"},
	{action: "SetChargingProfile", data: `{"connectorId":0,"csChargingProfiles":{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Absolute","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":"16"}]}}}`,
		code: typ, msg: "chargingSchedulePeriod[0].limit: expected number, got string"},
	{action: "ChangeAvailability", data: `{"connectorId":0,"type":"operative"}`, code: property, msg: "type: value \"operative\" not in enum"},
	{action: "SendLocalList", data: `{"listVersion":1,"updateType":"Full","localAuthorizationList":[{"idTagInfo":{"status":"Accepted"}}]}`, code: occurrence, msg: "localAuthorizationList[0].idTag: required field missing"},
	{action: "DataTransfer", response: true, data: `{"status":"Accepted","data":{"k":1}}`, code: typ, msg: "data: expected string, got object"},
	{action: "TriggerMessage", data: `{"requestedMessage":"StartTransaction"}`, code: property, msg: "requestedMessage: value \"StartTransaction\" not in enum"},
	{action: "ReserveNow", data: `{"connectorId":1,"expiryDate":"2024-05-01T14:00:00Z","idTag":"A","reservationId":-1.0e0}`, code: "", msg: ""}, // -1 is a valid integer
}

func TestMalformed(t *testing.T) {
	schemas := officialSchemas(t)
	if len(malformed) < 30 {
		t.Fatalf("only %d malformed cases", len(malformed))
	}
	for _, tc := range malformed {
		name := tc.action
		decode := DecodeRequest
		if tc.response {
			name += "Response"
			decode = DecodeResponse
		}
		t.Run(name, func(t *testing.T) {
			_, _, err := decode(tc.action, []byte(tc.data), false)
			schemaErr := schemaValid(schemas[name], []byte(tc.data))
			if tc.code == "" {
				if err != nil || schemaErr != nil {
					t.Fatalf("%s: want valid, got %v / schema %v", tc.data, err, schemaErr)
				}
				return
			}
			var rpc *ocppj.Error
			if !errors.As(err, &rpc) {
				t.Fatalf("%s: want *ocppj.Error %s, got %v", tc.data, tc.code, err)
			}
			if rpc.Code != tc.code || !strings.Contains(rpc.Description, tc.msg) {
				t.Errorf("%s:\n got %s: %s\nwant %s containing %q", tc.data, rpc.Code, rpc.Description, tc.code, tc.msg)
			}
			if (schemaErr == nil) != tc.schemaAccepts {
				t.Errorf("schema verdict %v, case says schemaAccepts=%v", schemaErr, tc.schemaAccepts)
			}
		})
	}
}
