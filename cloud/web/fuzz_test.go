package web

import (
	"net/url"
	"strings"
	"testing"
)

// The dashboard's own readings of form fields and addresses refuse bad
// input with a message, never a panic: a command's arguments, durations,
// power, the access point's merge into the network setting, and a
// login's next page, which stays a path of the dashboard.
func FuzzForms(f *testing.F) {
	f.Add("remote-start", "CARD-1", "1", "300s", "22.5", `{"ap":{"ssid":"x"}}`, "Depot", "/sessions?site=a")
	f.Add("reserve", "", "x", "5", "-1", "[", "", "//evil.example")
	f.Add("nope", "a", "9999999999999999999", "1h", "NaN", "", "pw", `/\evil`)
	f.Fuzz(func(t *testing.T, command, text, number, duration, kw, network, ssid, next string) {
		form := url.Values{"idTag": {text}, "key": {text}, "value": {text}, "connectorId": {number}, "transactionId": {number},
			"reservationId": {number}, "type": {text}, "availability": {text}, "expiry": {text}, "keys": {text}, "message": {text}, "location": {text}}
		_, _ = commandArgs(command, form)
		_, _ = formDuration(duration, "d")
		_, _ = formKW(kw, "p")
		_, _ = withAP(network, ssid, text)
		if p := localPath(next); !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.Contains(p, "\\") {
			t.Fatalf("localPath(%q) = %q: not a path of the dashboard", next, p)
		}
	})
}
