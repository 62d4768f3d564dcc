package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"

	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/firstboot"
	"github.com/constellation-ev/constellation/appliance/network"
	"github.com/constellation-ev/constellation/appliance/setup"
)

// setupPage is the setup page and its listener on setup.addr, for setup
// mode: the form shows the access point as it is now and starts from the
// settings in force.
func setupPage(ctx context.Context, cfg config.Config, netMgr networkManager, log *slog.Logger) (http.Handler, net.Listener, error) {
	addr, err := cfg.SetupAddr()
	if err != nil {
		return nil, nil, err
	}
	ap := cfg.Network.Settings().AP
	if netMgr != nil {
		ap = netMgr.Settings().AP
	}
	page, err := setup.New(setup.Options{
		DataDir:    cfg.DataDir,
		SSID:       ap.SSID,
		Password:   generatedAPPassword(cfg, log),
		Current:    currentSettings(cfg, ap.SSID),
		ChargerURL: chargerURL(cfg),
		Logger:     log.With("area", "setup"),
	})
	if err != nil {
		return nil, nil, err
	}
	ln, err := setup.Listen(ctx, addr)
	if err != nil {
		return nil, nil, err
	}
	return page, ln, nil
}

// currentSettings are the settings in force, as the settings file would
// give them: what the setup form starts from. Secrets are left out.
func currentSettings(cfg config.Config, ssid string) firstboot.Settings {
	s := firstboot.Settings{
		SiteName:    cfg.Station.SiteName,
		AccessPoint: firstboot.AccessPoint{SSID: ssid},
		Display:     firstboot.Display{Language: cfg.Screen.Language},
	}
	if w := cfg.Network.Uplinks.WiFi; w.Enabled {
		s.Uplink.WiFi.SSID = w.SSID
	}
	if cfg.Sync.Enabled {
		s.Cloud = firstboot.Cloud{URL: cfg.Sync.EnrollURL, Broker: cfg.Sync.Broker, Site: cfg.Sync.Site}
	}
	return s
}

// apAddress is the appliance's address on the access point.
func apAddress(cfg config.Config) (netip.Addr, bool) {
	p, err := network.ParseAPAddress(cfg.Network.Settings().AP.Address)
	if err != nil {
		return netip.Addr{}, false
	}
	return p.Addr(), true
}

// chargerURL is where chargers on the access point connect
// ("ws://10.42.0.1:9000/ocpp/"); empty without a plain OCPP listener.
func chargerURL(cfg config.Config) string {
	ip, ok := apAddress(cfg)
	if !ok || cfg.OCPP.Addr == "" {
		return ""
	}
	_, port, err := net.SplitHostPort(cfg.OCPP.Addr)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("ws://%s/ocpp/", net.JoinHostPort(ip.String(), port))
}

// setupPageURL is the setup page's address as the display shows it; ""
// out of setup mode. Under NetworkManager the firewall (loaded as root)
// redirects port 80 on the access point to the page, so the short
// http://10.42.0.1 works.
func setupPageURL(cfg config.Config) string {
	if !cfg.Setup.Enabled {
		return ""
	}
	addr, err := cfg.SetupAddr()
	if err != nil {
		return ""
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	ip, ipOK := apAddress(cfg)
	a, err := netip.ParseAddr(host)
	if host == "" || (err == nil && a.IsUnspecified()) {
		// Every interface: the access point's address is one of them.
		if !ipOK {
			return ""
		}
		host, a = ip.String(), ip
	}
	onAP := ipOK && a == ip
	if port == "80" || (onAP && cfg.Network.Driver == config.NetworkManager) {
		return "http://" + host
	}
	return "http://" + net.JoinHostPort(host, port)
}
