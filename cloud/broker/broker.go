// Package broker is the watchtower's embedded MQTT v5 broker (mochi-mqtt):
// appliances authenticate with their site id and password (checked
// against the fleet store, revoked sites refused, no anonymous access),
// an ACL confines each to its own site's topics (syncproto's
// ApplianceMayPublish and ApplianceMaySubscribe), and every upstream
// publish is handed to ingest before the broker acknowledges it, so an
// appliance drops a record from its outbox only once the watchtower has
// stored it. A connection's QoS 1 messages overlap: each is begun as it
// arrives (ingest queues it for the next group commit) and acknowledged
// once stored, the PUBACKs in the order of the messages, so a site's
// messages share commits instead of waiting for one each.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/constellation-ev/constellation/cloud/ingest"
	"github.com/constellation-ev/constellation/cloud/ratelimit"
	"github.com/constellation-ev/constellation/syncproto"
)

// Authenticator checks an appliance's credentials (user name = site id).
type Authenticator interface {
	Authenticate(ctx context.Context, site, password string) error
}

// Handler takes an upstream message from an authenticated site; an
// error wrapping ingest.ErrRefused is bad input, any other a failure
// worth a resend. Begin starts what Handle does and returns the wait for
// its outcome (ingest.Ingester.Begin): the broker begins a connection's
// messages as they arrive and waits for them in order.
type Handler interface {
	Handle(ctx context.Context, sender, topic string, payload []byte) error
	Begin(ctx context.Context, sender, topic string, payload []byte) (wait func() error)
}

var _ Handler = (*ingest.Ingester)(nil)

// PacketOverhead is room for a publish's topic and properties above its
// payload.
const PacketOverhead = 4 << 10

// Window bounds the QoS 1 messages of one connection being stored at
// once; past it, the broker reads no more of the connection's packets
// until the oldest is stored.
const Window = 64

// Broker is the embedded broker.
type Broker struct {
	srv       *mqtt.Server
	hook      *hook
	log       *slog.Logger
	closeOnce sync.Once
}

// New makes a broker serving ln; ctx bounds the store calls of its hooks,
// limit (nil: none) the messages a site may publish.
func New(ctx context.Context, ln net.Listener, auth Authenticator, h Handler, limit *ratelimit.Limiter, log *slog.Logger) (*Broker, error) {
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = syncproto.MaxPayload + PacketOverhead
	// What a connection may have unacknowledged: the acker's window
	// (appliances keep fewer in flight).
	caps.ReceiveMaximum = Window
	// mochi's debug lines would include one "publish packet rejected"
	// per message the acker answers (see OnPublish).
	mochiLog := slog.New(infoUp{log.Handler()}).With("area", "mochi")
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Capabilities: caps, Logger: mochiLog})
	hk := &hook{ctx: ctx, auth: auth, handler: h, limit: limit, logLimit: ratelimit.New(1.0/60, 1, nil), log: log,
		acks: map[*mqtt.Client]*acker{}}
	if err := srv.AddHook(hk, nil); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if err := srv.AddListener(listeners.NewNet("mqtt", ln)); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	return &Broker{srv: srv, hook: hk, log: log}, nil
}

// Serve starts accepting connections and returns.
func (b *Broker) Serve() error {
	if err := b.srv.Serve(); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	return nil
}

// Close stops the broker, closing every connection, and returns once
// the messages they sent are stored (or failed). Closing again does
// nothing.
func (b *Broker) Close() error {
	var err error
	b.closeOnce.Do(func() {
		err = b.srv.Close() // every connection's OnDisconnect has run
		b.hook.ackers.Wait()
	})
	return err
}

// Publish publishes a downstream message (QoS 1) to the site's appliance.
func (b *Broker) Publish(_ context.Context, topic string, payload []byte, retain bool) error {
	if err := b.srv.Publish(topic, payload, retain, 1); err != nil {
		return fmt.Errorf("broker: publish %s: %w", topic, err)
	}
	return nil
}

// Grant has nothing to do: the broker checks a site's password against
// the fleet store at each connect.
func (b *Broker) Grant(context.Context, string, string) error { return nil }

