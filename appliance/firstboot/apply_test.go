package firstboot

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/constellation-ev/constellation/appliance/config"
)

// sshKey returns a well-formed public key line of typ with the given comment.
func sshKey(typ string, seed byte, comment string) string {
	blob := binary.BigEndian.AppendUint32(nil, uint32(len(typ)))
	blob = append(blob, typ...)
	blob = binary.BigEndian.AppendUint32(blob, 32)
	for i := range 32 {
		blob = append(blob, seed+byte(i))
	}
	line := typ + " " + base64.StdEncoding.EncodeToString(blob)
	if comment != "" {
		line += " " + comment
	}
	return line
}

var fullSettings = `site_name = "Depot 7"
time_zone = "Europe/Madrid"
ssh_authorized_keys = ["` + sshKey("ssh-ed25519", 1, "alice@laptop") + `"]

[cloud]
url = "https://watchtower.example.com"
broker = "tls://watchtower.example.com:8883"
site = "depot-7"
enrollment_token = "tok-123456"

[uplink.wifi]
ssid = "Depot office"
password = "office-wifi-pass"

[access_point]
ssid = "Depot7-Chargers"
password = "chargers-secret"

[display]
language = "es"

[[chargers]]
id = "CP-1"
password = "cp1-basic-auth-password"

[[chargers]]
id = "CP-2"
`

type env struct {
	opts Options
}

