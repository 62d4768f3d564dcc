package firstboot

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/network"
)

// Files in Options.DataDir.
const (
	// EnrollTokenName holds the enrollment token until the appliance has
	// traded it for its credentials (then the appliance removes it).
	EnrollTokenName = "enroll-token"
	// MQTTPasswordName is where the appliance stores its MQTT password when it enrolls.
	MQTTPasswordName = "mqtt-password"
	// APPasswordName holds a generated access point password, for the
	// display and the setup page to show.
	APPasswordName = "ap-password"
)

// SetupFile is where the setup page writes the installer's settings,
// relative to the data directory. constellation-setup.service applies it
// as root (Options.Setup) and removes it.
const SetupFile = "setup/constellation.toml"

// RejectedSuffix is added to a setup file that could not be applied, so
// that it is not tried again (systemd's path unit would retrigger on it
// until its trigger limit stops it watching) and the setup page can say so.
const RejectedSuffix = ".rejected"

// setupAppliedMarker, followed by the setup file's SHA-256, is a line of a
// configuration written from a setup file: a run interrupted after the
// configuration was written but before the file was removed finishes by
// removing it instead of refusing it (the configuration no longer awaits
// setup then).
const setupAppliedMarker = "# Applied from the setup page's settings, sha256 "

// maxSettingsBytes bounds a settings file read: the setup page's is
// written by the unprivileged appliance and read by root.
const maxSettingsBytes = 1 << 20

// AppliedMarker is the first line of a settings file whose secrets were
// moved to the appliance; with it, no secrets left and the configuration
// present, Apply does nothing.
const AppliedMarker = appliedPrefix + "the secrets (cloud.enrollment_token, uplink.wifi.password, access_point.password, chargers' passwords) were moved to the appliance and removed from this file."

// appliedPrefix starts AppliedMarker. A file is taken as marked by it
// alone, so that one marked by an earlier version, whose line named fewer
// secrets, stays applied.
const appliedPrefix = "# Applied by constellation-appliance first-boot: "

// generatedLength fits a 16-column display line; 31^16 is about 2^79.
const generatedLength = 16

// unambiguous leaves out 0/o, 1/l/i so a password read off the display
// is typed right the first time.
const unambiguous = "23456789abcdefghjkmnpqrstuvwxyz"

// Errors of Apply.
var (
	// ErrNoSettings means the boot partition has no settings file and the
	// appliance is configured already (or, with Options.Setup, there is
	// no setup file): there is nothing to apply.
	ErrNoSettings = errors.New("firstboot: no settings file")
	// ErrNotAwaitingSetup means a setup file was found but the
	// configuration is not in setup mode: the setup page's settings
	// apply only over the defaults written when there was no settings
	// file, never over a configured appliance.
	ErrNotAwaitingSetup = errors.New("firstboot: the configuration does not await setup")
)

// Options names the files Apply reads and writes.
type Options struct {
	// BootFile is the installer's settings file on the boot partition
	// (/boot/firmware/constellation.toml), or with Setup the setup page's
	// (SetupFile in DataDir).
	BootFile string
	// Setup: BootFile was written by the setup page. It applies only over
	// a configuration in setup mode; once the configuration is durable it
	// is removed (not rewritten without its secrets), and a file that
	// cannot be applied is renamed with RejectedSuffix.
	Setup bool
	// ConfigFile is the appliance configuration to write (/etc/constellation/appliance.toml).
	ConfigFile string
	// DataDir is the data partition's state directory (/var/lib/constellation);
	// it becomes the configuration's data_dir.
	DataDir string
	// Base is the image's default configuration, TOML; the installer's
	// values are put into it. Empty: the appliance's built-in defaults.
	Base string
	// AuthorizedKeys is the admin user's authorized_keys file; required
	// when the settings list SSH keys.
	AuthorizedKeys string
	// ServiceOwner, if set, is the appliance's service user: it owns the
	// files written to DataDir (the daemon reads and removes them), and
	// its group may read ConfigFile (root stays the owner). nil leaves
	// the writer's.
	ServiceOwner *Owner
	// KeysOwner, if set, owns the authorized keys file and its directory
	// (sshd reads them as the user); nil leaves the writer's.
	KeysOwner *Owner
	// Root, if set, is the system whose time zone the settings' time_zone
	// sets: Root/etc/localtime becomes a link to the zone's file in
	// Root/usr/share/zoneinfo, and Root/etc/timezone names it. Empty:
	// the zone is only reported in Result.TimeZone.
	Root string
	// Log receives progress (never secrets); nil discards.
	Log *slog.Logger

	// beforeBootRewrite, in tests, fails the last step (the boot file's
	// rewrite, the setup file's removal) as a crash there would.
	beforeBootRewrite func() error
	// beforeCommit, in tests, fails the step that renames the staged
	// files into place.
	beforeCommit func() error
}

