package firstboot

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/ocpp/security"
)

// assertChargers checks the configuration's chargers against want, a
// password by id ("" for none): security profile 1 with a hash that
// verifies the password (and no other), or profile 0 without a hash.
func assertChargers(t *testing.T, cfg config.Config, want map[string]string) {
	t.Helper()
	got := map[string]config.Charger{}
	for _, c := range cfg.OCPP.Chargers {
		got[c.ID] = c
	}
	if len(got) != len(want) || len(cfg.OCPP.Chargers) != len(want) {
		t.Errorf("chargers = %+v, want %d: %v", cfg.OCPP.Chargers, len(want), want)
	}
	for id, pw := range want {
		c, ok := got[id]
		switch {
		case !ok:
			t.Errorf("charger %s missing", id)
		case pw == "":
			if c.SecurityProfile != security.ProfileNone || c.PasswordHash != "" {
				t.Errorf("charger %s = %+v, want security profile 0 without a hash", id, c)
			}
		case c.SecurityProfile != security.ProfileBasic:
			t.Errorf("charger %s: security profile %d, want 1", id, c.SecurityProfile)
		default:
			if ok, err := security.VerifyPassword(c.PasswordHash, pw); err != nil || !ok {
				t.Errorf("charger %s: hash %q does not verify its password (%v)", id, c.PasswordHash, err)
			}
			if ok, _ := security.VerifyPassword(c.PasswordHash, pw+"x"); ok {
				t.Errorf("charger %s: hash verifies another password", id)
			}
			if strings.Contains(c.PasswordHash, pw) {
				t.Errorf("charger %s: the password is in the configuration", id)
			}
		}
	}
}

// chargers returns n [[chargers]] tables, ids CP-0 and on, without passwords.
func chargers(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "[[chargers]]\nid = \"CP-%d\"\n", i)
	}
	return b.String()
}

