package cloudsync

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/cloudsync/synctest"
	"github.com/constellation-ev/constellation/appliance/network"
	"github.com/constellation-ev/constellation/syncproto"
)

func header(site string, at time.Time) syncproto.Header {
	return syncproto.Header{Site: site, Time: at}
}

// results waits for the command results of ids and returns them by id.
func results(t *testing.T, sub *synctest.Subscriber, ids ...string) map[string][]*syncproto.CommandResult {
	t.Helper()
	var out map[string][]*syncproto.CommandResult
	sub.Wait(t, "results of "+strings.Join(ids, ", "), func(ms []synctest.Message) bool {
		out = map[string][]*syncproto.CommandResult{}
		for _, m := range ms {
			if r, ok := m.Msg.(*syncproto.CommandResult); ok {
				out[r.CommandID] = append(out[r.CommandID], r)
			}
		}
		for _, id := range ids {
			if len(out[id]) == 0 {
				return false
			}
		}
		return true
	})
	return out
}

func (e *env) tokens(t *testing.T) map[string]charging.IDToken {
	t.Helper()
	ts, err := e.svc.Tokens(ctx)
	must(t, err)
	out := map[string]charging.IDToken{}
	for _, tk := range ts {
		out[tk.ID] = tk
	}
	return out
}

