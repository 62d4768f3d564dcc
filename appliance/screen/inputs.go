package screen

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Idle is what the idle screens show; the appliance updates it with SetIdle.
type Idle struct {
	// Site is the site's name; SSID the access point chargers join.
	Site, SSID string
	// WiFiPassword is the access point's password when the appliance
	// generated it (no default exists, and the installer must read it
	// somewhere); empty: not shown.
	WiFiPassword string
	// Setup is where the setup page is ("http://10.42.0.1") while the
	// appliance awaits its settings (reached through the access point);
	// empty: not shown.
	Setup string
	// Free and InUse count the chargers ready for a car and charging one,
	// of Total connected to the appliance.
	Free, InUse, Total int
	// Cloud is the state of the link to the cloud.
	Cloud CloudLink
	// Uplink is how the appliance reaches the internet; empty when the
	// appliance does not manage its network (no screen).
	Uplink Uplink
	// ClockUnsynced hides the time until the clock has been synchronised
	// (a Raspberry Pi has no real-time clock).
	ClockUnsynced bool
}

// CloudLink is the state of the appliance's link to the cloud.
type CloudLink string

// States of the cloud link.
const (
	// CloudDisabled: the appliance does not sync (the zero value).
	CloudDisabled CloudLink = ""
	// CloudConnected: the link is up.
	CloudConnected CloudLink = "connected"
	// CloudOffline: the link is down; charging goes on.
	CloudOffline CloudLink = "offline"
)

// Uplink is the connection the appliance reaches the internet through.
type Uplink string

// Uplinks.
const (
	UplinkEthernet Uplink = "ethernet"
	UplinkWiFi     Uplink = "wifi"
	UplinkCellular Uplink = "cellular"
	// UplinkNone: no uplink, or one that does not reach the internet.
	UplinkNone Uplink = "none"
)

// Event is something the display tells the driver about, for a while:
// CardAccepted, CardRefused, PlugIn, ChargingStarted, ChargingStopped or Fault.
type Event interface {
	// rank orders events: a higher one hides lower ones until it ends.
	rank() int
	// lifetime is how long the event shows.
	lifetime(Config) time.Duration
	show(e env) []layout
}

// Ranks of what the display shows, lowest first.
const (
	rankIdle = iota
	rankCharging
	rankEvent
	rankFault
)

// CardAccepted: a card was tapped and may charge.
type CardAccepted struct{}

// CardRefused: a card was tapped and may not charge.
type CardRefused struct {
	Reason RefusalReason
}

// RefusalReason says why a card may not charge.
type RefusalReason string

// Reasons for refusing a card.
const (
	// RefusedUnknown: the card is not known to the appliance.
	RefusedUnknown RefusalReason = "unknown"
	// RefusedBlocked: the card is blocked.
	RefusedBlocked RefusalReason = "blocked"
	// RefusedExpired: the card has expired.
	RefusedExpired RefusalReason = "expired"
	// RefusedNoFreeConnector: the card is fine, but every connector is busy.
	RefusedNoFreeConnector RefusalReason = "no_free_connector"
	// RefusedInvalid: the card or its answer could not be read as valid.
	RefusedInvalid RefusalReason = "invalid"
)

// PlugIn: the driver should plug the cable in, at one of Connectors
// (several: the driver chooses).
type PlugIn struct {
	Connectors []string
}

// ChargingStarted: a session started at Connector; the live charging
// screen follows it afterwards.
type ChargingStarted struct {
	Connector string
}

// ChargingStopped: the session at Connector ended after delivering
// EnergyKWh in Duration.
type ChargingStopped struct {
	Connector string
	EnergyKWh float64
	Duration  time.Duration
}

// Fault: a charger (and connector, if known) reported an error code.
type Fault struct {
	Charger, Connector, Code string
}

// Charging is the live state of the session the display follows.
type Charging struct {
	Connector string
	// Started is when the session started; zero: when ChargingStarted was posted.
	Started   time.Time
	EnergyKWh float64
	PowerKW   float64
}

func (CardAccepted) rank() int                       { return rankEvent }
func (CardAccepted) lifetime(c Config) time.Duration { return c.EventTime }
func (CardRefused) rank() int                        { return rankEvent }
func (CardRefused) lifetime(c Config) time.Duration  { return c.EventTime }
func (PlugIn) rank() int                             { return rankEvent }
func (PlugIn) lifetime(c Config) time.Duration       { return c.PlugInTime }
func (ChargingStarted) rank() int                    { return rankEvent }
func (ChargingStarted) lifetime(c Config) time.Duration {
	return c.EventTime
}
func (ChargingStopped) rank() int                       { return rankEvent }
func (ChargingStopped) lifetime(c Config) time.Duration { return c.EventTime }
func (Fault) rank() int                                 { return rankFault }
func (Fault) lifetime(c Config) time.Duration           { return c.FaultTime }

// env is what rendering needs besides the screen's own data.
type env struct {
	t   *texts
	now time.Time // in the display's time zone
}

// kwh formats energy with decimals digits after the separator.
func (e env) kwh(v float64, decimals int) string {
	return e.number(v, decimals) + " kWh"
}

// kw formats power: one decimal below 100 kW.
func (e env) kw(v float64) string {
	if v >= 100 {
		return e.number(v, 0) + " kW"
	}
	return e.number(v, 1) + " kW"
}

// number formats v, negative or not a number as 0.
func (e env) number(v float64, decimals int) string {
	if !(v >= 0) {
		v = 0
	}
	return strings.Replace(strconv.FormatFloat(v, 'f', decimals, 64), ".", e.t.decimal, 1)
}

// hms formats a duration as H:MM:SS, negative as 0:00:00.
func hms(d time.Duration) string {
	d = max(d, 0).Truncate(time.Second)
	h, m, s := int64(d/time.Hour), int64(d/time.Minute)%60, int64(d/time.Second)%60
	return fmt.Sprintf("%d:%02d:%02d", h, m, s)
}
