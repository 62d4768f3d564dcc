package nmfake

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
)

// Options shape a fake NetworkManager.
type Options struct {
	// NoSAE makes the access point's chip a WPA2-only one: its
	// wpa_supplicant does not list "sae" among its key managements.
	NoSAE bool
	// APChannels are the channels the regulatory domain lets an access
	// point use; activating an AP on another fails. Nil: 1 to 11 and the
	// 5 GHz channels without radar detection (36 to 48, 149 to 165).
	APChannels []uint32
	// Profiles are the profiles present at start (the installer's); nil:
	// InstallerProfiles().
	Profiles []ConnSettings
}

// InstallerUUID is the UUID of the installer's Ethernet profile in
// InstallerProfiles.
const InstallerUUID = "5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03"

// InstallerProfiles returns the profiles an installer's image has:
// NetworkManager's automatic "Wired connection 1" on eth0.
func InstallerProfiles() []ConnSettings {
	return []ConnSettings{{
		"connection": {
			"id":                   dbus.MakeVariant("Wired connection 1"),
			"uuid":                 dbus.MakeVariant(InstallerUUID),
			"type":                 dbus.MakeVariant("802-3-ethernet"),
			"interface-name":       dbus.MakeVariant("eth0"),
			"autoconnect-priority": dbus.MakeVariant(int32(-999)),
		},
		"802-3-ethernet": {},
		"ipv4":           {"method": dbus.MakeVariant("auto")},
		"ipv6":           {"method": dbus.MakeVariant("auto")},
	}}
}

// NM is a fake NetworkManager on a private bus: it exports the subset of
// org.freedesktop.NetworkManager the appliance uses, with the real object
// paths, interfaces, method signatures, property types and signals, and
// keeps its state deterministically. Devices: eth0 (wired), wlan0 (Wi-Fi
// with AP mode), wlan1 (Wi-Fi station), cdc-wdm0 (modem).
type NM struct {
	conn *dbus.Conn
	opts Options

	mu        sync.Mutex
	running   bool
	devices   []*device
	profiles  []*profile // in path order
	actives   []*active
	primary   dbus.ObjectPath
	forced    uint32 // connectivity set by the test; 0: derived
	next      int    // last object number handed out
	published map[dbus.ObjectPath]map[string]map[string]dbus.Variant
}

// New connects a fake NetworkManager to bus and exports its objects; it
// owns wpa_supplicant's name at once and NetworkManager's at Start. It
// disconnects when the test ends.
func New(tb testing.TB, bus *Bus, o Options) *NM {
	tb.Helper()
	if o.APChannels == nil {
		o.APChannels = []uint32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 36, 40, 44, 48, 149, 153, 157, 161, 165}
	}
	if o.Profiles == nil {
		o.Profiles = InstallerProfiles()
	}
	conn, err := dbus.Connect(bus.Address)
	if err != nil {
		tb.Fatalf("nmfake: connect to the bus: %v", err)
	}
	tb.Cleanup(func() { conn.Close() })
	f := &NM{conn: conn, opts: o, published: map[dbus.ObjectPath]map[string]map[string]dbus.Variant{}}
	add := func(name string, kind, caps uint32, sae bool, mac string) {
		f.next++
		f.devices = append(f.devices, &device{
			path: dbus.ObjectPath(fmt.Sprintf("%s%d", devicesPrefix, f.next)), iface: name, kind: kind,
			caps: caps, sae: sae, state: DeviceStateDisconnected, active: "/", hwaddr: mac, wpasIdx: f.next,
		})
	}
	add("eth0", DeviceTypeEthernet, 0, false, "DC:A6:32:00:00:01")
	add("wlan0", DeviceTypeWiFi, wifiCapsAP, !o.NoSAE, "DC:A6:32:00:00:02")
	add("wlan1", DeviceTypeWiFi, wifiCapsStation, false, "00:C0:CA:00:00:03")
	add("cdc-wdm0", DeviceTypeModem, 0, false, "")
	for _, s := range o.Profiles {
		f.addProfile(cloneSettings(s))
	}
	f.autoconnect(nil)
	f.publish(nil)
	if err := f.export(); err != nil {
		tb.Fatalf("nmfake: export: %v", err)
	}
	if _, err := conn.RequestName(WPASBusName, dbus.NameFlagDoNotQueue); err != nil {
		tb.Fatalf("nmfake: own %s: %v", WPASBusName, err)
	}
	return f
}

