package cloudsync

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/network"
	"github.com/constellation-ev/constellation/syncproto"
)

// Defaults of Options (DefaultReadingsBatch is the configuration's).
const (
	DefaultReadingsBatch = 5 * time.Minute
	DefaultMaxEntries    = 500_000
	DefaultMaxBytes      = 128 << 20
	DefaultReconnectMin  = time.Second
	DefaultReconnectMax  = 5 * time.Minute
)

// Link parameters.
const (
	keepAlive = 30 // seconds: a dead link is noticed within 1.5 times this
	// sessionExpiry keeps the broker's session (and the commands queued in
	// it) through a week offline.
	sessionExpiry = 7 * 24 * time.Hour
	// retryDelay is the wait before a link session retries after an error
	// while the connection stays up (a refused publish, a full broker).
	retryDelay = 5 * time.Second
	// window is how many publishes may wait for their PUBACK at once (one
	// per charger at most, so each charger's records stay in order);
	// Mosquitto's default receive maximum is 20.
	window = 16
)

// Domain is what the sync client changes in the charging domain for the
// cloud: the authorization cache and the settings of desired
// configuration. *charging.Service implements it.
type Domain interface {
	Tokens(ctx context.Context) ([]charging.IDToken, error)
	PutToken(ctx context.Context, t charging.IDToken) error
	DeleteToken(ctx context.Context, id string) error
	SetHeartbeatInterval(d time.Duration) error
	SetUnknownTokenPolicy(mode charging.PolicyMode) error
	Chargers(ctx context.Context) ([]charging.Charger, error)
}

var _ Domain = (*charging.Service)(nil)

// Network is the appliance's control of its access point and uplinks,
// which the desired "network" setting changes; *network.Controller
// implements it.
type Network interface {
	Settings() network.Settings
	Apply(ctx context.Context, s network.Settings) (network.ChangeResult, error)
}

var _ Network = (*network.Controller)(nil)

// Executor sends a version-neutral command to a charger and returns its
// answer. *csms.CSMS implements it.
type Executor interface {
	Execute(ctx context.Context, charger charging.ChargerID, cmd charging.Command) (charging.CommandReply, error)
}

// Options configures a Client.
type Options struct {
	// Broker is the MQTT v5 broker's URL: tcp:// or mqtt:// (plain),
	// tls://, mqtts:// or ssl:// (TLS), host and port.
	Broker string
	// Site is this appliance's site id (syncproto.ValidateSiteID).
	Site string
	// Username defaults to Site; PasswordFile holds the password (one line).
	Username     string
	PasswordFile string
	// EnrollURL is the watchtower's HTTP(S) base URL and EnrollTokenFile
	// holds a single-use enrollment token: while PasswordFile does not
	// exist, Run first trades the token for credentials stored there
	// (docs/sync.md, Enrollment), and connects only then.
	EnrollURL       string
	EnrollTokenFile string
	// CAFile (PEM) verifies the broker's certificate, and the
	// watchtower's for an https EnrollURL; empty: the system's roots.
	CAFile string
	// ReadingsBatch holds live meter readings back for up to this long to
	// send them in one record; 0 sends them at once.
	ReadingsBatch time.Duration
	// MaxEntries and MaxBytes bound the outbox (defaults DefaultMaxEntries
	// and DefaultMaxBytes); see docs/sync.md for what is dropped when full.
	MaxEntries int
	MaxBytes   int64
	// Local holds the appliance's own values of the settings a desired
	// configuration may set (its configuration file's), restored when a
	// desired configuration stops setting them.
	Local map[string]string
	// Network, if set, takes the desired "network" setting; LocalNetwork
	// is its own (the configuration file's), restored when the desired
	// configuration stops setting it.
	Network      Network
	LocalNetwork network.Settings
	// Software is the appliance's version, announced in every Birth.
	Software string
	// ReconnectMin and ReconnectMax bound the random wait between
	// connection attempts (and enrollment attempts), which grows from
	// the first to the second (defaults DefaultReconnectMin,
	// DefaultReconnectMax).
	ReconnectMin, ReconnectMax time.Duration
	Clock                      charging.Clock // nil: the system clock
	// ClockSync, if set, stamps the records (and tells whether the clock
	// is synchronised) instead of Clock: records queued before the clock
	// is synchronised are marked, and corrected if still queued when it
	// is. nil: the clock is taken as synchronised.
	ClockSync ClockSync
	Logger    *slog.Logger // nil: discard
}

