// Package watchtower wires the cloud service together: the fleet store,
// the embedded MQTT broker with ingest attached, the downlink and the
// JSON API, from a Config. The binary's main only reads flags and the
// configuration file and calls Run; tests call Start.
package watchtower

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/constellation-ev/constellation/cloud/api"
	"github.com/constellation-ev/constellation/cloud/broker"
	"github.com/constellation-ev/constellation/cloud/downlink"
	"github.com/constellation-ev/constellation/cloud/extbroker"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/ingest"
	"github.com/constellation-ev/constellation/cloud/ratelimit"
	"github.com/constellation-ev/constellation/cloud/web"
	"github.com/constellation-ev/constellation/syncproto"
)

// Defaults of Config.
const (
	DefaultDataDir    = "/var/lib/constellation-watchtower"
	DefaultMQTTListen = ":1883"
	DefaultHTTPListen = ":8090"
	// expireEvery is how often commands past their deadline are marked
	// expired (reading a command expires it too).
	expireEvery = 10 * time.Second
)

// Config is the watchtower's configuration (TOML, see docs/watchtower.md).
type Config struct {
	// DataDir holds the SQLite file and the operator token file.
	DataDir string `toml:"data_dir"`
	MQTT    MQTT   `toml:"mqtt"`
	HTTP    HTTP   `toml:"http"`
	Store   struct {
		// Driver is "sqlite" (default; DSN defaults to
		// {data_dir}/watchtower.db) or "postgres" (DSN a postgres:// URL).
		Driver string `toml:"driver"`
		DSN    string `toml:"dsn"`
	} `toml:"store"`
	Limits Limits `toml:"limits"`
	// OperatorTokenFile holds the legacy operator token, a bearer token
	// with the admin role and no user (users' API tokens replace it);
	// when the file does not exist, a random token is written to it
	// (mode 0600).
	// Default {data_dir}/operator-token.
	OperatorTokenFile string `toml:"operator_token_file"`
}

// HTTP configures the API and the dashboard, served on one address.
type HTTP struct {
	Listen string `toml:"listen"`
	// InsecureCookies leaves the Secure attribute off the dashboard's
	// session cookie: only for a dashboard served over plain HTTP to
	// another host than localhost (put TLS in front of it instead).
	InsecureCookies bool `toml:"insecure_cookies"`
	// LiveEvery is how often a live dashboard page looks for changes, a
	// Go duration (default 2s).
	LiveEvery string `toml:"live_every"`
}

// MQTT configures the broker: the embedded one (Listen, TLSCert, TLSKey)
// unless Broker names an external one.
type MQTT struct {
	// Listen is the embedded broker's address; with TLSCert and TLSKey
	// (PEM files) it speaks MQTT over TLS.
	Listen  string `toml:"listen"`
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// Broker is an external MQTT v5 broker's URL (tcp:// or tls://);
	// the watchtower then embeds none and consumes the sites' messages
	// through a shared subscription.
	Broker string `toml:"broker"`
	// Username and PasswordFile are the watchtower's credentials there;
	// CAFile verifies its certificate.
	Username     string `toml:"username"`
	PasswordFile string `toml:"password_file"`
	CAFile       string `toml:"ca_file"`
	// ClientID must be stable per replica and differ between replicas;
	// default "watchtower-{hostname}".
	ClientID string `toml:"client_id"`
	// ShareGroup is the shared subscription's group (default
	// "watchtower"); Workers the messages a replica stores at once.
	ShareGroup string `toml:"share_group"`
	Workers    int    `toml:"workers"`
	// Provision is how enrollment and revocation reach the broker:
	// "dynsec" (Mosquitto's dynamic security plugin, the default) or
	// "none" (the operator keeps the broker's users and ACLs).
	Provision string `toml:"provision"`
}

// Limits keep one site or one address from crowding out the others.
// Zero takes the default; a negative value turns a limit off.
type Limits struct {
	// SiteMessagesPerSecond and SiteBurst bound what one site publishes
	// to the embedded broker (an external broker has its own limits):
	// past them its messages are refused with "message rate too high",
	// and the appliance sends them again later.
	SiteMessagesPerSecond float64 `toml:"site_messages_per_second"`
	SiteBurst             int     `toml:"site_burst"`
	// AuthPerMinute bounds, per remote address, enrollment attempts and
	// refused operator requests (answered 429 past it).
	AuthPerMinute float64 `toml:"auth_per_minute"`
}