// Start owns NetworkManager's bus name: clients see it appear. The
// state (profiles, active connections) is kept across Stop and Start,
// as NetworkManager keeps profiles on disk and devices up.
func (f *NM) Start() error {
	reply, err := f.conn.RequestName(BusName, dbus.NameFlagDoNotQueue)
	if err != nil {
		return fmt.Errorf("nmfake: own %s: %w", BusName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner && reply != dbus.RequestNameReplyAlreadyOwner {
		return fmt.Errorf("nmfake: own %s: %s", BusName, reply)
	}
	f.mu.Lock()
	f.running = true
	f.mu.Unlock()
	return nil
}

// Stop releases NetworkManager's bus name, as a stopping NetworkManager
// does: calls to it fail with ServiceUnknown until Start.
func (f *NM) Stop() error {
	f.mu.Lock()
	f.running = false
	f.mu.Unlock()
	if _, err := f.conn.ReleaseName(BusName); err != nil {
		return fmt.Errorf("nmfake: release %s: %w", BusName, err)
	}
	return nil
}

// Profile returns the stored settings (secrets included) of the profile
// with uuid.
func (f *NM) Profile(uuid string) (ConnSettings, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.profileByUUID(uuid); p != nil {
		return cloneSettings(p.settings), true
	}
	return nil, false
}

// ProfileUUIDs returns the UUIDs of all profiles.
func (f *NM) ProfileUUIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, p := range f.profiles {
		out = append(out, p.uuid())
	}
	return out
}

// ActiveUUID returns the UUID of the profile active on the device named
// iface ("" when none).
func (f *NM) ActiveUUID(iface string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.deviceByName(iface)
	if d == nil {
		return ""
	}
	if a := f.activeByPath(d.active); a != nil {
		return a.profile.uuid()
	}
	return ""
}

// PrimaryUUID returns the UUID of the primary connection's profile ("" when none).
func (f *NM) PrimaryUUID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a := f.activeByPath(f.primary); a != nil {
		return a.profile.uuid()
	}
	return ""
}

// Tamper edits the profile with uuid behind the appliance's back, as
// someone with nmcli would: the stored settings change and Updated is
// emitted, the running connection is left alone.
func (f *NM) Tamper(uuid string, edit func(ConnSettings)) {
	f.mu.Lock()
	p := f.profileByUUID(uuid)
	var sig []signal
	if p != nil {
		edit(p.settings)
		p.blocked = false
		sig = append(sig, signal{p.path, ifaceConnection + ".Updated", nil})
	}
	f.mu.Unlock()
	f.emit(sig)
}

// Unplug takes the carrier away from the wired device iface: its
// connection goes down and the primary connection moves to the next one.
func (f *NM) Unplug(iface string) {
	f.mu.Lock()
	var sig []signal
	if d := f.deviceByName(iface); d != nil {
		sig = f.deactivateDevice(d, reasonCarrier)
		d.state, d.reason = DeviceStateUnavailable, reasonCarrier
	}
	f.publish(&sig)
	f.mu.Unlock()
	f.emit(sig)
}

// Plug gives the carrier back: the device autoconnects its best profile.
func (f *NM) Plug(iface string) {
	f.mu.Lock()
	var sig []signal
	if d := f.deviceByName(iface); d != nil && d.state == DeviceStateUnavailable {
		d.state, d.reason = DeviceStateDisconnected, reasonCarrier
		sig = f.autoconnect(d)
	}
	f.publish(&sig)
	f.mu.Unlock()
	f.emit(sig)
}

// SetConnectivity forces the connectivity state (a Connectivity*
// value); 0 derives it again (full with a primary connection, else none).
func (f *NM) SetConnectivity(c uint32) {
	f.mu.Lock()
	var sig []signal
	f.forced = c
	f.publish(&sig)
	f.mu.Unlock()
	f.emit(sig)
}

// signal is one D-Bus signal to emit once the lock is released.
type signal struct {
	path dbus.ObjectPath
	name string
	args []any
}

