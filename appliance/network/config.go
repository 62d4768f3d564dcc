package network

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
)

// Security is how the access point authenticates chargers.
type Security string

// Securities of an APConfig.
const (
	// SecurityAuto is WPA3-SAE when the Wi-Fi chip reports SAE support,
	// else WPA2-PSK.
	SecurityAuto Security = "auto"
	// SecurityWPA2 is WPA2-PSK (RSN, CCMP): every charger speaks it.
	SecurityWPA2 Security = "wpa2"
	// SecurityWPA3 is WPA3-SAE only; chargers without WPA3 cannot join.
	SecurityWPA3 Security = "wpa3"
)

// Band is the access point's radio band.
type Band string

// Bands of an APConfig.
const (
	// BandAuto lets NetworkManager choose.
	BandAuto Band = ""
	// Band24GHz is 2.4 GHz (802.11b/g/n): the band every charger has.
	Band24GHz Band = "bg"
	// Band5GHz is 5 GHz (802.11a/n/ac).
	Band5GHz Band = "a"
)

// UplinkKind names one of the appliance's ways to the internet.
type UplinkKind string

// Uplink kinds, in their default order of preference.
const (
	UplinkEthernet UplinkKind = "ethernet"
	UplinkWiFi     UplinkKind = "wifi"
	UplinkCellular UplinkKind = "cellular"
)

// UplinkKinds lists every UplinkKind in its default order of preference.
var UplinkKinds = []UplinkKind{UplinkEthernet, UplinkWiFi, UplinkCellular}

// Secret is a password: it prints and logs as "[redacted]" and only its
// JSON form (for the state file and the cloud's desired configuration)
// carries the value.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return `network.Secret("` + s.String() + `")` }

// LogValue hides the value from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Defaults of the access point.
const (
	DefaultAPInterface = "wlan0"
	DefaultAPAddress   = "10.42.0.1/24"
)

// APConfig is the chargers' Wi-Fi access point.
type APConfig struct {
	// Enabled creates and keeps the access point's profile; false removes it.
	Enabled bool `toml:"enabled" json:"enabled"`
	// Interface is the Wi-Fi device of the access point ("wlan0").
	Interface string `toml:"interface" json:"interface,omitempty"`
	// SSID is the network name chargers join (1 to 32 bytes).
	SSID string `toml:"ssid" json:"ssid"`
	// Password is the WPA passphrase (8 to 63 printable ASCII characters).
	Password Secret `toml:"password" json:"password"`
	// Security is "auto", "wpa2" or "wpa3".
	Security Security `toml:"security" json:"security,omitempty"`
	// Band is "bg" (2.4 GHz), "a" (5 GHz) or "" (NetworkManager chooses).
	Band Band `toml:"band" json:"band,omitempty"`
	// Channel is the radio channel in Band; 0 lets NetworkManager choose.
	Channel uint32 `toml:"channel" json:"channel,omitempty"`
	// Hidden stops the SSID from being broadcast.
	Hidden bool `toml:"hidden" json:"hidden,omitempty"`
	// Address is the appliance's address and the chargers' subnet
	// (CIDR, "10.42.0.1/24"); NetworkManager serves DHCP on it.
	Address string `toml:"address" json:"address,omitempty"`
}

// UplinkConfig is one way to the internet.
type UplinkConfig struct {
	// Enabled creates and keeps this uplink's profile; false removes it.
	Enabled bool `toml:"enabled" json:"enabled"`
	// Priority orders the uplinks: 1 is the first choice. It becomes the
	// profile's route metric (100 × Priority: the lowest metric carries
	// the traffic) and autoconnect priority (100 − Priority).
	Priority int `toml:"priority" json:"priority,omitempty"`
	// Interface binds the profile to one device; "" means any device of
	// the kind (defaults: ethernet "eth0", wifi "wlan1", cellular any modem).
	Interface string `toml:"interface" json:"interface,omitempty"`
	// SSID and Password are the Wi-Fi network to join (wifi only); an
	// empty Password joins an open network.
	SSID     string `toml:"ssid" json:"ssid,omitempty"`
	Password Secret `toml:"password" json:"password,omitempty"`
	// APN is the cellular access point name (cellular only).
	APN string `toml:"apn" json:"apn,omitempty"`
}

// Uplinks are the appliance's ways to the internet.
type Uplinks struct {
	Ethernet UplinkConfig `toml:"ethernet" json:"ethernet"`
	WiFi     UplinkConfig `toml:"wifi" json:"wifi"`
	Cellular UplinkConfig `toml:"cellular" json:"cellular"`
}

