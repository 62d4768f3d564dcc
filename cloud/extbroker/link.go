// Package extbroker connects the watchtower to an external MQTT v5
// broker (Mosquitto) instead of embedding one: a Link consumes every
// site's upstream messages through a shared subscription
// ($share/{group}/cst/v1/+/up/+), so that replicas split the load, and
// publishes the downstream ones; Dynsec gives and takes a site's access
// through Mosquitto's dynamic security plugin, so that enrollment and
// revocation work as with the embedded broker.
//
// Durability: the Link keeps a persistent session under a client id
// stable per replica, and acknowledges a message only after ingest has
// stored it (or refused it as bad input). A replica that dies leaves its
// unacknowledged messages, and those the broker queued for it while it
// was down, in its session; they are delivered when it comes back with
// the same client id, and ingest applies each record once by its key.
package extbroker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/constellation-ev/constellation/syncproto"
)

// Handler takes an upstream message; an error wrapping refused (see
// Options.Refused) is bad input, any other a failure worth a retry.
type Handler interface {
	Handle(ctx context.Context, sender, topic string, payload []byte) error
}

// Defaults of Options.
const (
	DefaultGroup   = "watchtower"
	DefaultWorkers = 64 // a group commit fills with up to this many at once
	// sessionExpiry keeps a dead replica's session, and the messages
	// queued for it, for a week.
	sessionExpiry = 7 * 24 * time.Hour
	// ackInterval is how often paho sends the in-order acknowledgements
	// of the messages handled since.
	ackInterval = 5 * time.Millisecond
)

// Options configure a Link.
type Options struct {
	Broker   *url.URL    // from syncproto.ParseBrokerURL
	TLS      *tls.Config // from syncproto.BrokerTLS; nil for plain TCP
	Username string
	Password string
	// ClientID must be stable per replica and differ between replicas:
	// a replica's session holds what was sent to it.
	ClientID string
	Group    string // shared subscription group; DefaultGroup if empty
	Workers  int    // messages handled at once; DefaultWorkers if 0
	Handler  Handler
	// Refused is the error a handler wraps for bad input (acknowledged
	// and dropped, not retried).
	Refused error
	// Dynsec says the user administers Mosquitto's dynamic security
	// plugin: after each connect, before subscribing, it gives itself
	// the role the watchtower needs (Dynsec.Setup).
	Dynsec bool
	Logger *slog.Logger
}

// Link is a connection to an external broker.
type Link struct {
	opts    Options
	ctx     context.Context // ends at Close
	cm      *autopaho.ConnectionManager
	cmSet   chan struct{} // closed once cm is set
	jobs    chan job
	wg      sync.WaitGroup
	cancel  context.CancelFunc
	waiters sync.Map // dynsec correlation data → chan dynsecResponse
	handled atomic.Int64
	// subscribed is closed once the upstream subscription is in place.
	subscribed     chan struct{}
	subscribedOnce sync.Once
	log            *slog.Logger
}

type job struct {
	client *paho.Client
	pub    *paho.Publish
}

// Connect starts the link and returns at once: the connection is made,
// and remade, in the background (backoff by autopaho); Publish and the
// Dynsec calls wait for it up to their context.
func Connect(ctx context.Context, opts Options) (*Link, error) {
	if opts.Broker == nil || opts.ClientID == "" || opts.Handler == nil || opts.Refused == nil {
		return nil, errors.New("extbroker: Broker, ClientID, Handler and Refused are required")
	}
	if opts.Group == "" {
		opts.Group = DefaultGroup
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &Link{opts: opts, ctx: ctx, jobs: make(chan job, opts.Workers), cancel: cancel, cmSet: make(chan struct{}), subscribed: make(chan struct{}), log: opts.Logger}
	receiveMax := uint16(4 * opts.Workers)
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{opts.Broker},
		TlsCfg:                        opts.TLS,
		KeepAlive:                     30,
		CleanStartOnInitialConnection: false,
		SessionExpiryInterval:         uint32(sessionExpiry / time.Second),
		ConnectUsername:               opts.Username,
		ConnectPassword:               []byte(opts.Password),
		ConnectTimeout:                10 * time.Second,
		ConnectPacketBuilder: func(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			if cp.Properties == nil {
				cp.Properties = &paho.ConnectProperties{}
			}
			cp.Properties.ReceiveMaximum = &receiveMax
			return cp, nil
		},
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			l.log.Info("connected to the broker", "broker", opts.Broker.Redacted(), "client", opts.ClientID)
			l.wg.Go(func() { l.subscribe(ctx, cm) })
		},
		OnConnectError: func(err error) {
			l.log.Warn("connecting to the broker", "broker", opts.Broker.Redacted(), "err", err)
		},
		ClientConfig: paho.ClientConfig{
			ClientID:                   opts.ClientID,
			EnableManualAcknowledgment: true,
			SendAcksInterval:           ackInterval,
			OnPublishReceived:          []func(paho.PublishReceived) (bool, error){l.received},
			OnClientError:              func(err error) { l.log.Warn("broker link", "err", err) },
			OnServerDisconnect: func(d *paho.Disconnect) {
				l.log.Warn("the broker disconnected the watchtower", "reason", d.ReasonCode)
			},
		},
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("extbroker: %w", err)
	}
	l.cm = cm
	close(l.cmSet)
	for range opts.Workers {
		l.wg.Go(func() { l.work(ctx) })
	}
	return l, nil
}