func (f *NM) emit(sigs []signal) {
	for _, s := range sigs {
		_ = f.conn.Emit(s.path, s.name, s.args...)
	}
}

func (f *NM) newPath(prefix string) dbus.ObjectPath {
	f.next++
	return dbus.ObjectPath(fmt.Sprintf("%s%d", prefix, f.next))
}

func (f *NM) addProfile(s ConnSettings) *profile {
	p := &profile{path: f.newPath(string(settingsPath) + "/"), settings: s}
	f.profiles = append(f.profiles, p)
	return p
}

func (f *NM) profileByUUID(uuid string) *profile {
	for _, p := range f.profiles {
		if p.uuid() == uuid {
			return p
		}
	}
	return nil
}

func (f *NM) profileByPath(path dbus.ObjectPath) *profile {
	for _, p := range f.profiles {
		if p.path == path {
			return p
		}
	}
	return nil
}

func (f *NM) deviceByName(name string) *device {
	for _, d := range f.devices {
		if d.iface == name {
			return d
		}
	}
	return nil
}

func (f *NM) deviceByPath(path dbus.ObjectPath) *device {
	for _, d := range f.devices {
		if d.path == path {
			return d
		}
	}
	return nil
}

func (f *NM) activeByPath(path dbus.ObjectPath) *active {
	for _, a := range f.actives {
		if a.path == path {
			return a
		}
	}
	return nil
}

// compatible says why profile p cannot run on device d ("" if it can).
func compatible(p *profile, d *device) string {
	want := map[string]uint32{"802-3-ethernet": DeviceTypeEthernet, "802-11-wireless": DeviceTypeWiFi, "gsm": DeviceTypeModem}[p.typ()]
	if want != d.kind {
		return fmt.Sprintf("profile type %s does not fit device %s", p.typ(), d.iface)
	}
	if name := str(p.settings, "connection", "interface-name"); name != "" && name != d.iface {
		return fmt.Sprintf("profile is bound to %s, not %s", name, d.iface)
	}
	if p.isAP() && d.caps&WifiCapAP == 0 {
		return fmt.Sprintf("device %s does not support AP mode", d.iface)
	}
	if d.state == DeviceStateUnavailable {
		return fmt.Sprintf("device %s is not available (no carrier)", d.iface)
	}
	return ""
}

// activate runs profile p on device d; the result is deterministic: an
// access point on a channel outside APChannels fails as a driver refusing
// it would (the active connection goes to deactivated and disappears),
// anything else is activated at once.
func (f *NM) activate(p *profile, d *device) (*active, []signal) {
	sig := f.deactivateDevice(d, reasonUserRequested)
	a := &active{path: f.newPath(activePrefix), profile: p, device: d, state: ActiveStateActivated}
	if ch, ok := value(p.settings, "802-11-wireless", "channel").(uint32); p.isAP() && ok && ch != 0 && !slices.Contains(f.opts.APChannels, ch) {
		a.state = ActiveStateDeactivated
		p.blocked = true
		d.state, d.reason = DeviceStateDisconnected, reasonSupplicantFailed
		return a, append(sig, signal{a.path, ifaceActive + ".StateChanged", []any{uint32(ActiveStateDeactivated), uint32(acReasonDeviceDisconnected)}})
	}
	f.actives = append(f.actives, a)
	d.active, d.state, d.reason = a.path, DeviceStateActivated, 0
	return a, append(sig, signal{a.path, ifaceActive + ".StateChanged", []any{uint32(ActiveStateActivated), uint32(0)}})
}

// deactivateDevice takes down the connection active on d.
func (f *NM) deactivateDevice(d *device, reason uint32) []signal {
	a := f.activeByPath(d.active)
	if a == nil {
		return nil
	}
	f.actives = slices.DeleteFunc(f.actives, func(x *active) bool { return x == a })
	d.active, d.state, d.reason = "/", DeviceStateDisconnected, reason
	return []signal{{a.path, ifaceActive + ".StateChanged", []any{uint32(ActiveStateDeactivated), uint32(acReasonDeviceDisconnected)}}}
}

