package cloudsync

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/network"
	"github.com/constellation-ev/constellation/appliance/store"
	"github.com/constellation-ev/constellation/syncproto"
)

// TokenSource is the IDToken.Source of the tokens the cloud's
// authorization list puts in the cache.
const TokenSource = "cloud"

// Names of the settings a desired configuration may set.
const (
	// SettingHeartbeatInterval is the interval given to chargers at boot,
	// a Go duration ("300s").
	SettingHeartbeatInterval = "heartbeat_interval"
	// SettingUnknownTokens is the policy for tokens not in the cache:
	// strict, allowlist or open.
	SettingUnknownTokens = "unknown_tokens"
	// SettingNetwork is the access point and the uplinks: a JSON object
	// of network.Settings (a password left out keeps the one in force),
	// changed safely: applied, checked, rolled back if the check fails.
	SettingNetwork = "network"
	// SettingMeterInterval is the interval of the chargers' sampled meter
	// values during a transaction, a Go duration of whole seconds from 1s
	// to 1h; "": the chargers keep their own.
	SettingMeterInterval = "meter_interval"
	// SettingSitePowerLimit is the site's power limit in whole watts,
	// shared equally among the connected chargers; "": no limit.
	SettingSitePowerLimit = "site_power_limit"
)

// settings apply each known setting: to the domain, or to the chargers
// (sitesettings.go).
var settings = map[string]func(c *Client, v string) error{
	SettingHeartbeatInterval: func(c *Client, v string) error {
		dur, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration", v)
		}
		return c.domain.SetHeartbeatInterval(dur)
	},
	SettingUnknownTokens: func(c *Client, v string) error {
		return c.domain.SetUnknownTokenPolicy(charging.PolicyMode(v))
	},
	SettingMeterInterval: func(c *Client, v string) error {
		d, err := parseMeterInterval(v)
		if err == nil {
			c.meterInterval.Store(int64(d))
		}
		return err
	},
	SettingSitePowerLimit: func(c *Client, v string) error {
		w, limited, err := parsePowerLimit(v)
		if err == nil {
			c.power.set(w, limited)
		}
		return err
	},
}

// emptyByDefault are the settings whose "" is their default: applied when
// neither the desired configuration nor the appliance's own sets them.
var emptyByDefault = map[string]bool{SettingMeterInterval: true, SettingSitePowerLimit: true}

// onPublish receives every downstream message. It is applied before the
// broker gets its PUBACK, so a message is lost to a crash only if it is
// applied already, and one delivered again changes nothing (versions and
// command ids).
func (c *Client) onPublish(pr paho.PublishReceived) (bool, error) {
	c.handle(c.runCtx, pr.Packet.Topic, pr.Packet.Payload)
	return true, nil
}

// handle applies one downstream message. Bad input (malformed, another
// site's, another version's) is logged and counted, and changes nothing.
func (c *Client) handle(ctx context.Context, topic string, payload []byte) {
	if len(payload) == 0 {
		// A retained message being cleared: nothing to apply.
		c.log.Debug("empty downstream message ignored", "topic", topic)
		return
	}
	m, err := syncproto.Decode(topic, payload)
	if err == nil && m.Head().Site != c.site {
		err = fmt.Errorf("message for site %q, this is %q", m.Head().Site, c.site)
	}
	if err != nil {
		c.mu.Lock()
		c.refused++
		c.mu.Unlock()
		c.log.Warn("downstream message refused", "topic", topic, "bytes", len(payload), "err", err)
		return
	}
	switch m := m.(type) {
	case *syncproto.Desired:
		err = c.applyDesired(ctx, m)
	case *syncproto.AuthList:
		err = c.applyAuthList(ctx, m)
	case *syncproto.Command:
		err = c.command(ctx, m)
	default: // upstream kinds never arrive on a downstream topic (Decode checks)
		err = fmt.Errorf("unexpected %s message", m.Kind())
	}
	if err != nil {
		c.fail("apply "+string(m.Kind()), err)
	}
}

