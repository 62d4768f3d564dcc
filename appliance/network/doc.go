// Package network controls the appliance's network through NetworkManager:
// the chargers' Wi-Fi access point and the uplink to the cloud.
//
// Owned profiles. The appliance keeps NetworkManager connection profiles
// of its own, known by fixed UUIDs and by the "constellation-" prefix of
// their names: the access point (SSID, WPA3-SAE when the chip supports it
// else WPA2-PSK, band, channel, hidden, ipv4.method shared on a
// configurable subnet, autoconnect) and one per uplink (Ethernet, Wi-Fi
// client, cellular through ModemManager) whose priority becomes its route
// metric and autoconnect priority. Profiles are created when missing,
// corrected when changed by hand, removed when disabled; profiles the
// installer made are never touched.
//
// Safe change. [Controller.Apply] takes new [Settings] (from the cloud's
// desired configuration or the local UI), applies them, checks them (the
// access point is up; when the uplinks changed, the uplink reaches the
// cloud within Options.CheckTimeout, by NetworkManager's connectivity
// state or a caller's probe) and, if the check fails, restores the last
// good settings. The result is returned and kept in [Status].
//
// Rollback across a crash. The last good settings and the change being
// checked are kept in a state file under the data dir; a change found
// pending at start was interrupted and is rolled back.
//
// Reconnect. [Controller.Run] connects with backoff, so NetworkManager
// absent at start, stopping or restarting is reported in Status and
// retried, never fatal. It re-checks the profiles at NetworkManager's
// signals and periodically.
//
// A [Controller] drives a [Backend]: package nm is NetworkManager over
// D-Bus, [Sim] the in-memory simulation of dev mode; package nmfake is a
// fake NetworkManager on a private dbus-daemon for tests.
package network
