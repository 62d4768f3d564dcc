// Package config holds the appliance's configuration: its TOML file format,
// defaults, command-line overrides and validation. Every key is documented
// in docs/configuration.md; keep the two in step.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/constellation-ev/constellation/appliance/cloudsync"
	"github.com/constellation-ev/constellation/appliance/lcd"
	"github.com/constellation-ev/constellation/appliance/locallist"
	"github.com/constellation-ev/constellation/appliance/network"
	"github.com/constellation-ev/constellation/appliance/rfid"
	"github.com/constellation-ev/constellation/appliance/screen"
	"github.com/constellation-ev/constellation/syncproto"
)

// Config is the whole appliance configuration.
type Config struct {
	// DataDir holds the bbolt database and other state.
	DataDir string `toml:"data_dir"`
	// Dev runs with simulated hardware and without the cloud.
	Dev bool `toml:"dev"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `toml:"log_level"`

	OCPP OCPP `toml:"ocpp"`
	API  API  `toml:"api"`
	Auth Auth `toml:"auth"`
	Sync Sync `toml:"sync"`

	// The station's own reader and display, and tap-to-charge.
	RFID    rfid.Config   `toml:"rfid"`
	LCD     lcd.Config    `toml:"lcd"`
	Screen  screen.Config `toml:"screen"`
	Station Station       `toml:"station"`

	// Network is the chargers' access point and the uplink.
	Network Network `toml:"network"`

	// Setup is the setup page, while the appliance awaits its site's settings.
	Setup Setup `toml:"setup"`
}

// Setup configures the setup page (docs/install.md): when first boot
// found no settings file, the appliance serves a form on its access point
// where the installer enters them; constellation-setup.service applies
// what it writes (firstboot.SetupFile in the data directory) and turns
// setup mode off.
type Setup struct {
	// Enabled: the appliance awaits its settings and serves the setup page.
	Enabled bool `toml:"enabled"`
	// Addr is the setup page's listener; empty: the access point's
	// address on DefaultSetupPort.
	Addr string `toml:"addr"`
}

// DefaultSetupPort is the setup page's port on the access point's
// address. It is not 80: the appliance has no capability to bind a port
// below 1024, and the firewall redirects port 80 on the access point to
// it instead while setup mode is on (appliance/firewall).
const DefaultSetupPort = 8080

// SetupAddr returns where the setup page listens: setup.addr, else the
// access point's address on DefaultSetupPort.
func (c Config) SetupAddr() (string, error) {
	if c.Setup.Addr != "" {
		return c.Setup.Addr, nil
	}
	p, err := network.ParseAPAddress(c.Network.Settings().AP.Address)
	if err != nil {
		return "", fmt.Errorf("network.ap.address: %w", err)
	}
	return net.JoinHostPort(p.Addr().String(), strconv.Itoa(DefaultSetupPort)), nil
}

// SetupPort returns the setup page's TCP port.
func (c Config) SetupPort() (uint16, error) {
	addr, err := c.SetupAddr()
	if err != nil {
		return 0, err
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("setup.addr: %q: %w", addr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("setup.addr: %q: want a port from 1 to 65535", addr)
	}
	return uint16(p), nil
}

// Network configures the access point and the uplinks, driven through
// NetworkManager (docs/network.md).
type Network struct {
	// Driver is "networkmanager", "sim" (dev mode) or "none" (the network
	// is left alone).
	Driver string `toml:"driver"`
	// AP and Uplinks are the initial settings; once a change through the
	// API or the cloud has passed its check, the last good settings in
	// the data directory win (they are what the chargers know).
	AP      network.APConfig `toml:"ap"`
	Uplinks network.Uplinks  `toml:"uplinks"`
	// CheckTimeout is how long a change has to bring the access point up
	// and the uplink online before it is rolled back.
	CheckTimeout Duration `toml:"check_timeout"`
	// LeasesFile is the access point's dnsmasq leases file; empty: the
	// one NetworkManager keeps for ap.interface.
	LeasesFile string `toml:"leases_file"`
	// ReportEvery is how often the network's state and the access point's
	// clients are compared with what the cloud was last told.
	ReportEvery Duration `toml:"report_every"`
}

// Network drivers.
const (
	NetworkManager = "networkmanager"
	NetworkSim     = "sim"
	NetworkNone    = "none"
)

// Settings returns the network settings the section gives, with defaults.
func (n Network) Settings() network.Settings {
	return network.Settings{AP: n.AP, Uplinks: n.Uplinks}.Normalize()
}

// Leases returns the leases file to read.
func (n Network) Leases() string {
	if n.LeasesFile != "" {
		return n.LeasesFile
	}
	return "/var/lib/NetworkManager/dnsmasq-" + n.Settings().AP.Interface + ".leases"
}

// Station configures tap-to-charge at the appliance's reader.
type Station struct {
	// SiteName is shown on the display's idle screens. (A tapped card
	// waits screen.plug_in_time for the driver's plug.)
	SiteName string `toml:"site_name"`
}

// OCPP configures the central system that chargers connect to.
type OCPP struct {
	// Addr is the plain websocket listener (security profiles 0 and 1); empty disables it.
	Addr string `toml:"addr"`
	// TLSAddr is the TLS listener (profiles 2 and 3); empty disables it.
	TLSAddr string `toml:"tls_addr"`
	// TLSCert and TLSKey are the server certificate and key (PEM files).
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// ClientCA verifies charger certificates for profile 3 (PEM file).
	ClientCA string `toml:"client_ca"`
	// Versions are the enabled subprotocols; empty means all.
	Versions []string `toml:"versions"`
	// UnknownChargers is "accept" or "reject": what to do with a charger not listed in Chargers.
	UnknownChargers string `toml:"unknown_chargers"`
	// MaxFrameBytes is the largest websocket message accepted.
	MaxFrameBytes int64 `toml:"max_frame_bytes"`
	// CallTimeout bounds how long a CSMS→charger CALL waits for its answer.
	CallTimeout Duration `toml:"call_timeout"`
	// PingInterval is how often the CSMS pings each charger to detect half-open sockets.
	PingInterval Duration `toml:"ping_interval"`
	// HeartbeatInterval is sent to chargers in the BootNotification answer.
	HeartbeatInterval Duration `toml:"heartbeat_interval"`
	// Lenient accepts known vendor quirks with a warning, for every charger.
	Lenient bool `toml:"lenient"`
	// Chargers lists known chargers and their credentials.
	Chargers []Charger `toml:"chargers"`
}

// Charger is one known charger.
type Charger struct {
	ID string `toml:"id"`
	// SecurityProfile is 0 (none), 1 (Basic), 2 (TLS + Basic) or 3 (mutual TLS).
	SecurityProfile int `toml:"security_profile"`
	// PasswordHash is the output of `constellation-appliance hash-password`.
	PasswordHash string `toml:"password_hash"`
	// Lenient accepts this charger's known quirks with a warning.
	Lenient bool `toml:"lenient"`
	// AuthPolicy overrides Auth.UnknownTokens for this charger; empty inherits.
	AuthPolicy string `toml:"auth_policy"`
}

// API configures the local operator API.
type API struct {
	// Addr is the HTTP listener of the local API and /healthz.
	Addr string `toml:"addr"`
}

// Auth configures the offline authorization of id tokens.
type Auth struct {
	// UnknownTokens is the policy for tokens not in the cache: strict, allowlist or open.
	UnknownTokens string `toml:"unknown_tokens"`
	// Allowlist holds exact ids or prefixes ending in '*', used by the allowlist policy.
	Allowlist []string `toml:"allowlist"`
	// LocalList sends the cache to the chargers as their local
	// authorization lists (SendLocalList), so they authorize offline too.
	LocalList bool `toml:"local_list"`
	// LocalListBatch is the most tokens per SendLocalList to a charger
	// that does not report its own limit.
	LocalListBatch int `toml:"local_list_batch"`
}

// Sync configures the sync with the watchtower cloud over MQTT (see docs/sync.md).
type Sync struct {
	// Enabled turns the sync on; off, nothing is queued for the cloud.
	Enabled bool `toml:"enabled"`
	// Broker is the MQTT v5 broker's URL: tcp://, mqtt://, tls://, mqtts:// or ssl://, with host:port.
	Broker string `toml:"broker"`
	// Site is this appliance's site id.
	Site string `toml:"site"`
	// Username is the MQTT user name; empty: the site id.
	Username string `toml:"username"`
	// PasswordFile holds the MQTT password (one line); empty: none.
	PasswordFile string `toml:"password_file"`
	// EnrollURL is the watchtower's HTTP(S) base URL, where the appliance
	// trades the token of EnrollTokenFile for its credentials (stored in
	// PasswordFile) when PasswordFile does not exist yet.
	EnrollURL       string `toml:"enroll_url"`
	EnrollTokenFile string `toml:"enroll_token_file"`
	// CAFile (PEM) verifies a TLS broker; empty: the system's roots.
	CAFile string `toml:"ca_file"`
	// ReadingsBatch holds live meter readings back this long to send them together; 0 sends them at once.
	ReadingsBatch Duration `toml:"readings_batch"`
	// OutboxMaxEntries and OutboxMaxBytes bound the records waiting for the broker.
	OutboxMaxEntries int   `toml:"outbox_max_entries"`
	OutboxMaxBytes   int64 `toml:"outbox_max_bytes"`
}

// Duration is a time.Duration written as a Go duration string ("30s").
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the configuration used when the file and flags set nothing.
func Default() Config {
	return Config{
		DataDir:  "/var/lib/constellation",
		LogLevel: "info",
		OCPP: OCPP{
			Addr:              ":9000",
			UnknownChargers:   "reject",
			MaxFrameBytes:     64 << 10,
			CallTimeout:       Duration{30 * time.Second},
			PingInterval:      Duration{30 * time.Second},
			HeartbeatInterval: Duration{300 * time.Second},
		},
		API:  API{Addr: "127.0.0.1:8000"},
		Auth: Auth{UnknownTokens: "strict", LocalList: true, LocalListBatch: locallist.DefaultEntriesPerMessage},
		Sync: Sync{
			ReadingsBatch:    Duration{cloudsync.DefaultReadingsBatch},
			OutboxMaxEntries: cloudsync.DefaultMaxEntries,
			OutboxMaxBytes:   cloudsync.DefaultMaxBytes,
		},
		Network: Network{Driver: NetworkNone, AP: network.DefaultSettings().AP, Uplinks: network.DefaultSettings().Uplinks,
			CheckTimeout: Duration{30 * time.Second}, ReportEvery: Duration{30 * time.Second}},
		RFID:   rfid.Defaults(),
		LCD:    lcd.Defaults(),
		Screen: screen.Defaults(),
	}
}

// Load reads the configuration: defaults, then the TOML file named by
// --config (if any), then the flags the user set. args excludes the program name.
func Load(args []string) (Config, error) {
	cfg := Default()
	fs := flag.NewFlagSet("constellation-appliance", flag.ContinueOnError)
	path := fs.String("config", "", "TOML configuration file")
	dataDir := fs.String("data-dir", "", "directory for the database and state (overrides data_dir)")
	ocppAddr := fs.String("ocpp-addr", "", "OCPP websocket listen address (overrides ocpp.addr, default :9000)")
	apiAddr := fs.String("api-addr", "", "local API listen address (overrides api.addr, default 127.0.0.1:8000)")
	dev := fs.Bool("dev", false, "development mode: simulated hardware, unknown chargers and tokens accepted, no cloud sync unless [sync] enables it")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (overrides log_level)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var md toml.MetaData
	if *path != "" {
		var err error
		if md, err = decodeFile(*path, &cfg); err != nil {
			return Config{}, err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["data-dir"] {
		cfg.DataDir = *dataDir
	}
	if set["ocpp-addr"] {
		cfg.OCPP.Addr = *ocppAddr
	}
	if set["api-addr"] {
		cfg.API.Addr = *apiAddr
	}
	if set["log-level"] {
		cfg.LogLevel = *logLevel
	}
	if set["dev"] {
		cfg.Dev = *dev
	}
	if cfg.Dev {
		applyDev(&cfg, set["data-dir"] || *path != "", md.IsDefined)
	}
	return cfg, cfg.Validate()
}

// applyDev makes development mode work with no file: a local data
// directory, an open door for the simulated chargers and cards, and the
// simulated reader and display unless the file names drivers.
func applyDev(cfg *Config, dataDirChosen bool, inFile func(key ...string) bool) {
	if !dataDirChosen {
		cfg.DataDir = "tmp/dev-data"
	}
	cfg.OCPP.UnknownChargers = "accept"
	if cfg.Auth.UnknownTokens == "strict" {
		cfg.Auth.UnknownTokens = "open"
	}
	if !inFile("rfid", "driver") {
		cfg.RFID.Driver = rfid.DriverSim
	}
	if !inFile("lcd", "driver") {
		cfg.LCD.Driver = lcd.DriverSim
	}
	if !inFile("network", "driver") {
		// A simulated access point: nothing real is configured with it.
		cfg.Network.Driver = NetworkSim
		if !inFile("network", "ap", "ssid") {
			cfg.Network.AP.SSID = "Constellation-dev"
		}
		if !inFile("network", "ap", "password") {
			cfg.Network.AP.Password = "simulated-ap"
		}
	}
}

func decodeFile(path string, cfg *Config) (toml.MetaData, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return toml.MetaData{}, fmt.Errorf("read config: %w", err)
	}
	md, err := decode(data, cfg)
	if err != nil {
		return md, fmt.Errorf("config %s: %w", path, err)
	}
	return md, nil
}

// decode reads TOML into cfg, refusing keys that Config does not have.
func decode(data []byte, cfg *Config) (toml.MetaData, error) {
	md, err := toml.Decode(string(data), cfg)
	if err != nil {
		return md, err
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		return md, fmt.Errorf("unknown keys: %s", strings.Join(keys, ", "))
	}
	return md, nil
}

// Validate reports the first invalid setting, naming its key.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: must not be empty"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level: %q is not debug, info, warn or error", c.LogLevel))
	}
	if c.OCPP.Addr == "" && c.OCPP.TLSAddr == "" {
		errs = append(errs, errors.New("ocpp.addr and ocpp.tls_addr: at least one listener is needed"))
	}
	if c.OCPP.TLSAddr != "" && (c.OCPP.TLSCert == "" || c.OCPP.TLSKey == "") {
		errs = append(errs, errors.New("ocpp.tls_cert and ocpp.tls_key: required with ocpp.tls_addr"))
	}
	for _, v := range c.OCPP.Versions {
		switch v {
		case "ocpp1.6", "ocpp2.0.1", "ocpp2.1":
		default:
			errs = append(errs, fmt.Errorf("ocpp.versions: unknown subprotocol %q", v))
		}
	}
	if c.OCPP.UnknownChargers != "accept" && c.OCPP.UnknownChargers != "reject" {
		errs = append(errs, fmt.Errorf("ocpp.unknown_chargers: %q is not accept or reject", c.OCPP.UnknownChargers))
	}
	if c.OCPP.MaxFrameBytes < 1024 {
		errs = append(errs, fmt.Errorf("ocpp.max_frame_bytes: %d is below 1024", c.OCPP.MaxFrameBytes))
	}
	for name, d := range map[string]Duration{"ocpp.call_timeout": c.OCPP.CallTimeout, "ocpp.ping_interval": c.OCPP.PingInterval, "ocpp.heartbeat_interval": c.OCPP.HeartbeatInterval} {
		if d.Duration <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive", name))
		}
	}
	errs = append(errs, validPolicy("auth.unknown_tokens", c.Auth.UnknownTokens, false))
	if c.Auth.LocalListBatch < 1 {
		errs = append(errs, fmt.Errorf("auth.local_list_batch: %d is below 1", c.Auth.LocalListBatch))
	}
	seen := map[string]bool{}
	for i, ch := range c.OCPP.Chargers {
		key := fmt.Sprintf("ocpp.chargers[%d]", i)
		switch {
		case ch.ID == "":
			errs = append(errs, fmt.Errorf("%s.id: must not be empty", key))
		case seen[ch.ID]:
			errs = append(errs, fmt.Errorf("%s.id: %q is listed twice", key, ch.ID))
		}
		seen[ch.ID] = true
		if ch.SecurityProfile < 0 || ch.SecurityProfile > 3 {
			errs = append(errs, fmt.Errorf("%s.security_profile: %d is not 0, 1, 2 or 3", key, ch.SecurityProfile))
		}
		if (ch.SecurityProfile == 1 || ch.SecurityProfile == 2) && ch.PasswordHash == "" {
			errs = append(errs, fmt.Errorf("%s.password_hash: required for security profile %d", key, ch.SecurityProfile))
		}
		if ch.SecurityProfile >= 2 && c.OCPP.TLSAddr == "" {
			errs = append(errs, fmt.Errorf("%s.security_profile: %d needs ocpp.tls_addr", key, ch.SecurityProfile))
		}
		if ch.SecurityProfile == 3 && c.OCPP.ClientCA == "" {
			errs = append(errs, fmt.Errorf("%s.security_profile: 3 needs ocpp.client_ca", key))
		}
		errs = append(errs, validPolicy(key+".auth_policy", ch.AuthPolicy, true))
	}
	errs = append(errs, c.Sync.validate()...)
	switch c.Network.Driver {
	case NetworkManager, NetworkSim:
		if err := c.Network.Settings().Validate(); err != nil {
			errs = append(errs, prefixed("network", errors.New(network.Problems(err))))
		}
		if c.Network.CheckTimeout.Duration < time.Second {
			errs = append(errs, fmt.Errorf("network.check_timeout: %v is below 1s", c.Network.CheckTimeout.Duration))
		}
		if c.Network.ReportEvery.Duration <= 0 {
			errs = append(errs, fmt.Errorf("network.report_every: %v is not positive", c.Network.ReportEvery.Duration))
		}
	case NetworkNone:
	default:
		errs = append(errs, fmt.Errorf("network.driver: %q is not networkmanager, sim or none", c.Network.Driver))
	}
	if c.Setup.Enabled || c.Setup.Addr != "" {
		if _, err := c.SetupPort(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, section := range []struct {
		name string
		err  error
	}{{"rfid", c.RFID.Validate()}, {"lcd", c.LCD.Validate()}, {"screen", c.Screen.Validate()}} {
		if section.err != nil {
			errs = append(errs, prefixed(section.name, section.err))
		}
	}
	return errors.Join(errs...)
}

// prefixed names a section's errors by their full keys: each line of err
// (a section's Validate joins one per key) gets "section.".
func prefixed(section string, err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = section + "." + l
	}
	return errors.New(strings.Join(lines, "\n"))
}

// validate checks the sync settings; the connection ones only when the
// sync is enabled.
func (s Sync) validate() []error {
	var errs []error
	if s.ReadingsBatch.Duration < 0 {
		errs = append(errs, errors.New("sync.readings_batch: must not be negative"))
	}
	if s.OutboxMaxEntries < 1 {
		errs = append(errs, fmt.Errorf("sync.outbox_max_entries: %d is below 1", s.OutboxMaxEntries))
	}
	if s.OutboxMaxBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("sync.outbox_max_bytes: %d is below 1 MiB", s.OutboxMaxBytes))
	}
	if !s.Enabled {
		return errs
	}
	if err := syncproto.ValidateSiteID(s.Site); err != nil {
		errs = append(errs, fmt.Errorf("sync.site: %w", err))
	}
	if s.Broker == "" {
		errs = append(errs, errors.New("sync.broker: required when sync is enabled"))
	} else if err := cloudsync.CheckBroker(s.Broker, s.CAFile); err != nil {
		errs = append(errs, fmt.Errorf("sync.%w", err))
	}
	if err := cloudsync.CheckEnrollment(s.EnrollURL, s.EnrollTokenFile, s.PasswordFile); err != nil {
		errs = append(errs, fmt.Errorf("sync.%w", err))
	}
	return errs
}

func validPolicy(key, p string, emptyOK bool) error {
	switch {
	case p == "" && emptyOK, p == "strict", p == "allowlist", p == "open":
		return nil
	}
	return fmt.Errorf("%s: %q is not strict, allowlist or open", key, p)
}
