package app_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/api"
	"github.com/constellation-ev/constellation/appliance/app"
	"github.com/constellation-ev/constellation/appliance/cloudsync/synctest"
	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/internal/testlog"
	"github.com/constellation-ev/constellation/appliance/network"
	"github.com/constellation-ev/constellation/syncproto"
)

// TestNetworkThroughTheAPI: with the simulated network, the API shows
// the access point without its password, changes it safely (a password
// left out is kept), refuses a bad setting by its field, and lists the
// access point's clients with the charger connected from each.
func TestNetworkThroughTheAPI(t *testing.T) {
	leasesFile := filepath.Join(t.TempDir(), "dnsmasq-wlan0.leases")
	if err := os.WriteFile(leasesFile, []byte("0 02:00:00:aa:bb:cc 127.0.0.1 wallbox *\n0 02:00:00:aa:bb:cd 10.42.0.9 phone *\nbroken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAppliance(t, func(c *config.Config) {
		c.Network.Driver = config.NetworkSim
		c.Network.AP.SSID, c.Network.AP.Password = "Depot-7", "secret-ap-password"
		c.Network.LeasesFile = leasesFile
	})
	var view api.NetworkView
	eventually(t, &testlog.Buffer{}, "the access point up", func() bool {
		getJSON(t, a.api+"/api/v1/network", &view)
		return view.Status.AP.State == network.APUp
	})
	if view.Status.AP.SSID != "Depot-7" || view.Settings.AP.Password != "" || strings.Contains(getText(t, a.api+"/api/v1/network"), "secret-ap-password") {
		t.Fatalf("network view %+v", view)
	}
	var h api.Health
	getJSON(t, a.api+"/healthz", &h)
	if h.Network != "ok" || h.Uplink != "full" {
		t.Errorf("health %+v", h)
	}

	next := view.Settings
	next.AP.SSID = "Depot-7b"
	body, _ := json.Marshal(next)
	var res network.ChangeResult
	if err := json.Unmarshal(request(t, http.MethodPut, a.api+"/api/v1/network", string(body), http.StatusOK), &res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != network.OutcomeApplied {
		t.Fatalf("change %+v", res)
	}
	getJSON(t, a.api+"/api/v1/network", &view)
	if view.Status.AP.SSID != "Depot-7b" {
		t.Errorf("after the change: %+v", view.Status.AP)
	}
	request(t, http.MethodPut, a.api+"/api/v1/network", `{"ap":{"enabled":true,"ssid":"Depot","channel":300,"band":"bg"}}`, http.StatusBadRequest)

	dialRaw(t, a, "CP-WIFI").call("BootNotification", boot)
	var clients api.Clients
	getJSON(t, a.api+"/api/v1/network/clients", &clients)
	if len(clients.Leases) != 2 || len(clients.Leases[1].Chargers) != 1 || clients.Leases[1].Chargers[0] != "CP-WIFI" ||
		len(clients.Problems) != 1 || !strings.HasPrefix(clients.Problems[0], "line 3:") {
		t.Errorf("clients %+v", clients)
	}
}

// TestFirewallRules: the ruleset opens the CSMS's plain and TLS ports on
// the configured access point.
func TestFirewallRules(t *testing.T) {
	cfg := config.Default()
	cfg.OCPP.TLSAddr = ":9443"
	cfg.Network.AP.Interface, cfg.Network.AP.Address = "wlan1", "192.168.7.1/24"
	rules, err := app.FirewallRules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rules, `iifname != "wlan1" accept`) || !strings.Contains(rules, "ip saddr 192.168.7.0/24 ip daddr 192.168.7.1 tcp dport { 9000, 9443 } accept") {
		t.Errorf("rules:\n%s", rules)
	}
	cfg.OCPP.Addr = "nowhere"
	if _, err := app.FirewallRules(cfg); err == nil || !strings.Contains(err.Error(), `ocpp listener "nowhere"`) {
		t.Errorf("a bad listener: %v", err)
	}
}

// TestNetworkReportedToTheCloud: the network's state and the access
// point's devices, with the charger connected from each, reach the cloud
// as events.
func TestNetworkReportedToTheCloud(t *testing.T) {
	broker := synctest.Broker(t)
	site := synctest.Site(t)
	pwFile := filepath.Join(t.TempDir(), "mqtt-password")
	leasesFile := filepath.Join(t.TempDir(), "dnsmasq-wlan0.leases")
	for path, data := range map[string]string{pwFile: "s3cret-mqtt-password\n", leasesFile: "0 02:00:00:aa:bb:cc 127.0.0.1 wallbox *\n"} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sub := synctest.Subscribe(t, broker, syncproto.Prefix+site+"/up/+")
	a := startAppliance(t, func(c *config.Config) {
		c.Sync = config.Sync{Enabled: true, Broker: broker, Site: site, PasswordFile: pwFile,
			ReadingsBatch: config.Duration{Duration: time.Minute}, OutboxMaxEntries: 1000, OutboxMaxBytes: 1 << 20}
		c.Network.Driver = config.NetworkSim
		c.Network.AP.SSID, c.Network.AP.Password = "Depot-7", "secret-ap-password"
		c.Network.LeasesFile = leasesFile
		c.Network.ReportEvery = config.Duration{Duration: 50 * time.Millisecond}
	})
	dialRaw(t, a, "CP-WIFI").call("BootNotification", boot)
	sub.Wait(t, "the network and its charger", func(ms []synctest.Message) bool {
		var network, client bool
		for _, m := range ms {
			ev, ok := m.Msg.(*syncproto.Event)
			switch {
			case !ok:
			case ev.Event == syncproto.EventNetwork:
				network = network || ev.Code == "full" && ev.Detail["ssid"] == "Depot-7" && ev.Detail["ap"] == "up"
			case ev.Event == syncproto.EventAPClient:
				client = client || ev.Code == "joined" && ev.Detail["mac"] == "02:00:00:aa:bb:cc" && ev.Detail["chargers"] == "CP-WIFI"
			}
		}
		return network && client
	})
}

// TestBrokerProbe: the uplink check reaches the broker, or says why not.
func TestBrokerProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := app.BrokerProbe(addr)(context.Background()); err != nil {
		t.Errorf("listening broker: %v", err)
	}
	ln.Close()
	if err := app.BrokerProbe(addr)(context.Background()); err == nil || !strings.Contains(err.Error(), "broker "+addr) {
		t.Errorf("closed broker: %v", err)
	}
}
