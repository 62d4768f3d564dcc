package app_test

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/app"
	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/firstboot"
	"github.com/constellation-ev/constellation/appliance/network"
)

// getPage GETs url and returns the status and the body.
func getPage(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestSetupMode: in setup mode the appliance serves the setup page on
// its own listener, showing the access point and its generated password,
// and writes what the form sends for root to apply.
func TestSetupMode(t *testing.T) {
	var dataDir string
	a := startAppliance(t, func(c *config.Config) {
		dataDir = c.DataDir
		c.Setup = config.Setup{Enabled: true, Addr: "127.0.0.1:0"}
		c.Network.AP.SSID, c.Network.AP.Password = "Constellation-7F3A", network.Secret("k7m2q9xw4hfp3ncr")
		if err := os.WriteFile(filepath.Join(dataDir, firstboot.APPasswordName), []byte("k7m2q9xw4hfp3ncr\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	})
	if a.addrs.Setup == "" || a.addrs.Setup == a.addrs.API {
		t.Fatalf("setup page at %q (API at %q)", a.addrs.Setup, a.addrs.API)
	}
	page := "http://" + a.addrs.Setup + "/"
	status, body := getPage(t, page)
	if status != http.StatusOK || !strings.Contains(body, "Constellation-7F3A") || !strings.Contains(body, "k7m2q9xw4hfp3ncr") {
		t.Fatalf("GET: %d\n%s", status, body)
	}
	token := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(body)
	if token == nil {
		t.Fatal("no form token")
	}
	form := url.Values{"csrf": {token[1]}, "site_name": {"Depot 7"}, "access_point.ssid": {"Constellation-7F3A"}, "display.language": {"es"}}
	resp, err := http.PostForm(page, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST: %s", resp.Status)
	}
	data, err := os.ReadFile(filepath.Join(dataDir, firstboot.SetupFile))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := firstboot.Decode(data); err != nil || s.SiteName != "Depot 7" || s.Display.Language != "es" {
		t.Errorf("written settings %+v, %v", s, err)
	}
	// Not on the local API.
	if status, _ := getPage(t, a.api+"/"); status != http.StatusNotFound {
		t.Errorf("the API answers / with %d", status)
	}
}

// TestSetupModeOff: a configured appliance has no setup page.
func TestSetupModeOff(t *testing.T) {
	a := startAppliance(t, func(c *config.Config) { c.Setup.Addr = "127.0.0.1:0" })
	if a.addrs.Setup != "" {
		t.Fatalf("setup page at %q out of setup mode", a.addrs.Setup)
	}
	if status, body := getPage(t, a.api+"/"); status != http.StatusNotFound || strings.Contains(body, "csrf") {
		t.Errorf("the API answers / with %d", status)
	}
}

// The firewall opens the setup page to the access point only in setup mode.
func TestFirewallRulesSetupMode(t *testing.T) {
	cfg := config.Default()
	off, err := app.FirewallRules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Setup.Enabled = true
	on, err := app.FirewallRules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(off, "8080") || !strings.Contains(on, "ip saddr 10.42.0.0/24 ip daddr 10.42.0.1 tcp dport 8080 accept") ||
		!strings.Contains(on, "tcp dport 80 redirect to :8080") {
		t.Errorf("setup mode off:\n%s\non:\n%s", off, on)
	}
}

// The display shows the setup page's address: the short one where the
// firewall redirects port 80 to it.
func TestSetupPageURL(t *testing.T) {
	cfg := config.Default()
	if got := app.SetupPageURL(cfg); got != "" {
		t.Errorf("out of setup mode: %q", got)
	}
	cfg.Setup.Enabled = true
	for _, tc := range []struct {
		driver, addr, want string
	}{
		{config.NetworkManager, "", "http://10.42.0.1"},
		{config.NetworkManager, ":8080", "http://10.42.0.1"},
		{config.NetworkManager, "10.42.0.1:80", "http://10.42.0.1"},
		{config.NetworkSim, "", "http://10.42.0.1:8080"},
		{config.NetworkManager, "127.0.0.1:9080", "http://127.0.0.1:9080"},
	} {
		cfg.Network.Driver, cfg.Setup.Addr = tc.driver, tc.addr
		if got := app.SetupPageURL(cfg); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.driver, tc.addr, got, tc.want)
		}
	}
}