// Client keeps the appliance's outbox, syncs it to the cloud over MQTT
// and applies what the cloud sends down. Create it with New, give its
// OnChange to the charging service, then Run it.
type Client struct {
	st       Store
	outbox   *outbox
	clock    charging.Clock
	log      *slog.Logger
	site     string
	broker   *url.URL
	tls      *tls.Config
	username string
	password []byte
	// enroller is set when the credentials are still to be had: Run
	// enrolls before it connects.
	enroller *enroller
	batch    time.Duration
	local    map[string]string
	network  Network
	localNet network.Settings
	// desiredMu orders the stores of applied desired versions: a network
	// change finishes after the versions that follow it started.
	desiredMu sync.Mutex
	software  string
	boot      string // this run of the process
	backoff   autopaho.Backoff

	// Set by Run before the link starts; runCtx ends with the link.
	domain Domain
	exec   Executor
	runCtx context.Context

	// The settings applied to the chargers (sitesettings.go):
	// meterInterval is a time.Duration, 0 for none; siteCtx is Run's
	// while it runs, nil otherwise, and siteWork what it started.
	meterInterval atomic.Int64
	power         *powerShare
	siteMu        sync.Mutex
	siteCtx       context.Context
	siteWork      sync.WaitGroup

	link  chan bool     // link up (true) and down events from autopaho
	bdSeq atomic.Uint64 // of the current link session
	cmds  sync.WaitGroup

	mu          sync.Mutex
	connected   bool
	lastSync    time.Time
	lastErr     string
	lastErrAt   time.Time
	refused     uint64
	enrollment  string
	runStarted  bool
	runFinished bool
}

