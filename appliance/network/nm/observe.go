package nm

import (
	"context"
	"fmt"

	gonm "github.com/Wifx/gonetworkmanager/v2"
	"github.com/godbus/dbus/v5"

	"github.com/constellation-ev/constellation/appliance/network"
)

// Observe reads the access point's and the uplink's state.
func (b *Backend) Observe(ctx context.Context, s network.Settings) (network.Observation, error) {
	conn, nm, settings, err := b.session()
	if err != nil {
		return network.Observation{}, err
	}
	ap, err := b.observeAP(ctx, conn, settings, nm, s.AP)
	if err != nil {
		return network.Observation{}, err
	}
	uplink, err := observeUplink(nm)
	if err != nil {
		return network.Observation{}, err
	}
	return network.Observation{AP: ap, Uplink: uplink}, nil
}

func (b *Backend) observeAP(ctx context.Context, conn *dbus.Conn, settings gonm.Settings, nm gonm.NetworkManager, ap network.APConfig) (network.APStatus, error) {
	var st network.APStatus
	c, err := settings.GetConnectionByUUID(network.APProfileUUID)
	if isDBusError(err, errInvalidConn) {
		if ap.Enabled {
			return network.APStatus{State: network.APDown, Interface: ap.Interface, Reason: "no access point profile"}, nil
		}
		return network.APStatus{State: network.APDisabled}, nil
	}
	if err != nil {
		return st, classify("access point profile", err)
	}
	cs, err := c.GetSettings()
	if err != nil {
		return st, classify("access point profile", err)
	}
	p := profile{conn: c, settings: cs}
	ssid, _ := cs[setWireless]["ssid"].([]byte)
	st.SSID, st.Interface = string(ssid), p.get(setConnection, "interface-name")
	if addrs, _ := cs[setIPv4]["address-data"].([]map[string]any); len(addrs) > 0 {
		a, _ := addrs[0]["address"].(string)
		bits, _ := addrs[0]["prefix"].(uint32)
		st.Address = fmt.Sprintf("%s/%d", a, bits)
	}
	switch p.get(setSecurity, "key-mgmt") {
	case keyMgmtSAE:
		st.Security = network.SecurityNameSAE
	case keyMgmtPSK:
		st.Security = network.SecurityNamePSK
	}
	dev, err := nm.GetDeviceByIpIface(st.Interface)
	if err != nil {
		if isDBusError(err, "org.freedesktop.NetworkManager.UnknownDevice") {
			st.State, st.Reason = network.APDown, "no device "+st.Interface
			return st, nil
		}
		return st, classify("access point device", err)
	}
	ac, err := dev.GetPropertyActiveConnection()
	if err != nil {
		return st, classify("access point device", err)
	}
	b.mu.Lock()
	att := b.apAttempt
	b.mu.Unlock()
	if ac != nil {
		uuid, uerr := ac.GetPropertyUUID()
		state, serr := ac.GetPropertyState()
		if uerr == nil && serr == nil && uuid == network.APProfileUUID {
			switch state {
			case gonm.NmActiveConnectionStateActivated:
				st.State = network.APUp
				if att != nil && att.path == ac.GetPath() {
					b.mu.Lock()
					att.up = true
					b.mu.Unlock()
				}
			case gonm.NmActiveConnectionStateActivating:
				st.State = network.APActivating
			default:
				st.State, st.Reason = network.APDown, "deactivating"
			}
			return st, nil
		}
		if uerr != nil && !isDBusError(uerr, "org.freedesktop.DBus.Error.UnknownObject") {
			return st, classify("access point connection", uerr)
		}
	}
	// Not active: did the last activation fail, or was it taken down?
	st.State, st.Reason = network.APDown, "not active on "+st.Interface
	if att == nil {
		return st, nil
	}
	if att.err != "" {
		st.State, st.Reason = network.APFailed, "activation refused: "+att.err
		return st, nil
	}
	b.mu.Lock()
	up := att.up
	b.mu.Unlock()
	if state, err := gonm.NewActiveConnection(att.path); err == nil {
		if s, err := state.GetPropertyState(); err == nil && s < gonm.NmActiveConnectionStateDeactivating {
			st.State = network.APActivating // not yet on the device
			return st, nil
		}
	}
	reason := deviceReason(ctx, conn, dev.GetPath())
	if up {
		st.Reason = "went down: " + reason
	} else {
		st.State, st.Reason = network.APFailed, "activation failed: "+reason
	}
	return st, nil
}

