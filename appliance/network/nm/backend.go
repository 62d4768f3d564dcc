package nm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"

	gonm "github.com/Wifx/gonetworkmanager/v2"
	"github.com/godbus/dbus/v5"

	"github.com/constellation-ev/constellation/appliance/network"
)

// D-Bus names the backend uses beyond gonetworkmanager's constants.
const (
	busName         = gonm.NetworkManagerInterface
	dbusIface       = "org.freedesktop.DBus"
	propsGet        = "org.freedesktop.DBus.Properties.Get"
	wpasName        = "fi.w1.wpa_supplicant1"
	wpasPath        = dbus.ObjectPath("/fi/w1/wpa_supplicant1")
	wpasIface       = "fi.w1.wpa_supplicant1.Interface"
	errInvalidConn  = "org.freedesktop.NetworkManager.Settings.InvalidConnection"
	wifiDeviceCapAP = 0x40 // NM_WIFI_DEVICE_CAP_AP
)

// D-Bus errors that mean NetworkManager (or the bus) is not there.
var unavailableErrors = []string{
	"org.freedesktop.DBus.Error.ServiceUnknown",
	"org.freedesktop.DBus.Error.NameHasNoOwner",
	"org.freedesktop.DBus.Error.NoReply",
	"org.freedesktop.DBus.Error.Disconnected",
	"org.freedesktop.DBus.Error.NoServer",
	"org.freedesktop.DBus.Error.Timeout",
}

// Options tune a Backend.
type Options struct {
	// Logger receives profile changes and errors (nil: discarded).
	Logger *slog.Logger
}

// Backend drives NetworkManager over the system bus: gonetworkmanager
// for NetworkManager's own objects, godbus directly for what it lacks
// (signals, a device's StateReason, wpa_supplicant's capabilities, and
// calls with a context).
//
// gonetworkmanager v2.2.0 has no way to take a connection: every object
// it makes calls dbus.SystemBus(), the process's shared connection, which
// godbus dials at DBUS_SYSTEM_BUS_ADDRESS (the tests' private bus) or the
// standard socket. The backend uses that same connection.
type Backend struct {
	log *slog.Logger

	mu        sync.Mutex
	conn      *dbus.Conn
	nm        gonm.NetworkManager
	settings  gonm.Settings
	signals   chan *dbus.Signal
	stop      chan struct{}
	lost      bool // NetworkManager left the bus since Connect
	events    chan struct{}
	sae       map[string]bool // SAE support per interface, once known
	apAttempt *attempt
}

// attempt is the last activation of the access point.
type attempt struct {
	path dbus.ObjectPath // the active connection; "" if the call failed
	err  string          // the call's error
	up   bool            // seen activated
}

var _ network.Backend = (*Backend)(nil)

// NewBackend returns a Backend; the Controller connects it.
func NewBackend(o Options) *Backend {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Backend{log: log, sae: map[string]bool{}}
}

// Connect reaches NetworkManager on the system bus and subscribes to its
// signals and to its bus name changing hands (a restart).
func (b *Backend) Connect(ctx context.Context) (<-chan struct{}, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closeLocked()
	conn, err := systemBus(ctx)
	if err != nil {
		return nil, err
	}
	var has bool
	if err := conn.BusObject().CallWithContext(ctx, dbusIface+".NameHasOwner", 0, busName).Store(&has); err != nil {
		return nil, unavailable("ask the bus for NetworkManager", err)
	}
	if !has {
		return nil, fmt.Errorf("%w: NetworkManager is not on the system bus", network.ErrUnavailable)
	}
	if err := conn.AddMatchSignalContext(ctx, dbus.WithMatchSender(busName)); err != nil {
		return nil, unavailable("subscribe to NetworkManager", err)
	}
	if err := conn.AddMatchSignalContext(ctx, dbus.WithMatchInterface(dbusIface), dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, busName)); err != nil {
		return nil, unavailable("subscribe to NetworkManager's name", err)
	}
	nm, err := gonm.NewNetworkManager()
	if err != nil {
		return nil, unavailable("NetworkManager", err)
	}
	settings, err := gonm.NewSettings()
	if err != nil {
		return nil, unavailable("NetworkManager settings", err)
	}
	version, err := nm.GetPropertyVersion()
	if err != nil {
		return nil, classify("NetworkManager version", err)
	}
	b.conn, b.nm, b.settings, b.lost = conn, nm, settings, false
	b.signals, b.stop, b.events = make(chan *dbus.Signal, 64), make(chan struct{}), make(chan struct{}, 1)
	conn.Signal(b.signals)
	go b.pump(b.signals, b.stop, b.events)
	b.log.Info("network: connected to NetworkManager", "version", version)
	return b.events, nil
}

