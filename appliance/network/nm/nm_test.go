package nm

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/constellation-ev/constellation/appliance/network"
	"github.com/constellation-ev/constellation/appliance/network/nmfake"
)

func TestAPProfileCreated(t *testing.T) {
	tests := []struct {
		name     string
		noSAE    bool
		security network.Security
		band     network.Band
		channel  uint32
		hidden   bool
		keyMgmt  string
		shown    string
	}{
		{name: "auto on an SAE chip", band: network.Band24GHz, channel: 6, keyMgmt: "sae", shown: network.SecurityNameSAE},
		{name: "auto on a WPA2-only chip", noSAE: true, band: network.Band5GHz, channel: 36, hidden: true, keyMgmt: "wpa-psk", shown: network.SecurityNamePSK},
		{name: "wpa2 forced", security: network.SecurityWPA2, keyMgmt: "wpa-psk", shown: network.SecurityNamePSK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := baseSettings()
			s.AP.Band, s.AP.Channel, s.AP.Hidden, s.AP.Address = tt.band, tt.channel, tt.hidden, "192.168.50.1/24"
			if tt.security != "" {
				s.AP.Security = tt.security
			}
			e := start(t, envOptions{fake: nmfake.Options{NoSAE: tt.noSAE}, settings: s})
			installerBefore, _ := e.fake.Profile(nmfake.InstallerUUID)
			st := e.settle("AP up", apUp)

			p, ok := e.fake.Profile(network.APProfileUUID)
			if !ok {
				t.Fatal("no access point profile")
			}
			want := map[string]any{
				"connection.id":                     network.APProfileID,
				"connection.type":                   "802-11-wireless",
				"connection.interface-name":         "wlan0",
				"connection.autoconnect":            true,
				"802-11-wireless.ssid":              []byte("Constellation-Chargers"),
				"802-11-wireless.mode":              "ap",
				"802-11-wireless.hidden":            tt.hidden,
				"802-11-wireless-security.key-mgmt": tt.keyMgmt,
				"802-11-wireless-security.psk":      apPassword,
				"ipv4.method":                       "shared",
			}
			if tt.band != "" {
				want["802-11-wireless.band"] = string(tt.band)
				want["802-11-wireless.channel"] = tt.channel
			}
			for key, w := range want {
				setting, name, _ := strings.Cut(key, ".")
				if got := get(p, setting, name); !reflect.DeepEqual(got, w) {
					t.Errorf("%s = %#v, want %#v", key, got, w)
				}
			}
			if tt.band == "" {
				for _, key := range []string{"band", "channel"} {
					if v := get(p, "802-11-wireless", key); v != nil {
						t.Errorf("802-11-wireless.%s = %v, want unset (automatic)", key, v)
					}
				}
			}
			addrs, _ := get(p, "ipv4", "address-data").([]map[string]dbus.Variant)
			if len(addrs) != 1 || addrs[0]["address"].Value() != "192.168.50.1" || addrs[0]["prefix"].Value() != uint32(24) {
				t.Errorf("ipv4.address-data = %v, want 192.168.50.1/24", addrs)
			}
			if got := e.fake.ActiveUUID("wlan0"); got != network.APProfileUUID {
				t.Errorf("wlan0 runs %q, want the access point", got)
			}
			wantAP := network.APStatus{State: network.APUp, SSID: "Constellation-Chargers", Interface: "wlan0", Address: "192.168.50.1/24", Security: tt.shown}
			if st.AP != wantAP {
				t.Errorf("status AP = %+v, want %+v", st.AP, wantAP)
			}
			if after, ok := e.fake.Profile(nmfake.InstallerUUID); !ok || !reflect.DeepEqual(after, installerBefore) {
				t.Errorf("installer's profile touched: %v -> %v", installerBefore, after)
			}
		})
	}
}

func TestAPProfileCorrectedAfterTampering(t *testing.T) {
	tests := []struct {
		name string
		edit func(nmfake.ConnSettings)
	}{
		{"ssid", func(s nmfake.ConnSettings) { s["802-11-wireless"]["ssid"] = dbus.MakeVariant([]byte("Evil-Twin")) }},
		{"password", func(s nmfake.ConnSettings) {
			s["802-11-wireless-security"]["psk"] = dbus.MakeVariant("tampered-pass-1")
		}},
		{"band and channel added", func(s nmfake.ConnSettings) {
			s["802-11-wireless"]["band"] = dbus.MakeVariant("a")
			s["802-11-wireless"]["channel"] = dbus.MakeVariant(uint32(40))
		}},
		{"shared method", func(s nmfake.ConnSettings) { s["ipv4"]["method"] = dbus.MakeVariant("auto") }},
		{"renamed", func(s nmfake.ConnSettings) { s["connection"]["id"] = dbus.MakeVariant("my hotspot") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := baseSettings()
			s.AP.Band, s.AP.Channel = "", 0
			e := start(t, envOptions{settings: s})
			e.settle("AP up", apUp)
			good, _ := e.fake.Profile(network.APProfileUUID)

			e.fake.Tamper(network.APProfileUUID, tt.edit)
			if p, _ := e.fake.Profile(network.APProfileUUID); reflect.DeepEqual(p, good) {
				t.Fatal("tampering changed nothing")
			}
			e.settle("profile corrected", func(st network.Status) bool {
				p, _ := e.fake.Profile(network.APProfileUUID)
				return reflect.DeepEqual(p, good) && apUp(st)
			})
			if !strings.Contains(e.logs.String(), "correcting profile") {
				t.Errorf("the correction is not logged:\n%s", e.logs.String())
			}
		})
	}
}

