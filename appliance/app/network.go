package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/constellation-ev/constellation/appliance/api"
	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/firewall"
	"github.com/constellation-ev/constellation/appliance/network"
	"github.com/constellation-ev/constellation/appliance/network/nm"
	"github.com/constellation-ev/constellation/appliance/ocpp/csms"
)

// networkManager is the configured network control:
// *network.Controller, or *network.Sim in dev mode.
type networkManager interface {
	network.Manager
	Settings() network.Settings
}

var (
	_ networkManager = (*network.Controller)(nil)
	_ networkManager = (*network.Sim)(nil)
)

// newNetworkManager builds the network manager network.driver names; nil
// for none.
func newNetworkManager(cfg config.Config, log *slog.Logger) (networkManager, error) {
	opts := network.Options{Initial: cfg.Network.Settings(), DataDir: cfg.DataDir,
		CheckTimeout: cfg.Network.CheckTimeout.Duration, Logger: log.With("area", "network")}
	switch cfg.Network.Driver {
	case config.NetworkManager:
		return network.NewController(nm.NewBackend(nm.Options{Logger: opts.Logger}), opts)
	case config.NetworkSim:
		return network.NewSim(opts)
	}
	return nil, nil
}

// networkControl is the network manager with the access point's clients:
// the API's Network.
type networkControl struct {
	networkManager
	leases  string
	central *csms.CSMS
}

var _ api.Network = (*networkControl)(nil)

// Clients reads the access point's leases, matched to the chargers.
func (n *networkControl) Clients(context.Context) (api.Clients, error) {
	return api.ReadClients(n.leases, n.central.ChargerAddresses())
}

// ssid is the access point's name for the display, when it is up.
func (n *networkControl) ssid() string {
	if n == nil {
		return ""
	}
	st := n.Status(context.Background())
	if st.AP.State != network.APUp {
		return ""
	}
	return st.AP.SSID
}

// FirewallRules is the nftables ruleset that confines the access point of
// cfg to the CSMS's listeners, DHCP and DNS (docs/network.md).
func FirewallRules(cfg config.Config) (string, error) {
	ap := cfg.Network.Settings().AP
	addr, err := network.ParseAPAddress(ap.Address)
	if err != nil {
		return "", fmt.Errorf("network.ap.address: %w", err)
	}
	var ports []uint16
	for _, listen := range []string{cfg.OCPP.Addr, cfg.OCPP.TLSAddr} {
		if listen == "" {
			continue
		}
		_, port, err := net.SplitHostPort(listen)
		if err != nil {
			return "", fmt.Errorf("ocpp listener %q: %w", listen, err)
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return "", fmt.Errorf("ocpp listener %q: port: %w", listen, err)
		}
		ports = append(ports, uint16(p))
	}
	return firewall.Rules(firewall.Config{Interface: ap.Interface, Address: addr, CSMSPorts: ports})
}