// systemBus returns the shared system bus connection, replacing it when
// it is dead: after the bus restarted, godbus keeps the old connection
// until its reader notices.
func systemBus(ctx context.Context) (*dbus.Conn, error) {
	for range 2 {
		conn, err := dbus.SystemBus()
		if err != nil {
			return nil, unavailable("system bus", err)
		}
		err = conn.BusObject().CallWithContext(ctx, dbusIface+".GetId", 0).Err
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, unavailable("system bus", err)
		}
		conn.Close() // so that SystemBus dials again
	}
	return nil, fmt.Errorf("%w: system bus does not answer", network.ErrUnavailable)
}

// pump turns NetworkManager's signals into events, coalesced, and notes
// when NetworkManager leaves the bus.
func (b *Backend) pump(signals <-chan *dbus.Signal, stop <-chan struct{}, events chan<- struct{}) {
	for {
		select {
		case <-stop:
			return
		case s := <-signals:
			if s == nil || noise(s) {
				continue
			}
			if s.Name == dbusIface+".NameOwnerChanged" && len(s.Body) == 3 {
				if owner, _ := s.Body[2].(string); owner == "" {
					b.mu.Lock()
					b.lost = true
					b.mu.Unlock()
				}
			}
			select {
			case events <- struct{}{}:
			default:
			}
		}
	}
}

// noise reports signals that say nothing about the appliance's profiles
// or uplink: Wi-Fi scan results come and go all the time.
func noise(s *dbus.Signal) bool {
	return strings.HasPrefix(string(s.Path), "/org/freedesktop/NetworkManager/AccessPoint/") ||
		strings.HasSuffix(s.Name, ".AccessPointAdded") || strings.HasSuffix(s.Name, ".AccessPointRemoved")
}

// Close unsubscribes; the shared connection stays for gonetworkmanager.
func (b *Backend) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closeLocked()
}

func (b *Backend) closeLocked() {
	if b.conn == nil {
		return
	}
	b.conn.RemoveSignal(b.signals)
	close(b.stop)
	if b.conn.Connected() {
		_ = b.conn.RemoveMatchSignal(dbus.WithMatchSender(busName))
		_ = b.conn.RemoveMatchSignal(dbus.WithMatchInterface(dbusIface), dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, busName))
	}
	b.conn, b.nm, b.settings = nil, nil, nil
}

// session returns the clients of the current connection, or an error
// wrapping ErrUnavailable.
func (b *Backend) session() (*dbus.Conn, gonm.NetworkManager, gonm.Settings, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.conn == nil:
		return nil, nil, nil, fmt.Errorf("%w: not connected", network.ErrUnavailable)
	case b.lost:
		return nil, nil, nil, fmt.Errorf("%w: NetworkManager left the system bus", network.ErrUnavailable)
	case !b.conn.Connected():
		return nil, nil, nil, fmt.Errorf("%w: system bus connection lost", network.ErrUnavailable)
	}
	return b.conn, b.nm, b.settings, nil
}

// classify wraps err with op, and with ErrUnavailable when it means
// NetworkManager or the bus is gone.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var de dbus.Error
	if errors.Is(err, dbus.ErrClosed) || errors.Is(err, io.EOF) || (errors.As(err, &de) && slices.Contains(unavailableErrors, de.Name)) {
		return unavailable(op, err)
	}
	return fmt.Errorf("network: %s: %w", op, err)
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", network.ErrUnavailable, op, err)
}

func isDBusError(err error, name string) bool {
	var de dbus.Error
	return errors.As(err, &de) && de.Name == name
}

// profile is a stored connection profile.
type profile struct {
	conn     gonm.Connection
	settings gonm.ConnectionSettings
}

func (p profile) get(setting, key string) string {
	v, _ := p.settings[setting][key].(string)
	return v
}

// profiles lists the stored profiles the appliance owns, by UUID.
func profiles(settings gonm.Settings) (map[string]profile, error) {
	conns, err := settings.ListConnections()
	if err != nil {
		return nil, classify("list profiles", err)
	}
	owned := map[string]profile{}
	for _, c := range conns {
		s, err := c.GetSettings()
		if err != nil {
			if isDBusError(err, "org.freedesktop.DBus.Error.UnknownObject") {
				continue // removed meanwhile
			}
			return nil, classify("read profile "+string(c.GetPath()), err)
		}
		p := profile{conn: c, settings: s}
		id, uuid := p.get(setConnection, "id"), p.get(setConnection, "uuid")
		if !network.Owned(id, uuid) {
			continue // the installer's: never touched
		}
		owned[uuid] = p
	}
	return owned, nil
}

// devices returns NetworkManager's devices by interface name.
func devices(nm gonm.NetworkManager) (map[string]gonm.Device, error) {
	devs, err := nm.GetDevices()
	if err != nil {
		return nil, classify("list devices", err)
	}
	out := map[string]gonm.Device{}
	for _, d := range devs {
		name, err := d.GetPropertyInterface()
		if err != nil {
			return nil, classify("read device", err)
		}
		out[name] = d
	}
	return out, nil
}

