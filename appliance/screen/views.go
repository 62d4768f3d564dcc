package screen

import (
	"fmt"
	"strconv"
	"strings"
)

// Every show returns its layouts richest first (four rows before two);
// render picks the first that fits.

// idleScreens are the screens idle rotates through: the Wi-Fi's only when
// it has a name (and its password's when it was generated), the uplink's only when the appliance manages its
// network, the cloud link's only when the appliance syncs. The time
// comes last.
func idleScreens(idle Idle) []func(env) []layout {
	screens := []func(env) []layout{idle.showSite}
	if idle.SSID != "" {
		screens = append(screens, idle.showWiFi)
		if idle.WiFiPassword != "" {
			screens = append(screens, idle.showWiFiPassword)
		}
		if idle.Setup != "" {
			screens = append(screens, idle.showSetup)
		}
	}
	screens = append(screens, idle.showChargers)
	if idle.Uplink != "" {
		screens = append(screens, idle.showUplink)
	}
	if idle.Cloud != CloudDisabled {
		screens = append(screens, idle.showCloud)
	}
	return append(screens, idle.showTime)
}

func (i Idle) showSite(e env) []layout {
	site := i.Site
	if strings.TrimSpace(site) == "" {
		site = e.t.defaultSite
	}
	return []layout{{text(site), text(e.t.tapCard)}, {text(site)}}
}

// showWiFi shows the access point's name, on its own rows when it is too
// long for one (SSIDs have up to 32 characters).
func (i Idle) showWiFi(e env) []layout {
	return []layout{{text(e.t.wifi), text(i.SSID)}, {text(i.SSID)}}
}

// showWiFiPassword shows the access point's generated password (16
// characters: one row of the smallest display).
func (i Idle) showWiFiPassword(e env) []layout {
	return []layout{{text(e.t.password), text(i.WiFiPassword)}}
}

// showSetup shows where the setup page is: "http://10.42.0.1" fills a
// 16-column row; a longer address loses its scheme first.
func (i Idle) showSetup(e env) []layout {
	bare := strings.TrimPrefix(i.Setup, "http://")
	return []layout{{text(e.t.setup), text(i.Setup)}, {text(e.t.setup), text(bare)}, {text(bare)}}
}

func (i Idle) showChargers(e env) []layout {
	if i.Total <= 0 {
		return []layout{{text(e.t.noChargers)}}
	}
	short := layout{pair{e.t.free, fmt.Sprintf(e.t.of, i.Free, i.Total)}, pair{e.t.inUse, strconv.Itoa(i.InUse)}}
	return []layout{append(layout{text(e.t.chargers)}, short...), short}
}

func (i Idle) showUplink(e env) []layout {
	name, ok := e.t.uplinks[i.Uplink]
	if !ok {
		name = string(i.Uplink) // another NetworkManager type: a VPN, a bridge
	}
	return []layout{{text(e.t.internet), text(name)}}
}

func (i Idle) showCloud(e env) []layout {
	short := layout{text(e.t.cloudLink), text(e.t.cloud[i.Cloud])}
	if i.Cloud == CloudOffline {
		return []layout{append(short[:2:2], text(e.t.offlineNote)), short}
	}
	return []layout{short}
}

func (i Idle) showTime(e env) []layout {
	date, hm := e.now.Format(e.t.dateLayout), e.now.Format("15:04")
	if i.ClockUnsynced {
		date, hm = "", "--:--"
	}
	return []layout{{text(e.t.tapCard), pair{date, hm}}}
}

func (CardAccepted) show(e env) []layout {
	return []layout{{text(e.t.cardAccepted)}}
}

func (c CardRefused) show(e env) []layout {
	l := layout{text(e.t.cardRefused)}
	if reason, ok := e.t.reasons[c.Reason]; ok {
		l = append(l, text(reason))
	}
	return []layout{l}
}

func (p PlugIn) show(e env) []layout {
	switch len(p.Connectors) {
	case 0:
		return []layout{{text(e.t.plugIn)}}
	case 1:
		return []layout{{text(e.t.plugIn), pair{e.t.connector, p.Connectors[0]}}}
	}
	list := pair{e.t.connectors, strings.Join(p.Connectors, ",")}
	return []layout{
		{text(e.t.plugIn), text(e.t.choose), list},
		{text(e.t.plugIn), list},
	}
}

func (c ChargingStarted) show(e env) []layout {
	return []layout{{text(e.t.chargingStarted), pair{e.t.connector, c.Connector}}}
}

func (c ChargingStopped) show(e env) []layout {
	head, d := text(e.t.chargingStopped), hms(c.Duration)
	return []layout{
		{head, pair{e.t.energy, e.kwh(c.EnergyKWh, 2)}, pair{e.t.duration, d}, pair{e.t.connector, c.Connector}},
		{head, pair{e.kwh(c.EnergyKWh, 2), d}},
		{head, pair{e.kwh(c.EnergyKWh, 1), d}},
		{head, pair{e.kwh(c.EnergyKWh, 0), d}},
		{head, text(e.kwh(c.EnergyKWh, 2))},
	}
}

func (c Charging) show(e env) []layout {
	energy, power, d := e.kwh(c.EnergyKWh, 2), e.kw(c.PowerKW), hms(e.now.Sub(c.Started))
	rest := layout{pair{e.t.energy, energy}, pair{e.t.power, power}, pair{e.t.duration, d}}
	short := e.t.connShort + c.Connector
	return []layout{
		append(layout{pair{e.t.charging, e.t.connector + " " + c.Connector}}, rest...),
		append(layout{pair{e.t.connector, c.Connector}}, rest...),
		{pair{short, energy}, pair{power, d}},
		{pair{short, e.kwh(c.EnergyKWh, 1)}, pair{power, d}},
	}
}

func (f Fault) show(e env) []layout {
	where := f.Charger
	if f.Connector != "" {
		where += "/" + f.Connector
	}
	full := layout{text(e.t.fault), pair{e.t.charger, f.Charger}}
	if f.Connector != "" {
		full = append(full, pair{e.t.connector, f.Connector})
	}
	return []layout{
		append(full, text(f.Code)),
		{text(e.t.fault), text(where), text(f.Code)},
		{pair{e.t.fault, where}, text(f.Code)},
		{text(e.t.fault), text(f.Code)},
	}
}