// applyDesired applies a desired configuration newer than the one applied
// and reports the outcome through the outbox. A known setting the desired
// configuration leaves out returns to the appliance's own value.
func (c *Client) applyDesired(ctx context.Context, m *syncproto.Desired) error {
	var cur applied
	if err := c.st.View(func(tx *bbolt.Tx) (err error) { cur, err = readDesired(tx); return err }); err != nil {
		return err
	}
	if m.Version <= cur.Version {
		c.log.Debug("desired configuration already applied", "version", m.Version, "applied", cur.Version)
		return nil
	}
	meterWas := c.meterInterval.Load()
	done, problems := c.applySettings(m.Settings)
	if was, now := c.effective(cur.Settings, SettingHeartbeatInterval), c.effective(done, SettingHeartbeatInterval); now != was {
		if d, err := time.ParseDuration(now); err == nil {
			// Chargers get the interval in the BootNotification answer;
			// those connected now are told at once.
			c.cmds.Go(func() { c.pushConfig(ctx, heartbeatSetting, seconds(d)) })
		}
	}
	if now := time.Duration(c.meterInterval.Load()); now != time.Duration(meterWas) && now != 0 {
		// Later chargers get it when they connect or boot.
		c.cmds.Go(func() { c.pushConfig(ctx, meterIntervalSetting, seconds(now)) })
	}
	for _, name := range slices.Sorted(maps.Keys(m.Settings)) {
		if settings[name] == nil && name != SettingNetwork {
			problems = append(problems, name+": unknown setting")
		}
	}
	prevNetwork, hadNetwork := cur.Settings[SettingNetwork]
	// What is in force stays recorded when a change is refused or fails,
	// so that a later version without the setting still restores the
	// appliance's own.
	keep := func() {
		if hadNetwork {
			done[SettingNetwork] = prevNetwork
		}
	}
	_, setNetwork := m.Settings[SettingNetwork]
	want, change, problem := c.desiredNetwork(m.Settings, hadNetwork)
	if problem != "" {
		problems = append(problems, problem)
		keep()
	}
	if !change {
		if setNetwork && problem == "" {
			done[SettingNetwork] = redactedJSON(want) // in force already
		}
		return c.finishDesired(ctx, m.Version, done, problems)
	}
	// A network change takes up to its check's timeout: it runs beside
	// the link, and the report follows its result.
	c.cmds.Go(func() {
		res, err := c.network.Apply(ctx, want)
		switch {
		case err != nil && res.Outcome == "":
			problems = append(problems, "network: "+err.Error())
			keep()
		case res.Outcome != network.OutcomeApplied:
			problems = append(problems, fmt.Sprintf("network: %s: %s", res.Outcome, res.Reason))
			keep()
		case setNetwork:
			done[SettingNetwork] = redactedJSON(want)
		}
		if err := c.finishDesired(ctx, m.Version, done, problems); err != nil {
			c.fail("apply desired", err)
		}
	})
	return nil
}

// redactedJSON is network settings as reported upstream: without their
// passwords.
func redactedJSON(s network.Settings) string {
	b, _ := json.Marshal(s.Redacted()) // plain data: Marshal cannot fail
	return string(b)
}

// finishDesired records desired version as applied with the settings
// done, and reports it with the problems, unless a newer version was
// recorded meanwhile.
func (c *Client) finishDesired(ctx context.Context, version int64, done map[string]string, problems []string) error {
	c.desiredMu.Lock()
	defer c.desiredMu.Unlock()
	rep := &syncproto.Reported{DesiredVersion: version, Applied: len(problems) == 0, Settings: done,
		Error: strings.Join(problems, "; ")}
	stale := false
	err := c.st.Update(ctx, func(tx *bbolt.Tx) error {
		cur, err := readDesired(tx)
		if err != nil {
			return err
		}
		if stale = cur.Version >= version; stale {
			return nil
		}
		data, err := json.Marshal(applied{Version: version, Settings: done})
		if err != nil {
			return err
		}
		if err := tx.Bucket(bkState).Put(keyDesired, data); err != nil {
			return err
		}
		return c.outbox.append(tx, rep, false)
	})
	if err != nil {
		return fmt.Errorf("store desired version %d: %w", version, err)
	}
	if stale {
		c.log.Info("desired configuration superseded before its network change finished", "version", version)
		return nil
	}
	c.log.Info("desired configuration applied", "version", version, "applied", rep.Applied, "problems", rep.Error)
	return nil
}

// desiredNetwork returns the network settings desired calls for, whether
// they differ from those in force (change), or why it cannot have them.
// When desired stops setting them (had: the version before did), the
// appliance's own return; when neither did, the local API's changes stay.
func (c *Client) desiredNetwork(desired map[string]string, had bool) (want network.Settings, change bool, problem string) {
	v, set := desired[SettingNetwork]
	switch {
	case c.network == nil && set:
		return want, false, "network: the appliance does not manage its network (network.driver is none)"
	case c.network == nil, !set && !had:
		return want, false, ""
	}
	cur := c.network.Settings()
	want = c.localNet.Normalize()
	if set {
		// Over the appliance's own settings: a desired setting may name
		// only what it changes (the access point's name, say).
		s, err := network.DecodeOver([]byte(v), want, cur)
		if err != nil {
			return want, false, "network: " + strings.ReplaceAll(network.Problems(err), "\n", "; ")
		}
		want = s
	}
	return want, want != cur, ""
}

