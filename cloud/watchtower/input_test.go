package watchtower_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/constellation-ev/constellation/cloud/broker"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/syncproto"
)

// A reused, expired or guessed enrollment token is refused, with a
// clear status and message, and logged without the token.
func TestEnrollmentRefusals(t *testing.T) {
	tw := startTower(t)
	tw.enroll(t, "site-a")
	var tok struct{ Token string }
	if code := tw.call(t, true, "POST", "/api/v1/sites/site-a/tokens", map[string]string{"ttl": "1h"}, &tok); code != http.StatusCreated {
		t.Fatalf("token: %d", code)
	}
	var ok struct{ Password string }
	if code := tw.call(t, false, "POST", "/api/v1/enroll", map[string]string{"site": "site-a", "token": tok.Token}, &ok); code != http.StatusOK {
		t.Fatalf("enroll: %d", code)
	}
	var expiring struct{ Token string }
	tw.call(t, true, "POST", "/api/v1/sites/site-a/tokens", map[string]string{"ttl": "1m"}, &expiring)
	tw.clock.Advance(time.Minute)
	for _, c := range []struct {
		name  string
		body  any
		code  int
		error string
	}{
		{"reused", map[string]string{"site": "site-a", "token": tok.Token}, http.StatusForbidden, "already used"},
		{"expired", map[string]string{"site": "site-a", "token": expiring.Token}, http.StatusGone, "expired"},
		{"guessed", map[string]string{"site": "site-a", "token": fleet.NewSecret()}, http.StatusUnauthorized, "invalid"},
		{"unknown field", map[string]string{"site": "site-a", "token": "x", "extra": "1"}, http.StatusBadRequest, "unknown field"},
	} {
		var e struct{ Error string }
		if code := tw.call(t, false, "POST", "/api/v1/enroll", c.body, &e); code != c.code || !strings.Contains(e.Error, c.error) {
			t.Errorf("%s: %d %q, want %d and %q", c.name, code, e.Error, c.code, c.error)
		}
	}
	if strings.Contains(tw.logs.String(), tok.Token) || strings.Contains(tw.logs.String(), ok.Password) {
		t.Error("a secret was logged")
	}
	if n := strings.Count(tw.logs.String(), "enrollment refused"); n != 3 {
		t.Errorf("%d refusals logged, want 3", n)
	}
	// The operator's endpoints need the operator's token.
	if code := tw.call(t, false, "GET", "/api/v1/sites", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("sites without a token: %d", code)
	}
}

