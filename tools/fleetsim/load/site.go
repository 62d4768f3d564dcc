package load

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/constellation-ev/constellation/syncproto"
)

// Link parameters, as appliance/cloudsync has them.
const (
	keepAlive = 30 // seconds
	// disconnectWithWill is the DISCONNECT reason a clean shutdown of
	// the appliance sends: the broker publishes the death then too.
	disconnectWithWill = 0x04
)

// site is one simulated appliance: one MQTT v5 session under the site's
// credentials, and its chargers.
type site struct {
	cfg      *Config
	creds    Site
	client   *paho.Client
	boot     string
	bdSeq    uint64
	chargers []*charger
	keys     keys

	downstream atomic.Int64 // messages the cloud sent down
	broken     atomic.Bool  // the link failed: stop sending

	mu    sync.Mutex
	err   error // the link's first failure
	tally tally
}

// tally is what one site's publishes of a run came to.
type tally struct {
	byKind   map[syncproto.Kind]int64 // acknowledged, per kind
	refused  map[byte]int64           // PUBACK reason code >= 0x80
	failed   int64                    // no PUBACK (link lost, timeout, cancelled)
	rows     int64                    // readings values acknowledged
	chargers map[string]bool          // chargers with an acknowledged status
	txRev    map[int64]int            // highest acknowledged revision per session
}

func newTally() tally {
	return tally{byKind: map[syncproto.Kind]int64{}, refused: map[byte]int64{}, chargers: map[string]bool{}, txRev: map[int64]int{}}
}

// newSite prepares a site of the fleet; run is the fleet's random id and
// epoch its start, which keep keys, transaction ids and bdSeq new across
// fleets run against the same sites.
func newSite(cfg *Config, creds Site, run string, epoch time.Time) *site {
	var raw [8]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read does not fail
	s := &site{cfg: cfg, creds: creds, boot: hex.EncodeToString(raw[:]),
		// bdSeq grows across the appliance's restarts; the run's start
		// time does too, without state kept between runs.
		bdSeq: uint64(epoch.Unix()),
		keys:  keys{prefix: run + "-"}, tally: newTally()}
	// Transaction ids are unique per site: the run's start in
	// microseconds, then a count, stays below 2^53 (exact in JSON
	// readers of every language) until the year 2255.
	txID := epoch.UnixMicro()
	nextTx := func() int64 { txID++; return txID }
	for i := range cfg.Chargers {
		s.chargers = append(s.chargers, &charger{site: creds.ID, id: "CP" + strconv.Itoa(i+1), readings: cfg.ReadingsPerSession,
			samples: cfg.SamplesPerReadings, now: epoch.UTC().Truncate(time.Second), meterWh: 1000, nextTx: nextTx})
	}
	return s
}

// connect opens the MQTT session the way cloudsync does: client id
// cst-{site}, the site's credentials, a Death as the will; then the
// subscription to the site's downstream topics, and the Birth.
func (s *site) connect(ctx context.Context) error {
	id := s.creds.ID
	conn, err := dial(ctx, s.cfg.brokerURL, s.cfg.TLS)
	if err != nil {
		return fmt.Errorf("site %s: %w", id, err)
	}
	s.client = paho.NewClient(paho.ClientConfig{
		ClientID: syncproto.ClientID(id),
		Conn:     conn,
		// paho bounds every publish's wait for its PUBACK by this (and
		// connect and subscribe, which ctx bounds too): no context
		// with a timer of its own per publish.
		PacketTimeout: s.cfg.PublishTimeout,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(paho.PublishReceived) (bool, error) {
			s.downstream.Add(1)
			return true, nil
		}},
		OnClientError: func(err error) { s.fail(fmt.Errorf("link: %w", err)) },
		OnServerDisconnect: func(d *paho.Disconnect) {
			s.fail(fmt.Errorf("the broker disconnected the site: reason 0x%02x", d.ReasonCode))
		},
	})
	_, will, err := syncproto.Encode(id, &syncproto.Death{Header: syncproto.Header{Site: id, Time: time.Now().UTC()}, Boot: s.boot, BdSeq: s.bdSeq})
	if err != nil {
		conn.Close()
		return fmt.Errorf("site %s: %w", id, err)
	}
	cp := &paho.Connect{ClientID: syncproto.ClientID(id), KeepAlive: keepAlive,
		// A load run needs no session at the broker once it ends (the
		// appliance keeps one for a week, to get commands sent while it
		// is offline).
		CleanStart: true,
		Username:   s.creds.username(), UsernameFlag: true, Password: []byte(s.creds.Password), PasswordFlag: s.creds.Password != "",
		WillMessage:    &paho.WillMessage{Topic: syncproto.Topic(id, syncproto.KindDeath), Payload: will, QoS: 1},
		WillProperties: &paho.WillProperties{}}
	if ack, err := s.client.Connect(ctx, cp); err != nil {
		conn.Close()
		s.client = nil // nothing to disconnect
		if ack != nil {
			return fmt.Errorf("site %s: connect refused: reason 0x%02x: %w", id, ack.ReasonCode, err)
		}
		return fmt.Errorf("site %s: connect: %w", id, err)
	}
	// Subscribed before the birth, as cloudsync does: the cloud answers a
	// birth on the site's downstream topics.
	filter := syncproto.ApplianceSubscription(id)
	ack, err := s.client.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
	if err == nil && (len(ack.Reasons) != 1 || ack.Reasons[0] >= 0x80) {
		err = fmt.Errorf("refused (%v)", ack.Reasons)
	}
	if err != nil {
		s.close()
		return fmt.Errorf("site %s: subscribe %s: %w", id, filter, err)
	}
	topic, birth, err := syncproto.Encode(id, &syncproto.Birth{Header: syncproto.Header{Site: id, Time: time.Now().UTC()},
		Boot: s.boot, BdSeq: s.bdSeq, Software: "fleetsim"})
	if err != nil {
		s.close()
		return fmt.Errorf("site %s: %w", id, err)
	}
	if _, err := s.client.Publish(ctx, &paho.Publish{Topic: topic, Payload: birth, QoS: 1}); err != nil {
		s.close()
		return fmt.Errorf("site %s: birth: %w", id, err)
	}
	return nil
}