// Owner is a numeric user and group; -1 leaves that one unchanged.
type Owner struct{ UID, GID int }

// Result says what Apply did; it holds no secrets.
type Result struct {
	// AlreadyApplied: the settings file was applied before; nothing was done.
	AlreadyApplied bool
	// ConfigFile is the configuration written.
	ConfigFile string
	// SyncEnabled: the cloud sync was configured.
	SyncEnabled bool
	// EnrollTokenFile is where the enrollment token went; empty: none given.
	EnrollTokenFile string
	// APSSID is the access point's name.
	APSSID string
	// APPasswordFile is where a generated access point password went;
	// empty: the installer gave one.
	APPasswordFile string
	// KeysAdded counts the SSH keys added to Options.AuthorizedKeys.
	KeysAdded int
	// TimeZone is the zone given; set when Options.Root is. Empty: none given.
	TimeZone string
	// SecretsRemoved: the boot partition's file was rewritten without secrets.
	SecretsRemoved bool
	// Defaults: there was no settings file; the configuration has the
	// image's defaults and a generated access point, and awaits setup.
	Defaults bool
	// SetupRemoved: with Options.Setup, the setup file was removed, its
	// settings applied.
	SetupRemoved bool
}

// Apply applies the settings file at opts.BootFile. Every file is written
// durably, outputs first and the boot partition's file last, so a crash
// at any step leaves the old state or the new one and a second run
// completes the first. A file already applied is left alone. Without a
// settings file, the first run writes the defaults in setup mode.
func Apply(opts Options) (Result, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.BootFile == "" || opts.ConfigFile == "" || opts.DataDir == "" {
		return Result{}, errors.New("firstboot: the boot file, config file and data directory are required")
	}
	if opts.Setup {
		return applySetup(opts, log)
	}
	raw, err := readSettings(opts.BootFile)
	noFile := errors.Is(err, fs.ErrNotExist)
	if noFile {
		// The installer wrote nothing: the first boot still needs a
		// configuration, with the access point's name and password
		// generated (shown on the display) so that the site can be set up.
		if _, err := os.Stat(opts.ConfigFile); err == nil {
			return Result{}, fmt.Errorf("%w: %s", ErrNoSettings, opts.BootFile)
		}
		log.Info("no settings file: the configuration gets the defaults and a generated access point, and awaits setup", "file", opts.BootFile)
		raw, err = nil, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("firstboot: read settings: %w", err)
	}
	s, err := Decode(raw)
	if err != nil {
		return Result{}, fmt.Errorf("firstboot: %s: %w", opts.BootFile, err)
	}
	if applied(raw, s, opts.ConfigFile) {
		log.Info("settings already applied", "file", opts.BootFile)
		return Result{AlreadyApplied: true, ConfigFile: opts.ConfigFile}, nil
	}
	res, err := apply(opts, s, origin{defaults: noFile}, log)
	if err != nil {
		return Result{}, err
	}
	if noFile {
		res.Defaults = true
		return res, nil
	}
	// Last: only now that everything above is durable may the secrets
	// leave the boot partition.
	cleaned, err := cleanedSettings(s)
	if err != nil {
		return Result{}, err
	}
	if opts.beforeBootRewrite != nil {
		if err := opts.beforeBootRewrite(); err != nil {
			return Result{}, fmt.Errorf("firstboot: remove the secrets from the boot partition: %w", err)
		}
	}
	var fat transaction
	defer fat.abort()
	if err := fat.stage(opts.BootFile, cleaned, 0o644, nil); err != nil {
		return Result{}, fmt.Errorf("firstboot: remove the secrets from the boot partition: %w", err)
	}
	if err := fat.commit(); err != nil {
		return Result{}, fmt.Errorf("firstboot: remove the secrets from the boot partition: %w", err)
	}
	res.SecretsRemoved = true
	log.Info("secrets removed from the boot partition", "file", opts.BootFile)
	return res, nil
}