// The cloud's desired configuration, authorization list and commands are
// applied, each once, and answered through the outbox.
func TestDownstream(t *testing.T) {
	broker := synctest.Broker(t)
	e := newEnv(t, broker, func(o *Options) {
		o.Local = map[string]string{SettingHeartbeatInterval: "300s", SettingUnknownTokens: "strict"}
	})
	site := e.opts.Site
	must(t, e.svc.PutToken(ctx, charging.IDToken{ID: "OPERATOR", Status: charging.AuthAccepted, Source: "operator"}))
	sub := e.subscribe(t, broker)

	// A retained desired configuration waits for the appliance.
	synctest.PublishMessage(t, broker, site, &syncproto.Desired{Header: header(site, t0), Version: 3,
		Settings: map[string]string{SettingHeartbeatInterval: "60s", SettingUnknownTokens: "open", "led_colour": "blue"}}, true)
	e.run(t)
	msgs := sub.Wait(t, "the report of desired version 3", hasReported(3))
	rep := reported(msgs, 3)
	if rep.Applied || !strings.Contains(rep.Error, "led_colour: unknown setting") ||
		rep.Settings[SettingHeartbeatInterval] != "60s" || rep.Settings[SettingUnknownTokens] != "open" {
		t.Fatalf("reported %+v", rep)
	}
	if res, err := e.svc.Boot(ctx, "CP1", charging.BootInfo{}); err != nil || res.Interval != time.Minute {
		t.Fatalf("heartbeat after desired: %+v, %v", res, err)
	}
	if a, _ := e.svc.Authorize(ctx, "CP1", "STRANGER"); a.Status != charging.AuthAccepted {
		t.Fatalf("unknown tokens after desired open: %s", a.Status)
	}
	// A newer one that leaves a setting out returns it to the appliance's
	// own value; a bad value is reported.
	synctest.PublishMessage(t, broker, site, &syncproto.Desired{Header: header(site, t0), Version: 4,
		Settings: map[string]string{SettingHeartbeatInterval: "soon"}}, true)
	msgs = sub.Wait(t, "the report of desired version 4", hasReported(4))
	if rep := reported(msgs, 4); rep.Applied || !strings.Contains(rep.Error, `heartbeat_interval: "soon" is not a duration`) {
		t.Fatalf("reported %+v", rep)
	}
	if a, _ := e.svc.Authorize(ctx, "CP1", "STRANGER2"); a.Status != charging.AuthInvalid {
		t.Fatalf("unknown tokens back to the local strict: %s", a.Status)
	}

	// Authorization list: full, a delta on it, a delta on a wrong base.
	exp := t0.Add(30 * 24 * time.Hour)
	synctest.PublishMessage(t, broker, site, &syncproto.AuthList{Header: header(site, t0), Version: 1, Full: true,
		Entries: []syncproto.AuthEntry{{ID: "A", Status: "Accepted", Expiry: exp}, {ID: "B", Status: "Blocked"}, {ID: "OPERATOR", Status: "Accepted"}}}, false)
	e.waitStatus(t, "authorization list 1", func(s Status) bool { return s.AuthListVersion == 1 })
	tk := e.tokens(t)
	if tk["A"].Source != TokenSource || !tk["A"].Expiry.Equal(exp) || tk["B"].Status != charging.AuthBlocked || tk["STRANGER"].ID == "" {
		t.Fatalf("tokens after the full list: %+v", tk)
	}
	synctest.PublishMessage(t, broker, site, &syncproto.AuthList{Header: header(site, t0), Version: 2, BaseVersion: 1,
		Entries: []syncproto.AuthEntry{{ID: "C", Status: "Accepted"}}, Removed: []string{"A", "STRANGER"}}, false)
	e.waitStatus(t, "authorization list 2", func(s Status) bool { return s.AuthListVersion == 2 })
	tk = e.tokens(t)
	if _, ok := tk["A"]; ok || tk["C"].Status != charging.AuthAccepted || tk["STRANGER"].ID == "" {
		t.Fatalf("tokens after the delta (A removed, C added, the policy's STRANGER kept): %+v", tk)
	}
	synctest.PublishMessage(t, broker, site, &syncproto.AuthList{Header: header(site, t0), Version: 5, BaseVersion: 4,
		Entries: []syncproto.AuthEntry{{ID: "D", Status: "Accepted"}}}, false)
	// A full list replaces the cloud's tokens, not the others.
	synctest.PublishMessage(t, broker, site, &syncproto.AuthList{Header: header(site, t0), Version: 6, Full: true,
		Entries: []syncproto.AuthEntry{{ID: "E", Status: "Accepted"}}}, false)
	e.waitStatus(t, "authorization list 6", func(s Status) bool { return s.AuthListVersion == 6 })
	tk = e.tokens(t)
	if _, ok := tk["D"]; ok || tk["E"].ID == "" || tk["B"].ID != "" || tk["C"].ID != "" || tk["STRANGER"].ID == "" {
		t.Fatalf("tokens after a delta on a wrong base and a full list: %+v", tk)
	}
	if !strings.Contains(e.logs.String(), "delta ignored") {
		t.Error("the delta on a wrong base was not logged")
	}

	// Commands: one published twice runs once; an expired one is reported
	// expired; bad arguments fail; a rejection is a rejection.
	cmd := func(id, kind, args string, deadline time.Time) *syncproto.Command {
		return &syncproto.Command{Header: header(site, t0), ID: id, Charger: "CP1", Command: kind, Args: json.RawMessage(args), Deadline: deadline}
	}
	later := e.clock.Now().Add(time.Hour)
	synctest.PublishMessage(t, broker, site, cmd("c1", "reset", `{"type":"Soft"}`, later), false)
	synctest.PublishMessage(t, broker, site, cmd("c1", "reset", `{"type":"Soft"}`, later), false)
	synctest.PublishMessage(t, broker, site, cmd("c2", "reset", `{"type":"Hard"}`, e.clock.Now().Add(-time.Second)), false)
	synctest.PublishMessage(t, broker, site, cmd("c3", "reset", `{"type":"Sideways"}`, later), false)
	results(t, sub, "c1", "c2", "c3")
	e.exec.mu.Lock()
	e.exec.status = "Rejected"
	e.exec.mu.Unlock()
	synctest.PublishMessage(t, broker, site, cmd("c4", "unlock", `{"connectorId":1}`, later), false)
	res := results(t, sub, "c1", "c2", "c3", "c4")
	if len(res["c1"]) != 1 || res["c1"][0].Status != syncproto.CommandAccepted || res["c1"][0].Action != "Action" {
		t.Errorf("c1 results %+v", res["c1"])
	}
	if res["c2"][0].Status != syncproto.CommandExpired || res["c4"][0].Status != syncproto.CommandRejected {
		t.Errorf("c2 %+v, c4 %+v", res["c2"][0], res["c4"][0])
	}
	if r := res["c3"][0]; r.Status != syncproto.CommandFailed || !strings.Contains(r.Error, `type: "Sideways" is not Soft or Hard`) {
		t.Errorf("c3 %+v", r)
	}
	calls := e.exec.executed()
	if len(calls) != 2 || calls[0].Command.ResetType != "Soft" || calls[1].Command.Kind != charging.Unlock {
		t.Errorf("executed %+v: want c1 once and c4", calls)
	}

	// After a restart the versions applied are announced, and the
	// command ids remembered.
	e.reopen(t)
	e.run(t)
	synctest.PublishMessage(t, broker, site, cmd("c1", "reset", `{"type":"Soft"}`, later), false)
	synctest.PublishMessage(t, broker, site, cmd("c5", "clear-cache", ``, later), false)
	msgs = sub.Wait(t, "a second birth", func(ms []synctest.Message) bool {
		return len(births(ms)) == 2
	})
	if b := births(msgs)[1]; b.DesiredVersion != 4 || b.AuthListVersion != 6 {
		t.Errorf("birth after restart %+v", b)
	}
	res = results(t, sub, "c5")
	if len(res["c1"]) != 1 || len(e.exec.executed()) != 3 {
		t.Errorf("c1 ran again after the restart: results %d, executed %+v", len(res["c1"]), e.exec.executed())
	}
	if res, err := e.svc.Boot(ctx, "CP1", charging.BootInfo{}); err != nil || res.Interval != 300*time.Second {
		t.Fatalf("heartbeat after restart (desired 4 set none valid): %+v, %v", res, err)
	}
}

