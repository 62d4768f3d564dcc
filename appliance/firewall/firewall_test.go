package firewall

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var defaults = Config{Interface: "wlan0", Address: netip.MustParsePrefix("10.42.0.1/24"), CSMSPorts: []uint16{9000}}

// TestDocsShowTheRules: docs/network.md shows the ruleset generated for
// the defaults, exactly.
func TestDocsShowTheRules(t *testing.T) {
	doc, err := os.ReadFile("../../docs/network.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "```nft\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("docs/network.md has no ```nft block")
	}
	rules, err := Rules(defaults)
	if err != nil {
		t.Fatal(err)
	}
	if block != rules {
		t.Errorf("docs/network.md shows\n%s\nthe code generates\n%s", block, rules)
	}
}

// TestRules: the ports are listed once each in order; bad settings are
// refused with the field named, never written into the ruleset.
func TestRules(t *testing.T) {
	c := defaults
	c.CSMSPorts = []uint16{9443, 9000, 9443}
	c.Address = netip.MustParsePrefix("192.168.50.1/24")
	rules, err := Rules(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rules, "ip saddr 192.168.50.0/24 ip daddr 192.168.50.1 tcp dport { 9000, 9443 } accept") {
		t.Errorf("rules:\n%s", rules)
	}
	for _, tc := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.Interface = `wlan0" accept; #` }, "interface:"},
		{func(c *Config) { c.Interface = "" }, "interface:"},
		{func(c *Config) { c.Address = netip.MustParsePrefix("fd00::1/64") }, "address:"},
		{func(c *Config) { c.Address = netip.Prefix{} }, "address:"},
		{func(c *Config) { c.CSMSPorts = nil }, "csms ports:"},
		{func(c *Config) { c.SetupPort = 9000 }, "setup port:"},
		{func(c *Config) { c.SetupPort, c.CSMSPorts = 8080, []uint16{80} }, "setup port:"},
	} {
		c := defaults
		tc.mutate(&c)
		if _, err := Rules(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", c, err, tc.want)
		}
	}
}

// TestSetupPage: in setup mode the access point's devices reach the
// setup page, port 80 on the appliance's address is redirected to it,
// and it is closed to every other interface; out of setup mode none of
// that is in the ruleset.
func TestSetupPage(t *testing.T) {
	c := defaults
	c.SetupPort = 8080
	rules, err := Rules(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"type nat hook prerouting priority dstnat; policy accept;",
		`iifname "wlan0" ip daddr 10.42.0.1 tcp dport 80 redirect to :8080 comment "setup page"`,
		`iifname != "wlan0" iifname != "lo" ip daddr 10.42.0.1 tcp dport 8080 counter drop`,
		`ip saddr 10.42.0.0/24 ip daddr 10.42.0.1 tcp dport 8080 accept comment "setup page"`,
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("setup mode: no %q in\n%s", want, rules)
		}
	}
	// The page's drop comes before everything else of other interfaces is accepted.
	if strings.Index(rules, "counter drop comment") > strings.Index(rules, `iifname != "wlan0" accept`) {
		t.Errorf("the setup page's drop comes too late:\n%s", rules)
	}
	off, err := Rules(defaults)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(off, "8080") || strings.Contains(off, "setup") || strings.Contains(off, "nat") {
		t.Errorf("out of setup mode:\n%s", off)
	}
	c.SetupPort = 80 // nothing to redirect
	if rules, err := Rules(c); err != nil || strings.Contains(rules, "redirect") || !strings.Contains(rules, "tcp dport 80 accept") {
		t.Errorf("setup page on port 80 (%v):\n%s", err, rules)
	}
}

// TestNftAcceptsTheRules: nft (set by .ci/run in CONSTELLATION_NFT)
// checks the rulesets, in and out of setup mode, without loading them.
func TestNftAcceptsTheRules(t *testing.T) {
	nft := os.Getenv("CONSTELLATION_NFT")
	if nft == "" {
		t.Skip("CONSTELLATION_NFT is not set (the nft binary; .ci/run sets it): the ruleset's syntax is not checked")
	}
	setup := defaults
	setup.SetupPort = 8080
	for name, c := range map[string]Config{"defaults": defaults, "setup mode": setup} {
		rules, err := Rules(c)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "rules.nft")
		if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(nft, "-c", "-f", path).CombinedOutput(); err != nil {
			t.Fatalf("%s: nft -c: %v\n%s", name, err, out)
		}
	}
}
