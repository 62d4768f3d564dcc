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
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/constellation-ev/constellation/appliance/cloudsync"
	"github.com/constellation-ev/constellation/appliance/network"
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
	return s.Cloud.EnrollmentToken != "" || s.Uplink.WiFi.Password != "" || s.AccessPoint.Password != ""
}

// withoutSecrets returns s with its secrets removed.
func (s Settings) withoutSecrets() Settings {
	s.Cloud.EnrollmentToken = ""
	s.Uplink.WiFi.Password = ""
	s.AccessPoint.Password = ""
	return s
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
	case strings.ContainsFunc(c.EnrollmentToken, func(r rune) bool { return r <= ' ' || r == 0x7f }):
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
