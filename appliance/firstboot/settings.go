// Package firstboot turns the installer's settings file on the boot
// partition (constellation.toml, docs/install.md) into the appliance's
// configuration at first boot: it writes the appliance's TOML
// configuration, moves the secrets to the data partition, installs the SSH
// keys, generates the access point's password when none was given, and
// then removes the secrets from the boot partition. Without a settings
// file it writes the image's defaults in setup mode; the settings the
// setup page (appliance/setup) then writes to the data partition are
// applied the same way (Options.Setup), with the same rules (Decode).
package firstboot

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/constellation-ev/constellation/appliance/cloudsync"
	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/network"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/security"
	"github.com/constellation-ev/constellation/appliance/screen"
	"github.com/constellation-ev/constellation/syncproto"
)

// Settings is the installer's settings file. Every field is optional.
type Settings struct {
	// SiteName is shown on the display's idle screens.
	SiteName string `toml:"site_name,omitempty"`
	// TimeZone is an IANA time zone name ("Europe/Madrid").
	TimeZone string `toml:"time_zone,omitempty"`
	// SSHAuthorizedKeys are OpenSSH public keys allowed to log in as the admin user.
	SSHAuthorizedKeys []string `toml:"ssh_authorized_keys,omitempty"`

	Cloud       Cloud       `toml:"cloud,omitempty"`
	Uplink      Uplink      `toml:"uplink,omitempty"`
	AccessPoint AccessPoint `toml:"access_point,omitempty"`
	Display     Display     `toml:"display,omitempty"`

	// Chargers are admitted by the appliance (ocpp.unknown_chargers
	// refuses the others); at most MaxChargers.
	Chargers []Charger `toml:"chargers,omitempty"`
}

// Charger is a charger the appliance admits: [[ocpp.chargers]] in its
// configuration.
type Charger struct {
	// ID is the charger's identity, the last segment of the URL it
	// connects to (ws://10.42.0.1:9000/ocpp/ID).
	ID string `toml:"id"`
	// Password (secret) is its HTTP Basic auth password, security profile
	// 1; first boot stores only its hash. Empty: security profile 0, no
	// credentials (the access point's WPA2 passphrase keeps strangers out).
	Password string `toml:"password,omitempty"`
}

// MaxChargers bounds the chargers one settings file lists. One appliance
// serves one site's chargers; a hundred keeps the hashing at first boot
// to a second or so on a Raspberry Pi and the setup page's form (a line
// of at most 90 characters each, URL-encoded) well under its 64 KiB.
const MaxChargers = 100

// profile is the charger's OCPP security profile: Basic auth with a
// password, none without.
func (c Charger) profile() int {
	if c.Password != "" {
		return security.ProfileBasic
	}
	return security.ProfileNone
}

// Cloud is the watchtower the appliance syncs with.
type Cloud struct {
	// URL is the watchtower's HTTPS base URL, where the appliance enrolls.
	URL string `toml:"url,omitempty"`
	// Broker is the MQTT broker's URL (tls://host:8883).
	Broker string `toml:"broker,omitempty"`
	// Site is this appliance's site id.
	Site string `toml:"site,omitempty"`
	// EnrollmentToken is the single-use token traded for the appliance's credentials (secret).
	EnrollmentToken string `toml:"enrollment_token,omitempty"`
}

// Uplink is the appliance's way to the internet besides Ethernet.
type Uplink struct {
	WiFi WiFi `toml:"wifi,omitempty"`
}

// WiFi is a Wi-Fi network to join.
type WiFi struct {
	// SSID is the network's name.
	SSID string `toml:"ssid,omitempty"`
	// Password is its WPA passphrase (secret); empty: an open network.
	Password string `toml:"password,omitempty"`
}

// AccessPoint is the Wi-Fi network the appliance opens for the chargers.
type AccessPoint struct {
	// SSID is its name; empty: the base configuration's, else "Constellation-XXXX".
	SSID string `toml:"ssid,omitempty"`
	// Password is its WPA passphrase (secret); empty: generated per device.
	Password string `toml:"password,omitempty"`
}

// Display configures the station's LCD.
type Display struct {
	// Language is "en" or "es".
	Language string `toml:"language,omitempty"`
}

// HasSecrets reports whether s still holds a secret that belongs on the
// data partition rather than the boot partition.
func (s Settings) HasSecrets() bool {
	return s.Cloud.EnrollmentToken != "" || s.Uplink.WiFi.Password != "" || s.AccessPoint.Password != "" ||
		slices.ContainsFunc(s.Chargers, func(c Charger) bool { return c.Password != "" })
}

