// Package app wires the appliance together: storage, the charging domain,
// the OCPP central system, the local API and the cloud sync, with their
// listeners, and runs them until the context ends, then shuts them down in
// order so that nothing acknowledged is lost.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/api"
	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/cloudsync"
	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/internal/clock"
	"github.com/constellation-ev/constellation/appliance/internal/sdnotify"
	"github.com/constellation-ev/constellation/appliance/locallist"
	"github.com/constellation-ev/constellation/appliance/ocpp/csms"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/security"
	"github.com/constellation-ev/constellation/appliance/store"
)

// The sync client gives connecting and booting chargers the site's settings.
var (
	_ csms.ConnectionObserver = (*cloudsync.Client)(nil)
	_ csms.BootObserver       = (*cloudsync.Client)(nil)
)

// DBFile is the database's file name inside the data directory.
const DBFile = "constellation.db"

// shutdownGrace bounds how long in-flight work may take at shutdown.
const shutdownGrace = 10 * time.Second

// Addrs are the addresses the appliance actually listens on (useful when a
// configured port is 0).
type Addrs struct {
	OCPP, OCPPTLS, API string
	// Setup is the setup page's, in setup mode; empty otherwise.
	Setup string
}

// Run runs the appliance until ctx is done. ready, if not nil, receives
// the listening addresses once chargers can connect.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, ready func(Addrs)) (err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	db, err := store.Open(filepath.Join(cfg.DataDir, DBFile), store.Options{Logger: log.With("area", "store")})
	if err != nil {
		return err
	}
	// The database closes last: every answer a charger got is already
	// committed, and Close commits whatever is still queued.
	defer func() {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
		}
	}()

	// The sync's outbox is written in the transaction of every domain
	// change, so it exists before the charging service.
	var (
		syncer   *cloudsync.Client
		onChange func(*bbolt.Tx, charging.Change) error
	)
	// The network manager exists before the sync, which changes it when
	// the cloud's desired configuration sets "network".
	netMgr, err := newNetworkManager(cfg, log)
	if err != nil {
		return err
	}
	// A Pi has no real-time clock: until NTP has set it, the times the
	// appliance records of its own are marked, and corrected once it has.
	clockSync := clock.NewSync(clock.SyncOptions{Logger: log.With("area", "clock")})
	if cfg.Sync.Enabled {
		opts := syncOptions(cfg, log)
		opts.ClockSync = clockSync
		if netMgr != nil {
			opts.Network, opts.LocalNetwork = netMgr, cfg.Network.Settings()
		}
		if syncer, err = cloudsync.New(ctx, db, opts); err != nil {
			return err
		}
		onChange = syncer.OnChange
	}
	svc, err := charging.NewService(ctx, db, charging.Config{
		ClockSync:         clockSync,
		Logger:            log.With("area", "charging"),
		Policy:            authPolicy(cfg),
		HeartbeatInterval: cfg.OCPP.HeartbeatInterval.Duration,
		OnChange:          onChange,
	})
	if err != nil {
		return err
	}

	auth, err := security.New(security.Config{
		Chargers: securityChargers(cfg),
		Unknown:  security.Policy(cfg.OCPP.UnknownChargers),
		Logger:   log.With("area", "security"),
	})
	if err != nil {
		return err
	}
	// The pusher hears of connections from the CSMS, and sends through it.
	var (
		pusher    *locallist.Pusher
		observers []csms.ConnectionObserver
		lists     api.LocalListStatus // a nil *locallist.Pusher is not a nil interface
	)
	if cfg.Auth.LocalList {
		pusher, err = locallist.New(locallist.Options{Source: svc, EntriesPerMessage: cfg.Auth.LocalListBatch,
			Logger: log.With("area", "locallist")})
		if err != nil {
			return err
		}
		observers, lists = append(observers, pusher), pusher
	}
	if syncer != nil {
		// The cloud's settings that live on the chargers (the meter
		// interval, the site's power limit) follow them as they come and go.
		observers = append(observers, syncer)
	}
	lenient := lenientChargers(cfg)
	central, err := csms.New(csms.Options{
		Domain:    svc,
		Observers: observers,
		RPC: rpc.ServerOptions{
			Config: rpc.Config{
				CallTimeout:  cfg.OCPP.CallTimeout.Duration,
				MaxFrameSize: cfg.OCPP.MaxFrameBytes,
			},
			Versions:      versions(cfg),
			Authenticator: auth.Listener(true),
			PingInterval:  cfg.OCPP.PingInterval.Duration,
		},
		Lenient: func(id string) bool { return cfg.OCPP.Lenient || lenient[id] },
		Logger:  log,
	})
	if err != nil {
		return err
	}

	var syncStatus api.SyncStatus // a nil *cloudsync.Client is not a nil interface
	if syncer != nil {
		syncStatus = syncer
	}
	var (
		netCtl *networkControl
		netAPI api.Network // a nil *networkControl is not a nil interface
	)
	if netMgr != nil {
		netCtl = &networkControl{networkManager: netMgr, leases: cfg.Network.Leases(), central: central}
		netAPI = netCtl
	}
	parts, err := newStationParts(cfg, svc, syncer, netCtl, clockSync, log)
	if err != nil {
		return err
	}
	var up atomic.Bool
	apiHandler, err := api.New(api.Options{
		Domain:    svc,
		Commander: central,
		Sync:      syncStatus,
		LocalList: lists,
		Station:   parts,
		Network:   netAPI,
		Ready:     func() bool { return up.Load() && central.Ready() },
		Logger:    log.With("area", "api"),
	})
	if err != nil {
		return err
	}

	var (
		addrs   Addrs
		servers []*http.Server
		errc    = make(chan error, 4)
	)
	serveOn := func(name string, ln net.Listener, h http.Handler, tlsConf *tls.Config) string {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConf,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		servers = append(servers, srv)
		go func() {
			var err error
			if tlsConf != nil {
				err = srv.ServeTLS(ln, "", "")
			} else {
				err = srv.Serve(ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s server: %w", name, err)
			}
		}()
		log.Info("listening", "listener", name, "addr", ln.Addr().String())
		return ln.Addr().String()
	}
	serve := func(name, addr string, h http.Handler, tlsConf *tls.Config) (string, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", fmt.Errorf("%s listener: %w", name, err)
		}
		return serveOn(name, ln, h, tlsConf), nil
	}
	closeAll := func() {
		for _, s := range servers {
			s.Close()
		}
	}
	if cfg.OCPP.Addr != "" {
		if addrs.OCPP, err = serve("ocpp", cfg.OCPP.Addr, central, nil); err != nil {
			closeAll()
			return err
		}
	}
	if cfg.OCPP.TLSAddr != "" {
		tlsConf, err := serverTLS(cfg.OCPP)
		if err == nil {
			addrs.OCPPTLS, err = serve("ocpp-tls", cfg.OCPP.TLSAddr, central, tlsConf)
		}
		if err != nil {
			closeAll()
			return err
		}
	}
	if addrs.API, err = serve("api", cfg.API.Addr, apiHandler, nil); err != nil {
		closeAll()
		return err
	}
	if cfg.Setup.Enabled {
		// Awaiting the site's settings: the setup page, on the access point.
		page, ln, err := setupPage(ctx, cfg, netMgr, log)
		if err != nil {
			closeAll()
			return err
		}
		addrs.Setup = serveOn("setup", ln, page, nil)
	}
	// The sync, the local list pusher and the station stop after the CSMS,
	// so that the sync runs while the last answers to chargers are
	// committed; what it has not sent stays queued.
	syncCtx, stopSync := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSync()
	var background sync.WaitGroup
	background.Go(func() { clockSync.Run(syncCtx) })
	background.Go(func() { svc.CorrectTimes(syncCtx) })
	if syncer != nil {
		// Charging goes on without the cloud: a sync that cannot run is
		// logged, not fatal.
		background.Go(func() {
			if err := syncer.Run(syncCtx, svc, central); err != nil {
				log.Error("sync stopped", "err", err)
			}
		})
	}
	parts.run(syncCtx, &background, central, log)
	if netCtl != nil {
		// The network is kept as configured until the appliance stops;
		// NetworkManager missing or restarting is reported, never fatal.
		background.Go(func() { logEnd(log, "network", netCtl.Run(syncCtx)) })
		if syncer != nil {
			background.Go(func() {
				netCtl.reportNetwork(syncCtx, syncer.Record, cfg.Network.ReportEvery.Duration, log.With("area", "network"))
			})
		}
	}
	if pusher != nil {
		background.Go(func() {
			if err := pusher.Run(syncCtx, central); err != nil {
				log.Error("local list pusher stopped", "err", err)
			}
		})
	}
	up.Store(true)
	log.Info("appliance ready", "dev", cfg.Dev, "data_dir", cfg.DataDir, "sync", cfg.Sync.Enabled)
	if ready != nil {
		ready(addrs)
	}
	// Under systemd (Type=notify): READY now, and watchdog pings only
	// while the CSMS serves, so a hung appliance is restarted.
	notifier := sdnotify.FromEnv()
	if err := notifier.Notify("READY=1"); err != nil {
		log.Warn("telling systemd the appliance is ready", "err", err)
	}
	background.Go(func() { notifier.Ping(syncCtx, func() bool { return up.Load() && central.Ready() }, log) })

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-errc:
		log.Error("server failed; shutting down", "err", err)
	}
	up.Store(false)
	if err := notifier.Notify("STOPPING=1"); err != nil {
		log.Warn("telling systemd the appliance stops", "err", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	// Stop taking new HTTP requests first, then let the CSMS finish the
	// calls in flight (their data is committed before they are answered)
	// and close every websocket with 1001 Going Away.
	for _, s := range servers {
		if serr := s.Shutdown(sctx); serr != nil {
			log.Warn("http shutdown", "err", serr)
		}
	}
	if serr := central.Shutdown(sctx); serr != nil {
		log.Warn("csms shutdown", "err", serr)
	}
	stopSync()
	background.Wait()
	return err
}

// cloudsync.Executor is what the sync needs of the CSMS.
var _ cloudsync.Executor = (*csms.CSMS)(nil)

func syncOptions(cfg config.Config, log *slog.Logger) cloudsync.Options {
	s := cfg.Sync
	return cloudsync.Options{
		Broker:          s.Broker,
		Site:            s.Site,
		Username:        s.Username,
		PasswordFile:    s.PasswordFile,
		EnrollURL:       s.EnrollURL,
		EnrollTokenFile: s.EnrollTokenFile,
		CAFile:          s.CAFile,
		ReadingsBatch:   s.ReadingsBatch.Duration,
		MaxEntries:      s.OutboxMaxEntries,
		MaxBytes:        s.OutboxMaxBytes,
		// What a desired configuration that stops setting these returns to.
		Local: map[string]string{
			cloudsync.SettingHeartbeatInterval: cfg.OCPP.HeartbeatInterval.String(),
			cloudsync.SettingUnknownTokens:     cfg.Auth.UnknownTokens,
		},
		Software: software(),
		Logger:   log.With("area", "sync"),
	}
}

// software names this build for the cloud: the module version and the
// commit it was built from, when the build recorded them.
func software() string {
	s := "constellation-appliance"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return s
	}
	s += " " + bi.Main.Version
	for _, kv := range bi.Settings {
		if kv.Key == "vcs.revision" && len(kv.Value) >= 12 {
			s += " " + kv.Value[:12]
		}
	}
	return s
}

