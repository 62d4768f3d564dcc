package nmfake

import (
	"maps"

	"github.com/godbus/dbus/v5"
)

// D-Bus names, paths and interfaces of NetworkManager (and of
// wpa_supplicant, which reports the Wi-Fi chip's SAE support).
const (
	BusName          = "org.freedesktop.NetworkManager"
	WPASBusName      = "fi.w1.wpa_supplicant1"
	nmPath           = dbus.ObjectPath("/org/freedesktop/NetworkManager")
	settingsPath     = nmPath + "/Settings"
	devicesPrefix    = string(nmPath) + "/Devices/"
	activePrefix     = string(nmPath) + "/ActiveConnection/"
	wpasPath         = dbus.ObjectPath("/fi/w1/wpa_supplicant1")
	wpasIfacesPrefix = string(wpasPath) + "/Interfaces/"

	ifaceNM         = "org.freedesktop.NetworkManager"
	ifaceSettings   = ifaceNM + ".Settings"
	ifaceConnection = ifaceSettings + ".Connection"
	ifaceDevice     = ifaceNM + ".Device"
	ifaceWireless   = ifaceDevice + ".Wireless"
	ifaceWired      = ifaceDevice + ".Wired"
	ifaceModem      = ifaceDevice + ".Modem"
	ifaceActive     = ifaceNM + ".Connection.Active"
	ifaceProps      = "org.freedesktop.DBus.Properties"
	ifaceWPAS       = "fi.w1.wpa_supplicant1"
	ifaceWPASIface  = ifaceWPAS + ".Interface"
)

// Enumerations of NetworkManager's D-Bus API (NMDeviceType, NMDeviceState,
// NMActiveConnectionState, NMConnectivityState, NMState, NMDeviceWifiCapabilities).
const (
	DeviceTypeEthernet = 1
	DeviceTypeWiFi     = 2
	DeviceTypeModem    = 8

	DeviceStateUnavailable  = 20
	DeviceStateDisconnected = 30
	DeviceStateActivated    = 100

	ActiveStateActivated   = 2
	ActiveStateDeactivated = 4

	ConnectivityNone    = 1
	ConnectivityPortal  = 2
	ConnectivityLimited = 3
	ConnectivityFull    = 4

	stateDisconnected    = 20
	stateConnectedGlobal = 70

	WifiCapCCMP     = 0x8
	WifiCapRSN      = 0x20
	WifiCapAP       = 0x40
	WifiCapFreqOK   = 0x100
	WifiCap2GHz     = 0x200
	WifiCap5GHz     = 0x400
	wifiCapsAP      = WifiCapCCMP | WifiCapRSN | WifiCapAP | WifiCapFreqOK | WifiCap2GHz | WifiCap5GHz
	wifiCapsStation = WifiCapCCMP | WifiCapRSN | WifiCapFreqOK | WifiCap2GHz

	// Reasons (NMDeviceStateReason, NMActiveConnectionStateReason).
	reasonSupplicantFailed     = 10
	reasonConnectionRemoved    = 38
	reasonUserRequested        = 39
	reasonCarrier              = 40
	acReasonDeviceDisconnected = 3
)

// ConnSettings is a connection profile as NetworkManager's D-Bus API
// carries it (a{sa{sv}}): setting name → property → value.
type ConnSettings = map[string]map[string]dbus.Variant

// cloneSettings copies s deeply enough that neither copy changes the other.
func cloneSettings(s ConnSettings) ConnSettings {
	out := make(ConnSettings, len(s))
	for k, v := range s {
		out[k] = maps.Clone(v)
	}
	return out
}

// value returns s[setting][key]'s value, or nil.
func value(s ConnSettings, setting, key string) any {
	v, ok := s[setting][key]
	if !ok {
		return nil
	}
	return v.Value()
}

func str(s ConnSettings, setting, key string) string {
	v, _ := value(s, setting, key).(string)
	return v
}

// device is one network device.
type device struct {
	path    dbus.ObjectPath
	iface   string
	kind    uint32 // DeviceType*
	caps    uint32 // WirelessCapabilities
	sae     bool   // its wpa_supplicant reports SAE
	state   uint32
	reason  uint32
	active  dbus.ObjectPath // "/" when none
	hwaddr  string
	wpasIdx int
}

// profile is one connection profile (Settings.Connection).
type profile struct {
	path     dbus.ObjectPath
	settings ConnSettings // with secrets
	// blocked stops autoconnect after a failed activation until the
	// profile changes, as NetworkManager's retry limit does.
	blocked bool
}

func (p *profile) uuid() string { return str(p.settings, "connection", "uuid") }
func (p *profile) id() string   { return str(p.settings, "connection", "id") }
func (p *profile) typ() string  { return str(p.settings, "connection", "type") }

// autoconnect is connection.autoconnect, true when absent.
func (p *profile) autoconnect() bool {
	v, ok := value(p.settings, "connection", "autoconnect").(bool)
	return !ok || v
}

func (p *profile) autoconnectPriority() int32 {
	v, _ := value(p.settings, "connection", "autoconnect-priority").(int32)
	return v
}

// isAP reports whether the profile is an access point (802-11-wireless.mode ap).
func (p *profile) isAP() bool { return str(p.settings, "802-11-wireless", "mode") == "ap" }

// metric is the route metric NetworkManager would give the profile's
// default route: ipv4.route-metric, or the default of its type.
func (p *profile) metric() int64 {
	if v, ok := value(p.settings, "ipv4", "route-metric").(int64); ok && v >= 0 {
		return v
	}
	switch p.typ() {
	case "802-3-ethernet":
		return 100
	case "802-11-wireless":
		return 600
	}
	return 700
}

// active is one active connection.
type active struct {
	path    dbus.ObjectPath
	profile *profile
	device  *device
	state   uint32
}