// withoutSecrets returns s with its secrets removed.
func (s Settings) withoutSecrets() Settings {
	s.Cloud.EnrollmentToken = ""
	s.Uplink.WiFi.Password = ""
	s.AccessPoint.Password = ""
	// A copy: the caller's chargers keep their passwords.
	s.Chargers = slices.Clone(s.Chargers)
	for i := range s.Chargers {
		s.Chargers[i].Password = ""
	}
	return s
}

// ChargersWithPasswords are the ids of the chargers that have a password
// (secrets, moved off the boot partition and never shown again).
func (s Settings) ChargersWithPasswords() []string {
	var ids []string
	for _, c := range s.Chargers {
		if c.Password != "" {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// SyncEnabled reports whether the file configures the cloud sync.
func (s Settings) SyncEnabled() bool { return s.Cloud != Cloud{} }

// Decode reads a settings file, refusing unknown keys by name, and
// validates it.
func Decode(data []byte) (Settings, error) {
	var s Settings
	md, err := toml.Decode(string(data), &s)
	if err != nil {
		return Settings{}, fmt.Errorf("settings: %w", err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		return Settings{}, fmt.Errorf("settings: unknown keys: %s", strings.Join(keys, ", "))
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// Validate reports every invalid setting, naming its key.
func (s Settings) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if len(s.SiteName) > maxSiteName || strings.ContainsFunc(s.SiteName, isControl) {
		add("site_name", "want at most %d characters and no control characters", maxSiteName)
	}
	if s.TimeZone != "" {
		// "Local" and "UTC" load without a zone file; only UTC is a real name.
		if _, err := time.LoadLocation(s.TimeZone); err != nil || s.TimeZone == "Local" {
			add("time_zone", "%q is not an IANA time zone name", s.TimeZone)
		}
	}
	for i, k := range s.SSHAuthorizedKeys {
		if err := checkAuthorizedKey(k); err != nil {
			add(fmt.Sprintf("ssh_authorized_keys[%d]", i), "%v", err)
		}
	}
	errs = append(errs, s.Cloud.validate()...)
	errs = append(errs, s.validateNetwork()...)
	errs = append(errs, s.validateChargers()...)
	if s.Display.Language != "" {
		sc := screen.Defaults()
		sc.Language = s.Display.Language
		if err := sc.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("display.%w", err))
		}
	}
	return errors.Join(errs...)
}

const maxSiteName = 64

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// hasSpaceOrControl reports whether a token or password has a space or a
// control character: one word, as typed on a line of its own.
func hasSpaceOrControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r == ' ' || isControl(r) })
}

func (c Cloud) validate() []error {
	if c == (Cloud{}) {
		return nil
	}
	var errs []error
	if c.URL != "" {
		if u, err := url.Parse(c.URL); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			errs = append(errs, errors.New("cloud.url: want an https:// base URL with a host and no credentials"))
		}
	}
	if c.Broker == "" {
		errs = append(errs, errors.New("cloud.broker: required with the [cloud] section"))
	} else if err := cloudsync.CheckBroker(c.Broker, ""); err != nil {
		errs = append(errs, fmt.Errorf("cloud.broker: %w", err))
	}
	if err := syncproto.ValidateSiteID(c.Site); err != nil {
		errs = append(errs, fmt.Errorf("cloud.site: %w", err))
	}
	switch {
	case c.EnrollmentToken == "":
	case hasSpaceOrControl(c.EnrollmentToken):
		errs = append(errs, errors.New("cloud.enrollment_token: must not contain spaces or control characters"))
	case c.URL == "":
		errs = append(errs, errors.New("cloud.url: required with cloud.enrollment_token"))
	}
	return errs
}

// validateNetwork checks the Wi-Fi settings with the network package's
// own rules, renaming its keys to the settings file's.
func (s Settings) validateNetwork() []error {
	ns := network.DefaultSettings()
	// Placeholders for what is not given: those are filled in later (from
	// the base configuration or generated) and checked there.
	ns.AP.SSID = orDefault(s.AccessPoint.SSID, "placeholder")
	ns.AP.Password = network.Secret(orDefault(s.AccessPoint.Password, "placeholder"))
	wifi := s.Uplink.WiFi
	if wifi != (WiFi{}) {
		ns.Uplinks.WiFi.Enabled = true
		ns.Uplinks.WiFi.SSID = wifi.SSID
		ns.Uplinks.WiFi.Password = network.Secret(wifi.Password)
	}
	err := ns.Normalize().Validate()
	if err == nil {
		return nil
	}
	var errs []error
	rename := strings.NewReplacer("ap.", "access_point.", "uplinks.wifi.", "uplink.wifi.")
	for _, line := range strings.Split(network.Problems(err), "\n") {
		errs = append(errs, errors.New(rename.Replace(line)))
	}
	return errs
}