// effective is the value of setting name under the desired settings
// applied: theirs, else the appliance's own.
func (c *Client) effective(applied map[string]string, name string) string {
	if v, ok := applied[name]; ok {
		return v
	}
	return c.local[name]
}

// applySettings applies every known setting: desired's value, else the
// appliance's own. It returns the desired values applied and what could
// not be.
func (c *Client) applySettings(desired map[string]string) (done map[string]string, problems []string) {
	done = map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(settings)) {
		v, fromCloud := desired[name]
		if !fromCloud {
			var ok bool
			if v, ok = c.local[name]; !ok && !emptyByDefault[name] {
				continue
			}
		}
		if err := settings[name](c, v); err != nil {
			problems = append(problems, name+": "+strings.TrimPrefix(err.Error(), charging.ErrInvalid.Error()+": "))
			continue
		}
		if fromCloud {
			done[name] = v
		}
	}
	return done, problems
}

// restoreDesired applies the stored desired settings at start, so the
// cloud's configuration holds from boot on, before any link.
func (c *Client) restoreDesired() error {
	var cur applied
	if err := c.st.View(func(tx *bbolt.Tx) (err error) { cur, err = readDesired(tx); return err }); err != nil {
		return err
	}
	if cur.Version == 0 {
		return nil
	}
	if _, problems := c.applySettings(cur.Settings); len(problems) > 0 {
		c.log.Warn("restoring desired configuration", "version", cur.Version, "problems", strings.Join(problems, "; "))
	}
	return nil
}

// applyAuthList applies an authorization list to the cache: a full list
// replaces the cloud's tokens, a delta applies on top of exactly its base
// version. Tokens other sources put in the cache (the operator, a policy)
// are kept unless the list names them.
func (c *Client) applyAuthList(ctx context.Context, m *syncproto.AuthList) error {
	var cur int64
	if err := c.st.View(func(tx *bbolt.Tx) error { cur = readAuthVersion(tx); return nil }); err != nil {
		return err
	}
	switch {
	case m.Full && m.Version <= cur:
		c.log.Debug("authorization list already applied", "version", m.Version, "applied", cur)
		return nil
	case !m.Full && m.BaseVersion != cur:
		c.log.Warn("authorization list delta ignored: its base is not the version applied",
			"version", m.Version, "base", m.BaseVersion, "applied", cur)
		return nil
	}
	have, err := c.domain.Tokens(ctx)
	if err != nil {
		return err
	}
	byID := make(map[string]charging.IDToken, len(have))
	for _, t := range have {
		byID[t.ID] = t
	}
	var puts []charging.IDToken
	listed := make(map[string]bool, len(m.Entries))
	for _, e := range m.Entries {
		listed[e.ID] = true
		t := charging.IDToken{ID: e.ID, Status: charging.AuthStatus(e.Status), Expiry: e.Expiry, ParentID: e.Parent, Source: TokenSource}
		if old, ok := byID[e.ID]; !ok || old.Status != t.Status || !old.Expiry.Equal(t.Expiry) || old.ParentID != t.ParentID || old.Source != t.Source {
			puts = append(puts, t)
		}
	}
	var dels []string
	if m.Full {
		for _, t := range have {
			if t.Source == TokenSource && !listed[t.ID] {
				dels = append(dels, t.ID)
			}
		}
	} else {
		for _, id := range m.Removed {
			if t, ok := byID[id]; ok && t.Source == TokenSource && !listed[id] {
				dels = append(dels, id)
			}
		}
	}
	// Concurrent writes share the store's group commits: a list of
	// thousands of tokens costs tens of fsyncs, not thousands.
	if err := parallel(ctx, puts, func(t charging.IDToken) error { return c.domain.PutToken(ctx, t) }); err != nil {
		return fmt.Errorf("authorization list %d: %w", m.Version, err)
	}
	if err := parallel(ctx, dels, func(id string) error { return c.domain.DeleteToken(ctx, id) }); err != nil {
		return fmt.Errorf("authorization list %d: %w", m.Version, err)
	}
	err = c.st.Update(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bkState).Put(keyAuthList, store.U64(uint64(m.Version)))
	})
	if err != nil {
		return fmt.Errorf("store authorization list version %d: %w", m.Version, err)
	}
	c.log.Info("authorization list applied", "version", m.Version, "full", m.Full, "written", len(puts), "deleted", len(dels))
	return nil
}