// Default limits: a site catching up on a week offline sends tens of
// thousands of records at once, far below this; a guesser gets ten tries
// a minute.
const (
	DefaultSiteMessagesPerSecond = 2000
	DefaultSiteBurst             = 50_000
	DefaultAuthPerMinute         = 10
)

// limiter is the Limiter of rate (per second) and burst, nil when off.
func limiter(rate float64, burst int, clock fleet.Clock) *ratelimit.Limiter {
	if rate < 0 {
		return nil
	}
	return ratelimit.New(rate, burst, clock)
}

// Provision values.
const (
	ProvisionDynsec = "dynsec"
	ProvisionNone   = "none"
)

// withDefaults fills what cfg leaves empty.
func (cfg Config) withDefaults() Config {
	cfg.DataDir = cmp.Or(cfg.DataDir, DefaultDataDir)
	cfg.MQTT.Listen = cmp.Or(cfg.MQTT.Listen, DefaultMQTTListen)
	cfg.HTTP.Listen = cmp.Or(cfg.HTTP.Listen, DefaultHTTPListen)
	cfg.Store.Driver = cmp.Or(cfg.Store.Driver, fleet.SQLite)
	if cfg.Store.Driver == fleet.SQLite {
		cfg.Store.DSN = cmp.Or(cfg.Store.DSN, filepath.Join(cfg.DataDir, "watchtower.db"))
	}
	cfg.OperatorTokenFile = cmp.Or(cfg.OperatorTokenFile, filepath.Join(cfg.DataDir, "operator-token"))
	cfg.Limits.SiteMessagesPerSecond = cmp.Or(cfg.Limits.SiteMessagesPerSecond, DefaultSiteMessagesPerSecond)
	cfg.Limits.SiteBurst = cmp.Or(cfg.Limits.SiteBurst, DefaultSiteBurst)
	cfg.Limits.AuthPerMinute = cmp.Or(cfg.Limits.AuthPerMinute, DefaultAuthPerMinute)
	if cfg.MQTT.Broker != "" {
		host, _ := os.Hostname()
		cfg.MQTT.ClientID = cmp.Or(cfg.MQTT.ClientID, "watchtower-"+host)
		cfg.MQTT.Provision = cmp.Or(cfg.MQTT.Provision, ProvisionDynsec)
	}
	return cfg
}

// LoadConfig reads a TOML configuration file; an unknown key is an
// error that names it.
func LoadConfig(file string) (Config, error) {
	var cfg Config
	md, err := toml.DecodeFile(file, &cfg)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		return Config{}, fmt.Errorf("config %s: unknown key %s", file, undec[0])
	}
	return cfg, nil
}

// OpenStore opens the configured store (for the CLI's site commands too).
func OpenStore(ctx context.Context, cfg Config, clock fleet.Clock, log *slog.Logger) (*fleet.Store, error) {
	cfg = cfg.withDefaults()
	if cfg.Store.Driver == fleet.SQLite {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("watchtower: data dir: %w", err)
		}
	}
	return fleet.Open(ctx, fleet.Options{Driver: cfg.Store.Driver, DSN: cfg.Store.DSN, Clock: clock, Logger: log.With("area", "fleet")})
}

// Watchtower is a running watchtower.
type Watchtower struct {
	Store    *fleet.Store
	broker   *broker.Broker  // embedded, or
	link     *extbroker.Link // an external broker
	mqttLn   net.Listener
	mqttAddr string
	http     *http.Server
	httpLn   net.Listener
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	log      *slog.Logger
	stopOnce sync.Once
}

