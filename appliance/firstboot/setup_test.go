package firstboot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/network"
)

// setupEnv is an appliance whose first boot found no settings file: its
// configuration has the defaults and awaits setup. The setup page's file
// is opts.BootFile.
func setupEnv(t *testing.T) (env, string) {
	t.Helper()
	e := newEnv(t, "")
	if err := os.Remove(e.opts.BootFile); err != nil {
		t.Fatal(err)
	}
	res, err := Apply(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := load(t, e.opts.ConfigFile); !res.Defaults || !cfg.Setup.Enabled {
		t.Fatalf("defaults %+v: setup mode %v", res, cfg.Setup)
	}
	pw := strings.TrimSpace(read(t, filepath.Join(e.opts.DataDir, APPasswordName)))
	e.opts.Setup = true
	e.opts.BootFile = filepath.Join(e.opts.DataDir, SetupFile)
	return e, pw
}

// writeSetup writes the setup page's file as the page does.
func writeSetup(t *testing.T, e env, settings string) {
	t.Helper()
	if err := WriteFile(e.opts.BootFile, []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// The setup page's settings replace the defaults and end setup mode; the
// file goes once the configuration is durable, and a generated access
// point password not replaced stays the one shown.
func TestSetupFileAppliesOverDefaults(t *testing.T) {
	e, generated := setupEnv(t)
	settings := strings.Replace(fullSettings, "password = \"chargers-secret\"\n", "", 1)
	writeSetup(t, e, settings)
	// A network change made through the local API while awaiting setup.
	state := filepath.Join(e.opts.DataDir, network.StateFileName)
	if err := os.WriteFile(state, []byte(`{"version":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := Apply(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if exists(state) {
		t.Error("the saved network state would override the installer's access point and uplink")
	}
	if !res.SetupRemoved || res.AlreadyApplied || res.SecretsRemoved || res.Defaults || !res.SyncEnabled || res.KeysAdded != 1 {
		t.Errorf("result %+v", res)
	}
	cfg := load(t, e.opts.ConfigFile)
	if cfg.Setup.Enabled {
		t.Error("setup mode still on")
	}
	if cfg.Station.SiteName != "Depot 7" || cfg.Network.AP.SSID != "Depot7-Chargers" || !cfg.Sync.Enabled || cfg.Screen.Language != "es" {
		t.Errorf("configuration %+v", cfg)
	}
	if string(cfg.Network.AP.Password) != generated {
		t.Errorf("access point password %q, want the generated %q kept", cfg.Network.AP.Password, generated)
	}
	if exists(e.opts.BootFile) || exists(e.opts.BootFile+RejectedSuffix) {
		t.Error("the setup file is still there")
	}
	if got := read(t, filepath.Join(e.opts.DataDir, EnrollTokenName)); got != "tok-123456\n" {
		t.Errorf("enrollment token %q", got)
	}
	assertNoTemps(t, filepath.Dir(e.opts.ConfigFile), e.opts.DataDir, filepath.Dir(e.opts.BootFile))
	if _, err := Apply(e.opts); !errors.Is(err, ErrNoSettings) {
		t.Errorf("second run: %v, want ErrNoSettings", err)
	}
}

// Settings from the boot partition never turn setup mode on, even when
// the image's defaults do.
func TestBootSettingsEndSetupMode(t *testing.T) {
	e := newEnv(t, "site_name = \"Depot\"\n")
	e.opts.Base = "[setup]\nenabled = true\naddr = \"10.42.0.1:8081\"\n"
	if _, err := Apply(e.opts); err != nil {
		t.Fatal(err)
	}
	if cfg := load(t, e.opts.ConfigFile); cfg.Setup.Enabled || cfg.Setup.Addr != "10.42.0.1:8081" {
		t.Errorf("setup %+v, want it off (the base's address kept)", cfg.Setup)
	}
}

// A configured appliance refuses a setup file: the unprivileged appliance
// writes it, and root must not apply it (SSH keys) outside setup mode.
// It is set aside, so that systemd's path unit does not retrigger on it.
func TestSetupFileRefusedOutsideSetupMode(t *testing.T) {
	e := newEnv(t, "site_name = \"Depot\"\n")
	if _, err := Apply(e.opts); err != nil {
		t.Fatal(err)
	}
	before := read(t, e.opts.ConfigFile)
	e.opts.Setup, e.opts.BootFile = true, filepath.Join(e.opts.DataDir, SetupFile)
	writeSetup(t, e, "ssh_authorized_keys = [\""+sshKey("ssh-ed25519", 9, "mallory")+"\"]\n")
	if _, err := Apply(e.opts); !errors.Is(err, ErrNotAwaitingSetup) {
		t.Fatalf("err = %v, want ErrNotAwaitingSetup", err)
	}
	if read(t, e.opts.ConfigFile) != before || exists(e.opts.AuthorizedKeys) {
		t.Error("the configuration or the authorized keys changed")
	}
	if exists(e.opts.BootFile) || !exists(e.opts.BootFile+RejectedSuffix) {
		t.Error("the refused file was not set aside")
	}
	// No configuration at all is no setup mode either.
	if err := os.Remove(e.opts.ConfigFile); err != nil {
		t.Fatal(err)
	}
	writeSetup(t, e, "site_name = \"x\"\n")
	if _, err := Apply(e.opts); !errors.Is(err, ErrNotAwaitingSetup) || exists(e.opts.ConfigFile) {
		t.Errorf("without a configuration: %v", err)
	}
}

// An invalid setup file changes nothing and is set aside; the next one
// applies.
func TestBadSetupFileSetAside(t *testing.T) {
	e, _ := setupEnv(t)
	before := read(t, e.opts.ConfigFile)
	writeSetup(t, e, "[access_point]\npassword = \"short\"\n")
	if _, err := Apply(e.opts); err == nil || !strings.Contains(err.Error(), "access_point.password") {
		t.Fatalf("err = %v, want access_point.password named", err)
	}
	if read(t, e.opts.ConfigFile) != before || exists(e.opts.BootFile) || !exists(e.opts.BootFile+RejectedSuffix) {
		t.Fatal("the bad file changed the configuration or was not set aside")
	}
	writeSetup(t, e, "site_name = \"Depot\"\n")
	if res, err := Apply(e.opts); err != nil || !res.SetupRemoved {
		t.Fatalf("the next file: %+v, %v", res, err)
	}
}

// A crash after the configuration is written, before the file is
// removed: the configuration is out of setup mode, and the retry removes
// the file (it was applied) instead of refusing it.
func TestSetupCrashBeforeRemovalThenRetry(t *testing.T) {
	e, _ := setupEnv(t)
	writeSetup(t, e, fullSettings)
	crashed := e.opts
	crashed.beforeBootRewrite = func() error { return errors.New("power cut") }
	if _, err := Apply(crashed); err == nil || !strings.Contains(err.Error(), "power cut") {
		t.Fatalf("err = %v, want the crash", err)
	}
	after := read(t, e.opts.ConfigFile)
	if load(t, e.opts.ConfigFile).Setup.Enabled || !exists(e.opts.BootFile) || exists(e.opts.BootFile+RejectedSuffix) {
		t.Fatal("after the crash: want the configuration written and the file still there")
	}
	res, err := Apply(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.AlreadyApplied || !res.SetupRemoved || exists(e.opts.BootFile) {
		t.Errorf("retry %+v", res)
	}
	if read(t, e.opts.ConfigFile) != after {
		t.Error("the retry rewrote the configuration")
	}
}

// A failure before the files are renamed into place (a full disk) leaves
// the defaults in setup mode; the file is set aside so that the page can
// take new settings.
func TestSetupFailureBeforeCommit(t *testing.T) {
	e, _ := setupEnv(t)
	before := read(t, e.opts.ConfigFile)
	writeSetup(t, e, fullSettings)
	failing := e.opts
	failing.beforeCommit = func() error { return errors.New("no space left on device") }
	if _, err := Apply(failing); err == nil {
		t.Fatal("no error")
	}
	if read(t, e.opts.ConfigFile) != before || exists(e.opts.AuthorizedKeys) || !exists(e.opts.BootFile+RejectedSuffix) {
		t.Error("want nothing changed and the file set aside")
	}
	assertNoTemps(t, filepath.Dir(e.opts.ConfigFile), e.opts.DataDir)
}

// Root follows no link the appliance planted in its data directory.
func TestSetupFollowsNoLinks(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("root:$y$j9T$secret-hash-of-root:19000:0:99999:7:::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, _ := setupEnv(t)
	before := read(t, e.opts.ConfigFile)
	if err := os.MkdirAll(filepath.Dir(e.opts.BootFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, e.opts.BootFile); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(e.opts); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a linked setup file: %v", err)
	}
	if read(t, e.opts.ConfigFile) != before || !exists(e.opts.BootFile+RejectedSuffix) {
		t.Error("want the configuration unchanged and the link set aside")
	}

	pwFile := filepath.Join(e.opts.DataDir, APPasswordName)
	if err := os.Remove(pwFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, pwFile); err != nil {
		t.Fatal(err)
	}
	writeSetup(t, e, "site_name = \"Depot\"\n")
	if _, err := Apply(e.opts); err == nil {
		t.Error("a linked ap-password was read")
	}
	if strings.Contains(read(t, e.opts.ConfigFile), "secret-hash") {
		t.Error("the link's target went into the configuration")
	}
}

func TestReadRegularLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(p, make([]byte, 11), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readRegular(p, 10); err == nil {
		t.Error("11 bytes read with a limit of 10")
	}
	if b, err := readRegular(p, 11); err != nil || len(b) != 11 {
		t.Errorf("%d bytes, %v", len(b), err)
	}
	if _, err := readRegular(filepath.Join(t.TempDir(), "none"), 10); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}