// New checks opts, opens the outbox in st and reads the password. It does
// not connect: Run does.
func New(ctx context.Context, st Store, opts Options) (*Client, error) {
	if err := syncproto.ValidateSiteID(opts.Site); err != nil {
		return nil, fmt.Errorf("cloudsync: %w", err)
	}
	u, err := syncproto.ParseBrokerURL(opts.Broker, opts.CAFile)
	if err != nil {
		return nil, fmt.Errorf("cloudsync: %w", err)
	}
	minWait, maxWait := cmp.Or(opts.ReconnectMin, DefaultReconnectMin), cmp.Or(opts.ReconnectMax, DefaultReconnectMax)
	if minWait < time.Millisecond || maxWait <= minWait {
		return nil, fmt.Errorf("cloudsync: reconnect waits %v to %v: want 1ms or more, the second above the first", minWait, maxWait)
	}
	if opts.ReadingsBatch < 0 || opts.MaxEntries < 0 || opts.MaxBytes < 0 {
		return nil, errors.New("cloudsync: negative readings batch or outbox limit")
	}
	var raw [8]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read does not fail
	c := &Client{
		st:       st,
		clock:    cmp.Or[charging.Clock](opts.Clock, charging.SystemClock{}),
		log:      opts.Logger,
		site:     opts.Site,
		broker:   u,
		username: cmp.Or(opts.Username, opts.Site),
		batch:    opts.ReadingsBatch,
		local:    opts.Local,
		network:  opts.Network,
		localNet: opts.LocalNetwork,
		software: opts.Software,
		boot:     hex.EncodeToString(raw[:]),
		// Random waits that grow: a fleet coming back after an outage does
		// not reconnect all at once.
		backoff: autopaho.NewExponentialBackoff(minWait, maxWait, min(2*minWait, maxWait), 2),
		link:    make(chan bool, 16),
		power:   newPowerShare(),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	roots, err := syncproto.CAPool(opts.CAFile)
	if err != nil {
		return nil, fmt.Errorf("cloudsync: %w", err)
	}
	c.tls = syncproto.BrokerTLS(u, roots)
	if err := CheckEnrollment(opts.EnrollURL, opts.EnrollTokenFile, opts.PasswordFile); err != nil {
		return nil, fmt.Errorf("cloudsync: %w", err)
	}
	if opts.PasswordFile != "" {
		pw, err := os.ReadFile(opts.PasswordFile)
		switch {
		case err == nil:
			c.password = bytes.TrimRight(pw, "\r\n")
		case errors.Is(err, fs.ErrNotExist) && opts.EnrollTokenFile != "":
			// Not enrolled yet: Run enrolls first. The token is read
			// now, so that a missing one stops the start like a missing
			// password does.
			if c.enroller, err = newEnroller(opts, roots); err != nil {
				return nil, fmt.Errorf("cloudsync: %w", err)
			}
		default:
			return nil, fmt.Errorf("cloudsync: password_file: %w", err)
		}
	}
	c.outbox, err = openOutbox(ctx, st, opts.Site, cmp.Or(opts.MaxEntries, DefaultMaxEntries),
		cmp.Or(opts.MaxBytes, DefaultMaxBytes), c.clock, opts.ClockSync, c.log)
	if err != nil {
		return nil, fmt.Errorf("cloudsync: %w", err)
	}
	if err := c.recoverCommands(ctx); err != nil {
		return nil, fmt.Errorf("cloudsync: %w", err)
	}
	return c, nil
}

// CheckBroker checks a broker URL and the CA file given for it as New
// does, for configuration checks; the error starts with the setting's
// name (broker, ca_file).
func CheckBroker(broker, caFile string) error {
	_, err := syncproto.ParseBrokerURL(broker, caFile)
	return err
}

// Run enrolls first if it must (Options.EnrollTokenFile), then connects
// to the broker and syncs until ctx ends: after every connect it
// subscribes to the site's downstream topics, publishes a Birth and
// drains the outbox; downstream messages are applied to d and
// commands executed by x. It returns once everything it started has
// stopped. Run may be called once.
func (c *Client) Run(ctx context.Context, d Domain, x Executor) error {
	c.mu.Lock()
	if c.runStarted {
		c.mu.Unlock()
		return errors.New("cloudsync: Run called twice")
	}
	c.runStarted = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.runFinished, c.connected = true, false
		c.mu.Unlock()
	}()
	c.domain, c.exec = d, x
	// Records queued before the clock was synchronised are corrected
	// whether or not the link is up.
	var correcting sync.WaitGroup
	defer correcting.Wait()
	correcting.Go(func() { c.outbox.correctTimes(ctx) })
	if err := c.restoreDesired(); err != nil {
		return fmt.Errorf("cloudsync: %w", err)
	}
	// The chargers get the site's settings whether or not the link is up.
	stopSiteSettings := c.runSiteSettings(ctx)
	defer stopSiteSettings()
	if c.enroller != nil {
		// No connection without credentials; the outbox fills meanwhile.
		if c.password = c.enroll(ctx, c.enroller); c.password == nil {
			<-ctx.Done()
			c.log.Info("sync stopped")
			return nil
		}
	}
	// The link outlives ctx by the little it takes to stop the link
	// session first, so that the broker gets a clean DISCONNECT; what
	// the link started (downstream messages being applied, commands) ends
	// with it.
	linkCtx, stopLink := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLink()
	c.runCtx = linkCtx
	cm, err := autopaho.NewConnection(linkCtx, c.pahoConfig())
	if err != nil {
		return fmt.Errorf("cloudsync: %w", err)
	}
	c.log.Info("sync started", "broker", redacted(c.broker), "site", c.site, "boot", c.boot)
	var stopSession func()
	for {
		select {
		case up := <-c.link:
			if stopSession != nil {
				stopSession()
				stopSession = nil
			}
			if up {
				stopSession = c.startSession(ctx, cm)
			} else {
				c.log.Info("sync link down")
			}
		case <-ctx.Done():
			if stopSession != nil {
				stopSession()
			}
			stopLink()
			<-cm.Done()
			c.cmds.Wait()
			c.log.Info("sync stopped")
			return nil
		}
	}
}

