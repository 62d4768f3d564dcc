// Package leases reads the DHCP leases of the chargers' access point, the
// dnsmasq leases file NetworkManager keeps for a shared connection
// (/var/lib/NetworkManager/dnsmasq-<interface>.leases), and matches them
// to OCPP chargers by the address their websocket comes from, so that an
// installer sees which charger is which device on the Wi-Fi.
//
// The file has one IPv4 lease per line:
//
//	<expiry, Unix seconds; 0: infinite> <MAC> <IPv4> <hostname or *> <client id or *>
//
// followed, when DHCPv6 is in use, by a "duid <DUID>" line and IPv6 leases,
// which chargers on the appliance's IPv4 network do not have: they are
// skipped.
package leases

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
)

// Lease is a device's DHCP lease on the access point.
type Lease struct {
	IP  netip.Addr `json:"ip"`
	MAC string     `json:"mac"`
	// Expires is when the lease ends; zero: never.
	Expires  time.Time `json:"expires,omitzero"`
	Hostname string    `json:"hostname,omitempty"`
	ClientID string    `json:"clientId,omitempty"`
	// Chargers are the chargers connected from IP (one, unless a device
	// speaks for several).
	Chargers []charging.ChargerID `json:"chargers,omitempty"`
}

// MaxFileBytes bounds the leases file read: dnsmasq keeps one line per
// device, and an access point has tens of them.
const MaxFileBytes = 1 << 20

// ErrTooLarge: the leases file is larger than MaxFileBytes.
var ErrTooLarge = errors.New("leases file larger than 1 MiB")

// Read reads the leases file at path. A missing file is no leases (the
// access point has not served any yet). Lines that cannot be read are
// returned as problems naming their line, and skipped.
func Read(path string) (leases []Lease, problems []error, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("leases: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("leases: %s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return nil, nil, fmt.Errorf("leases: %s: %w", path, ErrTooLarge)
	}
	leases, problems = Parse(data)
	return leases, problems, nil
}

// Parse reads the contents of a leases file: its IPv4 leases, by address,
// and a problem per line it cannot read.
func Parse(data []byte) (leases []Lease, problems []error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1024), MaxFileBytes)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		l, ok, err := parseLine(line)
		switch {
		case err != nil:
			problems = append(problems, fmt.Errorf("line %d: %w", n, err))
		case ok:
			leases = append(leases, l)
		}
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, err)
	}
	slices.SortFunc(leases, func(a, b Lease) int { return a.IP.Compare(b.IP) })
	return leases, problems
}

// parseLine reads one line; ok is false for lines that are not IPv4
// leases (the DUID line and IPv6 leases).
func parseLine(line string) (l Lease, ok bool, err error) {
	f := strings.Fields(line)
	if f[0] == "duid" {
		return Lease{}, false, nil
	}
	if len(f) != 5 {
		return Lease{}, false, fmt.Errorf("%d fields, want 5 (expiry, MAC, IP, hostname, client id)", len(f))
	}
	exp, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || exp < 0 {
		return Lease{}, false, fmt.Errorf("expiry %q: want Unix seconds", cut(f[0]))
	}
	ip, err := netip.ParseAddr(f[2])
	if err != nil {
		return Lease{}, false, fmt.Errorf("address %q: not an IP address", cut(f[2]))
	}
	if !ip.Is4() {
		return Lease{}, false, nil // a DHCPv6 lease: its second field is an IAID
	}
	mac, err := net.ParseMAC(f[1])
	if err != nil {
		return Lease{}, false, fmt.Errorf("MAC %q: %v", cut(f[1]), err)
	}
	l = Lease{IP: ip, MAC: mac.String(), Hostname: orEmpty(f[3]), ClientID: orEmpty(f[4])}
	if exp > 0 {
		l.Expires = time.Unix(exp, 0).UTC()
	}
	return l, true, nil
}

// orEmpty reads dnsmasq's "*" (none) as empty.
func orEmpty(s string) string {
	if s == "*" {
		return ""
	}
	return s
}

// cut shortens outside input for an error message.
func cut(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Match returns the leases with the chargers connected from each one's
// address; chargers connected from an address without a lease are not
// listed (they are not on the access point).
func Match(leases []Lease, addresses map[charging.ChargerID]netip.Addr) []Lease {
	out := slices.Clone(leases)
	for i := range out {
		out[i].Chargers = nil
		for id, addr := range addresses {
			if addr == out[i].IP {
				out[i].Chargers = append(out[i].Chargers, id)
			}
		}
		slices.Sort(out[i].Chargers)
	}
	return out
}
