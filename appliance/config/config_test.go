package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "appliance.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.OCPP.Addr != ":9000" || cfg.API.Addr != "127.0.0.1:8000" {
		t.Errorf("addresses = %q, %q; want :9000, 127.0.0.1:8000", cfg.OCPP.Addr, cfg.API.Addr)
	}
	if cfg.OCPP.UnknownChargers != "reject" || cfg.Auth.UnknownTokens != "strict" {
		t.Errorf("defaults must be closed: unknown_chargers=%q unknown_tokens=%q", cfg.OCPP.UnknownChargers, cfg.Auth.UnknownTokens)
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	p := writeFile(t, `
data_dir = "/srv/c"
[ocpp]
addr = ":7000"
call_timeout = "5s"
[api]
addr = "127.0.0.1:1"
`)
	cfg, err := Load([]string{"--config", p, "--api-addr", "127.0.0.1:2"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.DataDir != "/srv/c" || cfg.OCPP.Addr != ":7000" || cfg.API.Addr != "127.0.0.1:2" {
		t.Errorf("got data_dir=%q ocpp.addr=%q api.addr=%q", cfg.DataDir, cfg.OCPP.Addr, cfg.API.Addr)
	}
	if cfg.OCPP.CallTimeout.Duration != 5*time.Second {
		t.Errorf("call_timeout = %v, want 5s", cfg.OCPP.CallTimeout)
	}
}

func TestDevOpensTheDoor(t *testing.T) {
	cfg, err := Load([]string{"--dev"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.DataDir != "tmp/dev-data" || cfg.OCPP.UnknownChargers != "accept" || cfg.Auth.UnknownTokens != "open" {
		t.Errorf("dev: data_dir=%q unknown_chargers=%q unknown_tokens=%q", cfg.DataDir, cfg.OCPP.UnknownChargers, cfg.Auth.UnknownTokens)
	}
	if cfg.Network.Driver != NetworkSim || cfg.Network.Settings().Validate() != nil {
		t.Errorf("dev: network %+v, want a valid simulated one", cfg.Network)
	}
	if cfg.RFID.Driver != "sim" || cfg.LCD.Driver != "sim" {
		t.Errorf("dev: rfid.driver=%q lcd.driver=%q, want the simulated ones", cfg.RFID.Driver, cfg.LCD.Driver)
	}
	// Drivers the file names are kept: a Pi in dev mode can use its hardware.
	cfg, err = Load([]string{"--dev", "--config", writeFile(t, "[rfid]\ndriver = \"mfrc522\"\n[lcd]\ndriver = \"none\"")})
	if err != nil || cfg.RFID.Driver != "mfrc522" || cfg.LCD.Driver != "none" {
		t.Errorf("dev with drivers in the file: rfid.driver=%q lcd.driver=%q, %v", cfg.RFID.Driver, cfg.LCD.Driver, err)
	}
	if cfg, _ := Load(nil); cfg.RFID.Driver != "mfrc522" || cfg.LCD.Driver != "auto" {
		t.Errorf("defaults: rfid.driver=%q lcd.driver=%q", cfg.RFID.Driver, cfg.LCD.Driver)
	}
}

// Sync is off unless the file turns it on, --dev included.
func TestSync(t *testing.T) {
	for _, args := range [][]string{nil, {"--dev"}} {
		cfg, err := Load(args)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Sync.Enabled || cfg.Sync.ReadingsBatch.Duration != 5*time.Minute || cfg.Sync.OutboxMaxEntries != 500000 {
			t.Errorf("%v: sync %+v", args, cfg.Sync)
		}
	}
	p := writeFile(t, `
[sync]
enabled = true
broker = "tls://watchtower.example:8883"
site = "depot-7"
password_file = "/var/lib/constellation/mqtt-password"
ca_file = "/etc/constellation/broker-ca.pem"
readings_batch = "1m"
outbox_max_bytes = 33554432
`)
	cfg, err := Load([]string{"--config", p, "--dev"})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sync
	if !s.Enabled || s.Site != "depot-7" || s.Broker != "tls://watchtower.example:8883" || s.ReadingsBatch.Duration != time.Minute ||
		s.OutboxMaxBytes != 32<<20 || s.OutboxMaxEntries != 500000 || s.Username != "" {
		t.Errorf("sync %+v", s)
	}

	// Enrollment: a token file on the boot partition and the watchtower's URL.
	p = writeFile(t, syncOn+`password_file = "/var/lib/constellation/mqtt-password"
enroll_url = "https://watchtower.example/base"
enroll_token_file = "/boot/firmware/constellation-token"
`)
	if cfg, err = Load([]string{"--config", p}); err != nil {
		t.Fatal(err)
	}
	if s := cfg.Sync; s.EnrollURL != "https://watchtower.example/base" || s.EnrollTokenFile != "/boot/firmware/constellation-token" {
		t.Errorf("enrollment %+v", s)
	}
}

// syncOn is a [sync] section that is valid but for what a test adds.
const syncOn = "[sync]\nenabled = true\nsite = \"depot-7\"\nbroker = \"tcp://x:1883\"\n"

func TestLoadErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name, file string
		args       []string
		want       string
	}{
		{"unknown key", "colour = 1", nil, "unknown keys: colour"},
		{"bad duration", "[ocpp]\ncall_timeout = \"soon\"", nil, "call_timeout"},
		{"bad policy", "[auth]\nunknown_tokens = \"maybe\"", nil, "auth.unknown_tokens"},
		{"bad level", "log_level = \"loud\"", nil, "log_level"},
		{"no listener", "[ocpp]\naddr = \"\"", nil, "at least one listener"},
		{"profile 1 needs hash", "[[ocpp.chargers]]\nid = \"CP1\"\nsecurity_profile = 1", nil, "ocpp.chargers[0].password_hash"},
		{"profile 2 needs tls", "[[ocpp.chargers]]\nid = \"CP1\"\nsecurity_profile = 2\npassword_hash = \"x\"", nil, "needs ocpp.tls_addr"},
		{"duplicate charger", "[[ocpp.chargers]]\nid = \"CP1\"\n[[ocpp.chargers]]\nid = \"CP1\"", nil, "listed twice"},
		{"bad version", "[ocpp]\nversions = [\"ocpp1.5\"]", nil, "ocpp1.5"},
		{"tiny frames", "[ocpp]\nmax_frame_bytes = 10", nil, "max_frame_bytes"},
		{"stray argument", "", []string{"extra"}, "unexpected argument"},
		{"sync without broker", "[sync]\nenabled = true\nsite = \"depot-7\"", nil, "sync.broker: required"},
		{"sync bad scheme", "[sync]\nenabled = true\nsite = \"depot-7\"\nbroker = \"http://x:1883\"", nil, "sync.broker"},
		{"sync no port", "[sync]\nenabled = true\nsite = \"depot-7\"\nbroker = \"tcp://x\"", nil, "sync.broker"},
		{"sync credentials in url", "[sync]\nenabled = true\nsite = \"depot-7\"\nbroker = \"tcp://u:p@x:1883\"", nil, "sync.broker: credentials"},
		{"sync bad site", "[sync]\nenabled = true\nsite = \"depot/7\"\nbroker = \"tcp://x:1883\"", nil, "sync.site"},
		{"sync ca without tls", "[sync]\nenabled = true\nsite = \"s\"\nbroker = \"tcp://x:1883\"\nca_file = \"/ca.pem\"", nil, "sync.ca_file"},
		{"sync negative batch", "[sync]\nreadings_batch = \"-1s\"", nil, "sync.readings_batch"},
		{"sync tiny outbox", "[sync]\noutbox_max_entries = 0", nil, "sync.outbox_max_entries"},
		{"enroll url scheme", syncOn + "enroll_url = \"ftp://tower\"", nil, "sync.enroll_url"},
		{"enroll url host", syncOn + "enroll_url = \"https://\"", nil, "sync.enroll_url"},
		{"enroll url credentials", syncOn + "enroll_url = \"https://u:p@tower\"", nil, "sync.enroll_url: no credentials"},
		{"token without url", syncOn + "password_file = \"/pw\"\nenroll_token_file = \"/boot/token\"", nil, "sync.enroll_url: required with enroll_token_file"},
		{"network without an ssid", "[network]\ndriver = \"networkmanager\"\n[network.ap]\npassword = \"long-enough\"", nil, "network.ap.ssid: is 0 bytes"},
		{"network short password", "[network]\ndriver = \"networkmanager\"\n[network.ap]\nssid = \"Site\"\npassword = \"short\"", nil, "network.ap.password"},
		{"network bad driver", "[network]\ndriver = \"nmcli\"", nil, `network.driver: "nmcli" is not`},
		{"bad reader", "[rfid]\ndriver = \"pn532\"", nil, `rfid.driver: "pn532" is not`},
		{"bad uid format", "[rfid.format]\ncase = \"title\"", nil, "rfid.format"},
		{"bad display", "[lcd]\ndriver = \"oled\"", nil, `lcd.driver: "oled" is not`},
		{"bad language", "[screen]\nlanguage = \"fr\"", nil, `screen.language: "fr" is not en or es`},
		{"short event", "[screen]\nevent_time = \"10ms\"", nil, "screen.event_time"},
		{"setup port", "[setup]\nenabled = true\naddr = \"10.42.0.1:http\"", nil, "setup.addr"},
		{"setup no port", "[setup]\naddr = \"10.42.0.1\"", nil, "setup.addr"},
		{"setup port 0", "[setup]\nenabled = true\naddr = \":0\"", nil, "setup.addr"},
		{"token without password file", syncOn + "enroll_url = \"https://tower\"\nenroll_token_file = \"/boot/token\"", nil, "sync.password_file: required with enroll_token_file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--config", writeFile(t, tc.file)}, tc.args...)
			_, err := Load(args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// Setup mode is off unless the file turns it on; the page listens on the
// access point's address unless setup.addr says otherwise.
func TestSetup(t *testing.T) {
	cfg, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Setup.Enabled {
		t.Error("setup mode on by default")
	}
	if addr, err := cfg.SetupAddr(); err != nil || addr != "10.42.0.1:8080" {
		t.Errorf("default setup address %q, %v", addr, err)
	}
	cfg, err = Load([]string{"--config", writeFile(t, "[setup]\nenabled = true\n[network.ap]\naddress = \"192.168.7.1/24\"")})
	if err != nil {
		t.Fatal(err)
	}
	if addr, err := cfg.SetupAddr(); err != nil || !cfg.Setup.Enabled || addr != "192.168.7.1:8080" {
		t.Errorf("setup %+v at %q, %v", cfg.Setup, addr, err)
	}
	cfg.Setup.Addr = "127.0.0.1:9080"
	if port, err := cfg.SetupPort(); err != nil || port != 9080 {
		t.Errorf("setup port %d, %v", port, err)
	}
}

func TestMissingFile(t *testing.T) {
	if _, err := Load([]string{"--config", filepath.Join(t.TempDir(), "nope.toml")}); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
}

// TestEveryKeyDocumented keeps docs/configuration.md in step with Config.
func TestEveryKeyDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatalf("read docs: %v", err)
	}
	for _, key := range keys(reflect.TypeOf(Config{}), "") {
		if !strings.Contains(string(doc), "`"+key+"`") {
			t.Errorf("docs/configuration.md does not document %q", key)
		}
	}
}

// keys lists the TOML keys of struct type t: dotted for tables, and the
// bare name for the fields of arrays of tables (documented in their own table).
func keys(t reflect.Type, prefix string) []string {
	var out []string
	for f := range t.Fields() {
		name := f.Tag.Get("toml")
		if name == "" {
			continue
		}
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration{}):
			out = append(out, keys(ft, prefix+name+".")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, prefix+name)
			out = append(out, keys(ft.Elem(), "")...)
		default:
			out = append(out, prefix+name)
		}
	}
	return out
}