// Get returns the uplink of kind k (zero for an unknown kind).
func (u Uplinks) Get(k UplinkKind) UplinkConfig {
	switch k {
	case UplinkEthernet:
		return u.Ethernet
	case UplinkWiFi:
		return u.WiFi
	case UplinkCellular:
		return u.Cellular
	}
	return UplinkConfig{}
}

// set replaces the uplink of kind k.
func (u *Uplinks) set(k UplinkKind, c UplinkConfig) {
	switch k {
	case UplinkEthernet:
		u.Ethernet = c
	case UplinkWiFi:
		u.WiFi = c
	case UplinkCellular:
		u.Cellular = c
	}
}

// Settings are everything the appliance asks of NetworkManager: the
// unit of a safe change.
type Settings struct {
	AP      APConfig `toml:"ap" json:"ap"`
	Uplinks Uplinks  `toml:"uplinks" json:"uplinks"`
}

// DefaultSettings returns an enabled access point (still needing its SSID
// and password) and an Ethernet uplink.
func DefaultSettings() Settings {
	s := Settings{AP: APConfig{Enabled: true}}
	s.Uplinks.Ethernet.Enabled = true
	return s.Normalize()
}

// Normalize fills in the defaults of the fields left empty.
func (s Settings) Normalize() Settings {
	if s.AP.Interface == "" {
		s.AP.Interface = DefaultAPInterface
	}
	if s.AP.Security == "" {
		s.AP.Security = SecurityAuto
	}
	if s.AP.Address == "" {
		s.AP.Address = DefaultAPAddress
	}
	defaultIface := map[UplinkKind]string{UplinkEthernet: "eth0", UplinkWiFi: "wlan1"}
	for i, k := range UplinkKinds {
		u := s.Uplinks.Get(k)
		if u.Priority == 0 {
			u.Priority = i + 1
		}
		if u.Interface == "" {
			u.Interface = defaultIface[k]
		}
		s.Uplinks.set(k, u)
	}
	return s
}

// Limits of the settings.
const (
	maxSSIDBytes   = 32
	minPassphrase  = 8
	maxPassphrase  = 63
	maxPriority    = 99
	minPrefixBits  = 8
	maxPrefixBits  = 30
	maxAPNLength   = 100
	maxIfaceLength = 15 // IFNAMSIZ - 1
)

// channels5GHz are the 20 MHz channel numbers of the 5 GHz band; whether
// the regulatory domain allows an AP on one is for the driver to say
// (the safe change rolls back if it refuses).
var channels5GHz = []uint32{
	36, 40, 44, 48, 52, 56, 60, 64, 100, 104, 108, 112, 116, 120, 124, 128,
	132, 136, 140, 144, 149, 153, 157, 161, 165, 169, 173, 177,
}

// Validate reports every setting that is wrong, by its field name; call
// it on normalized settings.
func (s Settings) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...)))
	}
	ap := s.AP
	if ap.Enabled {
		if err := checkIface(ap.Interface); err != nil {
			add("ap.interface", "%v", err)
		}
		if n := len(ap.SSID); n == 0 || n > maxSSIDBytes {
			add("ap.ssid", "is %d bytes, want 1 to %d", n, maxSSIDBytes)
		}
		if err := checkPassphrase(ap.Password); err != nil {
			add("ap.password", "%v", err)
		}
		if !slices.Contains([]Security{SecurityAuto, SecurityWPA2, SecurityWPA3}, ap.Security) {
			add("ap.security", "%q is not auto, wpa2 or wpa3", ap.Security)
		}
		switch ap.Band {
		case BandAuto:
			if ap.Channel != 0 {
				add("ap.channel", "a channel needs a band (bg or a)")
			}
		case Band24GHz:
			if ap.Channel > 14 {
				add("ap.channel", "%d is not a 2.4 GHz channel (1 to 14)", ap.Channel)
			}
		case Band5GHz:
			if ap.Channel != 0 && !slices.Contains(channels5GHz, ap.Channel) {
				add("ap.channel", "%d is not a 5 GHz channel", ap.Channel)
			}
		default:
			add("ap.band", "%q is not bg, a or empty", ap.Band)
		}
		if _, err := ParseAPAddress(ap.Address); err != nil {
			add("ap.address", "%v", err)
		}
	}
	for _, k := range UplinkKinds {
		u := s.Uplinks.Get(k)
		if !u.Enabled {
			continue
		}
		field := "uplinks." + string(k)
		if u.Priority < 1 || u.Priority > maxPriority {
			add(field+".priority", "%d is not between 1 and %d", u.Priority, maxPriority)
		}
		if u.Interface != "" {
			if err := checkIface(u.Interface); err != nil {
				add(field+".interface", "%v", err)
			}
		}
		switch k {
		case UplinkWiFi:
			if n := len(u.SSID); n == 0 || n > maxSSIDBytes {
				add(field+".ssid", "is %d bytes, want 1 to %d", n, maxSSIDBytes)
			}
			if u.Password != "" {
				if err := checkPassphrase(u.Password); err != nil {
					add(field+".password", "%v", err)
				}
			}
			if ap.Enabled && (u.Interface == "" || u.Interface == ap.Interface) {
				add(field+".interface", "must name a device other than the access point's %s", ap.Interface)
			}
		case UplinkCellular:
			if u.APN == "" || len(u.APN) > maxAPNLength || strings.ContainsFunc(u.APN, isNotPrintable) {
				add(field+".apn", "must be 1 to %d printable characters", maxAPNLength)
			}
		}
	}
	for i, a := range UplinkKinds {
		for _, b := range UplinkKinds[i+1:] {
			ua, ub := s.Uplinks.Get(a), s.Uplinks.Get(b)
			if ua.Enabled && ub.Enabled && ua.Priority == ub.Priority {
				add("uplinks."+string(b)+".priority", "%d is also %s's", ub.Priority, a)
			}
		}
	}
	return errors.Join(errs...)
}

