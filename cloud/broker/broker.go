// Package broker is the watchtower's embedded MQTT v5 broker (mochi-mqtt):
// appliances authenticate with their site id and password (checked
// against the fleet store, revoked sites refused, no anonymous access),
// an ACL confines each to its own site's topics (syncproto's
// ApplianceMayPublish and ApplianceMaySubscribe), and every upstream
// publish is handed to ingest before the broker acknowledges it, so an
// appliance drops a record from its outbox only once the watchtower has
// stored it.
package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

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
// worth a resend.
type Handler interface {
	Handle(ctx context.Context, sender, topic string, payload []byte) error
}

var _ Handler = (*ingest.Ingester)(nil)

// PacketOverhead is room for a publish's topic and properties above its
// payload.
const PacketOverhead = 4 << 10

// Broker is the embedded broker.
type Broker struct {
	srv  *mqtt.Server
	hook *hook
	log  *slog.Logger
}

// New makes a broker serving ln; ctx bounds the store calls of its hooks,
// limit (nil: none) the messages a site may publish.
func New(ctx context.Context, ln net.Listener, auth Authenticator, h Handler, limit *ratelimit.Limiter, log *slog.Logger) (*Broker, error) {
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = syncproto.MaxPayload + PacketOverhead
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Capabilities: caps, Logger: log.With("area", "mochi")})
	hk := &hook{ctx: ctx, auth: auth, handler: h, limit: limit, logLimit: ratelimit.New(1.0/60, 1, nil), log: log}
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

// Close stops the broker, closing every connection.
func (b *Broker) Close() error { return b.srv.Close() }

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
}

var _ mqtt.Hook = (*hook)(nil)

func (h *hook) ID() string { return "constellation" }

func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish, mqtt.OnWillSent}, []byte{b})
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
// record again later).
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	site := string(cl.Properties.Username)
	if ok, wait := h.limit.Reserve(site); !ok {
		if h.logLimit.Allow(site) {
			h.log.Warn("messages refused: the site publishes faster than its limit", "site", site, "retry_in", wait)
		}
		if pk.FixedHeader.Qos == 0 || cl.Properties.ProtocolVersion < 5 {
			return pk, packets.ErrRejectPacket
		}
		return pk, packets.ErrMessageRateTooHigh // the appliance sends it again later
	}
	err := h.handler.Handle(h.ctx, site, pk.TopicName, pk.Payload)
	switch {
	case err == nil:
		pk.FixedHeader.Retain = false // upstream is a stream, not state
		return pk, nil
	case pk.FixedHeader.Qos == 0 || cl.Properties.ProtocolVersion < 5:
		return pk, packets.ErrRejectPacket
	case errors.Is(err, ingest.ErrRefused):
		return pk, packets.ErrPayloadFormatInvalid
	default:
		h.log.Error("storing a message", "site", site, "topic", pk.TopicName, "err", err)
		return pk, packets.ErrUnspecifiedError
	}
}

// OnWillSent stores the will (an appliance's Death) the broker published.
func (h *hook) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	if err := h.handler.Handle(h.ctx, string(cl.Properties.Username), pk.TopicName, pk.Payload); err != nil && !errors.Is(err, ingest.ErrRefused) {
		h.log.Error("storing a will", "site", string(cl.Properties.Username), "err", err)
	}
}

// clip bounds what a log line quotes of outside input.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