// Revoke drops site's open connection, if any; the store refuses the
// next.
func (b *Broker) Revoke(_ context.Context, site string) error {
	b.disconnect(site)
	return nil
}

// disconnect drops site's open connection, if any.
func (b *Broker) disconnect(site string) {
	for _, cl := range b.srv.Clients.GetAll() {
		if !cl.Net.Inline && string(cl.Properties.Username) == site && !cl.Closed() {
			b.log.Info("dropping the connection of a revoked site", "site", site)
			_ = b.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
		}
	}
}

// hook ties the broker to the fleet: authentication, ACL, ingest.
type hook struct {
	mqtt.HookBase
	ctx     context.Context
	auth    Authenticator
	handler Handler
	limit   *ratelimit.Limiter
	// logLimit keeps a flood from flooding the log too: a line per site
	// a minute.
	logLimit *ratelimit.Limiter
	log      *slog.Logger
	// acks are the connections' ackers (QoS 1 publishes being stored);
	// ackers counts their goroutines.
	mu     sync.Mutex
	acks   map[*mqtt.Client]*acker
	ackers sync.WaitGroup
}

var _ mqtt.Hook = (*hook)(nil)

func (h *hook) ID() string { return "constellation" }

// Provides is asked for every event of every packet (mochi has no
// per-hook table): a switch answers without allocating.
func (h *hook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish, mqtt.OnWillSent, mqtt.OnDisconnect:
		return true
	}
	return false
}

// OnConnectAuthenticate admits an enrolled, unrevoked site with its
// password, its own client id, and a will on its own topics.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	site := string(pk.Connect.Username)
	refuse := func(reason string) bool {
		h.log.Warn("connection refused", "site", clip(site), "client", clip(cl.ID), "remote", cl.Net.Remote, "reason", reason)
		return false
	}
	switch {
	case syncproto.ValidateSiteID(site) != nil:
		return refuse("user name is not a site id")
	case cl.ID != syncproto.ClientID(site):
		return refuse("client id is not " + syncproto.ClientID(site))
	case pk.Connect.WillFlag && !syncproto.ApplianceMayPublish(site, pk.Connect.WillTopic):
		return refuse("will on a topic the site may not publish")
	}
	if err := h.auth.Authenticate(h.ctx, site, string(pk.Connect.Password)); err != nil {
		return refuse(err.Error())
	}
	h.log.Info("site connected", "site", site, "remote", cl.Net.Remote)
	return true
}

// OnACLCheck confines a site to its own upstream (publish) and
// downstream (subscribe) topics.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	site := string(cl.Properties.Username)
	ok := syncproto.ApplianceMayPublish(site, topic)
	if !write {
		ok = syncproto.ApplianceMaySubscribe(site, topic)
	}
	if !ok {
		h.log.Warn("topic refused", "site", site, "topic", clip(topic), "publish", write)
	}
	return ok
}

// OnPublish stores an appliance's message before the broker acknowledges
// it: bad input is answered "payload format invalid" (the appliance
// drops the record), a store failure "unspecified error" (it sends the
// record again later). A QoS 1 message is begun here and acknowledged
// by the connection's acker once stored, so the connection's next
// messages are read and stored meanwhile, together with it; the
// PUBACKs still go out in the order of the messages.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	site := string(cl.Properties.Username)
	v5 := cl.Properties.ProtocolVersion >= 5
	if pk.FixedHeader.Qos == 1 {
		a := h.acker(cl)
		wait := func() error { return packets.ErrMessageRateTooHigh }
		if h.admit(site) {
			wait = h.handler.Begin(h.ctx, site, pk.TopicName, pk.Payload)
		}
		a.queue <- pendingAck{id: pk.PacketID, topic: pk.TopicName, wait: wait}
		// The acker answers: mochi sends nothing now (it logs the
		// message "rejected" at debug level) and, the upstream being a
		// stream, delivers it to no one.
		return pk, packets.ErrRejectPacket
	}
	if !h.admit(site) {
		if pk.FixedHeader.Qos == 0 || !v5 {
			return pk, packets.ErrRejectPacket
		}
		return pk, packets.ErrMessageRateTooHigh // the appliance sends it again later
	}
	err := h.handler.Handle(h.ctx, site, pk.TopicName, pk.Payload)
	if err == nil {
		pk.FixedHeader.Retain = false // upstream is a stream, not state
		return pk, nil
	}
	if pk.FixedHeader.Qos == 0 || !v5 {
		return pk, packets.ErrRejectPacket
	}
	return pk, h.code(site, pk.TopicName, err)
}