// applySetup applies the setup page's file over a configuration that
// awaits setup, then removes it. The unprivileged appliance wrote the
// file and owns its directory, so it is read without following links,
// and it never applies over a configured appliance (it could add SSH keys
// for the admin user). A file that fails is set aside (RejectedSuffix)
// unless the configuration was written from it: then the next run
// finishes the job by removing it.
func applySetup(opts Options, log *slog.Logger) (res Result, err error) {
	raw, err := readSettings(opts.BootFile)
	if errors.Is(err, fs.ErrNotExist) {
		return Result{}, fmt.Errorf("%w: %s", ErrNoSettings, opts.BootFile)
	}
	digest := fmt.Sprintf("%x", sha256.Sum256(raw))
	defer func() {
		if err != nil && !configFrom(opts.ConfigFile, digest) {
			if rerr := setAside(opts.BootFile); rerr != nil {
				err = errors.Join(err, rerr)
				return
			}
			log.Warn("setup file set aside", "file", opts.BootFile+RejectedSuffix, "err", err)
		}
	}()
	if err != nil {
		return Result{}, fmt.Errorf("firstboot: read settings: %w", err)
	}
	awaiting, err := awaitingSetup(opts.ConfigFile)
	if err != nil {
		return Result{}, err
	}
	if !awaiting {
		if !configFrom(opts.ConfigFile, digest) {
			return Result{}, fmt.Errorf("%w: %s", ErrNotAwaitingSetup, opts.ConfigFile)
		}
		// A run stopped after the configuration was written: finish it.
		log.Info("setup file already applied", "file", opts.BootFile)
		res = Result{AlreadyApplied: true, ConfigFile: opts.ConfigFile}
	} else {
		s, err := Decode(raw)
		if err != nil {
			return Result{}, fmt.Errorf("firstboot: %s: %w", opts.BootFile, err)
		}
		if res, err = apply(opts, s, origin{setupDigest: digest}, log); err != nil {
			return Result{}, err
		}
	}
	// The last good network settings kept beside the store would override
	// the access point and uplink just entered (a change made through the
	// local API while awaiting setup): the installer's settings win.
	if err := removeDurably(filepath.Join(opts.DataDir, network.StateFileName)); err != nil {
		return Result{}, err
	}
	// Last: the file goes only once the configuration made from it is durable.
	if opts.beforeBootRewrite != nil {
		if err := opts.beforeBootRewrite(); err != nil {
			return Result{}, fmt.Errorf("firstboot: remove %s: %w", opts.BootFile, err)
		}
	}
	if err := removeDurably(opts.BootFile); err != nil {
		return Result{}, err
	}
	res.SetupRemoved = true
	log.Info("setup file applied and removed", "file", opts.BootFile)
	return res, nil
}

