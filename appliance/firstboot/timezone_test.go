package firstboot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withZones gives the environment a system root with a zoneinfo of the
// given zones (a compiled zone file starts with "TZif").
func withZones(t *testing.T, e env, zones map[string]string) env {
	t.Helper()
	e.opts.Root = filepath.Join(filepath.Dir(e.opts.BootFile), "..", "sysroot")
	for name, content := range zones {
		p := filepath.Join(e.opts.Root, "usr", "share", "zoneinfo", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	etc := filepath.Join(e.opts.Root, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	// The image's default, replaced.
	if err := os.Symlink("/usr/share/zoneinfo/Etc/UTC", filepath.Join(etc, "localtime")); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestApplySetsTimeZone(t *testing.T) {
	e := withZones(t, newEnv(t, fullSettings), map[string]string{"Europe/Madrid": "TZif2 madrid"})
	res, err := Apply(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.TimeZone != "Europe/Madrid" {
		t.Errorf("Result.TimeZone = %q", res.TimeZone)
	}
	link, err := os.Readlink(filepath.Join(e.opts.Root, "etc", "localtime"))
	if err != nil || link != "/usr/share/zoneinfo/Europe/Madrid" {
		t.Errorf("/etc/localtime -> %q (%v), want /usr/share/zoneinfo/Europe/Madrid", link, err)
	}
	if got := read(t, filepath.Join(e.opts.Root, "etc", "timezone")); got != "Europe/Madrid\n" {
		t.Errorf("/etc/timezone = %q", got)
	}
	leftovers, _ := filepath.Glob(filepath.Join(e.opts.Root, "etc", ".*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// A zone the system lacks fails the whole first boot before anything is
// written: the secrets stay on the boot partition for a second try.
func TestApplyTimeZoneMissingChangesNothing(t *testing.T) {
	for name, zones := range map[string]map[string]string{
		"not installed":   {"Europe/Paris": "TZif2"},
		"not a zone file": {"Europe/Madrid": "# a text file"},
	} {
		t.Run(name, func(t *testing.T) {
			e := withZones(t, newEnv(t, fullSettings), zones)
			_, err := Apply(e.opts)
			if err == nil || !strings.Contains(err.Error(), "time_zone") {
				t.Fatalf("Apply = %v, want a time_zone error", err)
			}
			if _, err := os.Stat(e.opts.ConfigFile); !os.IsNotExist(err) {
				t.Errorf("configuration written despite the error (%v)", err)
			}
			if link, _ := os.Readlink(filepath.Join(e.opts.Root, "etc", "localtime")); link != "/usr/share/zoneinfo/Etc/UTC" {
				t.Errorf("/etc/localtime changed to %q", link)
			}
			if got := read(t, e.opts.BootFile); got != fullSettings {
				t.Error("the boot partition's settings changed")
			}
		})
	}
}