// ParseAPAddress parses the access point's CIDR address: an IPv4 host
// address (not the subnet's network or broadcast address) with a prefix
// of 8 to 30 bits.
func ParseAPAddress(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address/prefix: %w", s, err)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%q is not IPv4", s)
	}
	if p.Bits() < minPrefixBits || p.Bits() > maxPrefixBits {
		return netip.Prefix{}, fmt.Errorf("%q: prefix /%d is not between /%d and /%d", s, p.Bits(), minPrefixBits, maxPrefixBits)
	}
	network := p.Masked().Addr()
	broadcast := network.As4()
	hostBits := 32 - p.Bits()
	for i := 3; i >= 0 && hostBits > 0; i-- {
		n := min(hostBits, 8)
		broadcast[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	if p.Addr() == network || p.Addr() == netip.AddrFrom4(broadcast) {
		return netip.Prefix{}, fmt.Errorf("%q is the subnet's network or broadcast address", s)
	}
	return p, nil
}

func checkIface(name string) error {
	if name == "" || len(name) > maxIfaceLength || strings.ContainsAny(name, "/ \t\n:") || strings.ContainsFunc(name, isNotPrintable) {
		return fmt.Errorf("%q is not an interface name", name)
	}
	return nil
}

func checkPassphrase(p Secret) error {
	if n := len(p); n < minPassphrase || n > maxPassphrase {
		return fmt.Errorf("is %d characters, want %d to %d", n, minPassphrase, maxPassphrase)
	}
	if strings.ContainsFunc(string(p), isNotPrintable) {
		return errors.New("must be printable ASCII")
	}
	return nil
}

func isNotPrintable(r rune) bool { return r < 0x20 || r > 0x7e }

// DecodeChange decodes new settings from JSON (the local API's body, the
// cloud's desired "network" setting) against those in force, cur: unknown
// fields are refused, a password left empty keeps cur's (a client sends
// back what it was shown, without passwords), defaults are filled in, and
// the result is validated.
func DecodeChange(data []byte, cur Settings) (Settings, error) {
	return decodeOver(data, Settings{}, cur)
}

// DecodeOver is DecodeChange for a change that says only what it
// changes (the cloud's desired "network" setting, which may name only
// the access point): what data leaves out is base's.
func DecodeOver(data []byte, base, cur Settings) (Settings, error) {
	return decodeOver(data, base, cur)
}

// decodeOver decodes data over base; an empty password keeps cur's.
func decodeOver(data []byte, base, cur Settings) (Settings, error) {
	s := base
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if dec.More() {
		return Settings{}, fmt.Errorf("%w: data after the settings object", ErrInvalid)
	}
	if s.AP.Password == "" {
		s.AP.Password = cur.AP.Password
	}
	if s.Uplinks.WiFi.Password == "" {
		s.Uplinks.WiFi.Password = cur.Uplinks.WiFi.Password
	}
	s = s.Normalize()
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// Redacted returns s without its passwords, to show or report.
func (s Settings) Redacted() Settings {
	s.AP.Password = ""
	s.Uplinks.WiFi.Password = ""
	return s
}

// Problems is a settings error as its fields' problems, one a line,
// without the package's prefix.
func Problems(err error) string {
	return strings.ReplaceAll(err.Error(), ErrInvalid.Error()+": ", "")
}

// DecodeSettings decodes settings from JSON (the cloud's desired
// configuration or the local UI), refusing unknown fields, fills in the
// defaults and validates them.
func DecodeSettings(data []byte) (Settings, error) {
	var s Settings
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if dec.More() {
		return Settings{}, fmt.Errorf("%w: data after the settings object", ErrInvalid)
	}
	s = s.Normalize()
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}