// Reconcile makes the appliance's profiles match s.
func (b *Backend) Reconcile(ctx context.Context, s network.Settings) error {
	conn, nm, settings, err := b.session()
	if err != nil {
		return err
	}
	owned, err := profiles(settings)
	if err != nil {
		return err
	}
	devs, err := devices(nm)
	if err != nil {
		return err
	}
	var errs []error
	errs = append(errs, b.reconcileAP(ctx, conn, nm, settings, devs, owned, s.AP))
	for _, k := range network.UplinkKinds {
		errs = append(errs, b.reconcileUplink(nm, settings, devs, owned, k, s.Uplinks.Get(k)))
	}
	// Stray copies: named like the appliance's but with another UUID.
	for key, p := range owned {
		if key == network.APProfileUUID || slices.ContainsFunc(network.UplinkKinds, func(k network.UplinkKind) bool { return key == network.ProfileUUID(k) }) {
			continue
		}
		b.log.Info("network: removing a stray profile of the appliance's", "id", p.get(setConnection, "id"), "uuid", p.get(setConnection, "uuid"))
		if err := p.conn.Delete(); err != nil {
			errs = append(errs, classify("remove stray profile", err))
		}
	}
	for _, err := range errs {
		if errors.Is(err, network.ErrUnavailable) {
			return err
		}
	}
	return errors.Join(errs...)
}

// ensure creates, corrects or removes one owned profile; it reports
// whether it created or changed it.
func (b *Backend) ensure(settings gonm.Settings, owned map[string]profile, uuid string, want gonm.ConnectionSettings) (gonm.Connection, bool, error) {
	name, _ := want[setConnection]["id"].(string)
	p, exists := owned[uuid]
	if want == nil {
		if exists {
			b.log.Info("network: removing profile", "id", p.get(setConnection, "id"))
			if err := p.conn.Delete(); err != nil && !isDBusError(err, "org.freedesktop.DBus.Error.UnknownObject") {
				return nil, false, classify("remove profile "+name, err)
			}
		}
		return nil, exists, nil
	}
	if !exists {
		b.log.Info("network: creating profile", "id", name)
		c, err := settings.AddConnection(want)
		if err != nil {
			return nil, false, classify("create profile "+name, err)
		}
		return c, true, nil
	}
	var secrets gonm.ConnectionSettings
	if setting := secretSetting(want); setting != "" {
		// Reading secrets needs privileges; without them the password is not compared.
		if sec, err := p.conn.GetSecrets(setting); err == nil {
			secrets = sec
			if secrets[setting] == nil {
				secrets[setting] = map[string]any{}
			}
		}
	}
	keys := drift(want, p.settings, secrets)
	if len(keys) == 0 {
		return p.conn, false, nil
	}
	b.log.Warn("network: correcting profile changed outside the appliance", "id", name, "keys", strings.Join(keys, ","))
	if err := p.conn.Update(want); err != nil {
		return nil, false, classify("correct profile "+name, err)
	}
	return p.conn, true, nil
}

func secretSetting(want gonm.ConnectionSettings) string {
	for setting := range secretKeys {
		if _, ok := want[setting]; ok {
			return setting
		}
	}
	return ""
}

func (b *Backend) reconcileAP(ctx context.Context, conn *dbus.Conn, nm gonm.NetworkManager, settings gonm.Settings, devs map[string]gonm.Device, owned map[string]profile, ap network.APConfig) error {
	if !ap.Enabled {
		_, _, err := b.ensure(settings, owned, network.APProfileUUID, nil)
		b.setAttempt(nil)
		return err
	}
	dev, ok := devs[ap.Interface]
	if !ok {
		return fmt.Errorf("network: access point: no device %s", ap.Interface)
	}
	wifi, err := gonm.NewDeviceWireless(dev.GetPath())
	if err != nil {
		return classify("access point device", err)
	}
	caps, err := wifi.GetPropertyWirelessCapabilities()
	if err != nil {
		return classify("access point device capabilities", err)
	}
	if caps&wifiDeviceCapAP == 0 {
		return fmt.Errorf("network: access point: %s does not support AP mode", ap.Interface)
	}
	keyMgmt := b.keyMgmt(ctx, conn, ap, owned[network.APProfileUUID])
	c, changed, err := b.ensure(settings, owned, network.APProfileUUID, apProfile(ap, keyMgmt))
	if err != nil {
		return err
	}
	active, err := activeUUID(dev)
	if err != nil {
		return err
	}
	if !changed && active == network.APProfileUUID {
		return nil
	}
	b.log.Info("network: activating the access point", "ssid", ap.SSID, "interface", ap.Interface, "key_mgmt", keyMgmt)
	ac, err := nm.ActivateConnection(c, dev, nil)
	if err != nil {
		if errors.Is(classify("", err), network.ErrUnavailable) {
			return classify("activate the access point", err)
		}
		b.setAttempt(&attempt{err: err.Error()})
		return nil
	}
	b.setAttempt(&attempt{path: ac.GetPath()})
	return nil
}