func TestAPRemovedWhenDisabled(t *testing.T) {
	e := start(t, envOptions{settings: baseSettings()})
	e.settle("AP up", apUp)
	installer, _ := e.fake.Profile(nmfake.InstallerUUID)

	s := baseSettings()
	s.AP.Enabled = false
	res, err := e.ctl.Apply(context.Background(), s)
	if err != nil || res.Outcome != network.OutcomeApplied {
		t.Fatalf("Apply = %+v, %v", res, err)
	}
	if _, ok := e.fake.Profile(network.APProfileUUID); ok {
		t.Error("the access point profile is still there")
	}
	if got := e.fake.ActiveUUID("wlan0"); got != "" {
		t.Errorf("wlan0 still runs %q", got)
	}
	if st := e.ctl.Status(context.Background()); st.AP.State != network.APDisabled {
		t.Errorf("AP state = %s, want disabled", st.AP.State)
	}
	if after, ok := e.fake.Profile(nmfake.InstallerUUID); !ok || !reflect.DeepEqual(after, installer) {
		t.Error("the installer's profile was touched")
	}
}

func TestStrayProfilesRemovedInstallerKept(t *testing.T) {
	stray := nmfake.ConnSettings{
		"connection":      {"id": dbus.MakeVariant(network.ProfileIDPrefix + "ap-old"), "uuid": dbus.MakeVariant("11111111-2222-3333-4444-555555555555"), "type": dbus.MakeVariant("802-11-wireless"), "autoconnect": dbus.MakeVariant(false)},
		"802-11-wireless": {"ssid": dbus.MakeVariant([]byte("old")), "mode": dbus.MakeVariant("ap")},
	}
	mine := nmfake.ConnSettings{
		"connection":      {"id": dbus.MakeVariant("Installer WiFi"), "uuid": dbus.MakeVariant("66666666-2222-3333-4444-555555555555"), "type": dbus.MakeVariant("802-11-wireless"), "interface-name": dbus.MakeVariant("wlan1")},
		"802-11-wireless": {"ssid": dbus.MakeVariant([]byte("Office"))},
	}
	e := start(t, envOptions{settings: baseSettings(), fake: nmfake.Options{Profiles: append(nmfake.InstallerProfiles(), stray, mine)}})
	e.settle("stray removed", func(st network.Status) bool {
		_, ok := e.fake.Profile("11111111-2222-3333-4444-555555555555")
		return apUp(st) && !ok
	})
	for _, uuid := range []string{nmfake.InstallerUUID, "66666666-2222-3333-4444-555555555555"} {
		if !slices.Contains(e.fake.ProfileUUIDs(), uuid) {
			t.Errorf("profile %s removed, want kept", uuid)
		}
	}
}

func TestUplinkSwitchOnEthernetLoss(t *testing.T) {
	s := baseSettings()
	s.Uplinks.WiFi = network.UplinkConfig{Enabled: true, Priority: 2, Interface: "wlan1", SSID: "Site-WiFi", Password: wifiPassword}
	e := start(t, envOptions{settings: s.Normalize()})
	onEthernet := func(st network.Status) bool {
		return apUp(st) && st.Uplink.Kind == network.UplinkEthernet && st.Uplink.Interface == "eth0" &&
			st.Uplink.UUID == network.ProfileUUID(network.UplinkEthernet) && st.Uplink.Connectivity == network.ConnectivityFull
	}
	st := e.settle("uplink on ethernet", onEthernet)
	if !st.Uplink.Owned || st.Uplink.Connection != network.ProfileID(network.UplinkEthernet) {
		t.Errorf("uplink = %+v, want the appliance's ethernet profile", st.Uplink)
	}
	w, _ := e.fake.Profile(network.ProfileUUID(network.UplinkWiFi))
	if get(w, "ipv4", "route-metric") != int64(200) || get(w, "connection", "autoconnect-priority") != int32(98) || get(w, "802-11-wireless-security", "psk") != wifiPassword {
		t.Errorf("wifi uplink profile = %v", w)
	}

	e.fake.Unplug("eth0")
	st = e.settle("uplink on wifi", func(st network.Status) bool {
		return st.Uplink.Kind == network.UplinkWiFi && st.Uplink.Interface == "wlan1"
	})
	if st.Uplink.Connectivity != network.ConnectivityFull || !st.Uplink.Owned {
		t.Errorf("uplink = %+v", st.Uplink)
	}
	if st.AP.State != network.APUp {
		t.Errorf("AP = %+v, want up through the switch", st.AP)
	}

	e.fake.Plug("eth0")
	e.settle("uplink back on ethernet", onEthernet)
}

