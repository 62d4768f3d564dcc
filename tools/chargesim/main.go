// Command chargesim simulates OCPP 1.6J, 2.0.1 and 2.1 charging stations
// against a CSMS: a fleet of stations living scripted charging sessions,
// or (with --load) a load generator for benchmarks. See README.md.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/constellation-ev/constellation/tools/chargesim/sim"
)

const usage = `chargesim simulates OCPP 1.6J, 2.0.1 and 2.1 charging stations.

Fleet mode (default): each station connects to URL/<id> speaking --ocpp,
boots, reports its connectors and runs sessions (1.6: Authorize,
StartTransaction, MeterValues, StopTransaction; 2.x: Authorize,
TransactionEvent Started, Updated, Ended), answering every CSMS command.
Transaction messages are queued while offline and re-sent after
reconnecting.

Load mode (--load): each connection boots, then sends --action saturated
(--rate 0) or paced (--rate calls/s in total) for --duration and prints the
call rate and latency percentiles. On 2.x, MeterValues are sent as
TransactionEvent Updated.

Security profiles: --password (1: ws://, 2: wss:// with --ca),
--cert/--key (3: wss:// client certificate, with --ca).

Flags:
`

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "chargesim:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chargesim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var (
		url           = fs.String("url", "ws://127.0.0.1:9000/ocpp", "CSMS base websocket URL; the station id is appended as the last path segment")
		ocppVersion   = fs.String("ocpp", "1.6", "OCPP version spoken and offered as the websocket subprotocol: 1.6, 2.0.1 or 2.1")
		lateToken     = fs.Bool("late-token", false, "2.x: start transactions on plug-in and send the idToken in a later TransactionEvent Updated")
		stopByUnplug  = fs.Bool("stop-by-unplug", false, "end sessions by unplugging the EV (EVDisconnected) instead of stopping at the charger (Local)")
		awaitRemote   = fs.Bool("await-remote-start", false, "plug the EV in and wait (Preparing) for a remote start from the CSMS instead of presenting a tag at the charger")
		notifyEvents  = fs.Bool("notify-events", false, "2.x: send a NotifyEvent (connector AvailabilityState) with every StatusNotification")
		eventStream   = fs.Duration("event-stream", 0, "2.1: open a periodic event stream and send NotifyPeriodicEventStream at this interval (0: none)")
		stations      = fs.Int("stations", 1, "number of simulated stations (connections in load mode)")
		connectors    = fs.Int("connectors", 1, "connectors per station")
		idPrefix      = fs.String("id-prefix", "sim-", "station ids are <prefix>0001, <prefix>0002, ...")
		tags          = fs.String("tags", "", "comma-separated idTags presented round robin (default: each connector its own, <station>-<connector>)")
		meterInterval = fs.Duration("meter-interval", time.Minute, "MeterValues sample interval during a session")
		session       = fs.Duration("session", 30*time.Minute, "length of a charging session")
		sessions      = fs.Int("sessions", 0, "sessions per connector, then exit (0: forever)")
		pause         = fs.Duration("pause", time.Minute, "pause between sessions of a connector (negative: none)")
		heartbeat     = fs.Duration("heartbeat", 0, "override the heartbeat interval the CSMS gives (0: use the CSMS's)")
		ramp          = fs.Duration("ramp", 10*time.Millisecond, "wait between station starts")
		progress      = fs.Duration("progress", 10*time.Second, "interval of progress lines (0: none)")
		password      = fs.String("password", "", "Basic auth password (profiles 1/2); {id} is replaced by the station id")
		passwordFile  = fs.String("password-file", "", "file of '<id> <password>' lines; overrides --password for listed stations")
		caFile        = fs.String("ca", "", "PEM file of the CA that signed the CSMS's certificate (wss://)")
		certFile      = fs.String("cert", "", "PEM client certificate (security profile 3)")
		keyFile       = fs.String("key", "", "PEM client key (security profile 3)")
		load          = fs.Bool("load", false, "load mode: measure call rate and latency instead of simulating sessions")
		action        = fs.String("action", "Heartbeat", "load mode: action to send (Heartbeat or MeterValues; 2.x sends MeterValues as TransactionEvent Updated)")
		rate          = fs.Float64("rate", 0, "load mode: total calls per second over all connections (0: saturated)")
		duration      = fs.Duration("duration", 10*time.Second, "load mode: length of the measurement")
		callTimeout   = fs.Duration("call-timeout", 30*time.Second, "wait for each answer")
		verbose       = fs.Bool("v", false, "log debug output to stderr")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	version, err := sim.ParseVersion(*ocppVersion)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	tlsConfig, err := loadTLS(*caFile, *certFile, *keyFile)
	if err != nil {
		return err
	}
	pw, err := passwords(*password, *passwordFile)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *load {
		prefix := *idPrefix
		if prefix == "sim-" {
			prefix = "load-"
		}
		res, err := sim.Load(ctx, sim.LoadConfig{
			URL: *url, Version: version, Stations: *stations, IDPrefix: prefix, Action: *action, Rate: *rate,
			Duration: *duration, Ramp: *ramp, Password: pw, TLSConfig: tlsConfig,
			CallTimeout: *callTimeout, Logger: logger,
		})
		fmt.Fprintln(stdout, res)
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}

	var tagList []string
	for t := range strings.SplitSeq(*tags, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tagList = append(tagList, t)
		}
	}
	_, err = sim.Run(ctx, sim.Config{
		URL: *url, Stations: *stations, IDPrefix: *idPrefix, Password: pw,
		Ramp: *ramp, Progress: *progress, Out: stdout, Logger: logger,
		Station: sim.Options{
			Version: version, Connectors: *connectors, MeterInterval: *meterInterval, SessionLength: *session,
			Sessions: *sessions, Pause: *pause, Tags: tagList, HeartbeatInterval: *heartbeat,
			CallTimeout: *callTimeout, TLSConfig: tlsConfig, StopByUnplug: *stopByUnplug, AwaitRemoteStart: *awaitRemote,
			LateToken: *lateToken, NotifyEvents: *notifyEvents, EventStream: *eventStream,
		},
	})
	return err
}

// passwords returns the per-station password lookup, or nil for none.
func passwords(template, file string) (func(id string) string, error) {
	byID := map[string]string{}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("password file: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			id, pw, ok := strings.Cut(line, " ")
			if !ok {
				return nil, fmt.Errorf("password file line %d: want '<id> <password>'", n)
			}
			byID[id] = strings.TrimSpace(pw)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("password file: %w", err)
		}
	}
	if template == "" && len(byID) == 0 {
		return nil, nil
	}
	return func(id string) string {
		if pw, ok := byID[id]; ok {
			return pw
		}
		return strings.ReplaceAll(template, "{id}", id)
	}, nil
}

// loadTLS builds the client TLS configuration, or nil when no file is given.
func loadTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca: no certificate in %s", caFile)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("--cert and --key go together")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
