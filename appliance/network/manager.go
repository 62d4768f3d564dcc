package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
)

// Manager is the appliance's network control as the app uses it.
type Manager interface {
	// Status returns the last known state; it never waits for
	// NetworkManager, so health checks stay fast when it hangs.
	Status(ctx context.Context) Status
	// Apply makes s the network settings as a safe change: applied,
	// checked, and rolled back to the last good settings if the check
	// fails. The result is also kept in Status.LastChange.
	Apply(ctx context.Context, s Settings) (ChangeResult, error)
	// Run keeps the settings in force until ctx ends, surviving
	// NetworkManager's absence and restarts; it returns nil when ctx ends.
	Run(ctx context.Context) error
}

// Backend is the network service a Controller drives: NetworkManager
// over D-Bus (package nm) or the simulation of dev mode.
type Backend interface {
	// Connect reaches the service. The channel receives a value whenever
	// its state may have changed (signals); it is replaced at every
	// Connect. An error wrapping ErrUnavailable means the service is not
	// there; the Controller retries with backoff.
	Connect(ctx context.Context) (<-chan struct{}, error)
	// Close drops the connection; Connect may follow.
	Close()
	// Reconcile makes the appliance's own profiles match s: creates the
	// missing, corrects the changed, removes the disabled, and activates
	// the access point. It never touches profiles it does not own. A
	// failed activation is not an error here: Observe reports it.
	Reconcile(ctx context.Context, s Settings) error
	// Observe reads the state of the access point and the uplink.
	Observe(ctx context.Context, s Settings) (Observation, error)
}

// Observation is what a Backend sees of the network.
type Observation struct {
	AP     APStatus
	Uplink UplinkStatus
}

// Defaults of Options.
const (
	defaultCheckTimeout  = 30 * time.Second
	defaultCheckInterval = time.Second
	defaultResync        = time.Minute
	defaultBackoffMin    = time.Second
	defaultBackoffMax    = time.Minute
)

// Options tune a Controller; zero values take the defaults.
type Options struct {
	// Initial are the settings at the first start. Once a change has
	// passed its check, the state file's last good settings win at start:
	// they are the latest the appliance confirmed, and the chargers know
	// that SSID and password.
	Initial Settings
	// DataDir keeps the state file (last good settings, pending change);
	// "" keeps them in memory only.
	DataDir string
	// CheckTimeout is how long a change has to pass its check (30 s).
	CheckTimeout time.Duration
	// CheckInterval is how often the check looks again between
	// NetworkManager's signals (1 s).
	CheckInterval time.Duration
	// Probe, when set, is the uplink check ("the uplink reaches the
	// cloud"); nil uses NetworkManager's connectivity state reaching full.
	Probe func(ctx context.Context) error
	// Resync is how often Run re-checks the profiles without a signal (1 min).
	Resync time.Duration
	// BackoffMin and BackoffMax bound the wait before retrying after a
	// failure; it doubles after each (1 s to 1 min).
	BackoffMin, BackoffMax time.Duration
	// Clock is the time source (the wall clock).
	Clock clock.Clock
	// Logger receives state changes and errors (nil: discarded). Passwords
	// are never logged.
	Logger *slog.Logger
}

// Controller is the Manager over a Backend: the safe change, the state
// file, and the loop that keeps the profiles as configured.
type Controller struct {
	backend Backend
	opts    Options
	log     *slog.Logger
	store   stateFile

	// change serialises the users of the backend (Run's reconcile, Apply)
	// and guards the fields below it.
	change    sync.Mutex
	connected bool
	events    <-chan struct{}
	good      Settings // the last good settings, kept in force by Run

	mu     sync.Mutex
	status Status
}

var _ Manager = (*Controller)(nil)

// NewController returns a Controller of b; Run starts it. It refuses
// invalid initial settings; a state file it cannot read is logged,
// reported in Status and replaced at the next change.
func NewController(b Backend, o Options) (*Controller, error) {
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = defaultCheckTimeout
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = defaultCheckInterval
	}
	if o.Resync <= 0 {
		o.Resync = defaultResync
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = defaultBackoffMin
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = max(defaultBackoffMax, o.BackoffMin)
	}
	o.Clock = clock.OrSystem(o.Clock)
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	initial := o.Initial.Normalize()
	if err := initial.Validate(); err != nil {
		return nil, fmt.Errorf("network: initial settings: %w", err)
	}
	c := &Controller{
		backend: b,
		opts:    o,
		log:     log,
		store:   stateFile{dir: o.DataDir},
		good:    initial,
		status:  Status{Since: o.Clock.Now(), AP: APStatus{State: APDown}, Uplink: UplinkStatus{Connectivity: ConnectivityUnknown}},
	}
	st, ok, err := c.store.load()
	switch {
	case err != nil:
		c.recordError(err)
	case ok:
		c.good = st.Good
		if st.Pending != nil {
			// The appliance stopped while a change was being checked:
			// nothing confirmed it, so the last good settings return.
			res := ChangeResult{Outcome: OutcomeRolledBack, Reason: "interrupted: the appliance restarted before the change was checked", At: o.Clock.Now()}
			c.status.LastChange = &res
			c.log.Warn("network: rolling back a change interrupted by a restart")
			if err := c.store.save(savedState{Good: c.good}); err != nil {
				c.recordError(err)
			}
		}
	}
	return c, nil
}

