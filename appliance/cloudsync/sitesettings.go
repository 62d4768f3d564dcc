package cloudsync

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
)

// The desired settings that live on the chargers themselves (the meter
// interval, the site's power limit) are given to every connected charger
// when they change, and to each charger when it connects or boots: the
// Client is a connection and boot observer of the CSMS for that.

// chargerSetting is a configuration value the site sets on its chargers:
// what the logs call it and its key in each protocol.
type chargerSetting struct {
	name string
	// keys are by protocol; "" is the key of every 2.x version (a device
	// model key, see charging.ConfigKey).
	keys map[string]string
}

var (
	heartbeatSetting = chargerSetting{"heartbeat interval",
		map[string]string{"ocpp1.6": "HeartbeatInterval", "": "OCPPCommCtrlr/HeartbeatInterval"}}
	meterIntervalSetting = chargerSetting{"meter interval",
		map[string]string{"ocpp1.6": "MeterValueSampleInterval", "": "SampledDataCtrlr/TxUpdatedInterval"}}
)

// key is the setting's key for a charger of protocol.
func (s chargerSetting) key(protocol string) string {
	if k, ok := s.keys[protocol]; ok {
		return k
	}
	return s.keys[""]
}

// Bounds of the meter_interval setting.
const (
	minMeterInterval = time.Second
	maxMeterInterval = time.Hour
)

// parseMeterInterval reads a meter_interval value: 0 for "" (the chargers
// keep theirs), else whole seconds from 1s to 1h.
func parseMeterInterval(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a duration", v)
	case d < minMeterInterval || d > maxMeterInterval:
		return 0, fmt.Errorf("%v is not between %v and %v", d, minMeterInterval, maxMeterInterval)
	case d%time.Second != 0:
		return 0, fmt.Errorf("%v is not a whole number of seconds", d)
	}
	return d, nil
}

// parsePowerLimit reads a site_power_limit value: limited false for ""
// (no limit), else a whole number of watts that a charging profile
// carries (0 to 2147483647).
func parsePowerLimit(v string) (watts int, limited bool, err error) {
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(v, 10, 31)
	if err != nil {
		return 0, false, fmt.Errorf("%q is not a whole number of watts between 0 and %d", v, math.MaxInt32)
	}
	return int(n), true, nil
}