// Start opens the store, starts the broker and the API, and returns.
// clock nil is the system clock.
func Start(ctx context.Context, cfg Config, clock fleet.Clock, log *slog.Logger) (_ *Watchtower, err error) {
	cfg = cfg.withDefaults()
	if clock == nil {
		clock = fleet.SystemClock{}
	}
	// The watchtower's own work stops at Close, in order (the listeners
	// first, then what they store with), not when the caller's ctx ends:
	// an appliance's will arriving as the broker closes is still stored.
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w := &Watchtower{cancel: cancel, log: log}
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	opHash, err := operatorToken(cfg.OperatorTokenFile, log)
	if err != nil {
		return nil, err
	}
	if w.Store, err = OpenStore(ctx, cfg, clock, log); err != nil {
		return nil, err
	}
	// The broker and the sender refer to each other through the
	// Publisher: the sender is built first, over a late-bound broker.
	pub := &latePublisher{}
	down := downlink.New(pub, w.Store, clock, log.With("area", "downlink"))
	in := ingest.New(w.Store, down, log.With("area", "ingest"))
	var access api.Access
	if cfg.MQTT.Broker != "" {
		if w.link, access, err = connectExternal(ctx, cfg.MQTT, in, log.With("area", "extbroker")); err != nil {
			return nil, err
		}
		pub.p, w.mqttAddr = w.link, w.link.Addr()
	} else {
		if w.mqttLn, err = listen(cfg.MQTT.Listen, cfg.MQTT.TLSCert, cfg.MQTT.TLSKey); err != nil {
			return nil, fmt.Errorf("watchtower: mqtt: %w", err)
		}
		if w.broker, err = broker.New(ctx, w.mqttLn, w.Store, in,
			limiter(cfg.Limits.SiteMessagesPerSecond, cfg.Limits.SiteBurst, clock), log.With("area", "broker")); err != nil {
			return nil, err
		}
		pub.p, access, w.mqttAddr = w.broker, w.broker, w.mqttLn.Addr().String()
		if err := w.broker.Serve(); err != nil {
			return nil, err
		}
	}
	if w.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
		return nil, fmt.Errorf("watchtower: http: %w", err)
	}
	apiHandler := api.New(api.Options{Store: w.Store, Downlink: down, Access: access, OperatorTokenHash: opHash,
		AuthLimit: limiter(cfg.Limits.AuthPerMinute/60, int(max(cfg.Limits.AuthPerMinute, 1)), clock),
		Clock:     clock, Logger: log.With("area", "api")})
	var liveEvery time.Duration
	if cfg.HTTP.LiveEvery != "" {
		if liveEvery, err = time.ParseDuration(cfg.HTTP.LiveEvery); err != nil || liveEvery <= 0 {
			return nil, fmt.Errorf("watchtower: http.live_every %q: want a positive Go duration", cfg.HTTP.LiveEvery)
		}
	}
	dash, err := web.New(web.Options{API: apiHandler, Sessions: w.Store, InsecureCookies: cfg.HTTP.InsecureCookies,
		LiveEvery: liveEvery, Logger: log.With("area", "web")})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", apiHandler)
	mux.Handle("/", dash)
	w.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
	}
	w.http.RegisterOnShutdown(dash.Shutdown)
	w.wg.Go(func() {
		if err := w.http.Serve(w.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	})
	w.wg.Go(func() { w.expire(ctx) })
	log.Info("watchtower started", "mqtt", w.mqttAddr, "external_broker", w.link != nil, "http", w.httpLn.Addr().String(), "store", w.Store.Driver())
	return w, nil
}

// MQTTAddr is the address of the broker appliances connect to, HTTPAddr
// the API's.
func (w *Watchtower) MQTTAddr() string { return w.mqttAddr }
func (w *Watchtower) HTTPAddr() string { return w.httpLn.Addr().String() }

// WaitBroker waits until the broker takes the sites' messages: at once
// for the embedded one, after subscribing for an external one.
func (w *Watchtower) WaitBroker(ctx context.Context) error {
	if w.link == nil {
		return nil
	}
	return w.link.WaitSubscribed(ctx)
}

// Handled is the number of upstream messages this replica took from an
// external broker (0 with the embedded one).
func (w *Watchtower) Handled() int64 {
	if w.link == nil {
		return 0
	}
	return w.link.Handled()
}

// Close stops everything Start started.
func (w *Watchtower) Close() {
	w.stopOnce.Do(func() {
		if w.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = w.http.Shutdown(ctx)
			cancel()
		}
		switch {
		case w.link != nil:
			w.link.Close()
		case w.broker != nil:
			_ = w.broker.Close()
		case w.mqttLn != nil:
			w.mqttLn.Close()
		}
		w.cancel()
		w.wg.Wait()
		if w.Store != nil {
			_ = w.Store.Close()
		}
		w.log.Info("watchtower stopped")
	})
}