func births(ms []synctest.Message) []*syncproto.Birth {
	var out []*syncproto.Birth
	for _, m := range ms {
		if b, ok := m.Msg.(*syncproto.Birth); ok {
			out = append(out, b)
		}
	}
	return out
}

func reported(ms []synctest.Message, version int64) *syncproto.Reported {
	for _, m := range ms {
		if r, ok := m.Msg.(*syncproto.Reported); ok && r.DesiredVersion == version {
			return r
		}
	}
	return nil
}

func hasReported(version int64) func([]synctest.Message) bool {
	return func(ms []synctest.Message) bool { return reported(ms, version) != nil }
}

// Bad downstream input is logged and changes nothing: garbage, a message
// for another site, another major version, an unknown kind, a message
// on another site's topic.
func TestBadDownstreamInput(t *testing.T) {
	broker := synctest.Broker(t)
	e := newEnv(t, broker, nil)
	site := e.opts.Site
	sub := e.subscribe(t, broker)
	e.run(t)
	e.waitStatus(t, "the link", func(s Status) bool { return s.Connected })
	sub.Wait(t, "the birth", func(ms []synctest.Message) bool { return len(births(ms)) == 1 })

	desired := func(s string, v int64) []byte {
		_, p, err := syncproto.Encode(s, &syncproto.Desired{Header: header(s, t0), Version: v,
			Settings: map[string]string{SettingUnknownTokens: "open"}})
		must(t, err)
		return p
	}
	other := synctest.Site(t)
	topic := syncproto.Topic(site, syncproto.KindDesired)
	synctest.Publish(t, broker, topic, []byte("garbage"), false)
	synctest.Publish(t, broker, topic, []byte{0, 1, 2, 3}, false)
	synctest.Publish(t, broker, topic, []byte(`{"v":"1.0","site":"`+other+`","ts":"2026-12-01T08:00:00Z","version":9,"settings":{}}`), false)
	synctest.Publish(t, broker, topic, []byte(`{"v":"2.0","site":"`+site+`","ts":"2026-12-01T08:00:00Z","version":9,"settings":{}}`), false)
	synctest.Publish(t, broker, syncproto.Prefix+site+"/down/firmware", []byte(`{}`), false)
	synctest.Publish(t, broker, syncproto.Topic(other, syncproto.KindDesired), desired(other, 9), false)
	synctest.Publish(t, broker, syncproto.Topic(site, syncproto.KindAuthList),
		[]byte(`{"v":"1.0","site":"`+site+`","ts":"2026-12-01T08:00:00Z","version":3,"full":true,"entries":[{"id":"X","status":"Sideways"}]}`), false)
	// A good message after the bad ones: once it is applied, they were handled.
	synctest.Publish(t, broker, topic, desired(site, 1), false)
	e.waitStatus(t, "the good desired configuration", func(s Status) bool { return s.DesiredVersion == 1 })

	st, err := e.client.Status()
	must(t, err)
	if st.Refused != 6 || st.AuthListVersion != 0 {
		t.Errorf("status %+v: want 6 refused (the other site's topic never arrives), no list", st)
	}
	if len(e.tokens(t)) != 0 {
		t.Errorf("tokens %+v", e.tokens(t))
	}
	logs := e.logs.String()
	for _, want := range []string{"neither JSON nor deflated JSON", "unsupported version", "unknown kind", "Sideways", other} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs do not mention %q", want)
		}
	}
	msgs := sub.Messages()
	if n := slices.IndexFunc(msgs, func(m synctest.Message) bool {
		r, ok := m.Msg.(*syncproto.Reported)
		return ok && r.DesiredVersion == 9
	}); n >= 0 {
		t.Errorf("a refused desired configuration was reported: %+v", msgs[n])
	}
}