// seconds is d as a configuration value: whole seconds.
func seconds(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

// pushConfig sets a configuration value on every connected charger,
// under the key of its protocol.
func (c *Client) pushConfig(ctx context.Context, s chargerSetting, value string) {
	chargers, err := c.domain.Chargers(ctx)
	if err != nil {
		c.log.Warn(s.name+" not sent to the chargers", "err", err)
		return
	}
	for _, ch := range chargers {
		if ch.Connected {
			c.setConfig(ctx, ch.ID, ch.Protocol, s, value)
		}
	}
}

// setConfig sets a configuration value on one charger. A charger that
// refuses or fails is logged; it gets the value again when it boots or
// reconnects.
func (c *Client) setConfig(ctx context.Context, id charging.ChargerID, protocol string, s chargerSetting, value string) {
	reply, err := c.exec.Execute(ctx, id, charging.Command{Kind: charging.SetConfiguration, Key: s.key(protocol), Value: &value})
	c.answered(ctx, s.name+" "+value, id, reply, err, "Accepted", "RebootRequired")
}

// answered logs a charger's answer to what the site asked of it and
// reports whether the charger did it: no error, and a status among ok.
func (c *Client) answered(ctx context.Context, what string, id charging.ChargerID, reply charging.CommandReply, err error, ok ...string) bool {
	switch {
	case err != nil:
		c.log.WarnContext(ctx, what+": failed", "charger", id, "err", err)
		return false
	case !slices.Contains(ok, reply.Status):
		c.log.WarnContext(ctx, what+": refused by the charger", "charger", id, "status", reply.Status)
		return false
	}
	c.log.InfoContext(ctx, what+": done", "charger", id, "status", reply.Status)
	return true
}

// ChargerConnected gives a charger that (re)connects the site's settings
// (see ChargerBooted).
func (c *Client) ChargerConnected(_ context.Context, id charging.ChargerID, protocol string) {
	c.chargerArrived(id, protocol)
}

// ChargerBooted gives a charger that booted the site's settings: the
// meter interval, if one is set, and its share of the site's power
// limit, shared anew.
func (c *Client) ChargerBooted(_ context.Context, id charging.ChargerID, protocol string) {
	c.chargerArrived(id, protocol)
}

// ChargerDisconnected shares the site's power limit anew among the
// chargers still connected.
func (c *Client) ChargerDisconnected(context.Context, charging.ChargerID) {
	c.power.changed(nil)
}

// chargerArrived sends a charger the site's settings; the CSMS calls it
// in its connection hooks, so the work runs apart. Before Run, it only
// notes the charger: Run gives the connected chargers their settings
// when it starts.
func (c *Client) chargerArrived(id charging.ChargerID, protocol string) {
	c.power.changed(&id)
	d := time.Duration(c.meterInterval.Load())
	if d == 0 {
		return
	}
	c.siteMu.Lock()
	defer c.siteMu.Unlock()
	if ctx := c.siteCtx; ctx != nil {
		c.siteWork.Go(func() { c.setConfig(ctx, id, protocol, meterIntervalSetting, seconds(d)) })
	}
}

// runSiteSettings gives the chargers the site's settings until ctx ends:
// those connected already at once, later ones as they arrive. It
// returns a function that stops it and waits for its work.
func (c *Client) runSiteSettings(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	c.siteMu.Lock()
	c.siteCtx = ctx
	if d := time.Duration(c.meterInterval.Load()); d != 0 {
		c.siteWork.Go(func() { c.pushConfig(ctx, meterIntervalSetting, seconds(d)) })
	}
	c.siteWork.Go(func() { c.sharePower(ctx) })
	c.siteMu.Unlock()
	return func() {
		c.siteMu.Lock()
		c.siteCtx = nil
		c.siteMu.Unlock()
		cancel()
		c.siteWork.Wait()
	}
}

// heldUnknown is a charger's share when the appliance does not know
// whether it holds the appliance's profile (it refused or failed).
const heldUnknown = -1

// powerShare is the site's static load management: the site's power
// limit divided equally among the connected chargers (whole watts,
// rounded down), each share a charger-wide maximum profile
// (charging.SetPowerLimit). The limit is shared anew when it changes and
// when a charger connects, boots or disconnects; lifting it clears the
// profile (charging.ClearPowerLimit) from the chargers that may hold it,
// those connected at once, the others when they reconnect. A charger
// that refuses or fails gets its share again at the next change.
type powerShare struct {
	wake chan struct{} // a change to share; capacity 1

	mu      sync.Mutex
	limitW  int
	limited bool
	lifted  bool                        // lifted since the last sharing
	renew   map[charging.ChargerID]bool // chargers to send their share again
	// held is, per charger, the share it accepted (W) or heldUnknown; a
	// disconnected charger keeps its entry, so a lifted limit is cleared
	// when it returns.
	held map[charging.ChargerID]int
}

func newPowerShare() *powerShare {
	return &powerShare{wake: make(chan struct{}, 1), renew: map[charging.ChargerID]bool{}, held: map[charging.ChargerID]int{}}
}

// set changes the site's limit (limited false: none).
func (p *powerShare) set(watts int, limited bool) {
	p.mu.Lock()
	if p.limited && !limited {
		p.lifted = true
	}
	p.limitW, p.limited = watts, limited
	p.mu.Unlock()
	p.changed(nil)
}

// changed asks for the limit to be shared anew, sent again to charger
// if not nil.
func (p *powerShare) changed(charger *charging.ChargerID) {
	if charger != nil {
		p.mu.Lock()
		p.renew[*charger] = true
		p.mu.Unlock()
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// sharePower shares the site's power limit at every change until ctx
// ends; changes that come while it shares are shared together next.
func (c *Client) sharePower(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.power.wake:
			c.share(ctx)
		}
	}
}

// share gives each connected charger its share of the limit, or clears
// the profile of those that may hold it when there is none.
func (c *Client) share(ctx context.Context) {
	p := c.power
	p.mu.Lock()
	limitW, limited, lifted, renew := p.limitW, p.limited, p.lifted, p.renew
	p.lifted, p.renew = false, map[charging.ChargerID]bool{}
	p.mu.Unlock()
	chargers, err := c.domain.Chargers(ctx)
	if err != nil {
		c.log.WarnContext(ctx, "site power limit not shared; it is at the next change", "err", err)
		return
	}
	chargers = slices.DeleteFunc(chargers, func(ch charging.Charger) bool { return !ch.Connected })
	if !limited {
		unknown := heldUnknown
		var clear []charging.ChargerID
		p.mu.Lock()
		for _, ch := range chargers {
			if _, held := p.held[ch.ID]; held || lifted {
				clear = append(clear, ch.ID)
			}
		}
		p.mu.Unlock()
		_ = parallel(ctx, clear, func(id charging.ChargerID) error {
			reply, err := c.exec.Execute(ctx, id, charging.Command{Kind: charging.ClearPowerLimit})
			if c.answered(ctx, "site power limit cleared", id, reply, err, "Accepted", "Unknown") {
				p.record(id, nil)
			} else {
				p.record(id, &unknown)
			}
			return nil
		})
		return
	}
	if len(chargers) == 0 {
		return
	}
	shareW := limitW / len(chargers)
	// Lower first, then raise, so that the site stays under its limit
	// while the shares move; a charger without the profile has no limit.
	var lower, raise []charging.ChargerID
	p.mu.Lock()
	for _, ch := range chargers {
		h, held := p.held[ch.ID]
		switch {
		case held && h == shareW && !renew[ch.ID]:
		case !held || h == heldUnknown || h > shareW:
			lower = append(lower, ch.ID)
		default:
			raise = append(raise, ch.ID)
		}
	}
	p.mu.Unlock()
	send := func(id charging.ChargerID) error {
		w := shareW
		reply, err := c.exec.Execute(ctx, id, charging.Command{Kind: charging.SetPowerLimit, LimitW: &w})
		if !c.answered(ctx, fmt.Sprintf("site power limit share %d W", w), id, reply, err, "Accepted") {
			w = heldUnknown
		}
		p.record(id, &w)
		return nil
	}
	_ = parallel(ctx, lower, send)
	_ = parallel(ctx, raise, send)
}

// record notes the share a charger holds (W or heldUnknown); nil: none.
func (p *powerShare) record(id charging.ChargerID, held *int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if held == nil {
		delete(p.held, id)
		return
	}
	p.held[id] = *held
}