// admit applies the site's rate limit to one message.
func (h *hook) admit(site string) bool {
	ok, wait := h.limit.Reserve(site)
	if !ok && h.logLimit.Allow(site) {
		h.log.Warn("messages refused: the site publishes faster than its limit", "site", site, "retry_in", wait)
	}
	return ok
}

// code is the PUBACK reason code of a message the handler failed.
func (h *hook) code(site, topic string, err error) packets.Code {
	var c packets.Code
	switch {
	case errors.As(err, &c): // the rate limit's
		return c
	case errors.Is(err, ingest.ErrRefused):
		return packets.ErrPayloadFormatInvalid
	}
	h.log.Error("storing a message", "site", site, "topic", topic, "err", err)
	return packets.ErrUnspecifiedError
}

// pendingAck is a QoS 1 message being stored.
type pendingAck struct {
	id    uint16
	topic string
	wait  func() error
}

// acker answers one connection's QoS 1 messages, in their order, each
// once its wait returns.
type acker struct {
	queue chan pendingAck
}

// acker returns cl's acker, starting it with cl's first QoS 1 message.
// Only cl's own goroutine (OnPublish, OnDisconnect) calls it.
func (h *hook) acker(cl *mqtt.Client) *acker {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := h.acks[cl]
	if a == nil {
		a = &acker{queue: make(chan pendingAck, Window)}
		h.acks[cl] = a
		h.ackers.Go(func() { h.answer(cl, a) })
	}
	return a
}

// answer sends the PUBACKs of cl's messages until cl disconnects. After
// a failed write (the connection is gone) it goes on waiting, so every
// message begun is stored or failed before the broker closes; the
// appliance sends the unacknowledged ones again.
func (h *hook) answer(cl *mqtt.Client, a *acker) {
	site := string(cl.Properties.Username)
	v5 := cl.Properties.ProtocolVersion >= 5
	for p := range a.queue {
		err := p.wait()
		ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: p.id, ReasonCode: packets.CodeSuccess.Code}
		if err != nil {
			if !v5 {
				continue // MQTT 3 has no failure code: no PUBACK, a resend later
			}
			code := h.code(site, p.topic, err)
			ack.ReasonCode, ack.Properties.ReasonString = code.Code, code.Reason
		}
		// A failure here is the connection's end, which its goroutine
		// handles.
		_ = cl.WritePacket(ack)
	}
}

// OnDisconnect stops the connection's acker once it has answered what
// was begun.
func (h *hook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.mu.Lock()
	a := h.acks[cl]
	delete(h.acks, cl)
	h.mu.Unlock()
	if a != nil {
		close(a.queue)
	}
}

// OnWillSent stores the will (an appliance's Death) the broker published.
func (h *hook) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	if err := h.handler.Handle(h.ctx, string(cl.Properties.Username), pk.TopicName, pk.Payload); err != nil && !errors.Is(err, ingest.ErrRefused) {
		h.log.Error("storing a will", "site", string(cl.Properties.Username), "err", err)
	}
}

// infoUp passes on the records of level Info and above.
type infoUp struct{ slog.Handler }

func (h infoUp) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo && h.Handler.Enabled(ctx, l)
}

func (h infoUp) WithAttrs(attrs []slog.Attr) slog.Handler { return infoUp{h.Handler.WithAttrs(attrs)} }
func (h infoUp) WithGroup(name string) slog.Handler       { return infoUp{h.Handler.WithGroup(name)} }

// clip bounds what a log line quotes of outside input.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
