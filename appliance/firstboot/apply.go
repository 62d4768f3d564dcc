package firstboot

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/constellation-ev/constellation/appliance/config"
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

// AppliedMarker is the first line of a settings file whose secrets were
// moved to the appliance; with it, no secrets left and the configuration
// present, Apply does nothing.
const AppliedMarker = "# Applied by constellation-appliance first-boot: the secrets (cloud.enrollment_token, uplink.wifi.password, access_point.password) were moved to the appliance and removed from this file."

// generatedLength fits a 16-column display line; 31^16 is about 2^79.
const generatedLength = 16

// unambiguous leaves out 0/o, 1/l/i so a password read off the display
// is typed right the first time.
const unambiguous = "23456789abcdefghjkmnpqrstuvwxyz"

// ErrNoSettings means the boot partition has no settings file and the
// appliance is configured already: there is nothing to apply.
var ErrNoSettings = errors.New("firstboot: no settings file")

// Options names the files Apply reads and writes.
type Options struct {
	// BootFile is the installer's settings file on the boot partition
	// (/boot/firmware/constellation.toml).
	BootFile string
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

	// beforeBootRewrite, in tests, fails the last step as a crash there would.
	beforeBootRewrite func() error
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
	// image's defaults and a generated access point.
	Defaults bool
}

// Apply applies the settings file at opts.BootFile. Every file is written
// durably, outputs first and the boot partition's file last, so a crash
// at any step leaves the old state or the new one and a second run
// completes the first. A file already applied is left alone.
func Apply(opts Options) (Result, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.BootFile == "" || opts.ConfigFile == "" || opts.DataDir == "" {
		return Result{}, errors.New("firstboot: the boot file, config file and data directory are required")
	}
	raw, err := os.ReadFile(opts.BootFile)
	noFile := errors.Is(err, fs.ErrNotExist)
	if noFile {
		// The installer wrote nothing: the first boot still needs a
		// configuration, with the access point's name and password
		// generated (shown on the display) so that the site can be set up.
		if _, err := os.Stat(opts.ConfigFile); err == nil {
			return Result{}, fmt.Errorf("%w: %s", ErrNoSettings, opts.BootFile)
		}
		log.Info("no settings file: the configuration gets the defaults and a generated access point", "file", opts.BootFile)
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
	cfg, ssid, err := render(opts, s, apPassword, res.EnrollTokenFile)
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
	if err := tx.stage(opts.ConfigFile, cfg, 0o640, checkAndShare); err != nil {
		return Result{}, err
	}
	if err := tx.commit(); err != nil {
		return Result{}, err
	}
	log.Info("configuration written", "config", opts.ConfigFile, "sync", res.SyncEnabled, "ap_ssid", ssid,
		"ap_password_generated", res.APPasswordFile != "", "ssh_keys_added", res.KeysAdded, "time_zone", res.TimeZone)

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
	if !bytes.HasPrefix(raw, []byte(AppliedMarker)) || s.HasSecrets() {
		return false
	}
	_, err := os.Stat(configFile)
	return err == nil
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
	buf.WriteString("# To provision the appliance again, put the secrets back or remove the line above.\n\n")
	if err := toml.NewEncoder(&buf).Encode(s.withoutSecrets()); err != nil {
		return nil, fmt.Errorf("firstboot: encode settings: %w", err)
	}
	return buf.Bytes(), nil
}

// readOrGenerate returns the password a previous, interrupted run
// generated (so the one shown stays the same), or a new one.
func readOrGenerate(path string) (string, error) {
	data, err := os.ReadFile(path)
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