// TestDesiredHeartbeatReachesConnectedChargers: a new heartbeat interval
// is set on the chargers connected now (1.6 and 2.x keys), again when it
// returns to the appliance's own, and not when it does not change.
func TestDesiredHeartbeatReachesConnectedChargers(t *testing.T) {
	broker := synctest.Broker(t)
	e := newEnv(t, broker, func(o *Options) {
		o.Local = map[string]string{SettingHeartbeatInterval: "300s", SettingUnknownTokens: "strict"}
	})
	site := e.opts.Site
	e.svc.ChargerConnected(ctx, "CP16", "ocpp1.6")
	e.svc.ChargerConnected(ctx, "CP201", "ocpp2.0.1")
	e.svc.ChargerConnected(ctx, "GONE", "ocpp1.6")
	e.svc.ChargerDisconnected(ctx, "GONE")
	sub := e.subscribe(t, broker)
	e.run(t)
	sets := func(n int) []string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			var got []string
			for _, c := range e.exec.executed() {
				if c.Command.Kind == charging.SetConfiguration {
					got = append(got, fmt.Sprintf("%s %s=%s", c.Charger, c.Command.Key, *c.Command.Value))
				}
			}
			if len(got) >= n {
				slices.Sort(got)
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("set-configuration calls %v, want %d\n%s", got, n, e.logs)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	desired := func(v int64, settings map[string]string) {
		synctest.PublishMessage(t, broker, site, &syncproto.Desired{Header: header(site, t0), Version: v, Settings: settings}, true)
		sub.Wait(t, fmt.Sprintf("the report of desired version %d", v), hasReported(v))
	}
	desired(1, map[string]string{SettingHeartbeatInterval: "60s"})
	if got := sets(2); !slices.Equal(got, []string{"CP16 HeartbeatInterval=60", "CP201 OCPPCommCtrlr/HeartbeatInterval=60"}) {
		t.Errorf("set %v", got)
	}
	desired(2, map[string]string{SettingHeartbeatInterval: "60s", SettingUnknownTokens: "open"})
	desired(3, map[string]string{})
	if got := sets(4); len(got) != 4 || !slices.Contains(got, "CP16 HeartbeatInterval=300") {
		t.Errorf("set %v: want the appliance's own 300 s back, and nothing for version 2", got)
	}
}

// TestDesiredNetwork: the desired "network" setting changes the access
// point safely and is reported without its password; a bad one is
// refused by its field; one whose check fails is rolled back and reported
// so; a desired configuration that stops setting it returns the
// appliance's own.
func TestDesiredNetwork(t *testing.T) {
	broker := synctest.Broker(t)
	local := network.DefaultSettings()
	local.AP.SSID, local.AP.Password = "Local-SSID", "local-passphrase"
	sim, err := network.NewSim(network.Options{Initial: local, CheckTimeout: 2 * time.Second, CheckInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	simCtx, stopSim := context.WithCancel(context.Background())
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Run(simCtx) }()
	defer func() { stopSim(); <-simDone }()
	e := newEnv(t, broker, func(o *Options) { o.Network, o.LocalNetwork = sim, local })
	site := e.opts.Site
	sub := e.subscribe(t, broker)
	e.run(t)
	desired := func(v int64, settings map[string]string) *syncproto.Reported {
		t.Helper()
		synctest.PublishMessage(t, broker, site, &syncproto.Desired{Header: header(site, t0), Version: v, Settings: settings}, true)
		return reported(sub.Wait(t, fmt.Sprintf("the report of desired version %d", v), hasReported(v)), v)
	}

	rep := desired(1, map[string]string{SettingNetwork: `{"ap":{"enabled":true,"ssid":"Cloud-SSID","password":"cloud-passphrase"},"uplinks":{"ethernet":{"enabled":true}}}`})
	if !rep.Applied || !strings.Contains(rep.Settings[SettingNetwork], `"ssid":"Cloud-SSID"`) || strings.Contains(rep.Settings[SettingNetwork], "cloud-passphrase") {
		t.Fatalf("reported %+v", rep)
	}
	if s := sim.Settings(); s.AP.SSID != "Cloud-SSID" || s.AP.Password != "cloud-passphrase" {
		t.Fatalf("settings in force %+v", s.Redacted())
	}

	rep = desired(2, map[string]string{SettingNetwork: `{"ap":{"enabled":true,"ssid":"` + strings.Repeat("x", 40) + `"}}`})
	if rep.Applied || !strings.Contains(rep.Error, "network: ap.ssid") || sim.Settings().AP.SSID != "Cloud-SSID" {
		t.Fatalf("a bad network: reported %+v, in force %q", rep, sim.Settings().AP.SSID)
	}

	sim.FailAP(func(ap network.APConfig) string {
		if ap.Channel == 11 {
			return "channel 11 refused"
		}
		return ""
	})
	rep = desired(3, map[string]string{SettingNetwork: `{"ap":{"enabled":true,"ssid":"Cloud-SSID","band":"bg","channel":11},"uplinks":{"ethernet":{"enabled":true}}}`})
	if rep.Applied || !strings.Contains(rep.Error, "network: rolled-back") || sim.Settings().AP.Channel == 11 {
		t.Fatalf("a failing change: reported %+v, in force %+v", rep, sim.Settings().AP)
	}

	rep = desired(4, map[string]string{})
	if !rep.Applied || sim.Settings().AP.SSID != "Local-SSID" {
		t.Fatalf("back to the appliance's own: reported %+v, in force %q", rep, sim.Settings().AP.SSID)
	}
}

// chargerCommands waits until cond holds of the commands executed so far,
// by charger: what the site asked each of them, in order, as
// "set-power-limit 11000", "clear-power-limit" or "set-configuration
// key=value".
func (e *env) chargerCommands(t *testing.T, what string, cond func(map[charging.ChargerID][]string) bool) map[charging.ChargerID][]string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := map[charging.ChargerID][]string{}
		for _, c := range e.exec.executed() {
			s := string(c.Command.Kind)
			switch {
			case c.Command.LimitW != nil:
				s += fmt.Sprintf(" %d", *c.Command.LimitW)
			case c.Command.Value != nil:
				s += fmt.Sprintf(" %s=%s", c.Command.Key, *c.Command.Value)
			}
			got[c.Charger] = append(got[c.Charger], s)
		}
		if cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: chargers got %v\n%s", what, got, e.logs)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not timing anything
	}
}