// Malformed, truncated, oversized, wrong-version and other-site messages
// are refused with a logged reason and change nothing; a replayed record
// is applied once.
func TestBadInput(t *testing.T) {
	tw := startTower(t)
	pw := tw.enroll(t, "site-a")
	tw.enroll(t, "site-b")
	a, code := mqttClient(t, tw, syncproto.ClientID("site-a"), "site-a", pw)
	if code != 0 {
		t.Fatalf("connect: %#x", code)
	}
	hdr := syncproto.Header{Version: syncproto.Version, Site: "site-a", Key: "k1", Time: t0}
	tx := &syncproto.Transaction{Header: hdr, Event: syncproto.TxStarted, Rev: 1, ID: 1, Charger: "CP1", Connector: 1, Start: t0}
	topic, good := encode(t, "site-a", tx)
	big := &syncproto.Readings{Header: hdr, Charger: "CP1", Connector: 1, TransactionID: 1}
	for i := range 3000 {
		big.AddReadings(syncproto.Reading{Time: t0.Add(time.Duration(i) * time.Second), Column: syncproto.Column{Measurand: "Voltage"}, Value: strings.Repeat("9", 30)})
	}
	wrongVersion := bytes.Replace(good, []byte(`"v":"1.0"`), []byte(`"v":"2.0"`), 1)
	otherSite := bytes.Replace(good, []byte(`"site":"site-a"`), []byte(`"site":"site-b"`), 1)
	const invalid = 0x99
	for _, c := range []struct {
		name    string
		topic   string
		payload []byte
	}{
		{"malformed", topic, []byte(`{"v":"1.0",`)},
		{"not JSON", topic, []byte("hello")},
		{"truncated deflate", topic, []byte{0, 0x78, 0x9c, 1}},
		{"wrong version", topic, wrongVersion},
		{"other site in the payload", topic, otherSite},
		{"invalid record", topic, bytes.Replace(good, []byte(`"rev":1`), []byte(`"rev":0`), 1)},
		{"empty", topic, nil},
	} {
		if code := cloudtest.PublishCode(t, a, c.topic, c.payload); code != invalid {
			t.Errorf("%s: PUBACK %#x, want %#x", c.name, code, invalid)
		}
	}
	st, err := tw.Store.Site(ctx, "site-a")
	must(t, err)
	if st.Transactions != 0 || st.Readings != 0 {
		t.Fatalf("bad input stored: %+v", st)
	}
	if n := strings.Count(tw.logs.String(), "message refused"); n < 7 {
		t.Errorf("%d refusals logged:\n%s", n, tw.logs.String())
	}

	if code := cloudtest.PublishCode(t, a, "cst/v1/site-a/up/nonsense", good); code == 0 {
		t.Error("an unknown kind was acknowledged")
	}

	// Replays: the same record, and a lower revision under a new key.
	for range 3 {
		if code := cloudtest.PublishCode(t, a, topic, good); code != 0 {
			t.Fatalf("valid record: %#x", code)
		}
	}
	tx.Key, tx.Event, tx.Rev, tx.IDTag = "k2", syncproto.TxUpdated, 2, "CARD"
	topic2, p2 := encode(t, "site-a", tx)
	cloudtest.PublishCode(t, a, topic2, p2)
	tx.Key, tx.Rev, tx.IDTag = "k0", 1, "OLD"
	topic3, p3 := encode(t, "site-a", tx)
	cloudtest.PublishCode(t, a, topic3, p3)
	txs, err := tw.Store.Transactions(ctx, fleet.TxFilter{Site: "site-a"}, false)
	must(t, err)
	if len(txs) != 1 || txs[0].Record.Rev != 2 || txs[0].Record.IDTag != "CARD" {
		t.Errorf("after replays: %+v", txs[0].Record)
	}

	// An oversized packet is refused by the broker (the connection goes).
	_, payload, err := syncproto.Encode("site-a", big)
	if err == nil && len(payload) <= syncproto.MaxPayload {
		payload = append(payload, make([]byte, syncproto.MaxPayload+broker.PacketOverhead)...)
	}
	pctx, cancel := context.WithTimeout(ctx, guard)
	defer cancel()
	if resp, err := a.Publish(pctx, &paho.Publish{Topic: topic, Payload: payload, QoS: 1}); err == nil && resp.ReasonCode == 0 {
		t.Error("an oversized message was acknowledged")
	}
	<-a.Done()
	if st, _ := tw.Store.Site(ctx, "site-a"); st.Readings != 0 {
		t.Error("oversized readings stored")
	}
	if st, _ := tw.Store.Site(ctx, "site-b"); st.Transactions != 0 {
		t.Error("site b changed")
	}
}

// A command for an offline site waits, and expires at its deadline.
func TestOfflineCommandExpires(t *testing.T) {
	tw := startTower(t)
	tw.enroll(t, "site-a")
	var cmd fleet.Command
	if code := tw.call(t, true, "POST", "/api/v1/sites/site-a/commands", map[string]any{"charger": "CP1", "command": "reset", "args": map[string]string{"type": "Soft"}, "timeout": "5m"}, &cmd); code != http.StatusCreated || cmd.Status != fleet.CommandQueued {
		t.Fatalf("command: %d %+v", code, cmd)
	}
	tw.clock.Advance(5 * time.Minute)
	var got fleet.Command
	tw.call(t, true, "GET", "/api/v1/commands/"+cmd.ID, nil, &got)
	if got.Status != syncproto.CommandExpired {
		t.Errorf("status %q at the deadline, want expired", got.Status)
	}
}