// origin is where the settings being applied come from.
type origin struct {
	// defaults: there was no settings file; the configuration awaits setup.
	defaults bool
	// setupDigest is the setup file's SHA-256 (hex); empty: the boot partition's.
	setupDigest string
}

// apply writes what the settings s make: the generated access point
// password, the enrollment token, the SSH keys, the time zone and, last,
// the configuration.
func apply(opts Options, s Settings, from origin, log *slog.Logger) (Result, error) {
	if len(s.SSHAuthorizedKeys) > 0 && opts.AuthorizedKeys == "" {
		return Result{}, errors.New("firstboot: ssh_authorized_keys: given, but no authorized keys file to write them to")
	}

	res := Result{ConfigFile: opts.ConfigFile, SyncEnabled: s.SyncEnabled(), TimeZone: s.TimeZone}
	var tx transaction
	defer tx.abort()

	if opts.ServiceOwner != nil {
		// The daemon keeps its state here; the image's tmpfiles.d usually
		// made it already.
		if err := os.MkdirAll(opts.DataDir, 0o750); err != nil {
			return Result{}, fmt.Errorf("firstboot: %s: %w", opts.DataDir, err)
		}
		if err := opts.ServiceOwner.chown(opts.DataDir); err != nil {
			return Result{}, fmt.Errorf("firstboot: %s: %w", opts.DataDir, err)
		}
	}
	apPassword := s.AccessPoint.Password
	if apPassword == "" {
		res.APPasswordFile = filepath.Join(opts.DataDir, APPasswordName)
		var err error
		if apPassword, err = readOrGenerate(res.APPasswordFile); err != nil {
			return Result{}, err
		}
		if err := tx.stage(res.APPasswordFile, []byte(apPassword+"\n"), 0o600, opts.ServiceOwner.chown); err != nil {
			return Result{}, err
		}
	}
	if s.Cloud.EnrollmentToken != "" {
		res.EnrollTokenFile = filepath.Join(opts.DataDir, EnrollTokenName)
		if err := tx.stage(res.EnrollTokenFile, []byte(s.Cloud.EnrollmentToken+"\n"), 0o600, opts.ServiceOwner.chown); err != nil {
			return Result{}, err
		}
	}
	if len(s.SSHAuthorizedKeys) > 0 {
		keys, added, err := mergeKeys(opts.AuthorizedKeys, s.SSHAuthorizedKeys)
		if err != nil {
			return Result{}, err
		}
		res.KeysAdded = added
		if err := prepareKeysDir(opts.AuthorizedKeys, opts.KeysOwner); err != nil {
			return Result{}, err
		}
		if err := tx.stage(opts.AuthorizedKeys, keys, 0o600, opts.KeysOwner.chown); err != nil {
			return Result{}, err
		}
	}
	if s.TimeZone != "" && opts.Root != "" {
		if err := stageTimeZone(&tx, opts.Root, s.TimeZone); err != nil {
			return Result{}, err
		}
	}
	cfg, ssid, err := render(opts, s, apPassword, res.EnrollTokenFile, from)
	if err != nil {
		return Result{}, err
	}
	res.APSSID = ssid
	checkAndShare := func(tmp string) error {
		if err := checkConfig(tmp); err != nil {
			return err
		}
		return opts.ServiceOwner.group().chown(tmp)
	}
	// Staged last, so committed last: the configuration changes only
	// once everything it names is in place.
	if err := tx.stage(opts.ConfigFile, cfg, 0o640, checkAndShare); err != nil {
		return Result{}, err
	}
	if opts.beforeCommit != nil {
		if err := opts.beforeCommit(); err != nil {
			return Result{}, fmt.Errorf("firstboot: write %s: %w", opts.ConfigFile, err)
		}
	}
	if err := tx.commit(); err != nil {
		return Result{}, err
	}
	log.Info("configuration written", "config", opts.ConfigFile, "sync", res.SyncEnabled, "ap_ssid", ssid,
		"ap_password_generated", res.APPasswordFile != "", "ssh_keys_added", res.KeysAdded, "chargers", len(s.Chargers), "time_zone", res.TimeZone,
		"setup_mode", from.defaults)
	return res, nil
}

