package nmfake

import (
	"fmt"
	"slices"

	"github.com/godbus/dbus/v5"
)

// D-Bus error names the fake answers with (NetworkManager's own where it
// has one).
const (
	errUnknownObject       = "org.freedesktop.DBus.Error.UnknownObject"
	errUnknownMethod       = "org.freedesktop.DBus.Error.UnknownMethod"
	errUnknownInterface    = "org.freedesktop.DBus.Error.UnknownInterface"
	errUnknownProperty     = "org.freedesktop.DBus.Error.UnknownProperty"
	errReadOnly            = "org.freedesktop.DBus.Error.PropertyReadOnly"
	errInvalidConnection   = "org.freedesktop.NetworkManager.Settings.InvalidConnection"
	errInvalidProperty     = "org.freedesktop.NetworkManager.Settings.Connection.InvalidProperty"
	errUUIDExists          = "org.freedesktop.NetworkManager.Settings.UuidExists"
	errUnknownConnection   = "org.freedesktop.NetworkManager.UnknownConnection"
	errUnknownDevice       = "org.freedesktop.NetworkManager.UnknownDevice"
	errNotAvailable        = "org.freedesktop.NetworkManager.ConnectionNotAvailable"
	errConnectionNotActive = "org.freedesktop.NetworkManager.ConnectionNotActive"
	errWPASUnknownIface    = "fi.w1.wpa_supplicant1.InterfaceUnknown"
)

func dbusErr(name, format string, args ...any) *dbus.Error {
	return dbus.NewError(name, []any{fmt.Sprintf(format, args...)})
}

func pathOf(msg dbus.Message) dbus.ObjectPath {
	p, _ := msg.Headers[dbus.FieldPath].Value().(dbus.ObjectPath)
	return p
}

// export registers the method tables. Every interface is exported on a
// subtree and dispatches on the object path, since the objects come and go.
func (f *NM) export() error {
	props := map[string]any{
		"Get":    f.propGet,
		"GetAll": f.propGetAll,
		"Set": func(_ dbus.Message, iface, name string, _ dbus.Variant) *dbus.Error {
			return dbusErr(errReadOnly, "property %s.%s is read-only in the fake", iface, name)
		},
	}
	nm := map[string]any{
		"GetDevices":           f.getDevices,
		"GetAllDevices":        f.getDevices,
		"GetDeviceByIpIface":   f.getDeviceByIpIface,
		"ActivateConnection":   f.activateConnection,
		"DeactivateConnection": f.deactivateConnection,
		"CheckConnectivity":    f.checkConnectivity,
	}
	settings := map[string]any{
		"ListConnections":      f.listConnections,
		"GetConnectionByUuid":  f.getConnectionByUUID,
		"AddConnection":        f.addConnection,
		"AddConnectionUnsaved": f.addConnection,
	}
	connection := map[string]any{
		"GetSettings":   f.getSettings,
		"GetSecrets":    f.getSecrets,
		"Update":        f.update,
		"UpdateUnsaved": f.update,
		"Delete":        f.delete,
		"Save": func(msg dbus.Message) *dbus.Error {
			return f.withProfile(msg, func(*profile) *dbus.Error { return nil })
		},
	}
	wpas := map[string]any{"GetInterface": f.wpasGetInterface}
	for _, e := range []struct {
		root    dbus.ObjectPath
		iface   string
		methods map[string]any
	}{
		{"/org/freedesktop", ifaceProps, props},
		{"/org/freedesktop", ifaceNM, nm},
		{"/org/freedesktop", ifaceSettings, settings},
		{"/org/freedesktop", ifaceConnection, connection},
		{"/fi/w1", ifaceProps, props},
		{"/fi/w1", ifaceWPAS, wpas},
	} {
		if err := f.conn.ExportSubtreeMethodTable(e.methods, e.root, e.iface); err != nil {
			return err
		}
	}
	return nil
}

func (f *NM) propGet(msg dbus.Message, iface, name string) (dbus.Variant, *dbus.Error) {
	all, err := f.propGetAll(msg, iface)
	if err != nil {
		return dbus.Variant{}, err
	}
	v, ok := all[name]
	if !ok {
		return dbus.Variant{}, dbusErr(errUnknownProperty, "no property %s.%s", iface, name)
	}
	return v, nil
}