// Status returns the last known state.
func (c *Controller) Status(context.Context) Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.status
	if st.LastChange != nil {
		lc := *st.LastChange
		st.LastChange = &lc
	}
	return st
}

// Settings returns the settings in force: the last good ones.
func (c *Controller) Settings() Settings {
	c.change.Lock()
	defer c.change.Unlock()
	return c.good
}

// Run keeps the last good settings in force until ctx ends: it connects
// (retrying with backoff while NetworkManager is absent), corrects the
// profiles at every NetworkManager signal and every Resync, and refreshes
// Status. It returns nil when ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	backoff := c.opts.BackoffMin
	defer func() {
		c.change.Lock()
		c.disconnect()
		c.change.Unlock()
	}()
	for {
		events, err := c.cycle(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := c.opts.Resync
		if err != nil {
			wait = backoff
			backoff = min(2*backoff, c.opts.BackoffMax)
		} else {
			backoff = c.opts.BackoffMin
		}
		select {
		case <-ctx.Done():
			return nil
		case <-events:
		case <-c.opts.Clock.After(wait):
		}
	}
}

// cycle is one turn of Run: connect if needed, reconcile, observe. It
// returns the backend's event channel (nil when not connected).
func (c *Controller) cycle(ctx context.Context) (<-chan struct{}, error) {
	c.change.Lock()
	defer c.change.Unlock()
	if !c.connected {
		events, err := c.backend.Connect(ctx)
		if err != nil {
			c.setReachable(false, err)
			return nil, err
		}
		c.connected, c.events = true, events
		c.setReachable(true, nil)
	}
	err := c.backend.Reconcile(ctx, c.good)
	if err == nil {
		err = c.observe(ctx, c.good)
	}
	if err != nil {
		c.failed(err)
		return c.events, err
	}
	return c.events, nil
}

// Apply makes s the settings as a safe change.
func (c *Controller) Apply(ctx context.Context, s Settings) (ChangeResult, error) {
	start := c.opts.Clock.Now()
	s = s.Normalize()
	if err := s.Validate(); err != nil {
		return c.finish(start, OutcomeFailed, err), err
	}
	c.change.Lock()
	defer c.change.Unlock()
	if !c.connected {
		err := fmt.Errorf("%w: change not applied", ErrUnavailable)
		return c.finish(start, OutcomeFailed, err), err
	}
	prev := c.good
	if err := c.store.save(savedState{Good: prev, Pending: &s}); err != nil {
		// Without the pending mark a crash could not roll back.
		return c.finish(start, OutcomeFailed, err), err
	}
	c.log.Info("network: applying a change", "ap", s.AP.Enabled, "ssid", s.AP.SSID, "ap_changed", s.AP != prev.AP, "uplinks_changed", s.Uplinks != prev.Uplinks)
	err := c.backend.Reconcile(ctx, s)
	if err == nil {
		err = c.check(ctx, s, s.Uplinks != prev.Uplinks)
	}
	if err == nil {
		c.good = s
		if serr := c.store.save(savedState{Good: s}); serr != nil {
			c.recordError(serr)
		}
		if oerr := c.observe(ctx, s); oerr != nil {
			c.failed(oerr)
		}
		c.log.Info("network: change applied")
		return c.finish(start, OutcomeApplied, nil), nil
	}
	reason := err
	c.log.Warn("network: change failed its check, rolling back", "err", reason)
	if errors.Is(reason, ErrUnavailable) {
		c.failed(reason)
	}
	// The rollback needs a context of its own: the caller's may be what
	// ended the check.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.CheckTimeout+time.Minute)
	defer cancel()
	rbErr := c.backend.Reconcile(rctx, prev)
	if rbErr == nil {
		rbErr = c.check(rctx, prev, false)
	}
	if serr := c.store.save(savedState{Good: prev}); serr != nil {
		c.recordError(serr)
	}
	if oerr := c.observe(rctx, prev); oerr != nil {
		c.failed(oerr)
	}
	if rbErr != nil {
		err := fmt.Errorf("%w: %w; rolling back failed too: %w", ErrCheckFailed, reason, rbErr)
		c.failed(err)
		return c.finish(start, OutcomeFailed, err), err
	}
	err = fmt.Errorf("%w: %w", ErrCheckFailed, reason)
	return c.finish(start, OutcomeRolledBack, err), err
}

