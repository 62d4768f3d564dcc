// Package nmfake is a fake NetworkManager for tests: [StartBus] starts a
// private dbus-daemon and points the process's system bus at it, [New]
// exports on it the subset of org.freedesktop.NetworkManager (and of
// wpa_supplicant) the appliance uses, with the real object paths,
// interfaces, method signatures, property types and signals. The fake
// keeps devices (eth0, wlan0 with AP and SAE support, wlan1, a modem),
// profiles, active connections and connectivity, applies activations
// deterministically, and lets a test act on it: unplug Ethernet, tamper
// with a profile, make an access point's channel be refused, stop and
// restart NetworkManager.
package nmfake