func TestDecodeChargers(t *testing.T) {
	s, err := Decode([]byte(`[[chargers]]
id = "CP-1"
password = "sixteen-chars-pw"

[[chargers]]
id = "wallbox/garage 2"

[[chargers]]
id = "` + strings.Repeat("x", 48) + `"
password = "` + strings.Repeat("p", 40) + `"
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Chargers) != 3 || s.Chargers[0] != (Charger{ID: "CP-1", Password: "sixteen-chars-pw"}) || s.Chargers[1] != (Charger{ID: "wallbox/garage 2"}) {
		t.Errorf("chargers = %+v", s.Chargers)
	}
	if !s.HasSecrets() {
		t.Error("a charger's password is not a secret")
	}
	if _, err := Decode([]byte(chargers(MaxChargers))); err != nil {
		t.Errorf("%d chargers: %v", MaxChargers, err)
	}
}

// Each problem is named by the charger's index and key; the password is
// never in the message.
func TestDecodeChargersRefused(t *testing.T) {
	cases := []struct {
		name, settings, want string
	}{
		{"listed twice", chargers(2) + "[[chargers]]\nid = \"CP-1\"\n", `chargers[2].id: "CP-1" is listed twice`},
		{"no id", "[[chargers]]\npassword = \"sixteen-chars-pw\"\n", "chargers[0].id: must not be empty"},
		{"id too long", "[[chargers]]\nid = \"" + strings.Repeat("x", 49) + "\"\n", "chargers[0].id: \"" + strings.Repeat("x", 49) + "\": charge point identity must be at most 48 characters"},
		{"id not printable", chargers(1) + "[[chargers]]\nid = \"CP\\u0007\"\n", `chargers[1].id: "CP\a": charge point identity must be printable`},
		{"colon with a password", "[[chargers]]\nid = \"CP:1\"\npassword = \"sixteen-chars-pw\"\n", `chargers[0].id: "CP:1": a charger with a password`},
		{"password too short", "[[chargers]]\nid = \"CP-1\"\npassword = \"fifteen-char-pw\"\n", "chargers[0].password: is 15 characters, want 16 to 40"},
		{"password too long", "[[chargers]]\nid = \"CP-1\"\npassword = \"" + strings.Repeat("p", 41) + "\"\n", "chargers[0].password: is 41 characters, want 16 to 40"},
		{"password with a space", "[[chargers]]\nid = \"CP-1\"\npassword = \"sixteen chars pw\"\n", "chargers[0].password: must not contain spaces or control characters"},
		{"password with a tab", "[[chargers]]\nid = \"CP-1\"\npassword = \"sixteen\\tchars-pw\"\n", "chargers[0].password: must not contain spaces or control characters"},
		{"too many", chargers(MaxChargers + 1), fmt.Sprintf("chargers: %d listed, want at most %d", MaxChargers+1, MaxChargers)},
		{"the appliance's keys", "[[chargers]]\nid = \"CP-1\"\nsecurity_profile = 3\npassword_hash = \"x\"\n", "unknown keys: chargers.security_profile, chargers.password_hash"},
		{"not a table", "chargers = [\"CP-1\"]\n", "settings:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode([]byte(c.settings))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			for _, secret := range []string{"sixteen-chars-pw", "fifteen-char-pw", "sixteen chars pw", strings.Repeat("p", 41)} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows the password: %v", err)
				}
			}
			// Nothing is applied from a file with a bad charger.
			e := newEnv(t, c.settings)
			if _, err := Apply(e.opts); err == nil {
				t.Fatal("Apply accepted it")
			}
			assertNothingWritten(t, e, c.settings)
		})
	}
}

// The settings' chargers join the image's: one listed in both is the
// settings', the others stay as the image has them.
func TestChargersMergedWithTheBase(t *testing.T) {
	oldHash, err := security.HashPassword("the-images-password")
	if err != nil {
		t.Fatal(err)
	}
	for name, base := range map[string]string{
		"array of tables": "[[ocpp.chargers]]\nid = \"CP-2\"\nsecurity_profile = 1\npassword_hash = \"" + oldHash + "\"\n\n" +
			"[[ocpp.chargers]]\nid = \"CP-9\"\nlenient = true\n",
		"inline tables": "[ocpp]\nchargers = [{id = \"CP-2\", security_profile = 1, password_hash = \"" + oldHash + "\"}, {id = \"CP-9\", lenient = true}]\n",
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, "[[chargers]]\nid = \"CP-1\"\npassword = \"cp1-basic-auth-password\"\n\n[[chargers]]\nid = \"CP-2\"\n")
			e.opts.Base = base
			if _, err := Apply(e.opts); err != nil {
				t.Fatal(err)
			}
			cfg := load(t, e.opts.ConfigFile)
			assertChargers(t, cfg, map[string]string{"CP-1": "cp1-basic-auth-password", "CP-2": "", "CP-9": ""})
			for _, c := range cfg.OCPP.Chargers {
				if c.ID == "CP-9" && !c.Lenient {
					t.Errorf("the image's charger lost its keys: %+v", c)
				}
			}
			if cfg.OCPP.UnknownChargers != "reject" {
				t.Errorf("ocpp.unknown_chargers = %q", cfg.OCPP.UnknownChargers)
			}
		})
	}
	// Without chargers in the settings, the image's stay as they are.
	e := newEnv(t, "site_name = \"x\"\n")
	e.opts.Base = "[[ocpp.chargers]]\nid = \"CP-9\"\n"
	if _, err := Apply(e.opts); err != nil {
		t.Fatal(err)
	}
	assertChargers(t, load(t, e.opts.ConfigFile), map[string]string{"CP-9": ""})
}

func TestChargersOverABadBase(t *testing.T) {
	for name, base := range map[string]string{
		"not an array": "[ocpp]\nchargers = 1\n",
		"not tables":   "[ocpp]\nchargers = [1]\n",
		"ocpp a value": "ocpp = 1\n",
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, chargers(1))
			e.opts.Base = base
			if _, err := Apply(e.opts); err == nil || !strings.Contains(err.Error(), "base configuration") {
				t.Fatalf("err = %v, want the base configuration named", err)
			}
			if _, err := os.Stat(e.opts.ConfigFile); err == nil {
				t.Error("configuration written")
			}
		})
	}
}

// A file marked applied whose charger password was put back is applied
// again; one marked by an earlier version (whose marker named fewer
// secrets) and holding none stays applied.
func TestChargerPasswordPutBack(t *testing.T) {
	e := newEnv(t, fullSettings)
	if _, err := Apply(e.opts); err != nil {
		t.Fatal(err)
	}
	cleaned := read(t, e.opts.BootFile)
	putBack := strings.Replace(cleaned, "id = \"CP-2\"\n", "id = \"CP-2\"\npassword = \"cp2-basic-auth-password\"\n", 1)
	if putBack == cleaned {
		t.Fatalf("no CP-2 in the rewritten file:\n%s", cleaned)
	}
	if err := os.WriteFile(e.opts.BootFile, []byte(putBack), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Apply(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.AlreadyApplied || !res.SecretsRemoved {
		t.Errorf("result %+v, want the file applied again", res)
	}
	// CP-1's password was not put back: it is admitted without one now,
	// as the rewritten file warned.
	assertChargers(t, load(t, e.opts.ConfigFile), map[string]string{"CP-1": "", "CP-2": "cp2-basic-auth-password"})
	if strings.Contains(withoutComments(read(t, e.opts.BootFile)), "cp2-basic-auth-password") {
		t.Error("the password put back was left on the boot partition")
	}

	legacy := "# Applied by constellation-appliance first-boot: the secrets (cloud.enrollment_token, uplink.wifi.password, access_point.password) were moved to the appliance and removed from this file.\n" +
		withoutComments(read(t, e.opts.BootFile))
	if err := os.WriteFile(e.opts.BootFile, []byte(legacy), 0o644); err != nil {
		t.Fatal(err)
	}
	before := read(t, e.opts.ConfigFile)
	if res, err := Apply(e.opts); err != nil || !res.AlreadyApplied {
		t.Errorf("legacy marker: %+v, %v; want it already applied", res, err)
	}
	if read(t, e.opts.ConfigFile) != before {
		t.Error("legacy marker: the configuration changed")
	}
}

// The setup page's chargers are applied the same way, and the setup file
// holding their passwords is removed.
func TestSetupFileChargers(t *testing.T) {
	e, _ := setupEnv(t)
	writeSetup(t, e, "[[chargers]]\nid = \"CP-1\"\npassword = \"cp1-basic-auth-password\"\n")
	if _, err := Apply(e.opts); err != nil {
		t.Fatal(err)
	}
	assertChargers(t, load(t, e.opts.ConfigFile), map[string]string{"CP-1": "cp1-basic-auth-password"})
	if exists(e.opts.BootFile) {
		t.Error("the setup file is still there")
	}
}
