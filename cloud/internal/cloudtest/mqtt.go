package cloudtest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// mqttGuard bounds every wait for a broker: a test that waits longer has
// hung (it is not a performance assertion).
const mqttGuard = 2 * time.Minute

// Connect opens an MQTT v5 session to the broker at addr as user with
// password and client id; it returns the client (nil when refused) and
// the CONNACK reason code. The client disconnects when the test ends.
func Connect(t testing.TB, addr, clientID, user, password string) (*paho.Client, byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn, ClientID: clientID})
	ctx, cancel := context.WithTimeout(context.Background(), mqttGuard)
	defer cancel()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30,
		Username: user, UsernameFlag: true, Password: []byte(password), PasswordFlag: true})
	if ack != nil && ack.ReasonCode != 0 {
		return nil, ack.ReasonCode
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c, 0
}

// SubscribeCode subscribes c to filter (QoS 1) and returns the SUBACK's
// reason code.
func SubscribeCode(t testing.TB, c *paho.Client, filter string) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mqttGuard)
	defer cancel()
	ack, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
	if ack == nil || len(ack.Reasons) != 1 {
		t.Fatalf("subscribe %s: %v %v", filter, ack, err)
	}
	return ack.Reasons[0]
}

// PublishCode publishes payload on topic (QoS 1) and returns the PUBACK's
// reason code.
func PublishCode(t testing.TB, c *paho.Client, topic string, payload []byte) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mqttGuard)
	defer cancel()
	resp, err := c.Publish(ctx, &paho.Publish{Topic: topic, Payload: payload, QoS: 1})
	if resp == nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
	return resp.ReasonCode
}
