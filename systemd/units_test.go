package systemd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/firstboot"
)

// unit reads a unit file as key -> values (a key may repeat).
func unit(t *testing.T, name string) map[string][]string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not key=value", name, line)
		}
		keys[k] = append(keys[k], v)
	}
	return keys
}

// TestApplianceUnit: the appliance runs as a notify service with a
// watchdog, restarted always, as its own user with the station's device
// groups, writing only to the data partition, without privileges.
func TestApplianceUnit(t *testing.T) {
	u := unit(t, "constellation-appliance.service")
	for key, want := range map[string]string{
		"Type": "notify", "WatchdogSec": "30s", "Restart": "always", "User": "constellation",
		"ProtectSystem": "strict", "ReadWritePaths": "/var/lib/constellation", "NoNewPrivileges": "yes",
		"PrivateTmp": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "", "DevicePolicy": "closed",
		"SupplementaryGroups": "spi i2c gpio input netdev",
	} {
		if got := u[key]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	w := unit(t, "constellation-watchtower.service")
	for key, want := range map[string]string{"DynamicUser": "yes", "ProtectSystem": "strict", "NoNewPrivileges": "yes", "CapabilityBoundingSet": ""} {
		if got := w[key]; len(got) != 1 || got[0] != want {
			t.Errorf("watchtower %s=%q, want %q", key, got, want)
		}
	}
	if f := unit(t, "constellation-firewall.service"); !slices.Contains(f["Before"], "NetworkManager.service network-pre.target") {
		t.Errorf("the firewall is loaded before NetworkManager: Before=%q", f["Before"])
	}
	if f := unit(t, "constellation-firstboot.service"); !slices.Contains(f["Before"], "constellation-firewall.service constellation-appliance.service") {
		t.Errorf("first boot runs before the firewall and the appliance: Before=%q", f["Before"])
	}
}

// TestSetupUnits: the setup page's file is watched where the appliance
// writes it, and applied by the first-boot step with the first-boot
// unit's options and hardening plus --setup; then the firewall reloads
// and the appliance restarts, without waiting (this unit is ordered
// before both).
func TestSetupUnits(t *testing.T) {
	file := "/var/lib/constellation/" + firstboot.SetupFile
	p := unit(t, "constellation-setup.path")
	if got := p["PathExists"]; len(got) != 1 || got[0] != file {
		t.Errorf("PathExists=%q, want %s", got, file)
	}
	if got := p["Unit"]; len(got) != 1 || got[0] != "constellation-setup.service" {
		t.Errorf("Unit=%q", got)
	}
	s := unit(t, "constellation-setup.service")
	f := unit(t, "constellation-firstboot.service")
	for _, key := range []string{"Type", "ProtectHome", "PrivateTmp", "NoNewPrivileges", "CapabilityBoundingSet", "DefaultDependencies", "Conflicts"} {
		if !slices.Equal(s[key], f[key]) {
			t.Errorf("%s=%q, want the first-boot unit's %q", key, s[key], f[key])
		}
	}
	if got := s["ConditionPathExists"]; len(got) != 1 || got[0] != file {
		t.Errorf("ConditionPathExists=%q", got)
	}
	// The same command as first boot's, on the setup file, with --setup.
	first := strings.Replace(f["ExecStart"][0], "--boot /boot/firmware/constellation.toml", "--setup --boot "+file, 1)
	if got := s["ExecStart"]; len(got) != 1 || got[0] != first {
		t.Errorf("ExecStart=%q\nwant %q", got, first)
	}
	want := []string{
		"/usr/bin/systemctl --no-block reload-or-restart constellation-firewall.service",
		"/usr/bin/systemctl --no-block restart constellation-appliance.service",
	}
	if got := s["ExecStartPost"]; !slices.Equal(got, want) {
		t.Errorf("ExecStartPost=%q, want %q", got, want)
	}
	if !slices.Contains(s["Before"], "constellation-firewall.service constellation-appliance.service") {
		t.Errorf("Before=%q", s["Before"])
	}
	fw := unit(t, "constellation-firewall.service")
	if !slices.Equal(fw["ExecReload"], fw["ExecStart"]) {
		t.Errorf("the firewall reloads with %q, want its ExecStart (the ruleset replaces the table atomically)", fw["ExecReload"])
	}
}

// TestUnitsVerify: systemd-analyze (CONSTELLATION_SYSTEMD_ANALYZE, set by
// .ci/run) accepts the units without a warning, in a root that has the
// system's units and the programs they run.
func TestUnitsVerify(t *testing.T) {
	analyze := os.Getenv("CONSTELLATION_SYSTEMD_ANALYZE")
	if analyze == "" {
		t.Skip("CONSTELLATION_SYSTEMD_ANALYZE is not set (systemd-analyze; .ci/run sets it): the units are not verified")
	}
	root := t.TempDir()
	system := filepath.Join(root, "etc/systemd/system")
	for _, dir := range []string{system, filepath.Join(root, "usr/lib/systemd")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("cp", "-r", "/usr/lib/systemd/system", filepath.Join(root, "usr/lib/systemd/")).CombinedOutput(); err != nil {
		t.Fatalf("copy the system's units: %v %s", err, out)
	}
	for _, prog := range []string{"usr/bin/constellation-appliance", "usr/bin/constellation-watchtower", "usr/sbin/nft", "bin/sh", "usr/bin/systemctl"} {
		path := filepath.Join(root, prog)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("#!/bin/true\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	units, err := filepath.Glob("*.service")
	if err != nil || len(units) != 5 {
		t.Fatalf("units %v, %v", units, err)
	}
	paths, err := filepath.Glob("*.path")
	if err != nil || len(paths) != 1 {
		t.Fatalf("path units %v, %v", paths, err)
	}
	units = append(units, paths...)
	args := []string{"verify", "--root=" + root, "--man=no"}
	for _, u := range units {
		data, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(system, u), data, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, filepath.Join(system, u))
	}
	out, err := exec.Command(analyze, args...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