func (f *NM) propGetAll(msg dbus.Message, iface string) (map[string]dbus.Variant, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	obj, ok := f.published[pathOf(msg)]
	if !ok {
		return nil, dbusErr(errUnknownObject, "no object %s", pathOf(msg))
	}
	props, ok := obj[iface]
	if !ok {
		return nil, dbusErr(errUnknownInterface, "object %s has no interface %s", pathOf(msg), iface)
	}
	out := make(map[string]dbus.Variant, len(props))
	for k, v := range props {
		out[k] = v
	}
	return out, nil
}

// at refuses a call made on another object than path.
func at(msg dbus.Message, path dbus.ObjectPath) *dbus.Error {
	if pathOf(msg) != path {
		return dbusErr(errUnknownMethod, "no such method on %s", pathOf(msg))
	}
	return nil
}

func (f *NM) getDevices(msg dbus.Message) ([]dbus.ObjectPath, *dbus.Error) {
	if err := at(msg, nmPath); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []dbus.ObjectPath
	for _, d := range f.devices {
		out = append(out, d.path)
	}
	return out, nil
}

func (f *NM) getDeviceByIpIface(msg dbus.Message, name string) (dbus.ObjectPath, *dbus.Error) {
	if err := at(msg, nmPath); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := f.deviceByName(name); d != nil {
		return d.path, nil
	}
	return "", dbusErr(errUnknownDevice, "no device found for the requested iface %s", name)
}

func (f *NM) activateConnection(msg dbus.Message, conn, dev, _ dbus.ObjectPath) (dbus.ObjectPath, *dbus.Error) {
	if err := at(msg, nmPath); err != nil {
		return "", err
	}
	f.mu.Lock()
	p := f.profileByPath(conn)
	if p == nil {
		f.mu.Unlock()
		return "", dbusErr(errUnknownConnection, "connection %s not found", conn)
	}
	var d *device
	if dev == "/" {
		for _, c := range f.devices {
			if compatible(p, c) == "" {
				d = c
				break
			}
		}
	} else {
		d = f.deviceByPath(dev)
	}
	if d == nil {
		f.mu.Unlock()
		return "", dbusErr(errUnknownDevice, "no suitable device found for %s", p.id())
	}
	if why := compatible(p, d); why != "" {
		f.mu.Unlock()
		return "", dbusErr(errNotAvailable, "connection %q is not available on device %s: %s", p.id(), d.iface, why)
	}
	var sig []signal
	for _, a := range f.actives {
		if a.profile == p && a.device != d {
			sig = append(sig, f.deactivateDevice(a.device, reasonUserRequested)...)
			break
		}
	}
	a, s := f.activate(p, d)
	sig = append(sig, s...)
	if a.state != ActiveStateActivated {
		sig = append(sig, f.autoconnect(d)...)
	}
	f.publish(&sig)
	f.mu.Unlock()
	f.emit(sig)
	return a.path, nil
}

func (f *NM) deactivateConnection(msg dbus.Message, ac dbus.ObjectPath) *dbus.Error {
	if err := at(msg, nmPath); err != nil {
		return err
	}
	f.mu.Lock()
	a := f.activeByPath(ac)
	if a == nil {
		f.mu.Unlock()
		return dbusErr(errConnectionNotActive, "the connection %s is not active", ac)
	}
	sig := f.deactivateDevice(a.device, reasonUserRequested)
	f.publish(&sig)
	f.mu.Unlock()
	f.emit(sig)
	return nil
}

func (f *NM) checkConnectivity(msg dbus.Message) (uint32, *dbus.Error) {
	if err := at(msg, nmPath); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, _ := f.published[nmPath][ifaceNM]["Connectivity"].Value().(uint32)
	return c, nil
}

func (f *NM) listConnections(msg dbus.Message) ([]dbus.ObjectPath, *dbus.Error) {
	if err := at(msg, settingsPath); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []dbus.ObjectPath{}
	for _, p := range f.profiles {
		out = append(out, p.path)
	}
	return out, nil
}

