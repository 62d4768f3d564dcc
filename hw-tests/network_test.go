//go:build hw

package hwtests

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/api"
	"github.com/constellation-ev/constellation/appliance/leases"
	"github.com/constellation-ev/constellation/appliance/network"
	"github.com/constellation-ev/constellation/appliance/network/nm"
)

// TestNetworkAccessPoint brings the appliance's access point up through
// the Pi's NetworkManager, asks the person running it to join it with a
// phone or a charger (2 minutes), shows the new device's lease as the
// local API lists it, and removes the access point again.
func TestNetworkAccessPoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	settings := network.DefaultSettings()
	settings.AP.Interface, settings.AP.SSID, settings.AP.Password = *apInterface, *apSSID, network.Secret(*apPassword)
	ctl, err := network.NewController(nm.NewBackend(nm.Options{}), network.Options{Initial: settings, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ctl.Run(ctx) }()
	defer func() {
		// Leave the Pi as it was: the access point's profile removed.
		off := settings
		off.AP.Enabled = false
		if res, err := ctl.Apply(context.Background(), off); err != nil || res.Outcome != network.OutcomeApplied {
			t.Errorf("removing the access point: %+v, %v", res, err)
		}
		cancel()
		<-done
	}()

	st := waitNetwork(t, ctl, "the access point up", func(st network.Status) bool { return st.AP.State == network.APUp })
	t.Logf("access point %q is up on %s at %s with %s; uplink %s (%s)",
		st.AP.SSID, st.AP.Interface, st.AP.Address, st.AP.Security, st.Uplink.Connection, st.Uplink.Connectivity)

	leasesFile := "/var/lib/NetworkManager/dnsmasq-" + *apInterface + ".leases"
	before, err := api.ReadClients(leasesFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("join %q with a phone or a charger (passphrase %q) within 2 minutes", *apSSID, *apPassword)
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		now, err := api.ReadClients(leasesFile, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range now.Leases {
			if !slices.ContainsFunc(before.Leases, func(b leases.Lease) bool { return b.MAC == l.MAC }) {
				t.Logf("joined: %s (%s) got %s; GET /api/v1/network/clients lists it", l.MAC, l.Hostname, l.IP)
				return
			}
		}
		time.Sleep(time.Second) // waiting for a person
	}
	t.Fatal("no new lease within 2 minutes")
}

// waitNetwork waits up to a minute for the network's state to satisfy cond.
func waitNetwork(t *testing.T, ctl *network.Controller, what string, cond func(network.Status) bool) network.Status {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st := ctl.Status(context.Background())
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s: %+v", what, st)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
