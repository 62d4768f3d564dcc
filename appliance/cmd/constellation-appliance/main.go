// Command constellation-appliance is the Constellation daemon on the
// Raspberry Pi: the local OCPP central system, the offline authorization
// cache and the local operator API. See docs/configuration.md.
//
//	constellation-appliance [flags]           run
//	constellation-appliance hash-password     a charger password's hash, from standard input
//	constellation-appliance firewall [flags]  the access point's nftables ruleset
//	constellation-appliance first-boot [flags] apply the installer's constellation.toml (docs/install.md),
//	                                           or with --setup the setup page's
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
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"github.com/constellation-ev/constellation/appliance/app"
	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/firstboot"
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
	if len(os.Args) > 1 && os.Args[1] == "first-boot" {
		if err := firstBoot(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "first-boot:", err)
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

// firstBoot applies the installer's settings file on the boot partition
// and prints what it did, never a secret.
func firstBoot(args []string) error {
	fs := flag.NewFlagSet("first-boot", flag.ContinueOnError)
	boot := fs.String("boot", "/boot/firmware/constellation.toml", "the installer's settings file")
	cfgFile := fs.String("config", "/etc/constellation/appliance.toml", "the appliance configuration to write")
	dataDir := fs.String("data-dir", "/var/lib/constellation", "the data partition's state directory (secrets go here)")
	base := fs.String("base", "", "the image's default configuration (TOML) to start from; empty: built-in defaults")
	keys := fs.String("authorized-keys", "", "the admin user's authorized_keys file (needed with ssh_authorized_keys)")
	keysOwner := fs.String("authorized-keys-owner", "", "user owning the authorized_keys file and its directory")
	serviceUser := fs.String("service-user", "", "the appliance's user: owns the files in --data-dir, its group reads --config")
	root := fs.String("root", "/", "the system whose time zone time_zone sets (its /etc/localtime and /etc/timezone); empty: leave it")
	setup := fs.Bool("setup", false, "--boot is the setup page's file (the data directory's "+firstboot.SetupFile+"): apply it over a configuration in setup mode, then remove it; a file that fails is renamed *"+firstboot.RejectedSuffix)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	opts := firstboot.Options{BootFile: *boot, ConfigFile: *cfgFile, DataDir: *dataDir, AuthorizedKeys: *keys, Root: *root, Setup: *setup}
	if *base != "" {
		b, err := os.ReadFile(*base)
		if err != nil {
			return fmt.Errorf("base configuration: %w", err)
		}
		opts.Base = string(b)
	}
	for _, o := range []struct {
		name string
		dst  **firstboot.Owner
	}{{*keysOwner, &opts.KeysOwner}, {*serviceUser, &opts.ServiceOwner}} {
		if o.name == "" {
			continue
		}
		owner, err := lookupOwner(o.name)
		if err != nil {
			return err
		}
		*o.dst = &owner
	}
	res, err := firstboot.Apply(opts)
	if errors.Is(err, firstboot.ErrNoSettings) && *setup {
		fmt.Printf("no setup file %s: nothing to do\n", *boot)
		return nil
	}
	if errors.Is(err, firstboot.ErrNoSettings) {
		fmt.Printf("no settings file %s and %s exists: nothing to do\n", *boot, *cfgFile)
		return nil
	}
	if err != nil {
		return err
	}
	if res.AlreadyApplied && res.SetupRemoved {
		fmt.Printf("%s was applied already; removed\n", *boot)
		return nil
	}
	if res.AlreadyApplied {
		fmt.Printf("%s already applied; nothing to do\n", *boot)
		return nil
	}
	if res.Defaults {
		fmt.Printf("no settings file %s: the defaults apply, and the setup page awaits the settings\n", *boot)
	}
	fmt.Printf("configuration written: %s\n", res.ConfigFile)
	fmt.Printf("access point: %s\n", res.APSSID)
	if res.APPasswordFile != "" {
		fmt.Printf("access point password generated: %s\n", res.APPasswordFile)
	}
	fmt.Printf("cloud sync: %v\n", res.SyncEnabled)
	if res.EnrollTokenFile != "" {
		fmt.Printf("enrollment token moved to %s\n", res.EnrollTokenFile)
	}
	if *keys != "" {
		fmt.Printf("SSH keys added to %s: %d\n", *keys, res.KeysAdded)
	}
	if res.TimeZone != "" {
		fmt.Printf("time zone: %s\n", res.TimeZone)
	}
	if res.SecretsRemoved {
		fmt.Printf("secrets removed from %s\n", *boot)
	}
	if res.SetupRemoved {
		fmt.Printf("setup file applied and removed: %s\n", *boot)
	}
	return nil
}

// lookupOwner returns the user's numeric ids and primary group.
func lookupOwner(name string) (firstboot.Owner, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return firstboot.Owner{}, err // "user: unknown user NAME"
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return firstboot.Owner{}, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return firstboot.Owner{}, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	return firstboot.Owner{UID: uid, GID: gid}, nil
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