func (f *NM) getConnectionByUUID(msg dbus.Message, uuid string) (dbus.ObjectPath, *dbus.Error) {
	if err := at(msg, settingsPath); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.profileByUUID(uuid); p != nil {
		return p.path, nil
	}
	return "", dbusErr(errInvalidConnection, "No connection with the UUID was found.")
}

func (f *NM) addConnection(msg dbus.Message, s ConnSettings) (dbus.ObjectPath, *dbus.Error) {
	if err := at(msg, settingsPath); err != nil {
		return "", err
	}
	if err := validate(s); err != nil {
		return "", err
	}
	f.mu.Lock()
	if f.profileByUUID(str(s, "connection", "uuid")) != nil {
		f.mu.Unlock()
		return "", dbusErr(errUUIDExists, "a connection with UUID %s already exists", str(s, "connection", "uuid"))
	}
	p := f.addProfile(cloneSettings(s))
	sig := []signal{{settingsPath, ifaceSettings + ".NewConnection", []any{p.path}}}
	sig = append(sig, f.autoconnect(nil)...)
	f.publish(&sig)
	f.mu.Unlock()
	f.emit(sig)
	return p.path, nil
}

// withProfile runs fn on the profile the call is made on.
func (f *NM) withProfile(msg dbus.Message, fn func(*profile) *dbus.Error) *dbus.Error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.profileByPath(pathOf(msg))
	if p == nil {
		return dbusErr(errUnknownObject, "no connection %s", pathOf(msg))
	}
	return fn(p)
}

// secretKeys are the settings' secrets, which GetSettings leaves out.
var secretKeys = map[string][]string{"802-11-wireless-security": {"psk"}, "gsm": {"password"}}

func (f *NM) getSettings(msg dbus.Message) (ConnSettings, *dbus.Error) {
	var out ConnSettings
	err := f.withProfile(msg, func(p *profile) *dbus.Error {
		out = cloneSettings(p.settings)
		for setting, keys := range secretKeys {
			for _, k := range keys {
				delete(out[setting], k)
			}
		}
		return nil
	})
	return out, err
}

func (f *NM) getSecrets(msg dbus.Message, setting string) (ConnSettings, *dbus.Error) {
	out := ConnSettings{}
	err := f.withProfile(msg, func(p *profile) *dbus.Error {
		for _, k := range secretKeys[setting] {
			if v, ok := p.settings[setting][k]; ok {
				if out[setting] == nil {
					out[setting] = map[string]dbus.Variant{}
				}
				out[setting][k] = v
			}
		}
		return nil
	})
	return out, err
}

func (f *NM) update(msg dbus.Message, s ConnSettings) *dbus.Error {
	if err := validate(s); err != nil {
		return err
	}
	var sig []signal
	err := f.withProfile(msg, func(p *profile) *dbus.Error {
		if str(s, "connection", "uuid") != p.uuid() {
			return dbusErr(errInvalidProperty, "connection.uuid: cannot change the UUID")
		}
		p.settings, p.blocked = cloneSettings(s), false
		sig = append(sig, signal{p.path, ifaceConnection + ".Updated", nil})
		f.publish(&sig)
		return nil
	})
	f.emit(sig)
	return err
}

func (f *NM) delete(msg dbus.Message) *dbus.Error {
	var sig []signal
	err := f.withProfile(msg, func(p *profile) *dbus.Error {
		var freed *device
		for _, a := range f.actives {
			if a.profile == p {
				freed = a.device
				sig = append(sig, f.deactivateDevice(a.device, reasonConnectionRemoved)...)
				break
			}
		}
		f.profiles = slices.DeleteFunc(f.profiles, func(x *profile) bool { return x == p })
		sig = append(sig, signal{p.path, ifaceConnection + ".Removed", nil},
			signal{settingsPath, ifaceSettings + ".ConnectionRemoved", []any{p.path}})
		if freed != nil {
			sig = append(sig, f.autoconnect(freed)...)
		}
		f.publish(&sig)
		return nil
	})
	f.emit(sig)
	return err
}