// validateChargers checks the chargers: their number; with the appliance
// configuration's own rules for [[ocpp.chargers]] (an id, listed once),
// its keys renamed to the settings file's; each id with the rule the OCPP
// server applies to the identity a charger connects with (so that an id
// no charger could ever connect as is refused now, not at the charger);
// and each password with the OCPP security profile's length, as one word
// without control characters like the enrollment token (the setup page
// takes it on a line after the id).
func (s Settings) validateChargers() []error {
	if len(s.Chargers) == 0 {
		return nil
	}
	if len(s.Chargers) > MaxChargers {
		// Not checked one by one: the list is refused as a whole.
		return []error{fmt.Errorf("chargers: %d listed, want at most %d", len(s.Chargers), MaxChargers)}
	}
	var errs []error
	cfg := config.Default()
	for _, c := range s.Chargers {
		// A placeholder hash: the real one is made at first boot.
		cfg.OCPP.Chargers = append(cfg.OCPP.Chargers, config.Charger{ID: c.ID, SecurityProfile: c.profile(), PasswordHash: "placeholder"})
	}
	if err := cfg.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			// The defaults are valid: only the chargers can be wrong.
			if rest, ok := strings.CutPrefix(line, "ocpp.chargers["); ok {
				errs = append(errs, errors.New("chargers["+rest))
			}
		}
	}
	for i, c := range s.Chargers {
		key := fmt.Sprintf("chargers[%d]", i)
		if c.ID != "" {
			if _, err := rpc.ParseIdentity(url.PathEscape(c.ID)); err != nil {
				errs = append(errs, fmt.Errorf("%s.id: %q: %w", key, c.ID, err))
			} else if c.Password != "" && strings.Contains(c.ID, ":") {
				// HTTP Basic auth sends "id:password": the user name
				// ends at the first colon.
				errs = append(errs, fmt.Errorf("%s.id: %q: a charger with a password (HTTP Basic auth) cannot have a \":\" in its id", key, c.ID))
			}
		}
		if c.Password == "" {
			continue
		}
		if err := security.CheckPassword(c.Password); errors.Is(err, security.ErrPasswordLength) {
			errs = append(errs, fmt.Errorf("%s.password: is %d characters, want %d to %d", key,
				utf8.RuneCountInString(c.Password), security.MinPasswordLen, security.MaxPasswordLen))
		} else if err != nil {
			errs = append(errs, fmt.Errorf("%s.password: %w", key, err))
		}
		if hasSpaceOrControl(c.Password) {
			errs = append(errs, fmt.Errorf("%s.password: must not contain spaces or control characters", key))
		}
	}
	return errs
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkAuthorizedKey checks the shape of one OpenSSH public key line: a
// known key type, its base64 blob (which starts with the same type) and
// an optional comment. Options before the type are not accepted.
func checkAuthorizedKey(line string) error {
	if strings.ContainsAny(line, "\r\n") {
		return errors.New("must be one line")
	}
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return errors.New("want \"TYPE BASE64 [COMMENT]\"")
	}
	typ, blob := fields[0], fields[1]
	if typ != "ssh-ed25519" && typ != "ssh-rsa" && !strings.HasPrefix(typ, "ecdsa-sha2-") {
		return fmt.Errorf("key type %q is not ssh-ed25519, ssh-rsa or ecdsa-sha2-*", typ)
	}
	raw, err := base64.StdEncoding.DecodeString(blob)
	if err != nil {
		return fmt.Errorf("key data is not base64: %w", err)
	}
	// The blob is SSH wire format: a uint32 length, then the type again.
	if len(raw) < 4 {
		return errors.New("key data is too short")
	}
	n := int(raw[0])<<24 | int(raw[1])<<16 | int(raw[2])<<8 | int(raw[3])
	if n != len(typ) || len(raw) < 4+n || string(raw[4:4+n]) != typ {
		return fmt.Errorf("key data is not a %s key", typ)
	}
	return nil
}