// lastIs is a condition of chargerCommands: each charger's last command
// is the one given.
func lastIs(want map[charging.ChargerID]string) func(map[charging.ChargerID][]string) bool {
	return func(got map[charging.ChargerID][]string) bool {
		for id, w := range want {
			if n := len(got[id]); n == 0 || got[id][n-1] != w {
				return false
			}
		}
		return true
	}
}

// plug connects a charger as the CSMS reports it: to the domain, then
// to the client; unplug disconnects it.
func (e *env) plug(id charging.ChargerID, protocol string) {
	e.svc.ChargerConnected(ctx, id, protocol)
	e.client.ChargerConnected(ctx, id, protocol)
}

func (e *env) unplug(id charging.ChargerID) {
	e.svc.ChargerDisconnected(ctx, id)
	e.client.ChargerDisconnected(ctx, id)
}

// TestSitePowerLimitShared: the desired site power limit is divided
// equally among the connected chargers, divided anew as they come and
// go; lifting it clears the profile from the chargers connected and,
// when it returns, from one that held it while away. Bad values are
// reported by setting and change nothing.
func TestSitePowerLimitShared(t *testing.T) {
	broker := synctest.Broker(t)
	e := newEnv(t, broker, nil)
	site := e.opts.Site
	e.plug("A", "ocpp1.6")
	e.plug("B", "ocpp2.0.1")
	sub := e.subscribe(t, broker)
	e.run(t)
	desired := func(v int64, settings map[string]string) *syncproto.Reported {
		t.Helper()
		synctest.PublishMessage(t, broker, site, &syncproto.Desired{Header: header(site, t0), Version: v, Settings: settings}, true)
		return reported(sub.Wait(t, fmt.Sprintf("the report of desired version %d", v), hasReported(v)), v)
	}
	if rep := desired(1, map[string]string{SettingSitePowerLimit: "22000"}); !rep.Applied || rep.Settings[SettingSitePowerLimit] != "22000" {
		t.Fatalf("reported %+v", rep)
	}
	e.chargerCommands(t, "11000 W each", lastIs(map[charging.ChargerID]string{"A": "set-power-limit 11000", "B": "set-power-limit 11000"}))

	e.plug("C", "ocpp2.1")
	e.chargerCommands(t, "7333 W each", lastIs(map[charging.ChargerID]string{
		"A": "set-power-limit 7333", "B": "set-power-limit 7333", "C": "set-power-limit 7333"}))
	e.unplug("B")
	got := e.chargerCommands(t, "11000 W each for the two left", lastIs(map[charging.ChargerID]string{
		"A": "set-power-limit 11000", "C": "set-power-limit 11000"}))
	if n := len(got["B"]); got["B"][n-1] != "set-power-limit 7333" {
		t.Errorf("B, disconnected, got %v", got["B"])
	}

	rep := desired(2, map[string]string{SettingSitePowerLimit: "lots", SettingMeterInterval: "90m"})
	if rep.Applied || !strings.Contains(rep.Error, `site_power_limit: "lots" is not a whole number of watts`) ||
		!strings.Contains(rep.Error, "meter_interval: 1h30m0s is not between 1s and 1h0m0s") {
		t.Errorf("reported %+v", rep)
	}
	if _, ok := rep.Settings[SettingSitePowerLimit]; ok {
		t.Errorf("reported %+v: a refused value recorded as applied", rep)
	}

	// Lifting the limit clears the chargers connected, and B when it
	// comes back: it held its 7333 W when it left.
	desired(3, map[string]string{})
	e.chargerCommands(t, "the limit cleared", lastIs(map[charging.ChargerID]string{"A": "clear-power-limit", "C": "clear-power-limit"}))
	e.plug("B", "ocpp2.0.1")
	e.chargerCommands(t, "B cleared on its return", lastIs(map[charging.ChargerID]string{"B": "clear-power-limit"}))
}

