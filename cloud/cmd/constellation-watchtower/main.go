// Command constellation-watchtower is the Constellation cloud service:
// an MQTT broker the appliances sync with, the fleet store and the JSON
// API (docs/watchtower.md).
//
//	constellation-watchtower [-config file]                  run
//	constellation-watchtower [-config file] site create ID   create a site, print an enrollment token
//	constellation-watchtower [-config file] site token ID    print a new enrollment token
//	constellation-watchtower [-config file] site revoke ID   revoke a site
//	constellation-watchtower [-config file] create-admin --name NAME [--display-name TEXT] [--password-stdin]
//	                                                         create an admin user (password generated and printed, or read from stdin)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/constellation-ev/constellation/cloud/watchtower"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("watchtower", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	configFile := flag.String("config", "", "TOML configuration file")
	dataDir := flag.String("data", "", "data directory (overrides data_dir)")
	ttl := flag.Duration("ttl", 24*time.Hour, "enrollment token lifetime (site create, site token)")
	flag.Parse()
	var cfg watchtower.Config
	if *configFile != "" {
		var err error
		if cfg, err = watchtower.LoadConfig(*configFile); err != nil {
			return err
		}
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	args := flag.Args()
	if len(args) == 0 {
		return watchtower.Run(ctx, cfg, log)
	}
	if len(args) > 0 && args[0] == "create-admin" {
		return createAdmin(ctx, cfg, args[1:], log)
	}
	if len(args) != 3 || args[0] != "site" {
		return errors.New("usage: constellation-watchtower [-config file] [site create|token|revoke ID]")
	}
	st, err := watchtower.OpenStore(ctx, cfg, nil, log)
	if err != nil {
		return err
	}
	defer st.Close()
	id := args[2]
	switch args[1] {
	case "create":
		if _, err := st.CreateSite(ctx, id, ""); err != nil {
			return err
		}
		fallthrough
	case "token":
		token, expires, err := st.IssueToken(ctx, id, *ttl)
		if err != nil {
			return err
		}
		// The token goes to the operator's terminal only, never to the log.
		fmt.Printf("site %s\nenrollment token %s\nexpires %s\n", id, token, expires.Format(time.RFC3339))
		return nil
	case "revoke":
		if err := st.Revoke(ctx, id); err != nil {
			return err
		}
		fmt.Printf("site %s revoked (a running watchtower refuses its next connection; POST /api/v1/sites/%s/revoke also drops an open one)\n", id, id)
		return nil
	}
	return fmt.Errorf("unknown site command %q", args[1])
}

func createAdmin(ctx context.Context, cfg watchtower.Config, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("create-admin", flag.ContinueOnError)
	name := fs.String("name", "", "login name (a-z 0-9 . _ @ -)")
	display := fs.String("display-name", "", "display name")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (default: generate and print one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" || fs.NArg() > 0 {
		return errors.New("usage: constellation-watchtower [-config file] create-admin --name NAME [--display-name TEXT] [--password-stdin]")
	}
	st, err := watchtower.OpenStore(ctx, cfg, nil, log)
	if err != nil {
		return err
	}
	defer st.Close()
	var pw io.Reader
	if *fromStdin {
		pw = os.Stdin
	}
	return watchtower.CreateAdmin(ctx, st, *name, *display, pw, os.Stdout)
}
