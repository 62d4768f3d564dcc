package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/cloudsync"
	"github.com/constellation-ev/constellation/appliance/cloudsync/synctest"
	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/syncproto"
)

// TestSiteSettingsReachTheChargers: the cloud's meter interval and site
// power limit reach chargesim stations of every version over real
// sockets. The interval is set on the stations connected (which then
// sample at it) and on one that connects later; the limit is divided
// equally among the connected stations, divided anew as they come and
// go, and cleared when the cloud lifts it. A bad value is reported by
// its setting's name and changes nothing.
func TestSiteSettingsReachTheChargers(t *testing.T) {
	broker := synctest.Broker(t)
	siteID := synctest.Site(t)
	s := startSiteWith(t, func(c *config.Config) {
		c.Sync = config.Sync{Enabled: true, Broker: broker, Site: siteID,
			ReadingsBatch: config.Duration{Duration: time.Minute}, OutboxMaxEntries: 10000, OutboxMaxBytes: 16 << 20}
	})
	sub := synctest.Subscribe(t, broker, syncproto.Prefix+siteID+"/up/+")
	desired := func(v int64, settings map[string]string) *syncproto.Reported {
		t.Helper()
		synctest.PublishMessage(t, broker, siteID, &syncproto.Desired{Header: syncproto.Header{Site: siteID, Time: time.Now()},
			Version: v, Settings: settings}, true)
		var rep *syncproto.Reported
		sub.Wait(t, fmt.Sprintf("the report of desired version %d", v), func(ms []synctest.Message) bool {
			for _, m := range ms {
				if r, ok := m.Msg.(*syncproto.Reported); ok && r.DesiredVersion == v {
					rep = r
				}
			}
			return rep != nil
		})
		return rep
	}
	connect := func(id string, v ocppj.Version) *station {
		o := stationOptions(id, v)
		// Tokens of its own: one token charging twice is ConcurrentTx.
		o.MeterInterval, o.Tags = time.Hour, []string{id + "-1", id + "-2"}
		st := s.connect(t, o)
		s.rec.waitFor(t, 0, id+"'s accepted boot", func(f frame) bool {
			return f.Station == id && f.FromCSMS && f.Msg.Type == ocppj.CallResult && f.Action == "BootNotification"
		})
		return st
	}
	// Their sessions start at once, and sample once an hour.
	a, b := connect("SITE-16", ocppj.V16), connect("SITE-201", ocppj.V201)
	s.rec.result(t, 0, "StartTransaction", nil)
	s.rec.result(t, 0, "TransactionEvent", func(req json.RawMessage) bool { return bytes.Contains(req, []byte(`"Started"`)) })

	mark := s.rec.mark()
	if rep := desired(1, map[string]string{cloudsync.SettingMeterInterval: "1s", cloudsync.SettingSitePowerLimit: "22000"}); !rep.Applied {
		t.Fatalf("reported %+v", rep)
	}
	// The running sessions sample at the new interval: the hour they
	// would otherwise wait is far beyond the recorder's bound.
	s.rec.waitFor(t, mark, "a 1.6 periodic sample at the new interval", func(f frame) bool {
		return f.Station == a.id && !f.FromCSMS && f.Action == "MeterValues" && bytes.Contains(f.Msg.Payload, []byte("Sample.Periodic"))
	})
	s.rec.waitFor(t, mark, "a 2.0.1 periodic sample at the new interval", func(f frame) bool {
		return f.Station == b.id && !f.FromCSMS && f.Action == "TransactionEvent" && bytes.Contains(f.Msg.Payload, []byte("MeterValuePeriodic"))
	})
	waitLimits(t, map[*station]string{a: "11000 W", b: "11000 W"})

	c := connect("SITE-21", ocppj.V21)
	s.rec.waitFor(t, 0, "the meter interval on the station that connected later", func(f frame) bool {
		return f.Station == c.id && f.FromCSMS && f.Action == "SetVariables" &&
			bytes.Contains(f.Msg.Payload, []byte(`"attributeValue":"1"`)) && bytes.Contains(f.Msg.Payload, []byte(`"TxUpdatedInterval"`))
	})
	waitLimits(t, map[*station]string{a: "7333 W", b: "7333 W", c: "7333 W"})
	b.disconnect(t)
	waitLimits(t, map[*station]string{a: "11000 W", c: "11000 W"})

	rep := desired(2, map[string]string{cloudsync.SettingMeterInterval: "1s", cloudsync.SettingSitePowerLimit: "22 kW"})
	if rep.Applied || !strings.Contains(rep.Error, `site_power_limit: "22 kW" is not a whole number of watts`) {
		t.Errorf("reported %+v", rep)
	}
	desired(3, map[string]string{})
	waitLimits(t, map[*station]string{a: "none", c: "none"})

	// Every profile message went out in its station's version, valid by
	// the official schemas, and was answered.
	versions := map[string]ocppj.Version{a.id: ocppj.V16, b.id: ocppj.V201, c.id: ocppj.V21}
	seen := map[string]bool{}
	for _, f := range s.rec.all() {
		switch f.Action {
		case "SetChargingProfile", "ClearChargingProfile", "ChangeConfiguration", "SetVariables":
		default:
			continue
		}
		payload, response := f.Msg.Payload, f.Msg.Type == ocppj.CallResult
		if f.Msg.Type == ocppj.CallError {
			t.Errorf("%s answered %s with %s", f.Station, f.Action, f.Raw)
			continue
		}
		if err := checkSchema(t, versions[f.Station], f.Action, response, payload); err != nil {
			t.Errorf("%s %s %s: %v", f.Station, f.Action, payload, err)
		}
		if f.FromCSMS && !response {
			seen[string(versions[f.Station])+" "+f.Action] = true
		}
	}
	for _, want := range []string{"ocpp1.6 SetChargingProfile", "ocpp1.6 ClearChargingProfile", "ocpp1.6 ChangeConfiguration",
		"ocpp2.0.1 SetChargingProfile", "ocpp2.0.1 SetVariables", "ocpp2.1 SetChargingProfile", "ocpp2.1 ClearChargingProfile", "ocpp2.1 SetVariables"} {
		if !seen[want] {
			t.Errorf("no %s was sent (sent: %v)", want, seen)
		}
	}
}

// waitLimits waits until each station's charger-wide limit is the one
// given ("11000 W", or "none"), bounded as a guard against a hang.
func waitLimits(t *testing.T, want map[*station]string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, done := map[string]string{}, true
		for st, w := range want {
			g := "none"
			if limit, ok := st.sim.StationLimitW(); ok {
				g = fmt.Sprintf("%.0f W", limit)
			}
			got[st.id], done = g, done && g == w
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("charger-wide limits %v, want %v", got, namedLimits(want))
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not timing anything
	}
}

func namedLimits(m map[*station]string) map[string]string {
	out := map[string]string{}
	for st, w := range m {
		out[st.id] = w
	}
	return out
}