// deviceReason reads a device's StateReason (godbus directly:
// gonetworkmanager has no getter for it).
func deviceReason(ctx context.Context, conn *dbus.Conn, dev dbus.ObjectPath) string {
	var v dbus.Variant
	if err := conn.Object(busName, dev).CallWithContext(ctx, propsGet, 0, gonm.DeviceInterface, "StateReason").Store(&v); err != nil {
		return "reason unknown"
	}
	pair, ok := v.Value().([]any)
	if !ok || len(pair) != 2 {
		return "reason unknown"
	}
	code, _ := pair[1].(uint32)
	if name, ok := reasonNames[code]; ok {
		return name
	}
	return fmt.Sprintf("device state reason %d", code)
}

// reasonNames are the NMDeviceStateReason values an access point
// typically fails with.
var reasonNames = map[uint32]string{
	gonm.NmDeviceStateReasonConfigFailed:           "device configuration failed",
	gonm.NmDeviceStateReasonNoSecrets:              "secrets were required but not provided",
	gonm.NmDeviceStateReasonSupplicantDisconnect:   "supplicant disconnected",
	gonm.NmDeviceStateReasonSupplicantConfigFailed: "supplicant configuration failed (setting refused by the driver)",
	gonm.NmDeviceStateReasonSupplicantFailed:       "supplicant failed (setting refused by the driver)",
	gonm.NmDeviceStateReasonSupplicantTimeout:      "supplicant timed out",
	gonm.NmDeviceStateReasonSharedStartFailed:      "shared connection (DHCP) failed to start",
	gonm.NmDeviceStateReasonSharedFailed:           "shared connection (DHCP) failed",
	gonm.NmDeviceStateReasonCarrier:                "carrier lost",
	gonm.NmDeviceStateReasonConnectionRemoved:      "profile removed",
	gonm.NmDeviceStateReasonUserRequested:          "taken down by request",
	gonm.NmDeviceStateReasonNewActivation:          "replaced by another connection",
}

// connectivity maps NMConnectivityState.
var connectivity = map[gonm.NmConnectivity]network.Connectivity{
	gonm.NmConnectivityUnknown: network.ConnectivityUnknown,
	gonm.NmConnectivityNone:    network.ConnectivityNone,
	gonm.NmConnectivityPortal:  network.ConnectivityPortal,
	gonm.NmConnectivityLimited: network.ConnectivityLimited,
	gonm.NmConnectivityFull:    network.ConnectivityFull,
}

// kinds maps profile types to uplink kinds.
var kinds = map[string]network.UplinkKind{
	setWired:    network.UplinkEthernet,
	setWireless: network.UplinkWiFi,
	setGSM:      network.UplinkCellular,
	"cdma":      network.UplinkCellular,
}

func observeUplink(nm gonm.NetworkManager) (network.UplinkStatus, error) {
	var st network.UplinkStatus
	c, err := nm.GetPropertyConnectivity()
	if err != nil {
		return st, classify("connectivity", err)
	}
	st.Connectivity = connectivity[c]
	if st.Connectivity == "" {
		st.Connectivity = network.ConnectivityUnknown
	}
	ac, err := nm.GetPropertyPrimaryConnection()
	if err != nil {
		return st, classify("primary connection", err)
	}
	if ac.GetPath() == "/" {
		return st, nil
	}
	// The primary connection may go away between the reads; what was
	// read is still the best answer.
	st.Connection, _ = ac.GetPropertyID()
	st.UUID, _ = ac.GetPropertyUUID()
	typ, _ := ac.GetPropertyType()
	st.Kind = kinds[typ]
	if st.Kind == "" {
		st.Kind = network.UplinkKind(typ)
	}
	st.Owned = network.Owned(st.Connection, st.UUID)
	if devs, err := ac.GetPropertyDevices(); err == nil && len(devs) > 0 {
		st.Interface, _ = devs[0].GetPropertyInterface()
	}
	return st, nil
}
