package nm

import (
	"reflect"
	"slices"
	"sort"

	gonm "github.com/Wifx/gonetworkmanager/v2"

	"github.com/constellation-ev/constellation/appliance/network"
)

// Setting names of NetworkManager's connection profiles.
const (
	setConnection = "connection"
	setWireless   = "802-11-wireless"
	setSecurity   = "802-11-wireless-security"
	setWired      = "802-3-ethernet"
	setGSM        = "gsm"
	setIPv4       = "ipv4"
	setIPv6       = "ipv6"
)

// Key management of the access point (802-11-wireless-security.key-mgmt).
const (
	keyMgmtSAE = "sae"
	keyMgmtPSK = "wpa-psk"
)

// apProfile returns the access point's profile: keyMgmt is keyMgmtSAE or
// keyMgmtPSK. Values carry the D-Bus types NetworkManager requires
// (ssid ay, channel u, route-metric x, address prefix u).
func apProfile(ap network.APConfig, keyMgmt string) gonm.ConnectionSettings {
	addr, _ := network.ParseAPAddress(ap.Address) // validated before
	wireless := map[string]any{
		"ssid":   []byte(ap.SSID),
		"mode":   "ap",
		"hidden": ap.Hidden,
	}
	if ap.Band != network.BandAuto {
		wireless["band"] = string(ap.Band)
	}
	if ap.Channel != 0 {
		wireless["channel"] = ap.Channel
	}
	security := map[string]any{"key-mgmt": keyMgmt, "psk": string(ap.Password)}
	if keyMgmt == keyMgmtPSK {
		// WPA2 only: no WPA1 or TKIP for chargers to fall back to.
		security["proto"] = []string{"rsn"}
		security["pairwise"] = []string{"ccmp"}
		security["group"] = []string{"ccmp"}
	}
	return gonm.ConnectionSettings{
		setConnection: {
			"id":             network.APProfileID,
			"uuid":           network.APProfileUUID,
			"type":           setWireless,
			"interface-name": ap.Interface,
			"autoconnect":    true,
		},
		setWireless: wireless,
		setSecurity: security,
		setIPv4: {
			// shared: NetworkManager runs DHCP (dnsmasq) and NAT on the subnet.
			"method":       "shared",
			"address-data": []map[string]any{{"address": addr.Addr().String(), "prefix": uint32(addr.Bits())}},
		},
		setIPv6: {"method": "ignore"},
	}
}

// uplinkProfile returns the profile of uplink kind k.
func uplinkProfile(k network.UplinkKind, u network.UplinkConfig) gonm.ConnectionSettings {
	metric := int64(100 * u.Priority)
	conn := map[string]any{
		"id":                   network.ProfileID(k),
		"uuid":                 network.ProfileUUID(k),
		"autoconnect":          true,
		"autoconnect-priority": int32(100 - u.Priority),
	}
	if u.Interface != "" {
		conn["interface-name"] = u.Interface
	}
	s := gonm.ConnectionSettings{
		setConnection: conn,
		setIPv4:       {"method": "auto", "route-metric": metric},
		setIPv6:       {"method": "auto", "route-metric": metric},
	}
	switch k {
	case network.UplinkEthernet:
		conn["type"] = setWired
		s[setWired] = map[string]any{}
	case network.UplinkWiFi:
		conn["type"] = setWireless
		s[setWireless] = map[string]any{"ssid": []byte(u.SSID), "mode": "infrastructure"}
		if u.Password != "" {
			s[setSecurity] = map[string]any{"key-mgmt": keyMgmtPSK, "psk": string(u.Password)}
		}
	case network.UplinkCellular:
		// NetworkManager drives the modem through ModemManager.
		conn["type"] = setGSM
		s[setGSM] = map[string]any{"apn": u.APN}
	}
	return s
}

// secretKeys are the keys GetSettings leaves out; they are compared with
// what GetSecrets returns.
var secretKeys = map[string]string{setSecurity: "psk"}

// nmDefaults are the values NetworkManager assumes for keys that
// GetSettings leaves out (it omits keys at their default).
var nmDefaults = map[string]map[string]any{
	setConnection: {"autoconnect": true, "autoconnect-priority": int32(0), "interface-name": ""},
	setWireless:   {"hidden": false, "channel": uint32(0), "band": "", "mode": "infrastructure"},
	setSecurity:   {"proto": []string{}, "pairwise": []string{}, "group": []string{}},
	setIPv4:       {"route-metric": int64(-1)},
	setIPv6:       {"route-metric": int64(-1)},
	setGSM:        {"apn": ""},
}

// drift returns the keys ("setting.key") where the stored profile differs
// from want: keys of want with another value, keys the appliance manages
// set by hand, and the secret when secrets could be read (nil: they could
// not). It names keys only, never values, so it can be logged.
func drift(want, got, secrets gonm.ConnectionSettings) []string {
	var keys []string
	for setting, props := range want {
		if got[setting] == nil {
			keys = append(keys, setting)
			continue
		}
		for key, w := range props {
			if secretKeys[setting] == key {
				if secrets != nil && !reflect.DeepEqual(w, secrets[setting][key]) {
					keys = append(keys, setting+"."+key)
				}
				continue
			}
			g, ok := got[setting][key]
			if !ok {
				g, ok = nmDefaults[setting][key]
			}
			if !ok || !equal(w, g) {
				keys = append(keys, setting+"."+key)
			}
		}
		// A managed key the appliance leaves at its default (band and
		// channel when automatic, the WPA2 ciphers under SAE) but set by hand.
		for key, def := range nmDefaults[setting] {
			if _, mine := props[key]; mine {
				continue
			}
			if g, ok := got[setting][key]; ok && !equal(def, g) {
				keys = append(keys, setting+"."+key)
			}
		}
	}
	for setting := range got {
		if _, ok := want[setting]; !ok && managedSettings[setting] {
			keys = append(keys, setting)
		}
	}
	sort.Strings(keys)
	return keys
}

// managedSettings are the settings whose presence the appliance decides
// (a security setting added to an open uplink, say).
var managedSettings = map[string]bool{setSecurity: true, setWireless: true, setWired: true, setGSM: true}

// equal compares a wanted value with one decoded from D-Bus, where an
// empty list may arrive as nil and address-data as []map[string]any.
func equal(want, got any) bool {
	if w, ok := want.([]string); ok {
		g, _ := got.([]string)
		return slices.Equal(w, g)
	}
	return reflect.DeepEqual(want, got)
}
