// Package nm is the network.Backend of a real appliance: NetworkManager
// over its D-Bus API on the system bus, through gonetworkmanager (and
// godbus directly where gonetworkmanager lacks something: signals, a
// device's StateReason, wpa_supplicant's SAE capability, calls that take
// a context). It never runs nmcli.
//
// Wire it as network.NewController(nm.NewBackend(nm.Options{...}), opts).
package nm