// prepareKeysDir makes the authorized keys file's directory, private to its owner.
func prepareKeysDir(path string, owner *Owner) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("firstboot: %s: %w", dir, err)
	}
	if err := owner.chown(dir); err != nil {
		return fmt.Errorf("firstboot: %s: %w", dir, err)
	}
	return nil
}

// chown gives path to o; a nil o leaves it alone.
func (o *Owner) chown(path string) error {
	if o == nil {
		return nil
	}
	return os.Lchown(path, o.UID, o.GID)
}

// group is root with o's group: the owner of a file o may only read.
func (o *Owner) group() *Owner {
	if o == nil {
		return nil
	}
	return &Owner{UID: -1, GID: o.GID} // -1: the owner stays the writer (root)
}

// applied reports whether the settings file was applied before: it has
// the marker, no secrets, and the configuration exists.
func applied(raw []byte, s Settings, configFile string) bool {
	if !bytes.HasPrefix(raw, []byte(appliedPrefix)) || s.HasSecrets() {
		return false
	}
	_, err := os.Stat(configFile)
	return err == nil
}

// awaitingSetup reports whether the configuration at path is in setup
// mode; a configuration that does not load is not.
func awaitingSetup(path string) (bool, error) {
	cfg, err := config.Load([]string{"--config", path})
	if errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("%w: %s does not exist", ErrNotAwaitingSetup, path)
	}
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrNotAwaitingSetup, err)
	}
	return cfg.Setup.Enabled, nil
}

// configFrom reports whether the configuration at path was written from
// the setup file whose SHA-256 is digest.
func configFrom(path, digest string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(data)) {
		if strings.TrimRight(line, "\n") == setupAppliedMarker+digest {
			return true
		}
	}
	return false
}

// checkConfig refuses a generated configuration the appliance would not load.
func checkConfig(path string) error {
	if _, err := config.Load([]string{"--config", path}); err != nil {
		return fmt.Errorf("generated configuration: %w", err)
	}
	return nil
}

// cleanedSettings is the settings file without its secrets, marked applied.
func cleanedSettings(s Settings) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(AppliedMarker + "\n")
	buf.WriteString("# To provision the appliance again, put the secrets back or remove the line above.\n")
	if ids := s.ChargersWithPasswords(); len(ids) > 0 {
		// Applied again without them, these chargers would be admitted
		// without a password: say so where it would happen.
		quoted := make([]string, len(ids))
		for i, id := range ids {
			quoted[i] = strconv.Quote(id)
		}
		fmt.Fprintf(&buf, "# Chargers whose password was moved too: %s. Applied again without their\n"+
			"# passwords, they would be admitted without one (security profile 0).\n", strings.Join(quoted, ", "))
	}
	buf.WriteString("\n")
	if err := toml.NewEncoder(&buf).Encode(s.withoutSecrets()); err != nil {
		return nil, fmt.Errorf("firstboot: encode settings: %w", err)
	}
	return buf.Bytes(), nil
}

// readOrGenerate returns the password a previous, interrupted run
// generated (so the one shown stays the same), or a new one.
func readOrGenerate(path string) (string, error) {
	// The appliance owns the data directory: a link planted there must
	// not make root read (and put into the configuration) another file.
	data, err := readRegular(path, 4096)
	if err == nil {
		if p := strings.TrimSpace(string(data)); len(p) >= generatedLength {
			return p, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("firstboot: read %s: %w", path, err)
	}
	return generate(generatedLength)
}

// generate returns n characters drawn uniformly from unambiguous.
func generate(n int) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(int64(len(unambiguous)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("firstboot: generate a password: %w", err)
		}
		b[i] = unambiguous[v.Int64()]
	}
	return string(b), nil
}