func TestBadAPSettingRolledBack(t *testing.T) {
	e := start(t, envOptions{settings: baseSettings()})
	e.settle("AP up", apUp)
	good, _ := e.fake.Profile(network.APProfileUUID)

	bad := baseSettings()
	bad.AP.SSID, bad.AP.Band, bad.AP.Channel = "New-Name", network.Band5GHz, 52 // a radar channel the driver refuses
	res, err := e.ctl.Apply(context.Background(), bad)
	if !errors.Is(err, network.ErrCheckFailed) || res.Outcome != network.OutcomeRolledBack {
		t.Fatalf("Apply = %+v, %v; want rolled back with ErrCheckFailed", res, err)
	}
	if !strings.Contains(res.Reason, "activation failed") {
		t.Errorf("reason %q does not say the activation failed", res.Reason)
	}
	if p, _ := e.fake.Profile(network.APProfileUUID); !reflect.DeepEqual(p, good) {
		t.Errorf("profile after rollback:\n%v\nwant the last good:\n%v", p, good)
	}
	if got := e.fake.ActiveUUID("wlan0"); got != network.APProfileUUID {
		t.Errorf("wlan0 runs %q, want the access point back", got)
	}
	st := e.ctl.Status(context.Background())
	if st.LastChange == nil || st.LastChange.Outcome != network.OutcomeRolledBack || st.AP.SSID != "Constellation-Chargers" || st.AP.State != network.APUp {
		t.Errorf("status = %+v (last change %+v)", st, st.LastChange)
	}
	if e.ctl.Settings() != baseSettings() {
		t.Errorf("settings in force = %+v, want the last good", e.ctl.Settings())
	}

	// A later good change still goes through.
	next := baseSettings()
	next.AP.Channel = 11
	if res, err := e.ctl.Apply(context.Background(), next); err != nil || res.Outcome != network.OutcomeApplied {
		t.Fatalf("Apply = %+v, %v", res, err)
	}
	if p, _ := e.fake.Profile(network.APProfileUUID); get(p, "802-11-wireless", "channel") != uint32(11) {
		t.Errorf("channel = %v, want 11", get(p, "802-11-wireless", "channel"))
	}
}

func TestNetworkManagerAbsentAtStart(t *testing.T) {
	e := start(t, envOptions{settings: baseSettings(), absent: true})
	st := e.settle("unreachable reported", func(st network.Status) bool { return st.LastError != "" })
	if st.Reachable || !strings.Contains(st.LastError, "not on the system bus") {
		t.Errorf("status = %+v, want unreachable", st)
	}
	if res, err := e.ctl.Apply(context.Background(), baseSettings()); !errors.Is(err, network.ErrUnavailable) || res.Outcome != network.OutcomeFailed {
		t.Errorf("Apply while absent = %+v, %v; want failed with ErrUnavailable", res, err)
	}

	if err := e.fake.Start(); err != nil {
		t.Fatal(err)
	}
	e.settle("AP up once NetworkManager starts", apUp)
	if _, ok := e.fake.Profile(network.APProfileUUID); !ok {
		t.Error("no access point profile")
	}
}

func TestNetworkManagerRestarting(t *testing.T) {
	e := start(t, envOptions{settings: baseSettings()})
	up := e.settle("AP up", apUp)

	if err := e.fake.Stop(); err != nil {
		t.Fatal(err)
	}
	down := e.settle("unreachable", func(st network.Status) bool { return !st.Reachable })
	if !down.Since.After(up.Since) || down.AP.State != network.APDown || down.LastError == "" {
		t.Errorf("status while stopped = %+v", down)
	}

	// Profiles edited while it was away are corrected when it is back.
	e.fake.Tamper(network.APProfileUUID, func(s nmfake.ConnSettings) {
		s["802-11-wireless"]["ssid"] = dbus.MakeVariant([]byte("Changed-While-Away"))
	})
	if err := e.fake.Start(); err != nil {
		t.Fatal(err)
	}
	e.settle("back and corrected", func(st network.Status) bool {
		return apUp(st) && st.AP.SSID == "Constellation-Chargers"
	})
}

func TestBusAbsent(t *testing.T) {
	e := start(t, envOptions{settings: baseSettings(), absent: true})
	e.bus.Stop()
	st := e.settle("unreachable reported", func(st network.Status) bool { return st.LastError != "" })
	if st.Reachable {
		t.Errorf("status = %+v, want unreachable", st)
	}
}