// pahoConfig is the link's configuration.
func (c *Client) pahoConfig() autopaho.ClientConfig {
	return autopaho.ClientConfig{
		ServerUrls: []*url.URL{c.broker},
		TlsCfg:     c.tls,
		KeepAlive:  keepAlive,
		// A persistent session: commands published while the appliance
		// is offline wait for it at the broker.
		CleanStartOnInitialConnection: false,
		SessionExpiryInterval:         uint32(sessionExpiry / time.Second),
		ReconnectBackoff:              c.backoff,
		ConnectUsername:               c.username,
		ConnectPassword:               c.password,
		ConnectPacketBuilder:          c.connectPacket,
		// A clean disconnect still tells the cloud the link is gone: the
		// broker publishes the will (reason 0x04, Disconnect with Will).
		DisconnectPacketBuilder: func() *paho.Disconnect { return &paho.Disconnect{ReasonCode: 0x04} },
		OnConnectionUp: func(*autopaho.ConnectionManager, *paho.Connack) {
			c.setConnected(true)
			c.link <- true
		},
		OnConnectionDown: func() bool {
			c.setConnected(false)
			c.link <- false
			return true
		},
		OnConnectError: func(err error) { c.fail("connect", err) },
		ClientConfig: paho.ClientConfig{
			ClientID:          syncproto.ClientID(c.site),
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){c.onPublish},
			OnClientError:     func(err error) { c.fail("link", err) },
		},
	}
}

// connectPacket gives every connection attempt a new bdSeq, stored, and
// the Death carrying it as the will.
func (c *Client) connectPacket(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
	seq, err := c.nextBdSeq(c.runCtx)
	if err != nil {
		return nil, fmt.Errorf("store bdSeq: %w", err)
	}
	topic, payload, err := syncproto.Encode(c.site, &syncproto.Death{
		Header: c.header(), Boot: c.boot, BdSeq: seq})
	if err != nil {
		return nil, err
	}
	cp.WillMessage = &paho.WillMessage{Topic: topic, Payload: payload, QoS: 1}
	cp.WillProperties = &paho.WillProperties{}
	c.bdSeq.Store(seq)
	return cp, nil
}

// header is the header of a message that is not queued (birth, death):
// the site and the time now, marked while the clock is unsynchronised.
func (c *Client) header() syncproto.Header {
	st := c.outbox.stamp()
	return syncproto.Header{Site: c.site, Time: st.Time, Unsynced: st.Unsynced}
}

// startSession runs a link session until the returned function stops it
// (and waits for it).
func (c *Client) startSession(ctx context.Context, cm *autopaho.ConnectionManager) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.session(ctx, cm)
	}()
	return func() {
		cancel()
		<-done
	}
}

// session is one connection's work: announce, subscribe, drain; on an
// error it tries again while the connection stays up.
func (c *Client) session(ctx context.Context, cm *autopaho.ConnectionManager) {
	start := c.clock.Now()
	announced := false
	for {
		err := c.serve(ctx, cm, start, &announced)
		if ctx.Err() != nil {
			return
		}
		c.fail("sync", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retryDelay):
		}
	}
}

func (c *Client) serve(ctx context.Context, cm *autopaho.ConnectionManager, start time.Time, announced *bool) error {
	if !*announced {
		if err := c.announce(ctx, cm); err != nil {
			return err
		}
		*announced = true
		if err := c.forgetCommands(ctx); err != nil {
			c.log.Warn("forgetting old command ids", "err", err)
		}
	}
	d := &drain{c: c, pub: cm, start: start}
	return d.run(ctx)
}

// announce subscribes to the site's downstream topics (which brings the
// retained desired configuration again) and publishes the Birth.
func (c *Client) announce(ctx context.Context, cm *autopaho.ConnectionManager) error {
	desired, auth, err := c.versions()
	if err != nil {
		return err
	}
	counts, err := c.outbox.counters()
	if err != nil {
		return err
	}
	seq := c.bdSeq.Load()
	topic, payload, err := syncproto.Encode(c.site, &syncproto.Birth{
		Header: c.header(), Boot: c.boot, BdSeq: seq, Software: c.software,
		DesiredVersion: desired, AuthListVersion: auth, Backlog: int(counts.Count)})
	if err != nil {
		return err
	}
	// Subscribe before the birth: the cloud answers a birth with what
	// the appliance lacks (commands, an authorization list), which a
	// new session without the subscription would never get.
	filter := syncproto.ApplianceSubscription(c.site)
	ack, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", filter, err)
	}
	if len(ack.Reasons) != 1 || ack.Reasons[0] >= 0x80 {
		return fmt.Errorf("subscribe %s: refused (%v)", filter, ack.Reasons)
	}
	if _, err := cm.Publish(ctx, &paho.Publish{Topic: topic, Payload: payload, QoS: 1}); err != nil {
		return fmt.Errorf("publish birth: %w", err)
	}
	c.synced()
	c.log.Info("sync link up", "bdSeq", seq, "backlog", counts.Count, "desired_version", desired, "auth_list_version", auth)
	return nil
}

