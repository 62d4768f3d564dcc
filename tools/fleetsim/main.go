// Command fleetsim simulates many appliances against a watchtower, for
// load tests: syncproto traffic over MQTT v5 without real chargers. It
// enrolls its sites through the watchtower's API (or takes existing
// credentials), publishes for a record budget or a duration, prints the
// records/s acknowledged, the PUBACK latency and the refusals, and with
// -verify checks through the API that the watchtower stored what it
// acknowledged. See docs/fleetsim.md.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

	"github.com/constellation-ev/constellation/syncproto"
	"github.com/constellation-ev/constellation/tools/fleetsim/load"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "fleetsim:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fleetsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		apiURL     = fs.String("api", "http://127.0.0.1:8090", "the watchtower's API, to enroll sites and verify (\"\": neither)")
		tokenFile  = fs.String("operator-token-file", "", "file with the operator's API bearer token (the watchtower's {data_dir}/operator-token)")
		broker     = fs.String("broker", "tcp://127.0.0.1:1883", "MQTT v5 broker: tcp://, mqtt://, tls://, mqtts:// or ssl://, host:port")
		caFile     = fs.String("ca-file", "", "PEM file of the CA that signed the broker's certificate (TLS brokers)")
		credsFile  = fs.String("credentials", "", "use these sites ('site password' or 'site username password' lines) instead of enrolling new ones")
		saveCreds  = fs.String("save-credentials", "", "write the enrolled sites' credentials to this file (mode 0600)")
		prefix     = fs.String("site-prefix", "", "enrolled sites are PREFIX-0001, ... (default fleetsim-RANDOM)")
		sites      = fs.Int("sites", 50, "sites to enroll (one MQTT session each)")
		chargers   = fs.Int("chargers", load.DefaultChargers, "chargers per site")
		records    = fs.Int64("records", 0, "stop after this many records in total (0: after -duration)")
		duration   = fs.Duration("duration", 0, "stop after this long (0: 10s unless -records)")
		window     = fs.Int("window", load.DefaultWindow, "publishes awaiting their PUBACK per site (one per charger at most)")
		readings   = fs.Int("readings", load.DefaultReadingsPerSession, "readings records per session")
		samples    = fs.Int("samples", load.DefaultSamplesPerReadings, "samples (of two series) per readings record")
		pubTimeout = fs.Duration("publish-timeout", load.DefaultPublishTimeout, "wait for one PUBACK")
		verify     = fs.Bool("verify", false, "check through the API that the watchtower stored what was acknowledged")
		wait       = fs.Duration("wait", 0, "with -verify: wait up to this long for the watchtower to store what was acknowledged, and report the rate it stored at (for an external broker, whose PUBACK comes before the watchtower stores)")
		progress   = fs.Duration("progress", time.Second, "interval of progress lines on stderr (0: none)")
		verbose    = fs.Bool("v", false, "log debug output")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: fleetsim [flags]\n\nSimulates -sites appliances with -chargers chargers each against a watchtower (docs/fleetsim.md).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var api *load.API
	var siteList []load.Site
	if *apiURL != "" && *tokenFile != "" {
		token, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("operator token: %w", err)
		}
		api = &load.API{Base: *apiURL, Token: strings.TrimSpace(string(token))}
	}
	if *credsFile != "" {
		f, err := os.Open(*credsFile)
		if err != nil {
			return err
		}
		siteList, err = load.ReadCredentials(f)
		f.Close()
		if err != nil {
			return err
		}
	} else {
		if api == nil {
			return errors.New("enrolling sites needs -api and -operator-token-file (or give -credentials)")
		}
		if *prefix == "" {
			var raw [3]byte
			_, _ = rand.Read(raw[:]) // crypto/rand.Read does not fail
			*prefix = "fleetsim-" + hex.EncodeToString(raw[:])
		}
		var err error
		if siteList, err = load.Provision(ctx, api, *prefix, *sites); err != nil {
			return err
		}
		log.Info("sites enrolled", "sites", len(siteList), "prefix", *prefix)
		if *saveCreds != "" {
			if err := save(*saveCreds, siteList); err != nil {
				return err
			}
		}
	}
	if *verify && api == nil {
		return errors.New("-verify needs -api and -operator-token-file")
	}
	u, err := syncproto.ParseBrokerURL(*broker, *caFile)
	if err != nil {
		return err
	}
	roots, err := syncproto.CAPool(*caFile)
	if err != nil {
		return err
	}
	var before map[string]load.Counts
	if *verify {
		if before, err = api.Counts(ctx, siteList); err != nil {
			return err
		}
	}
	res, err := load.Run(ctx, load.Config{Broker: *broker, TLS: syncproto.BrokerTLS(u, roots), Sites: siteList, Chargers: *chargers, Window: *window,
		ReadingsPerSession: *readings, SamplesPerReadings: *samples, PublishTimeout: *pubTimeout, Progress: *progress, Logger: log},
		load.Budget{Records: *records, Duration: *duration})
	if res.Acked > 0 || res.Failed > 0 {
		fmt.Fprintln(stdout, res)
	}
	if err != nil {
		return err
	}
	switch {
	case *verify && *wait > 0:
		wctx, cancel := context.WithTimeout(ctx, *wait)
		defer cancel()
		took, err := load.WaitStored(wctx, api, before, res, time.Second)
		if err != nil {
			return fmt.Errorf("not stored after %v: %w", *wait, err)
		}
		fmt.Fprintf(stdout, "verify: the watchtower stored what was acknowledged, %s after the first publish: %.0f records/s stored\n",
			took.Round(time.Millisecond), float64(res.Acked)/took.Seconds())
	case *verify:
		if err := load.Verify(ctx, api, before, res); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "verify: the watchtower stored what it acknowledged")
	}
	if res.LinksLost > 0 {
		return fmt.Errorf("%d sites lost their link", res.LinksLost)
	}
	return nil
}

// save writes the enrolled sites' credentials, readable by the owner only.
func save(file string, sites []load.Site) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := load.WriteCredentials(f, sites); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
