// Command constellation-appliance is the Constellation daemon on the
// Raspberry Pi: the local OCPP central system, the offline authorization
// cache and the local operator API. See docs/configuration.md.
//
//	constellation-appliance [flags]           run
//	constellation-appliance hash-password     a charger password's hash, from standard input
//	constellation-appliance firewall [flags]  the access point's nftables ruleset
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/constellation-ev/constellation/appliance/app"
	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/ocpp/security"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "hash-password" {
		if err := hashPassword(); err != nil {
			fmt.Fprintln(os.Stderr, "hash-password:", err)
			os.Exit(2)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "firewall" {
		if err := printFirewall(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "firewall:", err)
			os.Exit(2)
		}
		return
	}
	cfg, err := config.Load(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "constellation-appliance:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level(cfg.LogLevel)}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := app.Run(ctx, cfg, log, nil); err != nil {
		log.Error("appliance stopped", "err", err)
		os.Exit(1)
	}
}

// printFirewall prints the nftables ruleset for the configuration the
// flags name (docs/network.md); the image loads it with nft -f.
func printFirewall(args []string) error {
	cfg, err := config.Load(args)
	if err != nil {
		return err
	}
	rules, err := app.FirewallRules(cfg)
	if err != nil {
		return err
	}
	fmt.Print(rules)
	return nil
}

// hashPassword reads one charger password from standard input and prints
// the password_hash for the configuration file.
func hashPassword() error {
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("read password from standard input: %w", err)
	}
	h, err := security.HashPassword(strings.TrimRight(line, "\r\n"))
	if err != nil {
		return err
	}
	fmt.Println(h)
	return nil
}

func level(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}
