package v16

import (
	"strings"

	"github.com/constellation-ev/constellation/appliance/ocpp/internal/registrytest"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

const (
	format     = ocppj.FormatViolation
	typ        = ocppj.TypeConstraintViolation
	occurrence = ocppj.OccurrenceConstraintViolation
	property   = ocppj.PropertyConstraintViolation
)

// malformed 1.6 payloads (and a few valid edge cases, Code ""), each with
// the RPC error strict decoding gives.
var malformed = []registrytest.Malformed{
	{Action: "Heartbeat", Data: ``, Code: format, Msg: "not valid JSON"},
	{Action: "Heartbeat", Data: `{`, Code: format, Msg: "not valid JSON"},
	{Action: "Heartbeat", Data: `[]`, Code: format, Msg: "not a JSON object"},
	{Action: "Heartbeat", Data: `"hello"`, Code: format, Msg: "not a JSON object"},
	{Action: "Heartbeat", Data: `{} {}`, Code: format, Msg: "not valid JSON"},
	{Action: "Heartbeat", Data: `{"foo":1}`, Code: format, Msg: "foo: unknown field"},
	{Action: "Authorize", Data: `{"idTag":"A","idTag":"B"}`, Code: format, Msg: "idTag: duplicate field", SchemaAccepts: true},
	{Action: "StatusNotification", Data: `{"connectorId":"1","errorCode":"NoError","status":"Available"}`, Code: typ, Msg: "connectorId: expected integer, got string"},
	// A type error before a syntax error is still a syntax error.
	{Action: "StatusNotification", Data: `{"connectorId":"1","errorCode":"NoError","status":"Available"`, Code: format, Msg: "not valid JSON"},
	{Action: "StatusNotification", Data: `{"connectorId":1,"errorCode":"NoError","status":"Available","timestamp":12}`, Code: typ, Msg: "timestamp: expected date-time string, got number"},
	{Action: "StatusNotification", Data: `{"connectorId":1,"errorCode":"NoError"}`, Code: occurrence, Msg: "status: required field missing"},
	{Action: "StatusNotification", Data: `{"connectorId":1,"errorCode":"NoError","status":"Open"}`, Code: property, Msg: `status: value "Open" not in enum`},
	{Action: "StatusNotification", Data: `{"connectorId":1.5,"errorCode":"NoError","status":"Available"}`, Code: property, Msg: "connectorId: 1.5 is not an integer"},
	{Action: "StatusNotification", Data: `{"connectorId":1,"errorCode":"NoError","status":"Available","info":"` + strings.Repeat("x", 51) + `"}`, Code: property, Msg: "info: length 51 exceeds maxLength 50"},
	{Action: "StatusNotification", Data: `{"connectorId":null,"errorCode":"NoError","status":"Available"}`, Code: typ, Msg: "connectorId: expected integer, got null"},
	{Action: "StatusNotification", Data: `{"connectorId":99999999999999999999,"errorCode":"NoError","status":"Available"}`, Code: property, Msg: "connectorId: 99999999999999999999 is out of range", SchemaAccepts: true},
	{Action: "Authorize", Data: `{}`, Code: occurrence, Msg: "idTag: required field missing"},
	{Action: "Authorize", Data: `{"idTag":"ÄÖÜäöüßÄÖÜäöüßÄÖÜäöüX"}`, Code: property, Msg: "idTag: length 21 exceeds maxLength 20"}, // characters, not bytes
	{Action: "Authorize", Data: `{"idTag":"ÄÖÜäöüßÄÖÜäöüßÄÖÜäöü"}`, Code: "", Msg: ""},
	{Action: "Authorize", Data: `{"idTag":42}`, Code: typ, Msg: "idTag: expected string, got number"},
	{Action: "Authorize", Response: true, Data: `{"idTagInfo":{}}`, Code: occurrence, Msg: "idTagInfo.status: required field missing"},
	{Action: "Authorize", Response: true, Data: `{"idTagInfo":{"status":"Accepted","expiryDate":"tomorrow"}}`, Code: property, Msg: "idTagInfo.expiryDate: invalid date-time"},
	{Action: "Authorize", Response: true, Data: `{"idTagInfo":"Accepted"}`, Code: typ, Msg: "idTagInfo: expected object, got string"},
	{Action: "BootNotification", Data: `{"chargePointVendor":"Acme"}`, Code: occurrence, Msg: "chargePointModel: required field missing"},
	{Action: "BootNotification", Response: true, Data: `{"status":"Accepted","currentTime":"2024-05-01T12:00:00","interval":60}`, Code: property, Msg: "currentTime: invalid date-time"},
	{Action: "BootNotification", Response: true, Data: `{"status":"Accepted","currentTime":"2024-02-30T12:00:00Z","interval":60}`, Code: property, Msg: "currentTime: invalid date-time"},
	{Action: "BootNotification", Response: true, Data: `{"status":"Accepted","currentTime":"2024-05-01T12:00:00Z","interval":"60"}`, Code: typ, Msg: "interval: expected integer, got string"},
	{Action: "MeterValues", Data: `{"connectorId":1}`, Code: occurrence, Msg: "meterValue: required field missing"},
	{Action: "MeterValues", Data: `{"connectorId":1,"meterValue":[]}`, Code: occurrence, Msg: "meterValue: 0 items, minItems is 1"},
	{Action: "MeterValues", Data: `{"connectorId":1,"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[]}]}`, Code: occurrence, Msg: "meterValue[0].sampledValue: 0 items"},
	{Action: "MeterValues", Data: `{"connectorId":1,"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[{"value":"1"},{"unit":"Wh"}]}]}`, Code: occurrence, Msg: "meterValue[0].sampledValue[1].value: required field missing"},
	{Action: "MeterValues", Data: `{"connectorId":1,"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[{"value":1}]}]}`, Code: typ, Msg: "meterValue[0].sampledValue[0].value: expected string, got number"},
	{Action: "MeterValues", Data: `{"connectorId":1,"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[{"value":"1","unit":"kwh"}]}]}`, Code: property, Msg: `meterValue[0].sampledValue[0].unit: value "kwh" not in enum`},
	{Action: "MeterValues", Data: `{"connectorId":1,"meterValue":{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[{"value":"1"}]}}`, Code: typ, Msg: "meterValue: expected array, got object"},
	{Action: "MeterValues", Data: `{"connectorId":1,"meterValue":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[{"value":"1","extra":true}]}]}`, Code: format, Msg: "meterValue[0].sampledValue[0].extra: unknown field"},
	{Action: "StopTransaction", Data: `{"meterStop":1,"timestamp":"2024-05-01T12:00:00Z"}`, Code: occurrence, Msg: "transactionId: required field missing"},
	{Action: "StopTransaction", Data: `{"meterStop":1,"timestamp":"2024-05-01T12:00:00Z","transactionId":1,"reason":"Stolen"}`, Code: property, Msg: "reason: value"},
	{Action: "StopTransaction", Data: `{"meterStop":1,"timestamp":"2024-05-01T12:00:00Z","transactionId":1,"transactionData":[{"timestamp":"2024-05-01T12:00:00Z","sampledValue":[]}]}`, Code: occurrence, Msg: "transactionData[0].sampledValue: 0 items", SchemaAccepts: true},
	{Action: "StartTransaction", Data: `{"connectorId":1,"idTag":"A","meterStart":1e400,"timestamp":"2024-05-01T12:00:00Z"}`, Code: property, Msg: "meterStart: 1e400 is out of range", SchemaAccepts: true},
	{Action: "StartTransaction", Data: `{"connectorId":1,"idTag":"A","meterStart":10,"timestamp":"2016-12-31T23:59:60Z"}`, Code: property, Msg: "timestamp: invalid date-time", SchemaAccepts: true},
	{Action: "GetConfiguration", Response: true, Data: `{"configurationKey":[{"key":"A","readonly":"true"}]}`, Code: typ, Msg: "configurationKey[0].readonly: expected boolean, got string"},
	{Action: "GetConfiguration", Response: true, Data: `{"configurationKey":[{"key":"A"}]}`, Code: occurrence, Msg: "configurationKey[0].readonly: required field missing"},
	{Action: "GetConfiguration", Data: `{"key":["ok","` + strings.Repeat("k", 51) + `"]}`, Code: property, Msg: "key[1]: length 51 exceeds maxLength 50"},
	{Action: "GetDiagnostics", Data: `{"location":"not a uri"}`, Code: property, Msg: "location: \"not a uri\" is not an absolute URI"},
	{Action: "UpdateFirmware", Data: `{"location":"https://x/fw.bin"}`, Code: occurrence, Msg: "retrieveDate: required field missing"},
	{Action: "SetChargingProfile", Data: `{"connectorId":0,"csChargingProfiles":{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Absolute","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":16.25}]}}}`,
		Code: property, Msg: "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit: 16.25 is not a multiple of 1e-1"},
	{Action: "SetChargingProfile", Data: `{"connectorId":0,"csChargingProfiles":{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Absolute","chargingSchedule":{"chargingRateUnit":"A"}}}`,
		Code: occurrence, Msg: "csChargingProfiles.chargingSchedule.chargingSchedulePeriod: required field missing"},
	{Action: "SetChargingProfile", Data: `{"connectorId":0,"csChargingProfiles":{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Absolute","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":"16"}]}}}`,
		Code: typ, Msg: "chargingSchedulePeriod[0].limit: expected number, got string"},
	{Action: "ChangeAvailability", Data: `{"connectorId":0,"type":"operative"}`, Code: property, Msg: "type: value \"operative\" not in enum"},
	{Action: "SendLocalList", Data: `{"listVersion":1,"updateType":"Full","localAuthorizationList":[{"idTagInfo":{"status":"Accepted"}}]}`, Code: occurrence, Msg: "localAuthorizationList[0].idTag: required field missing"},
	{Action: "DataTransfer", Response: true, Data: `{"status":"Accepted","data":{"k":1}}`, Code: typ, Msg: "data: expected string, got object"},
	{Action: "TriggerMessage", Data: `{"requestedMessage":"StartTransaction"}`, Code: property, Msg: "requestedMessage: value \"StartTransaction\" not in enum"},
	{Action: "ReserveNow", Data: `{"connectorId":1,"expiryDate":"2024-05-01T14:00:00Z","idTag":"A","reservationId":-1.0e0}`, Code: "", Msg: ""}, // -1 is a valid integer
}