func (b *Backend) setAttempt(a *attempt) {
	b.mu.Lock()
	b.apAttempt = a
	b.mu.Unlock()
}

// keyMgmt chooses the access point's key management. NetworkManager's
// WirelessCapabilities has no SAE flag, so SAE support is asked of
// wpa_supplicant (its interface's Capabilities.KeyMgmt lists "sae"),
// which NetworkManager drives for AP mode. A chip's answer is kept; when
// wpa_supplicant cannot say, the existing profile's choice stays, so a
// passing hiccup never flips the chargers' security.
func (b *Backend) keyMgmt(ctx context.Context, conn *dbus.Conn, ap network.APConfig, existing profile) string {
	switch ap.Security {
	case network.SecurityWPA2:
		return keyMgmtPSK
	case network.SecurityWPA3:
		return keyMgmtSAE
	}
	b.mu.Lock()
	sae, known := b.sae[ap.Interface]
	b.mu.Unlock()
	if !known {
		var err error
		sae, err = saeSupported(ctx, conn, ap.Interface)
		if err != nil {
			b.log.Debug("network: wpa_supplicant cannot tell SAE support", "interface", ap.Interface, "err", err)
			if km := existing.get(setSecurity, "key-mgmt"); km == keyMgmtSAE || km == keyMgmtPSK {
				return km
			}
			return keyMgmtPSK
		}
		b.mu.Lock()
		b.sae[ap.Interface] = sae
		b.mu.Unlock()
	}
	if sae {
		return keyMgmtSAE
	}
	return keyMgmtPSK
}

// saeSupported asks wpa_supplicant whether iface can do SAE (godbus
// directly: gonetworkmanager does not cover wpa_supplicant).
func saeSupported(ctx context.Context, conn *dbus.Conn, iface string) (bool, error) {
	var path dbus.ObjectPath
	if err := conn.Object(wpasName, wpasPath).CallWithContext(ctx, wpasName+".GetInterface", 0, iface).Store(&path); err != nil {
		return false, fmt.Errorf("wpa_supplicant interface %s: %w", iface, err)
	}
	var caps dbus.Variant
	if err := conn.Object(wpasName, path).CallWithContext(ctx, propsGet, 0, wpasIface, "Capabilities").Store(&caps); err != nil {
		return false, fmt.Errorf("wpa_supplicant capabilities of %s: %w", iface, err)
	}
	m, _ := caps.Value().(map[string]dbus.Variant)
	keyMgmt, _ := m["KeyMgmt"].Value().([]string)
	return slices.Contains(keyMgmt, keyMgmtSAE), nil
}

// activeUUID returns the UUID of the profile active on dev ("" if none).
func activeUUID(dev gonm.Device) (string, error) {
	ac, err := dev.GetPropertyActiveConnection()
	if err != nil || ac == nil {
		return "", classify("device's active connection", err)
	}
	uuid, err := ac.GetPropertyUUID()
	if err != nil {
		if isDBusError(err, "org.freedesktop.DBus.Error.UnknownObject") {
			return "", nil // went down meanwhile
		}
		return "", classify("active connection", err)
	}
	return uuid, nil
}

func (b *Backend) reconcileUplink(nm gonm.NetworkManager, settings gonm.Settings, devs map[string]gonm.Device, owned map[string]profile, k network.UplinkKind, u network.UplinkConfig) error {
	var want gonm.ConnectionSettings
	if u.Enabled {
		want = uplinkProfile(k, u)
	}
	c, changed, err := b.ensure(settings, owned, network.ProfileUUID(k), want)
	if err != nil || !changed || c == nil {
		return err
	}
	// A corrected profile runs with its old settings until activated
	// again; a new one is activated by NetworkManager's autoconnect when
	// its device is free, and here when another profile holds it.
	dev, ok := devs[u.Interface]
	if !ok {
		return nil // any device of the kind (a modem): left to autoconnect
	}
	if state, err := dev.GetPropertyState(); err != nil || state < gonm.NmDeviceStateDisconnected {
		return classify("uplink device state", err) // unavailable (no carrier): nothing to do now
	}
	if _, err := nm.ActivateConnection(c, dev, nil); err != nil {
		// Not fatal: the SSID may be out of range; the check or the
		// status tells.
		b.log.Warn("network: uplink activation failed", "kind", k, "interface", u.Interface, "err", err)
		if errors.Is(classify("", err), network.ErrUnavailable) {
			return classify("activate uplink", err)
		}
	}
	return nil
}