func newEnv(t *testing.T, settings string) env {
	t.Helper()
	root := t.TempDir()
	o := Options{
		BootFile:       filepath.Join(root, "boot", "constellation.toml"),
		ConfigFile:     filepath.Join(root, "etc", "appliance.toml"),
		DataDir:        filepath.Join(root, "data"),
		AuthorizedKeys: filepath.Join(root, "home", ".ssh", "authorized_keys"),
	}
	if err := os.MkdirAll(filepath.Dir(o.BootFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(o.BootFile, []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	return env{opts: o}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func load(t *testing.T, path string) config.Config {
	t.Helper()
	cfg, err := config.Load([]string{"--config", path})
	if err != nil {
		t.Fatalf("generated config does not load: %v\n%s", err, read(t, path))
	}
	return cfg
}

func TestApplyFullSettings(t *testing.T) {
	e := newEnv(t, fullSettings)
	res, err := Apply(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := load(t, e.opts.ConfigFile)
	tokenFile := filepath.Join(e.opts.DataDir, EnrollTokenName)
	checks := []struct {
		name      string
		got, want any
	}{
		{"data_dir", cfg.DataDir, e.opts.DataDir},
		{"station.site_name", cfg.Station.SiteName, "Depot 7"},
		{"screen.language", cfg.Screen.Language, "es"},
		{"network.driver", cfg.Network.Driver, config.NetworkManager},
		{"network.ap.ssid", cfg.Network.AP.SSID, "Depot7-Chargers"},
		{"network.ap.password", string(cfg.Network.AP.Password), "chargers-secret"},
		{"network.uplinks.wifi.enabled", cfg.Network.Uplinks.WiFi.Enabled, true},
		{"network.uplinks.wifi.ssid", cfg.Network.Uplinks.WiFi.SSID, "Depot office"},
		{"network.uplinks.wifi.password", string(cfg.Network.Uplinks.WiFi.Password), "office-wifi-pass"},
		{"sync.enabled", cfg.Sync.Enabled, true},
		{"sync.broker", cfg.Sync.Broker, "tls://watchtower.example.com:8883"},
		{"sync.site", cfg.Sync.Site, "depot-7"},
		{"sync.enroll_url", cfg.Sync.EnrollURL, "https://watchtower.example.com"},
		{"sync.enroll_token_file", cfg.Sync.EnrollTokenFile, tokenFile},
		{"sync.password_file", cfg.Sync.PasswordFile, filepath.Join(e.opts.DataDir, MQTTPasswordName)},
		{"config mode", mode(t, e.opts.ConfigFile), os.FileMode(0o640)},
		{"token", read(t, tokenFile), "tok-123456\n"},
		{"token mode", mode(t, tokenFile), os.FileMode(0o600)},
		{"authorized_keys", read(t, e.opts.AuthorizedKeys), sshKey("ssh-ed25519", 1, "alice@laptop") + "\n"},
		{"authorized_keys mode", mode(t, e.opts.AuthorizedKeys), os.FileMode(0o600)},
		{"result", res, Result{ConfigFile: e.opts.ConfigFile, SyncEnabled: true, EnrollTokenFile: tokenFile,
			APSSID: "Depot7-Chargers", KeysAdded: 1, TimeZone: "Europe/Madrid", SecretsRemoved: true}},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(e.opts.DataDir, APPasswordName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ap-password written although the installer gave one: %v", err)
	}

	assertChargers(t, cfg, map[string]string{"CP-1": "cp1-basic-auth-password", "CP-2": ""})

	boot := read(t, e.opts.BootFile)
	for _, secret := range []string{"tok-123456", "office-wifi-pass", "chargers-secret", "cp1-basic-auth-password", "enrollment_token", "password"} {
		if strings.Contains(withoutComments(boot), secret) {
			t.Errorf("boot file still holds %q:\n%s", secret, boot)
		}
	}
	if !strings.Contains(boot, `# Chargers whose password was moved too: "CP-1".`) {
		t.Errorf("the boot file does not say which chargers' passwords were moved:\n%s", boot)
	}
	if !strings.HasPrefix(boot, AppliedMarker+"\n") {
		t.Errorf("boot file lacks the applied marker:\n%s", boot)
	}
	left, err := Decode([]byte(boot))
	if err != nil {
		t.Fatalf("rewritten boot file does not decode: %v", err)
	}
	want, _ := Decode([]byte(fullSettings))
	if left.SiteName != want.SiteName || left.Cloud.URL != want.Cloud.URL || left.AccessPoint.SSID != want.AccessPoint.SSID ||
		left.TimeZone != want.TimeZone || len(left.SSHAuthorizedKeys) != 1 || left.HasSecrets() ||
		!reflect.DeepEqual(left.Chargers, []Charger{{ID: "CP-1"}, {ID: "CP-2"}}) {
		t.Errorf("rewritten boot file = %+v, want the settings without secrets", left)
	}
	assertNoTemps(t, filepath.Dir(e.opts.BootFile), filepath.Dir(e.opts.ConfigFile), e.opts.DataDir)
}

// withoutComments is a TOML file's lines but its comments.
func withoutComments(file string) string {
	var b strings.Builder
	for line := range strings.Lines(file) {
		if !strings.HasPrefix(line, "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func assertNoTemps(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		matches, _ := filepath.Glob(filepath.Join(d, ".*.tmp*"))
		if len(matches) > 0 {
			t.Errorf("temporary files left: %v", matches)
		}
	}
}

func TestGeneratedAPPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 2 {
		e := newEnv(t, "site_name = \"x\"\n")
		res, err := Apply(e.opts)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(e.opts.DataDir, APPasswordName)
		if res.APPasswordFile != file {
			t.Errorf("APPasswordFile = %q, want %q", res.APPasswordFile, file)
		}
		if m := mode(t, file); m != 0o600 {
			t.Errorf("ap-password mode = %v, want 0600", m)
		}
		pw := strings.TrimSuffix(read(t, file), "\n")
		if len(pw) < 16 || strings.Trim(pw, unambiguous) != "" {
			t.Errorf("generated password %q: want 16+ characters of %q", pw, unambiguous)
		}
		cfg := load(t, e.opts.ConfigFile)
		if string(cfg.Network.AP.Password) != pw {
			t.Errorf("config's AP password differs from the one shown")
		}
		if !strings.HasPrefix(cfg.Network.AP.SSID, "Constellation-") {
			t.Errorf("AP SSID = %q, want Constellation-XXXX", cfg.Network.AP.SSID)
		}
		if cfg.Sync.Enabled || cfg.Network.Uplinks.WiFi.Enabled {
			t.Errorf("sync or Wi-Fi uplink enabled without settings")
		}
		seen[pw] = true
	}
	if len(seen) != 2 {
		t.Errorf("two devices got the same generated password")
	}
}

func TestApplyIsIdempotent(t *testing.T) {
	e := newEnv(t, fullSettings)
	if _, err := Apply(e.opts); err != nil {
		t.Fatal(err)
	}
	files := []string{e.opts.ConfigFile, e.opts.BootFile, e.opts.AuthorizedKeys, filepath.Join(e.opts.DataDir, EnrollTokenName)}
	before := map[string]string{}
	for _, f := range files {
		before[f] = read(t, f)
	}
	res, err := Apply(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.AlreadyApplied {
		t.Errorf("second run: AlreadyApplied = false")
	}
	for _, f := range files {
		if got := read(t, f); got != before[f] {
			t.Errorf("second run changed %s", f)
		}
	}
}

func TestBadSettingsRefusedNothingWritten(t *testing.T) {
	cases := []struct {
		name, settings, key string
	}{
		{"unknown key", "colour = \"red\"\n[access_point]\nchannel = 6\n", "colour, access_point.channel"},
		{"short AP password", "[access_point]\npassword = \"short\"\n", "access_point.password: is 5 characters, want 8 to 63"},
		{"long AP ssid", "[access_point]\nssid = \"" + strings.Repeat("a", 33) + "\"\n", "access_point.ssid"},
		{"Wi-Fi password without ssid", "[uplink.wifi]\npassword = \"longenough\"\n", "uplink.wifi.ssid"},
		{"Wi-Fi password not printable", "[uplink.wifi]\nssid = \"x\"\npassword = \"long\\tenough\"\n", "uplink.wifi.password"},
		{"time zone", "time_zone = \"Mars/Olympus\"\n", "time_zone"},
		{"time zone Local", "time_zone = \"Local\"\n", "time_zone"},
		{"ssh key type", "ssh_authorized_keys = [\"ssh-dss AAAAB3NzaC1kc3M= x\"]\n", "ssh_authorized_keys[0]"},
		{"ssh key base64", "ssh_authorized_keys = [\"" + sshKey("ssh-ed25519", 1, "") + "\", \"ssh-ed25519 !!!\"]\n", "ssh_authorized_keys[1]"},
		{"ssh key type mismatch", "ssh_authorized_keys = [\"ssh-rsa " + strings.Fields(sshKey("ssh-ed25519", 1, ""))[1] + "\"]\n", "ssh_authorized_keys[0]"},
		{"ssh key alone", "ssh_authorized_keys = [\"ssh-ed25519\"]\n", "ssh_authorized_keys[0]"},
		{"cloud without broker", "[cloud]\nsite = \"a\"\n", "cloud.broker"},
		{"broker scheme", "[cloud]\nsite = \"a\"\nbroker = \"http://x:1\"\n", "cloud.broker"},
		{"site id", "[cloud]\nsite = \"a/b\"\nbroker = \"tls://x:8883\"\n", "cloud.site"},
		{"plain http url", "[cloud]\nsite = \"a\"\nbroker = \"tls://x:8883\"\nurl = \"http://x\"\n", "cloud.url"},
		{"token without url", "[cloud]\nsite = \"a\"\nbroker = \"tls://x:8883\"\nenrollment_token = \"t\"\n", "cloud.url: required"},
		{"token with space", "[cloud]\nsite = \"a\"\nbroker = \"tls://x:8883\"\nurl = \"https://x\"\nenrollment_token = \"a b\"\n", "cloud.enrollment_token"},
		{"language", "[display]\nlanguage = \"fr\"\n", "display.language"},
		{"site name", "site_name = \"a\\u0007b\"\n", "site_name"},
		{"not TOML", "site_name = \n", "settings:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.settings)
			_, err := Apply(e.opts)
			if err == nil || !strings.Contains(err.Error(), c.key) {
				t.Fatalf("err = %v, want it to name %q", err, c.key)
			}
			assertNothingWritten(t, e, c.settings)
		})
	}
}

func assertNothingWritten(t *testing.T, e env, settings string) {
	t.Helper()
	for _, p := range []string{e.opts.ConfigFile, e.opts.DataDir, e.opts.AuthorizedKeys} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s written", p)
		}
	}
	if got := read(t, e.opts.BootFile); got != settings {
		t.Errorf("boot file changed:\n%s", got)
	}
}

func TestKeysWithoutAuthorizedKeysFile(t *testing.T) {
	e := newEnv(t, fullSettings)
	e.opts.AuthorizedKeys = ""
	if _, err := Apply(e.opts); err == nil || !strings.Contains(err.Error(), "ssh_authorized_keys") {
		t.Fatalf("err = %v, want ssh_authorized_keys named", err)
	}
	assertNothingWritten(t, e, fullSettings)
}

func TestBadBaseRefusedNothingWritten(t *testing.T) {
	for name, base := range map[string]string{
		"not TOML":         "ocpp = ",
		"network a value":  "network = 1",
		"config refuses":   "log_level = \"loud\"",
		"unknown key kept": "colour = 1",
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, fullSettings)
			e.opts.Base = base
			if _, err := Apply(e.opts); err == nil {
				t.Fatal("Apply accepted a bad base configuration")
			}
			for _, p := range []string{e.opts.ConfigFile, filepath.Join(e.opts.DataDir, EnrollTokenName), e.opts.AuthorizedKeys} {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s written", p)
				}
			}
			if got := read(t, e.opts.BootFile); got != fullSettings {
				t.Errorf("boot file changed")
			}
			assertNoTemps(t, filepath.Dir(e.opts.ConfigFile), e.opts.DataDir, filepath.Dir(e.opts.AuthorizedKeys))
		})
	}
}

