package v16

import (
	"encoding/json"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
)

// examples holds one handwritten valid payload per action: request, response.
// Between them they use every optional field at least once.
var examples = map[string][2]string{
	"Authorize":                     {`{"idTag":"04A2B3C4D5E6F7"}`, `{"idTagInfo":{"status":"Accepted","expiryDate":"2025-01-01T00:00:00Z","parentIdTag":"FLEET-1"}}`},
	"BootNotification":              {`{"chargePointVendor":"Acme","chargePointModel":"Wallbox 22","chargePointSerialNumber":"SN-1","chargeBoxSerialNumber":"CB-1","firmwareVersion":"1.2.3","iccid":"8931","imsi":"2620","meterType":"DZG","meterSerialNumber":"M-9"}`, `{"status":"Accepted","currentTime":"2024-05-01T12:00:00.123Z","interval":300}`},
	"DataTransfer":                  {`{"vendorId":"com.acme","messageId":"setLed","data":"{\"on\":true}"}`, `{"status":"Accepted","data":""}`},
	"DiagnosticsStatusNotification": {`{"status":"Uploaded"}`, `{}`},
	"FirmwareStatusNotification":    {`{"status":"Installing"}`, `{}`},
	"Heartbeat":                     {`{}`, `{"currentTime":"2024-05-01T12:00:00Z"}`},
	"MeterValues": {`{"connectorId":1,"transactionId":42,"meterValue":[{"timestamp":"2024-05-01T12:00:00+02:00","sampledValue":[
		{"value":"1234.5","context":"Sample.Periodic","format":"Raw","measurand":"Energy.Active.Import.Register","location":"Outlet","unit":"kWh"},
		{"value":"16.0","measurand":"Current.Import","phase":"L1","unit":"A"},
		{"value":"50","measurand":"Frequency","unit":"Hertz"}]}]}`, `{}`},
	"StartTransaction":   {`{"connectorId":1,"idTag":"04A2B3C4D5E6F7","meterStart":1000,"reservationId":7,"timestamp":"2024-05-01T12:00:00.5Z"}`, `{"idTagInfo":{"status":"Accepted"},"transactionId":42}`},
	"StatusNotification": {`{"connectorId":1,"errorCode":"NoError","info":"ok","status":"Charging","timestamp":"2024-05-01T12:00:00Z","vendorId":"com.acme","vendorErrorCode":"E0"}`, `{}`},
	"StopTransaction": {`{"idTag":"04A2B3C4D5E6F7","meterStop":2000,"timestamp":"2024-05-01T13:00:00Z","transactionId":42,"reason":"EVDisconnected","transactionData":[
		{"timestamp":"2024-05-01T13:00:00Z","sampledValue":[{"value":"2000","context":"Transaction.End","unit":"Wh"}]}]}`, `{"idTagInfo":{"status":"Accepted"}}`},
	"CancelReservation":    {`{"reservationId":7}`, `{"status":"Accepted"}`},
	"ChangeAvailability":   {`{"connectorId":0,"type":"Inoperative"}`, `{"status":"Scheduled"}`},
	"ChangeConfiguration":  {`{"key":"HeartbeatInterval","value":"300"}`, `{"status":"RebootRequired"}`},
	"ClearCache":           {`{}`, `{"status":"Accepted"}`},
	"ClearChargingProfile": {`{"id":3,"connectorId":1,"chargingProfilePurpose":"TxProfile","stackLevel":0}`, `{"status":"Unknown"}`},
	"GetCompositeSchedule": {`{"connectorId":1,"duration":3600,"chargingRateUnit":"W"}`, `{"status":"Accepted","connectorId":1,"scheduleStart":"2024-05-01T12:00:00Z",
		"chargingSchedule":{"duration":3600,"startSchedule":"2024-05-01T12:00:00Z","chargingRateUnit":"W","chargingSchedulePeriod":[{"startPeriod":0,"limit":11000.0,"numberPhases":3},{"startPeriod":1800,"limit":7400.5}],"minChargingRate":1.5}}`},
	"GetConfiguration":    {`{"key":["HeartbeatInterval","Foo"]}`, `{"configurationKey":[{"key":"HeartbeatInterval","readonly":false,"value":"300"},{"key":"NumberOfConnectors","readonly":true}],"unknownKey":["Foo"]}`},
	"GetDiagnostics":      {`{"location":"ftp://user@diag.example.com/upload","retries":3,"retryInterval":60,"startTime":"2024-05-01T00:00:00Z","stopTime":"2024-05-02T00:00:00Z"}`, `{"fileName":"diag-2024-05-01.tar.gz"}`},
	"GetLocalListVersion": {`{}`, `{"listVersion":12}`},
	"RemoteStartTransaction": {`{"connectorId":2,"idTag":"APP-USER-1","chargingProfile":{"chargingProfileId":9,"transactionId":5,"stackLevel":1,"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Recurring","recurrencyKind":"Daily",
		"validFrom":"2024-05-01T00:00:00Z","validTo":"2024-06-01T00:00:00Z","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":16}]}}}`, `{"status":"Rejected"}`},
	"RemoteStopTransaction": {`{"transactionId":42}`, `{"status":"Accepted"}`},
	"ReserveNow":            {`{"connectorId":1,"expiryDate":"2024-05-01T14:00:00Z","idTag":"04A2B3C4D5E6F7","parentIdTag":"FLEET-1","reservationId":7}`, `{"status":"Occupied"}`},
	"Reset":                 {`{"type":"Soft"}`, `{"status":"Accepted"}`},
	"SendLocalList": {`{"listVersion":13,"localAuthorizationList":[{"idTag":"04A2B3C4D5E6F7","idTagInfo":{"status":"Accepted","expiryDate":"2025-01-01T00:00:00Z"}},{"idTag":"OLD"}],"updateType":"Differential"}`,
		`{"status":"VersionMismatch"}`},
	"SetChargingProfile": {`{"connectorId":0,"csChargingProfiles":{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"ChargePointMaxProfile","chargingProfileKind":"Absolute",
		"chargingSchedule":{"startSchedule":"2024-05-01T00:00:00Z","chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":32.0}],"minChargingRate":6.0}}}`, `{"status":"NotSupported"}`},
	"TriggerMessage":  {`{"requestedMessage":"StatusNotification","connectorId":0}`, `{"status":"NotImplemented"}`},
	"UnlockConnector": {`{"connectorId":1}`, `{"status":"UnlockFailed"}`},
	"UpdateFirmware":  {`{"location":"https://fw.example.com/v2.bin","retries":2,"retrieveDate":"2024-05-01T03:00:00Z","retryInterval":600}`, `{}`},
}

// TestMarshalMatchesEncodingJSON: payload.Marshal, which writes every
// answer the CSMS sends, encodes each example exactly as encoding/json does.
func TestMarshalMatchesEncodingJSON(t *testing.T) {
	for action, ex := range examples {
		for i, data := range ex {
			decode := DecodeRequest
			if i == 1 {
				decode = DecodeResponse
			}
			v, _, err := decode(action, json.RawMessage(data), false)
			if err != nil {
				t.Fatalf("%s example %d: %v", action, i, err)
			}
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := payload.Marshal(v)
			if err != nil || string(got) != string(want) {
				t.Errorf("%s example %d: payload.Marshal = %s, %v\nencoding/json = %s", action, i, got, err, want)
			}
		}
	}
}
