// Package synctest helps tests that need an MQTT broker: it finds the
// broker, makes a site id per test, and gives a subscriber that decodes
// what arrives with syncproto, a one-shot publisher, and a TCP proxy the
// test can cut to partition a client from the broker.
package synctest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/constellation-ev/constellation/syncproto"
)

// EnvBroker names the environment variable with the broker's URL
// (tcp://127.0.0.1:1883); .ci/run sets it.
const EnvBroker = "CONSTELLATION_MQTT_URL"

// guard bounds every wait for the broker: a test that waits longer has
// hung (it is not a performance assertion).
const guard = 2 * time.Minute

// Broker returns the broker's URL, or skips the test when EnvBroker is not set.
func Broker(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvBroker)
	if u == "" {
		t.Skipf("%s is not set: skipping a test that needs an MQTT v5 broker (run with %s=tcp://127.0.0.1:1883 and Mosquitto running)", EnvBroker, EnvBroker)
	}
	return u
}

// Site returns a new random site id, so that tests sharing a broker do
// not see each other.
func Site(t testing.TB) string { return "test-" + random(t) }

func random(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// connect opens an MQTT v5 client session to broker.
func connect(t testing.TB, broker string, onPublish func(paho.PublishReceived) (bool, error)) *paho.Client {
	t.Helper()
	u, err := url.Parse(broker)
	if err != nil {
		t.Fatalf("%s: %v", EnvBroker, err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		t.Fatalf("dial the broker at %s: %v", u.Host, err)
	}
	cfg := paho.ClientConfig{Conn: conn, ClientID: "synctest-" + random(t)}
	if onPublish != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){onPublish}
	}
	c := paho.NewClient(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: cfg.ClientID, CleanStart: true, KeepAlive: 30})
	if err != nil {
		t.Fatalf("connect to the broker: %v", err)
	}
	if ack.ReasonCode != 0 {
		t.Fatalf("broker refused the connection: %d", ack.ReasonCode)
	}
	return c
}

// Message is one message a Subscriber received.
type Message struct {
	Topic   string
	Payload []byte
	Retain  bool
	// Msg is the decoded message; Err why it did not decode.
	Msg syncproto.Message
	Err error
}

// Subscriber collects what arrives on a topic filter.
type Subscriber struct {
	mu     sync.Mutex
	msgs   []Message
	notify chan struct{}
}

// Subscribe subscribes to filter (QoS 1) and returns once the broker
// confirmed the subscription; it unsubscribes when the test ends.
func Subscribe(t testing.TB, broker, filter string) *Subscriber {
	t.Helper()
	s := &Subscriber{notify: make(chan struct{}, 1)}
	c := connect(t, broker, func(pr paho.PublishReceived) (bool, error) {
		m := Message{Topic: pr.Packet.Topic, Payload: pr.Packet.Payload, Retain: pr.Packet.Retain}
		m.Msg, m.Err = syncproto.Decode(m.Topic, m.Payload)
		s.mu.Lock()
		s.msgs = append(s.msgs, m)
		s.mu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
		return true, nil
	})
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	ack, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
	if err != nil || len(ack.Reasons) != 1 || ack.Reasons[0] > 2 {
		t.Fatalf("subscribe %s: %v %v", filter, ack, err)
	}
	return s
}

// Messages returns what arrived so far, in order.
func (s *Subscriber) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait returns what arrived once done is true of it, failing the test if
// that never happens (what names the wait in the failure).
func (s *Subscriber) Wait(t testing.TB, what string, done func([]Message) bool) []Message {
	t.Helper()
	deadline := time.NewTimer(guard)
	defer deadline.Stop()
	for {
		msgs := s.Messages()
		if done(msgs) {
			return msgs
		}
		select {
		case <-s.notify:
		case <-deadline.C:
			t.Fatalf("waiting for %s: not there after %v (%d messages arrived)", what, guard, len(msgs))
		}
	}
}

// Publish publishes one message (QoS 1) and returns once the broker has it.
func Publish(t testing.TB, broker, topic string, payload []byte, retain bool) {
	t.Helper()
	c := connect(t, broker, nil)
	defer func() { _ = c.Disconnect(&paho.Disconnect{}) }()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, Payload: payload, QoS: 1, Retain: retain}); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

// PublishMessage encodes m for site and publishes it.
func PublishMessage(t testing.TB, broker, site string, m syncproto.Message, retain bool) {
	t.Helper()
	topic, payload, err := syncproto.Encode(site, m)
	if err != nil {
		t.Fatalf("encode %s: %v", m.Kind(), err)
	}
	Publish(t, broker, topic, payload, retain)
	if retain {
		t.Cleanup(func() { Publish(t, broker, topic, nil, true) }) // the broker keeps retained messages
	}
}

// Proxy forwards TCP connections to the broker until it is cut.
type Proxy struct {
	target string
	ln     net.Listener

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// NewProxy starts a proxy to broker on loopback; it stops when the test ends.
func NewProxy(t testing.TB, broker string) *Proxy {
	t.Helper()
	u, err := url.Parse(broker)
	if err != nil {
		t.Fatalf("%s: %v", EnvBroker, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{target: u.Host, ln: ln, conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// URL is the broker URL that goes through the proxy.
func (p *Proxy) URL() string { return "tcp://" + p.ln.Addr().String() }

// Cut closes every connection through the proxy and refuses new ones
// until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore lets connections through again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.forward(in) })
	}
}

func (p *Proxy) forward(in net.Conn) {
	out, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		in.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		in.Close()
		out.Close()
		return
	}
	p.conns[in], p.conns[out] = true, true
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, pair := range [][2]net.Conn{{out, in}, {in, out}} {
		wg.Go(func() {
			_, _ = io.Copy(pair[0], pair[1])
			pair[0].Close()
			pair[1].Close()
		})
	}
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, in)
	delete(p.conns, out)
	p.mu.Unlock()
}

// Keys returns the idempotency keys of the keyed messages in msgs, each
// with how often it arrived.
func Keys(msgs []Message) map[string]int {
	n := map[string]int{}
	for _, m := range msgs {
		if m.Msg != nil && m.Msg.Head().Key != "" {
			n[m.Msg.Head().Key]++
		}
	}
	return n
}

// Summary describes msgs briefly, for failure messages.
func Summary(msgs []Message) string {
	var b strings.Builder
	for _, m := range msgs {
		if m.Msg == nil {
			fmt.Fprintf(&b, "%s: %v\n", m.Topic, m.Err)
			continue
		}
		fmt.Fprintf(&b, "%s %s\n", m.Msg.Kind(), m.Msg.Head().Key)
	}
	return b.String()
}