func (f *NM) wpasGetInterface(msg dbus.Message, ifname string) (dbus.ObjectPath, *dbus.Error) {
	if err := at(msg, wpasPath); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := f.deviceByName(ifname); d != nil && d.kind == DeviceTypeWiFi {
		return wpasIfacePath(d), nil
	}
	return "", dbusErr(errWPASUnknownIface, "wpa_supplicant knows nothing about this interface")
}

// signatures are the D-Bus types NetworkManager requires of the
// properties the appliance sets; a value of another type is refused, as
// NetworkManager refuses it.
var signatures = map[string]map[string]string{
	"connection": {
		"id": "s", "uuid": "s", "type": "s", "interface-name": "s",
		"autoconnect": "b", "autoconnect-priority": "i",
	},
	"802-11-wireless":          {"ssid": "ay", "mode": "s", "band": "s", "channel": "u", "hidden": "b"},
	"802-11-wireless-security": {"key-mgmt": "s", "psk": "s", "proto": "as", "pairwise": "as", "group": "as", "pmf": "i"},
	"ipv4":                     {"method": "s", "address-data": "aa{sv}", "route-metric": "x", "never-default": "b"},
	"ipv6":                     {"method": "s", "route-metric": "x"},
	"gsm":                      {"apn": "s"},
}

// validate checks a profile as NetworkManager would before storing it.
func validate(s ConnSettings) *dbus.Error {
	for setting, props := range s {
		for key, v := range props {
			if want, ok := signatures[setting][key]; ok && v.Signature().String() != want {
				return dbusErr(errInvalidProperty, "%s.%s: type %s, want %s", setting, key, v.Signature(), want)
			}
		}
	}
	for _, key := range []string{"id", "uuid", "type"} {
		if str(s, "connection", key) == "" {
			return dbusErr(errInvalidProperty, "connection.%s: property is missing", key)
		}
	}
	if s[str(s, "connection", "type")] == nil {
		return dbusErr(errInvalidProperty, "%s: setting is missing", str(s, "connection", "type"))
	}
	if _, ok := s["802-11-wireless"]; ok {
		ssid, _ := value(s, "802-11-wireless", "ssid").([]byte)
		if len(ssid) == 0 || len(ssid) > 32 {
			return dbusErr(errInvalidProperty, "802-11-wireless.ssid: SSID length is out of range <1-32> bytes")
		}
		if mode := str(s, "802-11-wireless", "mode"); mode != "" && !slices.Contains([]string{"infrastructure", "ap", "adhoc", "mesh"}, mode) {
			return dbusErr(errInvalidProperty, "802-11-wireless.mode: %q is not a valid mode", mode)
		}
		band := str(s, "802-11-wireless", "band")
		if band != "" && band != "a" && band != "bg" {
			return dbusErr(errInvalidProperty, "802-11-wireless.band: %q is not a valid band", band)
		}
		if ch, _ := value(s, "802-11-wireless", "channel").(uint32); ch != 0 && band == "" {
			return dbusErr(errInvalidProperty, "802-11-wireless.channel: requires a band")
		}
	}
	if _, ok := s["802-11-wireless-security"]; ok {
		km := str(s, "802-11-wireless-security", "key-mgmt")
		if !slices.Contains([]string{"none", "ieee8021x", "wpa-psk", "sae", "owe", "wpa-eap"}, km) {
			return dbusErr(errInvalidProperty, "802-11-wireless-security.key-mgmt: %q is not valid", km)
		}
		if psk := str(s, "802-11-wireless-security", "psk"); (km == "wpa-psk" || km == "sae") && psk != "" && (len(psk) < 8 || len(psk) > 64) {
			return dbusErr(errInvalidProperty, "802-11-wireless-security.psk: property is invalid")
		}
	}
	for _, ip := range []string{"ipv4", "ipv6"} {
		if m := str(s, ip, "method"); m != "" && !slices.Contains([]string{"auto", "manual", "shared", "disabled", "link-local", "ignore"}, m) {
			return dbusErr(errInvalidProperty, "%s.method: %q is not valid", ip, m)
		}
	}
	return nil
}