// Status is the sync client's state for the local API, the LCD and metrics.
type Status struct {
	// Enabled is false when the appliance does not sync (no [sync] section).
	Enabled   bool `json:"enabled"`
	Connected bool `json:"connected"`
	// Broker (without credentials) and Site are what the appliance syncs to.
	Broker string `json:"broker,omitempty"`
	Site   string `json:"site,omitempty"`
	// LastSync is when the broker last acknowledged a record (or a Birth).
	LastSync time.Time `json:"lastSync,omitzero"`
	// Backlog and BacklogBytes are the records waiting in the outbox.
	Backlog      uint64 `json:"backlog"`
	BacklogBytes uint64 `json:"backlogBytes"`
	// Dropped counts records never sent: readings and other records
	// dropped when the outbox was full, and invalid ones (that could not
	// be encoded, or that the broker refused for good).
	Dropped Dropped `json:"dropped"`
	// Refused counts downstream messages refused as malformed, of
	// another site or of another version (since the start).
	Refused uint64 `json:"refused"`
	// DesiredVersion and AuthListVersion are the versions applied.
	DesiredVersion  int64 `json:"desiredVersion"`
	AuthListVersion int64 `json:"authListVersion"`
	// Enrollment is EnrollmentEnrolling while the appliance trades its
	// enrollment token for credentials, then EnrollmentEnrolled, or
	// EnrollmentRefused and why; empty when it started with credentials.
	Enrollment string `json:"enrollment,omitempty"`
	// LastError is the last failure of the link (or of the enrollment),
	// and when it happened.
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
	// ClockUnsynced: the appliance's clock has not been synchronised yet,
	// so records queued now are marked (see docs/sync.md).
	ClockUnsynced bool `json:"clockUnsynced,omitempty"`
}

// Dropped counts records the outbox did not send.
type Dropped struct {
	Readings uint64 `json:"readings"`
	Other    uint64 `json:"other"`
	Invalid  uint64 `json:"invalid"`
}

// Status returns the client's current state.
func (c *Client) Status() (Status, error) {
	counts, err := c.outbox.counters()
	if err != nil {
		return Status{}, fmt.Errorf("cloudsync: status: %w", err)
	}
	desired, auth, err := c.versions()
	if err != nil {
		return Status{}, fmt.Errorf("cloudsync: status: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return Status{Enabled: true, Connected: c.connected, Broker: redacted(c.broker), Site: c.site,
		LastSync: c.lastSync, Backlog: counts.Count, BacklogBytes: counts.Bytes,
		Dropped:        Dropped{Readings: counts.DroppedReadings, Other: counts.DroppedOther, Invalid: counts.Invalid},
		Refused:        c.refused,
		Enrollment:     c.enrollment,
		DesiredVersion: desired, AuthListVersion: auth, LastError: c.lastErr, LastErrorAt: c.lastErrAt,
		ClockUnsynced: c.outbox.stamp().Unsynced}, nil
}

func redacted(u *url.URL) string {
	v := *u
	v.User = nil
	return v.String()
}

func (c *Client) setConnected(up bool) {
	c.mu.Lock()
	c.connected = up && !c.runFinished
	c.mu.Unlock()
}

// synced notes that the broker acknowledged something.
func (c *Client) synced() {
	now := c.clock.Now()
	c.mu.Lock()
	c.lastSync = now
	c.mu.Unlock()
}

func (c *Client) setEnrollment(state string) {
	c.mu.Lock()
	c.enrollment = state
	c.mu.Unlock()
}

// fail logs and remembers an error of the link. Errors never carry the
// password: it is only ever written into the CONNECT packet.
func (c *Client) fail(what string, err error) {
	if err == nil {
		return
	}
	// Offline for a week, the same connect error comes back at every
	// attempt: it is worth one warning.
	level := slog.LevelWarn
	if c.note(what, err) {
		level = slog.LevelDebug
	}
	c.log.Log(context.Background(), level, "sync "+what+" failed", "err", err)
}

// note remembers err as the last error, for the status, and reports
// whether it repeats the one before.
func (c *Client) note(what string, err error) (repeated bool) {
	msg := what + ": " + strings.TrimSpace(err.Error())
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	repeated = msg == c.lastErr
	c.lastErr, c.lastErrAt = msg, now
	return repeated
}