// parallel runs fn for every item, a few at a time, and returns the
// first error.
func parallel[T any](ctx context.Context, items []T, fn func(T) error) error {
	const workers = 32
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan T)
	)
	for range min(workers, len(items)) {
		wg.Go(func() {
			for it := range next {
				if err := fn(it); err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		next <- it
	}
	close(next)
	wg.Wait()
	return cmpErr(first, ctx.Err())
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// command executes a cloud command once: a command id handled before is
// ignored, a command past its deadline is reported expired, one whose
// arguments do not parse is reported failed. The id is recorded as
// executing before the charger gets the command, so a crash never makes
// it run twice.
func (c *Client) command(ctx context.Context, m *syncproto.Command) error {
	now := c.clock.Now()
	var (
		run  *charging.Command
		seen bool
	)
	err := c.st.Update(ctx, func(tx *bbolt.Tx) error {
		run, seen = nil, false
		if tx.Bucket(bkCommands).Get([]byte(m.ID)) != nil {
			seen = true
			return nil
		}
		finish := func(status, msg string) error {
			if err := putCommand(tx, m.ID, commandDone, now); err != nil {
				return err
			}
			return c.outbox.append(tx, &syncproto.CommandResult{CommandID: m.ID, Status: status, Error: msg}, false)
		}
		if now.After(m.Deadline) {
			return finish(syncproto.CommandExpired, "")
		}
		cmd, err := charging.ParseCommand(m.Command, m.Args)
		if err != nil {
			return finish(syncproto.CommandFailed, err.Error())
		}
		run = &cmd
		return putCommand(tx, m.ID, commandExecuting, now)
	})
	switch {
	case err != nil:
		return fmt.Errorf("command %s: %w", m.ID, err)
	case seen:
		c.log.Debug("command already handled", "command", m.ID)
	case run == nil:
		c.log.Info("command not executed", "command", m.ID, "kind", m.Command, "charger", m.Charger)
	default:
		c.cmds.Go(func() { c.execute(ctx, m, *run) })
	}
	return nil
}

// execute sends cmd to the charger and queues its result.
func (c *Client) execute(ctx context.Context, m *syncproto.Command, cmd charging.Command) {
	c.log.Info("command from the cloud", "command", m.ID, "kind", cmd.Kind, "charger", m.Charger)
	reply, err := c.exec.Execute(ctx, charging.ChargerID(m.Charger), cmd)
	res := &syncproto.CommandResult{CommandID: m.ID, Status: syncproto.CommandFailed, Action: reply.Action}
	if err != nil {
		res.Error = err.Error()
	} else {
		res.Status = statusOf(reply.Status)
		if res.Reply, err = json.Marshal(reply); err != nil {
			res.Reply, res.Error = nil, err.Error()
		}
	}
	// The outcome is recorded even while shutting down: it happened.
	err = c.st.Update(context.WithoutCancel(ctx), func(tx *bbolt.Tx) error {
		if err := putCommand(tx, m.ID, commandDone, c.clock.Now()); err != nil {
			return err
		}
		return c.outbox.append(tx, res, false)
	})
	if err != nil {
		c.log.Error("recording a command's result", "command", m.ID, "err", err)
	}
}

// accepted lists the charger answers that mean it does (or did) what
// was asked; every other answer is a rejection.
var accepted = map[string]bool{"Accepted": true, "Unlocked": true, "Scheduled": true, "RebootRequired": true, "AcceptedCanceled": true}

func statusOf(chargerStatus string) string {
	if accepted[chargerStatus] {
		return syncproto.CommandAccepted
	}
	return syncproto.CommandRejected
}

// recoverCommands reports the commands a crash interrupted: their outcome
// is unknown, so they are reported failed, never run again.
func (c *Client) recoverCommands(ctx context.Context) error {
	var ids []string
	err := c.st.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bkCommands).ForEach(func(k, v []byte) error {
			var s commandState
			if json.Unmarshal(v, &s) == nil && s.State == commandExecuting {
				ids = append(ids, string(k))
			}
			return nil
		})
	})
	if err != nil || len(ids) == 0 {
		return err
	}
	now := c.clock.Now()
	return c.st.Update(ctx, func(tx *bbolt.Tx) error {
		for _, id := range ids {
			if err := putCommand(tx, id, commandDone, now); err != nil {
				return err
			}
			err := c.outbox.append(tx, &syncproto.CommandResult{CommandID: id, Status: syncproto.CommandFailed,
				Error: "interrupted by an appliance restart: the charger may or may not have done it; not retried"}, false)
			if err != nil {
				return err
			}
		}
		return nil
	})
}