// subscribe (re)subscribes after a connect: a resumed session keeps its
// subscriptions, but a new one (after its expiry) would not have them.
// The dynamic security answers come first: Setup needs them, and the
// upstream subscription needs Setup's role.
func (l *Link) subscribe(ctx context.Context, cm *autopaho.ConnectionManager) {
	<-l.cmSet // the connection can come up before NewConnection returns
	ctx, cancel := context.WithTimeout(ctx, dynsecTimeout)
	defer cancel()
	if l.opts.Dynsec {
		if err := l.subscribeTo(ctx, cm, dynsecResponseTopic, 0); err != nil {
			l.log.Error("subscribing to the dynamic security answers", "err", err)
			return
		}
		if err := l.Dynsec().Setup(ctx); err != nil {
			l.log.Error("giving the watchtower its role", "err", err)
			return
		}
	}
	if err := l.subscribeTo(ctx, cm, syncproto.CloudSubscription(l.opts.Group), 1); err != nil {
		l.log.Error("subscribing to the sites' upstream topics", "err", err)
		return
	}
	l.log.Info("consuming the sites' upstream messages", "filter", syncproto.CloudSubscription(l.opts.Group))
	l.subscribedOnce.Do(func() { close(l.subscribed) })
}

// WaitSubscribed waits until the link has subscribed to the sites'
// upstream topics once. Until then the broker drops what the sites
// publish if no other replica has subscribed (a replica's session keeps
// its subscription across restarts: only a first start waits).
func (l *Link) WaitSubscribed(ctx context.Context) error {
	select {
	case <-l.subscribed:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("extbroker: not subscribed to the sites' topics yet: %w", ctx.Err())
	}
}

func (l *Link) subscribeTo(ctx context.Context, cm *autopaho.ConnectionManager, filter string, qos byte) error {
	ack, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", filter, err)
	case len(ack.Reasons) != 1 || ack.Reasons[0] >= 0x80:
		return fmt.Errorf("%s: refused by the broker (reasons %v)", filter, ack.Reasons)
	}
	return nil
}

// received runs in paho's reading goroutine: upstream messages go to the
// workers (blocking it when they are all busy, which holds the broker
// back), dynsec answers to their waiter.
func (l *Link) received(pr paho.PublishReceived) (bool, error) {
	if pr.Packet.Topic == dynsecResponseTopic {
		l.dynsecAnswer(pr.Packet.Payload)
		return true, nil
	}
	select {
	case l.jobs <- job{client: pr.Client, pub: pr.Packet}:
	case <-l.ctx.Done():
	}
	return true, nil
}

func (l *Link) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-l.jobs:
			if l.handle(ctx, j.pub) {
				// An ack after the connection dropped is lost; the broker
				// sends the message again and ingest applies it once.
				_ = j.client.Ack(j.pub)
			}
		}
	}
}

// handle stores one message, retrying store failures with backoff; it
// reports false when ctx ended first (the message stays unacknowledged).
func (l *Link) handle(ctx context.Context, p *paho.Publish) bool {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := l.opts.Handler.Handle(ctx, "", p.Topic, p.Payload)
		if err == nil || errors.Is(err, l.opts.Refused) {
			l.handled.Add(1)
			return true
		}
		l.log.Error("storing a message; retrying", "topic", p.Topic, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// Addr is the broker's host:port.
func (l *Link) Addr() string { return l.opts.Broker.Host }

// Handled is the number of messages this replica has handled.
func (l *Link) Handled() int64 { return l.handled.Load() }

// Publish publishes a downstream message (QoS 1), waiting for the
// connection up to ctx.
func (l *Link) Publish(ctx context.Context, topic string, payload []byte, retain bool) error {
	if err := l.cm.AwaitConnection(ctx); err != nil {
		return fmt.Errorf("extbroker: publish %s: no connection to the broker: %w", topic, err)
	}
	res, err := l.cm.Publish(ctx, &paho.Publish{Topic: topic, Payload: payload, QoS: 1, Retain: retain})
	if err != nil {
		return fmt.Errorf("extbroker: publish %s: %w", topic, err)
	}
	if res != nil && res.ReasonCode >= 0x80 {
		return fmt.Errorf("extbroker: publish %s: refused by the broker (reason %#x)", topic, res.ReasonCode)
	}
	return nil
}

// Close disconnects and stops the workers; messages being handled stay
// unacknowledged and are delivered again to this client id.
func (l *Link) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.cm.Disconnect(ctx)
	l.cancel()
	<-l.cm.Done()
	l.wg.Wait()
}