// Run runs the watchtower until ctx ends.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	w, err := Start(ctx, cfg, nil, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	w.Close()
	return nil
}

func (w *Watchtower) expire(ctx context.Context) {
	t := time.NewTicker(expireEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := w.Store.ExpireCommands(ctx); err != nil {
				w.log.Error("expiring commands", "err", err)
			} else if n > 0 {
				w.log.Info("commands expired", "count", n)
			}
		}
	}
}

// latePublisher forwards to the broker once it exists.
type latePublisher struct{ p downlink.Publisher }

func (p *latePublisher) Publish(ctx context.Context, topic string, payload []byte, retain bool) error {
	if p.p == nil {
		return errors.New("watchtower: broker not started")
	}
	return p.p.Publish(ctx, topic, payload, retain)
}

// connectExternal starts the link to an external broker and returns it
// with what gives and takes the sites' access there.
func connectExternal(ctx context.Context, c MQTT, h extbroker.Handler, log *slog.Logger) (*extbroker.Link, api.Access, error) {
	u, err := syncproto.ParseBrokerURL(c.Broker, c.CAFile)
	if err != nil {
		return nil, nil, fmt.Errorf("watchtower: mqtt.%w", err)
	}
	roots, err := syncproto.CAPool(c.CAFile)
	if err != nil {
		return nil, nil, fmt.Errorf("watchtower: mqtt.%w", err)
	}
	tlsCfg := syncproto.BrokerTLS(u, roots)
	if c.Provision != ProvisionDynsec && c.Provision != ProvisionNone {
		return nil, nil, fmt.Errorf("watchtower: mqtt.provision: %q: want %q or %q", c.Provision, ProvisionDynsec, ProvisionNone)
	}
	var password string
	if c.PasswordFile != "" {
		data, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, nil, fmt.Errorf("watchtower: mqtt.password_file: %w", err)
		}
		password = strings.TrimSpace(string(data))
	}
	dynsec := c.Provision == ProvisionDynsec
	if dynsec && (c.Username == "" || password == "") {
		return nil, nil, errors.New("watchtower: mqtt: provision \"dynsec\" needs username and password_file (the dynamic security plugin's administrator)")
	}
	link, err := extbroker.Connect(ctx, extbroker.Options{Broker: u, TLS: tlsCfg, Username: c.Username, Password: password,
		ClientID: c.ClientID, Group: c.ShareGroup, Workers: c.Workers, Handler: h, Refused: ingest.ErrRefused, Dynsec: dynsec, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	if dynsec {
		return link, link.Dynsec(), nil
	}
	return link, unmanagedAccess{log: log}, nil
}

// unmanagedAccess is provision "none": the operator keeps the broker's
// users and ACLs.
type unmanagedAccess struct{ log *slog.Logger }

func (a unmanagedAccess) Grant(_ context.Context, site, _ string) error {
	a.log.Info("site enrolled: add its user and ACL to the broker (mqtt.provision is none)", "site", site)
	return nil
}

func (a unmanagedAccess) Revoke(_ context.Context, site string) error {
	a.log.Warn("site revoked: remove its user from the broker (mqtt.provision is none)", "site", site)
	return nil
}

// listen opens the MQTT listener, with TLS when cert and key are set.
func listen(addr, cert, key string) (net.Listener, error) {
	if (cert == "") != (key == "") {
		return nil, errors.New("tls_cert and tls_key go together")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil || cert == "" {
		return ln, err
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("tls: %w", err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}), nil
}

// operatorToken returns the hash of the operator token in file, writing
// a new random token there first if the file does not exist.
func operatorToken(file string, log *slog.Logger) (string, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
			return "", fmt.Errorf("watchtower: operator token: %w", err)
		}
		token := fleet.NewSecret()
		if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("watchtower: operator token: %w", err)
		}
		log.Info("operator token created", "file", file)
		return fleet.HashSecret(token), nil
	}
	if err != nil {
		return "", fmt.Errorf("watchtower: operator token: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if len(token) < 16 {
		return "", fmt.Errorf("watchtower: operator token in %s: want at least 16 characters", file)
	}
	return fleet.HashSecret(token), nil
}