// TestDesiredMeterInterval: the desired meter interval is set on the
// chargers connected (each version's key), and on one that boots later.
func TestDesiredMeterInterval(t *testing.T) {
	broker := synctest.Broker(t)
	e := newEnv(t, broker, nil)
	site := e.opts.Site
	e.plug("CP16", "ocpp1.6")
	e.plug("CP201", "ocpp2.0.1")
	sub := e.subscribe(t, broker)
	e.run(t)
	synctest.PublishMessage(t, broker, site, &syncproto.Desired{Header: header(site, t0), Version: 1,
		Settings: map[string]string{SettingMeterInterval: "30s"}}, true)
	if rep := reported(sub.Wait(t, "the report", hasReported(1)), 1); !rep.Applied || rep.Settings[SettingMeterInterval] != "30s" {
		t.Fatalf("reported %+v", rep)
	}
	e.chargerCommands(t, "the interval on the connected chargers", lastIs(map[charging.ChargerID]string{
		"CP16": "set-configuration MeterValueSampleInterval=30", "CP201": "set-configuration SampledDataCtrlr/TxUpdatedInterval=30"}))
	e.client.ChargerBooted(ctx, "LATER", "ocpp2.1")
	got := e.chargerCommands(t, "the interval on a charger that booted later", lastIs(map[charging.ChargerID]string{
		"LATER": "set-configuration SampledDataCtrlr/TxUpdatedInterval=30"}))
	for id, cmds := range got {
		if slices.ContainsFunc(cmds, func(c string) bool { return strings.Contains(c, "power-limit") }) {
			t.Errorf("%s got %v: no power limit is set", id, cmds)
		}
	}
}
