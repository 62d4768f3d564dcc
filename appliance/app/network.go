package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/appliance/api"
	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/firewall"
	"github.com/constellation-ev/constellation/appliance/leases"
	"github.com/constellation-ev/constellation/appliance/network"
	"github.com/constellation-ev/constellation/appliance/network/nm"
	"github.com/constellation-ev/constellation/appliance/ocpp/csms"
	"github.com/constellation-ev/constellation/appliance/screen"
	"github.com/constellation-ev/constellation/syncproto"
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
	if cfg.Sync.Enabled {
		// "The uplink reaches the cloud": the broker answers, rather than
		// NetworkManager's idea of the internet.
		u, err := syncproto.ParseBrokerURL(cfg.Sync.Broker, cfg.Sync.CAFile)
		if err != nil {
			return nil, err
		}
		opts.Probe = brokerProbe(u.Host)
	}
	switch cfg.Network.Driver {
	case config.NetworkManager:
		return network.NewController(nm.NewBackend(nm.Options{Logger: opts.Logger}), opts)
	case config.NetworkSim:
		return network.NewSim(opts)
	}
	return nil, nil
}

// brokerProbe checks that a TCP connection to the broker at hostport
// opens within 5 s.
func brokerProbe(hostport string) func(context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", hostport)
		if err != nil {
			return fmt.Errorf("broker %s: %w", hostport, err)
		}
		return conn.Close()
	}
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

// forDisplay returns what the display's idle screens show of the network:
// the access point's SSID when it is up and the uplink; nil without one.
func (n *networkControl) forDisplay() func() (string, screen.Uplink) {
	if n == nil {
		return nil
	}
	return func() (string, screen.Uplink) {
		st := n.Status(context.Background())
		ssid := ""
		if st.AP.State == network.APUp {
			ssid = st.AP.SSID
		}
		uplink := screen.Uplink(st.Uplink.Kind)
		if uplink == "" || st.Uplink.Connectivity != network.ConnectivityFull {
			uplink = screen.UplinkNone
		}
		return ssid, uplink
	}
}

// FirewallRules is the nftables ruleset that confines the access point of
// cfg to the CSMS's listeners, DHCP and DNS, and the setup page in setup
// mode (docs/network.md).
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
	fw := firewall.Config{Interface: ap.Interface, Address: addr, CSMSPorts: ports}
	if cfg.Setup.Enabled {
		// Open while the appliance awaits its settings; applying them
		// reloads the ruleset without it (constellation-setup.service).
		if fw.SetupPort, err = cfg.SetupPort(); err != nil {
			return "", err
		}
	}
	return firewall.Rules(fw)
}

// reportNetwork tells the cloud, through record, of every change of the
// network's state (a "network" event) and of every device that joins or
// leaves the access point ("ap_client" events), looking every interval,
// until ctx ends. After a restart the current state is told again.
func (n *networkControl) reportNetwork(ctx context.Context, record func(context.Context, syncproto.Message) error, every time.Duration, log *slog.Logger) {
	var last string
	known := map[string]leases.Lease{} // by MAC
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		st := n.Status(ctx)
		clients, err := n.Clients(ctx)
		if err != nil {
			log.Warn("network report: reading the leases", "err", err)
		}
		now := time.Now()
		var events []*syncproto.Event
		summary := syncproto.Attributes{"reachable": strconv.FormatBool(st.Reachable), "ap": string(st.AP.State), "ssid": st.AP.SSID,
			"uplink": string(st.Uplink.Kind), "interface": st.Uplink.Interface, "clients": strconv.Itoa(len(clients.Leases))}
		if key := fmt.Sprint(st.Uplink.Connectivity, summary); key != last {
			events = append(events, &syncproto.Event{Event: syncproto.EventNetwork, At: now, Code: string(st.Uplink.Connectivity), Detail: summary})
			last = key
		}
		seen := map[string]bool{}
		for _, l := range clients.Leases {
			seen[l.MAC] = true
			if old, ok := known[l.MAC]; ok && old.IP == l.IP && slices.Equal(old.Chargers, l.Chargers) {
				continue
			}
			known[l.MAC] = l
			events = append(events, clientEvent(l, "joined", now))
		}
		for mac, l := range known {
			if !seen[mac] {
				delete(known, mac)
				events = append(events, clientEvent(l, "left", now))
			}
		}
		for _, ev := range events {
			if err := record(ctx, ev); err != nil {
				log.Warn("network report not queued", "event", ev.Event, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func clientEvent(l leases.Lease, code string, at time.Time) *syncproto.Event {
	chargers := make([]string, len(l.Chargers))
	for i, c := range l.Chargers {
		chargers[i] = string(c)
	}
	d := syncproto.Attributes{"mac": l.MAC, "ip": l.IP.String()}
	if l.Hostname != "" {
		d["hostname"] = l.Hostname
	}
	if len(chargers) > 0 {
		d["chargers"] = strings.Join(chargers, ",")
	}
	return &syncproto.Event{Event: syncproto.EventAPClient, At: at, Code: code, Detail: d}
}