// autoconnect activates, on each idle device (or only on d), the
// autoconnect profile of the highest autoconnect-priority that fits.
func (f *NM) autoconnect(only *device) []signal {
	var sig []signal
	for _, d := range f.devices {
		if (only != nil && d != only) || d.state != DeviceStateDisconnected || d.active != "/" {
			continue
		}
		var best *profile
		for _, p := range f.profiles {
			if !p.autoconnect() || p.blocked || compatible(p, d) != "" || f.profileActive(p) {
				continue
			}
			if best == nil || p.autoconnectPriority() > best.autoconnectPriority() {
				best = p
			}
		}
		if best != nil {
			_, s := f.activate(best, d)
			sig = append(sig, s...)
		}
	}
	return sig
}

func (f *NM) profileActive(p *profile) bool {
	for _, a := range f.actives {
		if a.profile == p {
			return true
		}
	}
	return false
}

// publish recomputes every property, appends PropertiesChanged for those
// that changed to sig (nil: none, at start) and records them for Get.
func (f *NM) publish(sig *[]signal) {
	f.primary = "/"
	var best *active
	for _, a := range f.actives {
		if a.state != ActiveStateActivated || a.profile.isAP() || str(a.profile.settings, "ipv4", "method") == "shared" {
			continue
		}
		if best == nil || a.profile.metric() < best.profile.metric() {
			best = a
		}
	}
	primaryType := ""
	if best != nil {
		f.primary, primaryType = best.path, best.profile.typ()
	}
	connectivity, state := uint32(ConnectivityNone), uint32(stateDisconnected)
	if best != nil {
		connectivity, state = ConnectivityFull, stateConnectedGlobal
	}
	if f.forced != 0 {
		connectivity = f.forced
	}
	now := map[dbus.ObjectPath]map[string]map[string]dbus.Variant{}
	v := dbus.MakeVariant
	var devPaths, activePaths, profilePaths []dbus.ObjectPath
	for _, d := range f.devices {
		devPaths = append(devPaths, d.path)
	}
	for _, a := range f.actives {
		activePaths = append(activePaths, a.path)
	}
	for _, p := range f.profiles {
		profilePaths = append(profilePaths, p.path)
	}
	now[nmPath] = map[string]map[string]dbus.Variant{ifaceNM: {
		"Devices":                    v(devPaths),
		"AllDevices":                 v(devPaths),
		"ActiveConnections":          v(nonNil(activePaths)),
		"PrimaryConnection":          v(f.primary),
		"PrimaryConnectionType":      v(primaryType),
		"ActivatingConnection":       v(dbus.ObjectPath("/")),
		"Connectivity":               v(connectivity),
		"State":                      v(state),
		"Version":                    v("1.42.4"),
		"Startup":                    v(false),
		"NetworkingEnabled":          v(true),
		"WirelessEnabled":            v(true),
		"WirelessHardwareEnabled":    v(true),
		"WwanEnabled":                v(true),
		"ConnectivityCheckAvailable": v(true),
		"ConnectivityCheckEnabled":   v(true),
		"Metered":                    v(uint32(0)),
	}}
	now[settingsPath] = map[string]map[string]dbus.Variant{ifaceSettings: {
		"Connections": v(nonNil(profilePaths)),
		"Hostname":    v("constellation"),
		"CanModify":   v(true),
	}}
	for _, p := range f.profiles {
		now[p.path] = map[string]map[string]dbus.Variant{ifaceConnection: {
			"Unsaved":  v(false),
			"Flags":    v(uint32(0)),
			"Filename": v("/etc/NetworkManager/system-connections/" + p.id() + ".nmconnection"),
		}}
	}
	for _, d := range f.devices {
		var avail []dbus.ObjectPath
		for _, p := range f.profiles {
			if compatible(p, d) == "" {
				avail = append(avail, p.path)
			}
		}
		props := map[string]map[string]dbus.Variant{ifaceDevice: {
			"Udi":                  v("/sys/devices/virtual/net/" + d.iface),
			"Interface":            v(d.iface),
			"IpInterface":          v(d.iface),
			"Driver":               v("fake"),
			"DeviceType":           v(d.kind),
			"State":                v(d.state),
			"StateReason":          v(struct{ State, Reason uint32 }{d.state, d.reason}),
			"ActiveConnection":     v(d.active),
			"Managed":              v(true),
			"Autoconnect":          v(true),
			"AvailableConnections": v(nonNil(avail)),
			"Capabilities":         v(uint32(1)),
			"Real":                 v(true),
			"Mtu":                  v(uint32(1500)),
		}}
		switch d.kind {
		case DeviceTypeEthernet:
			props[ifaceWired] = map[string]dbus.Variant{
				"HwAddress": v(d.hwaddr), "PermHwAddress": v(d.hwaddr), "Speed": v(uint32(1000)),
				"Carrier": v(d.state != DeviceStateUnavailable), "S390Subchannels": v([]string{}),
			}
		case DeviceTypeWiFi:
			mode := uint32(2) // NM_802_11_MODE_INFRA
			if a := f.activeByPath(d.active); a != nil && a.profile.isAP() {
				mode = 3 // NM_802_11_MODE_AP
			}
			props[ifaceWireless] = map[string]dbus.Variant{
				"HwAddress": v(d.hwaddr), "PermHwAddress": v(d.hwaddr), "Mode": v(mode), "Bitrate": v(uint32(0)),
				"AccessPoints": v([]dbus.ObjectPath{}), "ActiveAccessPoint": v(dbus.ObjectPath("/")),
				"WirelessCapabilities": v(d.caps), "LastScan": v(int64(-1)),
			}
			keyMgmt := []string{"none", "wpa-psk", "wpa-eap"}
			if d.sae {
				keyMgmt = append(keyMgmt, "sae")
			}
			modes := []string{"infrastructure"}
			if d.caps&WifiCapAP != 0 {
				modes = append(modes, "ap")
			}
			now[wpasIfacePath(d)] = map[string]map[string]dbus.Variant{ifaceWPASIface: {
				"Ifname":       v(d.iface),
				"Capabilities": v(map[string]dbus.Variant{"KeyMgmt": v(keyMgmt), "Modes": v(modes)}),
			}}
		case DeviceTypeModem:
			props[ifaceModem] = map[string]dbus.Variant{
				"ModemCapabilities": v(uint32(4)), "CurrentCapabilities": v(uint32(4)), // NM_DEVICE_MODEM_CAPABILITY_GSM_UMTS
			}
		}
		now[d.path] = props
	}
	for _, a := range f.actives {
		now[a.path] = map[string]map[string]dbus.Variant{ifaceActive: {
			"Connection":     v(a.profile.path),
			"SpecificObject": v(dbus.ObjectPath("/")),
			"Id":             v(a.profile.id()),
			"Uuid":           v(a.profile.uuid()),
			"Type":           v(a.profile.typ()),
			"Devices":        v([]dbus.ObjectPath{a.device.path}),
			"State":          v(a.state),
			"StateFlags":     v(uint32(0)),
			"Default":        v(a.path == f.primary),
			"Default6":       v(false),
			"Ip4Config":      v(dbus.ObjectPath("/")),
			"Dhcp4Config":    v(dbus.ObjectPath("/")),
			"Ip6Config":      v(dbus.ObjectPath("/")),
			"Dhcp6Config":    v(dbus.ObjectPath("/")),
			"Vpn":            v(false),
			"Master":         v(dbus.ObjectPath("/")),
		}}
	}
	if sig != nil {
		paths := make([]dbus.ObjectPath, 0, len(now))
		for p := range now {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		for _, path := range paths {
			for iface, props := range now[path] {
				changed := map[string]dbus.Variant{}
				for name, val := range props {
					if old, ok := f.published[path][iface][name]; !ok || !reflect.DeepEqual(old.Value(), val.Value()) {
						changed[name] = val
					}
				}
				if len(changed) > 0 {
					*sig = append(*sig, signal{path, ifaceProps + ".PropertiesChanged", []any{iface, changed, []string{}}})
				}
			}
		}
	}
	f.published = now
}

func nonNil(p []dbus.ObjectPath) []dbus.ObjectPath {
	if p == nil {
		return []dbus.ObjectPath{}
	}
	return p
}

func wpasIfacePath(d *device) dbus.ObjectPath {
	return dbus.ObjectPath(fmt.Sprintf("%s%d", wpasIfacesPrefix, d.wpasIdx))
}