func serverTLS(c config.OCPP) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("ocpp.tls_cert/tls_key: %w", err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.ClientCA != "" {
		pem, err := os.ReadFile(c.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("ocpp.client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ocpp.client_ca: no certificate in %s", c.ClientCA)
		}
		// Profile 2 chargers present no certificate; profile 3 ones must
		// present a valid one, which the authenticator then requires.
		conf.ClientCAs = pool
		conf.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return conf, nil
}

func authPolicy(cfg config.Config) charging.PolicyConfig {
	p := charging.PolicyConfig{
		Default: charging.AuthPolicy{Mode: charging.PolicyMode(cfg.Auth.UnknownTokens), Allow: cfg.Auth.Allowlist},
	}
	for _, c := range cfg.OCPP.Chargers {
		if c.AuthPolicy != "" {
			if p.PerCharger == nil {
				p.PerCharger = map[charging.ChargerID]charging.AuthPolicy{}
			}
			p.PerCharger[charging.ChargerID(c.ID)] = charging.AuthPolicy{Mode: charging.PolicyMode(c.AuthPolicy), Allow: cfg.Auth.Allowlist}
		}
	}
	return p
}

func securityChargers(cfg config.Config) []security.Charger {
	var out []security.Charger
	for _, c := range cfg.OCPP.Chargers {
		out = append(out, security.Charger{ID: c.ID, Profile: c.SecurityProfile, PasswordHash: c.PasswordHash})
	}
	return out
}

func lenientChargers(cfg config.Config) map[string]bool {
	m := map[string]bool{}
	for _, c := range cfg.OCPP.Chargers {
		if c.Lenient {
			m[c.ID] = true
		}
	}
	return m
}

func versions(cfg config.Config) []ocppj.Version {
	var vs []ocppj.Version
	for _, v := range cfg.OCPP.Versions {
		vs = append(vs, ocppj.Version(v))
	}
	return vs
}
