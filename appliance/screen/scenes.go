package screen

import "time"

// Scene is one screen the manager can show, filled with example data: for
// golden files and for checking every screen on real hardware.
type Scene struct {
	Name string
	show func(env) []layout
}

// Render returns the rows the scene shows on a cols x rows display in lang
// (English if unknown), at now (in now's time zone).
func (s Scene) Render(cols, rows int, lang string, now time.Time) []string {
	return render(s.show(env{t: textsFor(lang), now: now}), cols, rows)
}

// Scenes returns every idle screen, every event (each refusal reason),
// the live charging screen, and a few with long names and numbers. The
// live charging scenes started at 08:47:15 UTC on 2025-07-14.
func Scenes() []Scene {
	idle := Idle{Site: "Garaje Norte", SSID: "Constellation-7F3A", Free: 2, InUse: 1, Total: 3, Cloud: CloudConnected}
	longSite := idle
	longSite.Site = "Aparcamiento Centro Comercial Las Rozas"
	short := idle
	short.SSID = "EVSE-7F3A"
	generated := idle
	generated.WiFiPassword = "k7m2q9xw4hfp3ncr"
	setup, setupPort := idle, idle
	setup.Setup, setupPort.Setup = "http://10.42.0.1", "http://10.42.0.1:8080"
	noSite := idle
	noSite.Site, noSite.SSID = "", ""
	none := idle
	none.Free, none.InUse, none.Total = 0, 0, 0
	offline, disabled, unsynced := idle, idle, idle
	offline.Cloud, disabled.Cloud, unsynced.ClockUnsynced = CloudOffline, CloudDisabled, true
	ethernet, cellular, noUplink := idle, idle, idle
	ethernet.Uplink, cellular.Uplink, noUplink.Uplink = UplinkEthernet, UplinkCellular, UplinkNone
	started := time.Date(2025, 7, 14, 8, 47, 15, 0, time.UTC)
	return []Scene{
		{"idle-site", idle.showSite},
		{"idle-site-long-name", longSite.showSite},
		{"idle-site-unnamed", noSite.showSite},
		{"idle-wifi", idle.showWiFi},
		{"idle-wifi-short", short.showWiFi},
		{"idle-wifi-generated-password", generated.showWiFiPassword},
		{"idle-setup", setup.showSetup},
		{"idle-setup-port", setupPort.showSetup},
		{"idle-chargers", idle.showChargers},
		{"idle-chargers-none", none.showChargers},
		{"idle-uplink-ethernet", ethernet.showUplink},
		{"idle-uplink-cellular", cellular.showUplink},
		{"idle-uplink-none", noUplink.showUplink},
		{"idle-cloud-connected", idle.showCloud},
		{"idle-cloud-offline", offline.showCloud},
		{"idle-cloud-disabled", disabled.showCloud},
		{"idle-time", idle.showTime},
		{"idle-time-unsynced", unsynced.showTime},
		{"card-accepted", CardAccepted{}.show},
		{"card-refused-unknown", CardRefused{RefusedUnknown}.show},
		{"card-refused-blocked", CardRefused{RefusedBlocked}.show},
		{"card-refused-expired", CardRefused{RefusedExpired}.show},
		{"card-refused-no-free-connector", CardRefused{RefusedNoFreeConnector}.show},
		{"card-refused-invalid", CardRefused{RefusedInvalid}.show},
		{"plug-in", PlugIn{[]string{"2"}}.show},
		{"plug-in-choose", PlugIn{[]string{"1", "3", "4"}}.show},
		{"charging-started", ChargingStarted{"2"}.show},
		{"charging", Charging{Connector: "2", Started: started, EnergyKWh: 12.345, PowerKW: 7.4}.show},
		{"charging-long", Charging{Connector: "A-12", Started: started.Add(-10 * time.Hour), EnergyKWh: 187.5, PowerKW: 150}.show},
		{"charging-stopped", ChargingStopped{Connector: "2", EnergyKWh: 12.345, Duration: 83*time.Minute + 45*time.Second}.show},
		{"charging-stopped-long", ChargingStopped{Connector: "A-12", EnergyKWh: 187.5, Duration: 10*time.Hour + 5*time.Minute}.show},
		{"fault", Fault{Charger: "CP-01", Connector: "2", Code: "GroundFailure"}.show},
		{"fault-long", Fault{Charger: "WALLBOX-PULSAR-0042", Code: "OverCurrentFailure"}.show},
	}
}