func TestBaseKeptAndOverridden(t *testing.T) {
	e := newEnv(t, "site_name = \"Depot\"\n")
	e.opts.Base = "log_level = \"debug\"\n[ocpp]\naddr = \":9100\"\n[network.ap]\nssid = \"Image-AP\"\n[station]\nsite_name = \"default\"\n"
	if _, err := Apply(e.opts); err != nil {
		t.Fatal(err)
	}
	cfg := load(t, e.opts.ConfigFile)
	if cfg.LogLevel != "debug" || cfg.OCPP.Addr != ":9100" || cfg.Network.AP.SSID != "Image-AP" || cfg.Station.SiteName != "Depot" {
		t.Errorf("config = log_level %q, ocpp.addr %q, ap.ssid %q, site_name %q; want the base's values with the installer's on top",
			cfg.LogLevel, cfg.OCPP.Addr, cfg.Network.AP.SSID, cfg.Station.SiteName)
	}
}

func TestCrashBeforeBootRewriteThenRetry(t *testing.T) {
	settings := strings.Replace(fullSettings, "password = \"chargers-secret\"\n", "", 1)
	e := newEnv(t, settings)
	crashed := e.opts
	crashed.beforeBootRewrite = func() error { return errors.New("power cut") }
	if _, err := Apply(crashed); err == nil || !strings.Contains(err.Error(), "power cut") {
		t.Fatalf("err = %v, want the crash", err)
	}
	first := load(t, e.opts.ConfigFile)
	if got := read(t, filepath.Join(e.opts.DataDir, EnrollTokenName)); got != "tok-123456\n" {
		t.Errorf("token = %q after the crash", got)
	}
	if got := read(t, e.opts.BootFile); got != settings {
		t.Fatalf("boot file changed although its rewrite failed:\n%s", got)
	}

	res, err := Apply(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.SecretsRemoved || res.AlreadyApplied {
		t.Errorf("retry = %+v, want it to finish the job", res)
	}
	if left, _ := Decode([]byte(read(t, e.opts.BootFile))); left.HasSecrets() {
		t.Errorf("secrets left after the retry")
	}
	second := load(t, e.opts.ConfigFile)
	if second.Network.AP.Password != first.Network.AP.Password {
		t.Errorf("the retry generated another AP password; the one already shown would be wrong")
	}
	if got := read(t, e.opts.AuthorizedKeys); strings.Count(got, "\n") != 1 {
		t.Errorf("authorized_keys after the retry:\n%s", got)
	}
	// Hashed again (another salt), the same password still opens.
	assertChargers(t, second, map[string]string{"CP-1": "cp1-basic-auth-password", "CP-2": ""})
}

func TestAuthorizedKeysMerged(t *testing.T) {
	e := newEnv(t, fullSettings)
	existing := sshKey("ssh-rsa", 9, "old") + "\n" + sshKey("ssh-ed25519", 1, "same key, other comment")
	if err := os.MkdirAll(filepath.Dir(e.opts.AuthorizedKeys), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.opts.AuthorizedKeys, []byte(existing), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := Apply(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.KeysAdded != 0 || read(t, e.opts.AuthorizedKeys) != existing+"\n" {
		t.Errorf("KeysAdded = %d, file:\n%s\nwant the existing keys kept and none added", res.KeysAdded, read(t, e.opts.AuthorizedKeys))
	}
}

// Without a settings file, the first boot configures the defaults with a
// generated access point; later boots find nothing to do.
func TestNoSettingsFile(t *testing.T) {
	e := newEnv(t, "")
	if err := os.Remove(e.opts.BootFile); err != nil {
		t.Fatal(err)
	}
	res, err := Apply(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := load(t, e.opts.ConfigFile)
	pw := read(t, filepath.Join(e.opts.DataDir, APPasswordName))
	if !res.Defaults || res.SecretsRemoved || res.APPasswordFile == "" || !strings.HasPrefix(res.APSSID, "Constellation-") {
		t.Errorf("result %+v", res)
	}
	if cfg.Network.AP.SSID != res.APSSID || string(cfg.Network.AP.Password)+"\n" != pw || len(pw) != generatedLength+1 {
		t.Errorf("access point %q/%q, generated password file %q", cfg.Network.AP.SSID, cfg.Network.AP.Password, pw)
	}
	if cfg.Sync.Enabled {
		t.Error("sync enabled without settings")
	}
	if _, err := os.Stat(e.opts.BootFile); !os.IsNotExist(err) {
		t.Errorf("a settings file appeared on the boot partition (%v)", err)
	}
	if _, err := Apply(e.opts); !errors.Is(err, ErrNoSettings) {
		t.Fatalf("second boot: err = %v, want ErrNoSettings", err)
	}
	if again := load(t, e.opts.ConfigFile); again.Network.AP.Password != cfg.Network.AP.Password {
		t.Error("the second boot changed the access point password")
	}
}

func TestECDSAAndRSAKeysAccepted(t *testing.T) {
	for _, typ := range []string{"ssh-rsa", "ecdsa-sha2-nistp256", "ssh-ed25519"} {
		if err := checkAuthorizedKey(sshKey(typ, 3, "a comment with spaces")); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

func TestOwners(t *testing.T) {
	// Chowning to someone else needs root; the writer's own ids exercise
	// the same calls everywhere.
	me := Owner{UID: os.Getuid(), GID: os.Getgid()}
	e := newEnv(t, fullSettings)
	e.opts.ServiceOwner, e.opts.KeysOwner = &me, &me
	if _, err := Apply(e.opts); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{e.opts.ConfigFile, e.opts.DataDir, filepath.Join(e.opts.DataDir, EnrollTokenName),
		e.opts.AuthorizedKeys, filepath.Dir(e.opts.AuthorizedKeys)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != me.UID || int(st.Gid) != me.GID {
			t.Errorf("%s: owner %v, want %d:%d", p, fi.Sys(), me.UID, me.GID)
		}
	}
	if m := mode(t, filepath.Dir(e.opts.AuthorizedKeys)); m != 0o700 {
		t.Errorf(".ssh mode = %v, want 0700", m)
	}
}

// The commented example in the image must stay a file Apply accepts.
func TestExampleFileApplies(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "..", "image", "constellation.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, string(example))
	res, err := Apply(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.SyncEnabled || res.KeysAdded != 1 || res.EnrollTokenFile == "" || res.TimeZone != "Europe/Madrid" {
		t.Errorf("example applied as %+v, want every section used", res)
	}
	assertChargers(t, load(t, e.opts.ConfigFile), map[string]string{"CP-001": "Wq7-for-CP-001-only-9x", "CP-002": ""})
}