// check waits until s is in effect: the access point up (when enabled)
// and, when the uplinks changed, the uplink reaching the cloud. A failed
// activation ends it at once; otherwise it gives up after CheckTimeout.
func (c *Controller) check(ctx context.Context, s Settings, uplink bool) error {
	deadline := c.opts.Clock.After(c.opts.CheckTimeout)
	for {
		reason, fatal, err := c.verdict(ctx, s, uplink)
		if err != nil {
			return err
		}
		if reason == "" {
			return nil
		}
		if fatal {
			return errors.New(reason)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("check: %w (%s)", ctx.Err(), reason)
		case <-deadline:
			return fmt.Errorf("not within %s: %s", c.opts.CheckTimeout, reason)
		case <-c.events:
		case <-c.opts.Clock.After(c.opts.CheckInterval):
		}
	}
}

// verdict looks once: reason is empty when s is in effect, fatal when
// waiting cannot help.
func (c *Controller) verdict(ctx context.Context, s Settings, uplink bool) (reason string, fatal bool, err error) {
	obs, err := c.backend.Observe(ctx, s)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return "", false, err
		}
		return err.Error(), false, nil
	}
	c.setObservation(obs)
	switch {
	case s.AP.Enabled && obs.AP.State == APFailed:
		return "access point failed: " + obs.AP.Reason, true, nil
	case s.AP.Enabled && obs.AP.State != APUp:
		return fmt.Sprintf("access point is %s", obs.AP.State), false, nil
	case !s.AP.Enabled && obs.AP.State != APDisabled:
		return fmt.Sprintf("access point is still %s", obs.AP.State), false, nil
	}
	if !uplink || !anyUplink(s.Uplinks) {
		return "", false, nil
	}
	if c.opts.Probe != nil {
		if perr := c.opts.Probe(ctx); perr != nil {
			return "cloud not reached: " + perr.Error(), false, nil
		}
		return "", false, nil
	}
	if obs.Uplink.Connectivity != ConnectivityFull {
		return fmt.Sprintf("connectivity is %s", obs.Uplink.Connectivity), false, nil
	}
	return "", false, nil
}

func anyUplink(u Uplinks) bool {
	for _, k := range UplinkKinds {
		if u.Get(k).Enabled {
			return true
		}
	}
	return false
}

// observe refreshes the AP and uplink parts of Status.
func (c *Controller) observe(ctx context.Context, s Settings) error {
	obs, err := c.backend.Observe(ctx, s)
	if err != nil {
		return err
	}
	c.setObservation(obs)
	return nil
}

func (c *Controller) setObservation(obs Observation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if obs.Uplink.UUID != c.status.Uplink.UUID || obs.Uplink.Connectivity != c.status.Uplink.Connectivity {
		c.log.Info("network: uplink", "connection", obs.Uplink.Connection, "kind", obs.Uplink.Kind, "interface", obs.Uplink.Interface, "connectivity", obs.Uplink.Connectivity)
	}
	if obs.AP.State != c.status.AP.State {
		c.log.Info("network: access point", "state", obs.AP.State, "ssid", obs.AP.SSID, "security", obs.AP.Security, "reason", obs.AP.Reason)
	}
	c.status.AP, c.status.Uplink = obs.AP, obs.Uplink
}

// failed records err; an unavailable backend is dropped so Run reconnects.
func (c *Controller) failed(err error) {
	if errors.Is(err, ErrUnavailable) {
		c.disconnect()
		c.setReachable(false, err)
		return
	}
	c.recordError(err)
}

// disconnect drops the backend; the caller holds c.change.
func (c *Controller) disconnect() {
	if c.connected {
		c.backend.Close()
	}
	c.connected, c.events = false, nil
}

func (c *Controller) setReachable(ok bool, err error) {
	c.mu.Lock()
	changed := c.status.Reachable != ok
	if changed {
		c.status.Reachable, c.status.Since = ok, c.opts.Clock.Now()
		if !ok {
			c.status.AP = APStatus{State: APDown, Reason: "NetworkManager unreachable"}
			c.status.Uplink = UplinkStatus{Connectivity: ConnectivityUnknown}
		}
	}
	c.mu.Unlock()
	if err != nil {
		c.recordError(err)
	}
	switch {
	case changed && ok:
		c.log.Info("network: NetworkManager reachable")
	case changed:
		c.log.Warn("network: NetworkManager unreachable", "err", err)
	}
}

func (c *Controller) recordError(err error) {
	c.mu.Lock()
	c.status.LastError, c.status.LastErrorAt = err.Error(), c.opts.Clock.Now()
	c.mu.Unlock()
	c.log.Warn("network: error", "err", err)
}

// finish records and returns the result of a change.
func (c *Controller) finish(start time.Time, outcome Outcome, err error) ChangeResult {
	res := ChangeResult{Outcome: outcome, At: start, Took: c.opts.Clock.Now().Sub(start)}
	if err != nil {
		res.Reason = err.Error()
	}
	c.mu.Lock()
	c.status.LastChange = &res
	c.mu.Unlock()
	return res
}
