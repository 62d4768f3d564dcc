package sim

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

// TestV2FollowUpsAfterAnswer reads the station's frames off the wire: the
// messages a command leads to (NotifyReport, LogStatusNotification, the
// triggered Heartbeat, TransactionEvent Started after a remote start) come
// after the CALLRESULT that answers it.
func TestV2FollowUpsAfterAnswer(t *testing.T) {
	forV2(t, func(t *testing.T, v ocppj.Version) {
		frames := make(chan ocppj.Message, 1000)
		up := websocket.Upgrader{Subprotocols: []string{string(v)}}
		var ws *websocket.Conn
		connected := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			ws = c
			close(connected)
			for {
				_, data, err := c.ReadMessage()
				if err != nil {
					return
				}
				m, err := ocppj.Parse(data)
				if err != nil {
					t.Errorf("bad frame %s: %v", data, err)
					return
				}
				frames <- m
			}
		}))
		t.Cleanup(srv.Close)
		url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ocpp"
		o := Options{ID: "WIRE", URL: StationURL(url, "WIRE"), Version: v, Sessions: 0, Pause: time.Hour, Tags: []string{"NOPE"},
			HeartbeatInterval: time.Hour, MeterInterval: time.Hour, SessionLength: time.Hour}
		runStation(t, t.Context(), o)
		<-connected

		// answers to the station's calls: just enough to keep it going.
		answers := map[string]string{
			"BootNotification":      `{"currentTime":"2025-01-02T03:04:05Z","interval":3600,"status":"Accepted"}`,
			"Authorize":             `{"idTokenInfo":{"status":"Invalid"}}`,
			"Heartbeat":             `{"currentTime":"2025-01-02T03:04:05Z"}`,
			"TransactionEvent":      `{}`,
			"StatusNotification":    `{}`,
			"NotifyReport":          `{}`,
			"LogStatusNotification": `{}`,
		}
		send := func(b []byte) {
			t.Helper()
			if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
				t.Fatal(err)
			}
		}
		// next returns the next frame, answering the station's calls.
		next := func() ocppj.Message {
			t.Helper()
			for {
				select {
				case m := <-frames:
					if m.Type == ocppj.Call {
						a, ok := answers[m.Action]
						if !ok {
							t.Fatalf("unexpected %s", m.Action)
						}
						send(ocppj.EncodeResult(m.ID, []byte(a)))
					}
					return m
				case <-time.After(10 * time.Second):
					t.Fatal("no frame from the station")
				}
			}
		}
		// Wait until the station is idle: booted, reported and refused.
		for m := next(); m.Action != "Authorize"; m = next() {
		}
		for _, tc := range []struct {
			id, action, payload, followUp string
		}{
			{"c1", "GetBaseReport", `{"requestId":1,"reportBase":"FullInventory"}`, "NotifyReport"},
			{"c2", "GetLog", `{"logType":"DiagnosticsLog","requestId":2,"log":{"remoteLocation":"https://example.com/"}}`, "LogStatusNotification"},
			{"c3", "TriggerMessage", `{"requestedMessage":"Heartbeat"}`, "Heartbeat"},
			{"c4", "RequestStartTransaction", `{"idToken":{"idToken":"R","type":"Central"},"remoteStartId":1,"evseId":1}`, "TransactionEvent"},
		} {
			for try := 0; ; try++ {
				id := fmt.Sprintf("%s-%d", tc.id, try)
				send(ocppj.EncodeCall(id, tc.action, []byte(tc.payload)))
				var answer ocppj.Message
				for answer.ID == "" {
					m := next()
					switch {
					case m.Type == ocppj.CallResult && m.ID == id:
						answer = m
					case m.Type == ocppj.Call && m.Action == tc.followUp:
						t.Fatalf("%s arrived before the answer to %s", m.Action, tc.action)
					case m.Type != ocppj.Call:
						t.Fatalf("%s answered with %+v", tc.action, m)
					}
				}
				// The EVSE is busy until the refused tag's Authorize is
				// answered; a remote start is refused until then.
				if !strings.Contains(string(answer.Payload), "Rejected") || try > 100 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			for m := next(); m.Action != tc.followUp; m = next() {
			}
		}
	})
}
