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

	"github.com/constellation-ev/constellation/cloud/api"
	"github.com/constellation-ev/constellation/cloud/broker"
	"github.com/constellation-ev/constellation/cloud/downlink"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/ingest"
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
	MQTT    struct {
		// Listen is the embedded broker's address; with TLSCert and
		// TLSKey (PEM files) it speaks MQTT over TLS.
		Listen  string `toml:"listen"`
		TLSCert string `toml:"tls_cert"`
		TLSKey  string `toml:"tls_key"`
	} `toml:"mqtt"`
	HTTP struct {
		Listen string `toml:"listen"`
	} `toml:"http"`
	Store struct {
		// Driver is "sqlite" (default; DSN defaults to
		// {data_dir}/watchtower.db) or "postgres" (DSN a postgres:// URL).
		Driver string `toml:"driver"`
		DSN    string `toml:"dsn"`
	} `toml:"store"`
	// OperatorTokenFile holds the operator's API bearer token; when the
	// file does not exist, a random token is written to it (mode 0600).
	// Default {data_dir}/operator-token.
	OperatorTokenFile string `toml:"operator_token_file"`
}

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
	return cfg
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
	broker   *broker.Broker
	mqttLn   net.Listener
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
	ctx, cancel := context.WithCancel(ctx)
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
	if w.mqttLn, err = listen(cfg.MQTT.Listen, cfg.MQTT.TLSCert, cfg.MQTT.TLSKey); err != nil {
		return nil, fmt.Errorf("watchtower: mqtt: %w", err)
	}
	// The broker and the sender refer to each other through the
	// Publisher: the sender is built first, over a late-bound broker.
	pub := &latePublisher{}
	down := downlink.New(pub, w.Store, clock, log.With("area", "downlink"))
	in := ingest.New(w.Store, down, log.With("area", "ingest"))
	if w.broker, err = broker.New(ctx, w.mqttLn, w.Store, in, log.With("area", "broker")); err != nil {
		return nil, err
	}
	pub.b = w.broker
	if err := w.broker.Serve(); err != nil {
		return nil, err
	}
	if w.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
		return nil, fmt.Errorf("watchtower: http: %w", err)
	}
	w.http = &http.Server{
		Handler: api.New(api.Options{Store: w.Store, Downlink: down, Broker: w.broker, OperatorTokenHash: opHash,
			Clock: clock, Logger: log.With("area", "api")}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
	}
	w.wg.Go(func() {
		if err := w.http.Serve(w.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	})
	w.wg.Go(func() { w.expire(ctx) })
	log.Info("watchtower started", "mqtt", w.mqttLn.Addr().String(), "http", w.httpLn.Addr().String(), "store", w.Store.Driver())
	return w, nil
}

// MQTTAddr and HTTPAddr are the addresses the watchtower listens on.
func (w *Watchtower) MQTTAddr() string { return w.mqttLn.Addr().String() }
func (w *Watchtower) HTTPAddr() string { return w.httpLn.Addr().String() }

// Close stops everything Start started.
func (w *Watchtower) Close() {
	w.stopOnce.Do(func() {
		w.cancel()
		if w.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = w.http.Shutdown(ctx)
			cancel()
		}
		if w.broker != nil {
			_ = w.broker.Close()
		} else if w.mqttLn != nil {
			w.mqttLn.Close()
		}
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
type latePublisher struct{ b *broker.Broker }

func (p *latePublisher) Publish(ctx context.Context, topic string, payload []byte, retain bool) error {
	if p.b == nil {
		return errors.New("watchtower: broker not started")
	}
	return p.b.Publish(ctx, topic, payload, retain)
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