// dial connects to the broker, over TLS when conf is set.
func dial(ctx context.Context, u *url.URL, conf *tls.Config) (net.Conn, error) {
	if conf == nil {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", u.Host)
	}
	conn, err := (&tls.Dialer{Config: conf}).DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	// A tls.Conn is not safe for concurrent writes, and paho writes from
	// several goroutines.
	return packets.NewThreadSafeConn(conn), nil
}

// fail records the link's first failure and stops the site's sending.
func (s *site) fail(err error) {
	if s.broken.Swap(true) {
		return
	}
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	// An overloaded watchtower fails many sites at once: Run sums
	// them up in one line.
	s.cfg.Logger.Debug("site link failed", "site", s.creds.ID, "err", err)
}

// close disconnects the way a clean appliance shutdown does (the broker
// publishes the will, so the cloud marks the site offline).
func (s *site) close() {
	if s.client == nil {
		return
	}
	s.broken.Store(true) // what follows is no failure
	_ = s.client.Disconnect(&paho.Disconnect{ReasonCode: disconnectWithWill})
	select {
	case <-s.client.Done():
	case <-time.After(5 * time.Second):
	}
}

// pump publishes the site's records until stop closes, ctx ends, the
// budget (nil: none) runs out or the link fails. Like cloudsync's drain,
// each charger has one record awaiting its PUBACK at most, so its
// records arrive in order, and the site at most Window.
func (s *site) pump(ctx context.Context, stop <-chan struct{}, budget *atomic.Int64, r *run) {
	idle := make(chan *charger, len(s.chargers))
	for _, c := range s.chargers {
		idle <- c
	}
	window := make(chan struct{}, s.cfg.Window)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		var c *charger
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case c = <-idle:
		}
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case window <- struct{}{}:
		}
		if s.broken.Load() || budget != nil && budget.Add(-1) < 0 {
			return
		}
		m := c.next()
		m.Head().Key = s.keys.next()
		topic, payload, err := syncproto.Encode(s.creds.ID, m)
		if err != nil {
			// The generator's records are valid by construction.
			s.fail(fmt.Errorf("encode %s: %w", m.Kind(), err))
			return
		}
		wg.Go(func() {
			defer func() {
				<-window
				idle <- c
			}()
			s.publish(ctx, r, m, topic, payload)
		})
	}
}

// publish sends one record and counts its outcome.
func (s *site) publish(ctx context.Context, r *run, m syncproto.Message, topic string, payload []byte) {
	start := time.Now()
	resp, err := s.client.Publish(ctx, &paho.Publish{Topic: topic, Payload: payload, QoS: 1})
	took := time.Since(start)
	var rows int
	if rd, ok := m.(*syncproto.Readings); ok {
		for _, smp := range rd.Samples {
			for _, v := range smp.Values {
				if v != "" {
					rows++
				}
			}
		}
	}
	var failure error
	s.mu.Lock()
	t := &s.tally
	switch {
	case err == nil:
		r.acked.Add(1)
		r.latency.Record(took)
		t.byKind[m.Kind()]++
		t.rows += int64(rows)
		switch m := m.(type) {
		case *syncproto.Transaction:
			t.txRev[m.ID] = max(t.txRev[m.ID], m.Rev)
		case *syncproto.ChargerStatus:
			t.chargers[m.Charger] = true
		}
	case resp != nil:
		r.refused.Add(1)
		t.refused[resp.ReasonCode]++
	default:
		t.failed++
		if ctx.Err() == nil {
			failure = fmt.Errorf("publish %s: no PUBACK: %w", m.Kind(), err)
		}
	}
	s.mu.Unlock()
	if failure != nil {
		s.fail(failure)
	}
}
