package watchtower_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/cloud/watchtower"
	"github.com/constellation-ev/constellation/syncproto"
)

// mqttClient connects to the watchtower's broker as user with password
// and client id; it returns the client (nil when refused) and the CONNACK
// reason code.
func mqttClient(t *testing.T, tw *tower, clientID, user, password string) (*paho.Client, byte) {
	t.Helper()
	return cloudtest.Connect(t, tw.MQTTAddr(), clientID, user, password)
}

func encode(t *testing.T, site string, m syncproto.Message) (string, []byte) {
	t.Helper()
	topic, payload, err := syncproto.Encode(site, m)
	must(t, err)
	return topic, payload
}

const notAuthorized = 0x87

// Site A's credentials reach site A's topics only; wrong, borrowed and
// revoked credentials are refused.
func TestIsolation(t *testing.T) { brokers(t, testIsolation) }

func testIsolation(t *testing.T, opts ...func(*watchtower.Config)) {
	tw := startTower(t, opts...)
	embedded := len(opts) == 0
	pwA, pwB := tw.enroll(t, "site-a"), tw.enroll(t, "site-b")
	if _, code := mqttClient(t, tw, syncproto.ClientID("site-b"), "site-b", pwB); code != 0 {
		t.Fatalf("site b refused: %#x", code)
	}
	a, code := mqttClient(t, tw, syncproto.ClientID("site-a"), "site-a", pwA)
	if code != 0 {
		t.Fatalf("site a refused: %#x", code)
	}
	for _, f := range []string{"cst/v1/site-b/down/+", "cst/v1/site-b/down/command", "cst/v1/site-a/up/+", "cst/v1/+/down/+", "#", "cst/v1/#", "$share/x/cst/v1/site-b/down/+"} {
		if code := cloudtest.SubscribeCode(t, a, f); code != notAuthorized {
			t.Errorf("site a subscribing to %s: %#x, want not authorized", f, code)
		}
	}
	if code := cloudtest.SubscribeCode(t, a, syncproto.ApplianceSubscription("site-a")); code > 2 {
		t.Errorf("site a's own subscription refused: %#x", code)
	}
	ev := &syncproto.Event{Header: syncproto.Header{Version: syncproto.Version, Site: "site-b", Key: "k1", Time: t0}, Event: "boot", At: t0}
	topic, payload := encode(t, "site-b", ev)
	if code := cloudtest.PublishCode(t, a, topic, payload); code != notAuthorized {
		t.Errorf("site a publishing on site b's topic: %#x", code)
	}
	cmd := &syncproto.Command{Header: syncproto.Header{Version: syncproto.Version, Site: "site-a", Time: t0}, ID: "c1", Charger: "CP1", Command: "reset", Deadline: t0.Add(time.Hour)}
	topic, payload = encode(t, "site-a", cmd)
	if code := cloudtest.PublishCode(t, a, topic, payload); code != notAuthorized {
		t.Errorf("site a publishing downstream: %#x", code)
	}
	if n, _ := tw.Store.EventCount(ctx, "site-b"); n != 0 {
		t.Errorf("site b has %d events", n)
	}

	for _, c := range []struct{ name, id, user, pw string }{
		{"bad password", syncproto.ClientID("site-a"), "site-a", pwA + "x"},
		{"another site's password", syncproto.ClientID("site-a"), "site-a", pwB},
		{"another site's client id", syncproto.ClientID("site-b"), "site-a", pwA},
		{"no user", "anon", "", ""},
		{"unknown site", syncproto.ClientID("site-z"), "site-z", pwA},
	} {
		if cl, _ := mqttClient(t, tw, c.id, c.user, c.pw); cl != nil {
			t.Errorf("%s: connected", c.name)
		}
	}

	// Revoking cuts the open connection and refuses the next.
	if code := tw.call(t, true, "POST", "/api/v1/sites/site-a/revoke", nil, nil); code != http.StatusNoContent {
		t.Fatalf("revoke: %d", code)
	}
	<-a.Done()
	if cl, _ := mqttClient(t, tw, syncproto.ClientID("site-a"), "site-a", pwA); cl != nil {
		t.Error("a revoked site connected")
	}
	if embedded && !strings.Contains(tw.logs.String(), "connection refused") {
		t.Error("refusals not logged")
	}
	if strings.Contains(tw.logs.String(), pwA) {
		t.Error("a password was logged")
	}
}
