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
	} {
		c := defaults
		tc.mutate(&c)
		if _, err := Rules(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", c, err, tc.want)
		}
	}
}

// TestNftAcceptsTheRules: nft (set by .ci/run in CONSTELLATION_NFT)
// checks the ruleset without loading it.
func TestNftAcceptsTheRules(t *testing.T) {
	nft := os.Getenv("CONSTELLATION_NFT")
	if nft == "" {
		t.Skip("CONSTELLATION_NFT is not set (the nft binary; .ci/run sets it): the ruleset's syntax is not checked")
	}
	rules, err := Rules(defaults)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rules.nft")
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(nft, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("nft -c: %v\n%s", err, out)
	}
}
