package network

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Sim is the simulated network manager of dev mode: a Controller over an
// in-memory backend with plausible state (the access point up, the
// uplink on Ethernet, connectivity full). Tests can make it fail.
type Sim struct {
	*Controller
	backend *simBackend
}

var _ Manager = (*Sim)(nil)

// NewSim returns a simulated manager; o is as for NewController.
func NewSim(o Options) (*Sim, error) {
	b := &simBackend{connectivity: ConnectivityFull, reachable: true, events: make(chan struct{}, 1)}
	c, err := NewController(b, o)
	if err != nil {
		return nil, err
	}
	return &Sim{Controller: c, backend: b}, nil
}

// FailAP makes the access point fail to come up, as a driver refusing a
// setting would, whenever refuse returns a reason for its configuration;
// nil stops it.
func (s *Sim) FailAP(refuse func(APConfig) string) {
	s.backend.update(func(b *simBackend) { b.refuseAP = refuse })
}

// SetConnectivity sets the connectivity state the simulation reports.
func (s *Sim) SetConnectivity(c Connectivity) {
	s.backend.update(func(b *simBackend) { b.connectivity = c })
}

// SetReachable makes the simulated NetworkManager disappear (false) or
// come back (true).
func (s *Sim) SetReachable(ok bool) { s.backend.update(func(b *simBackend) { b.reachable = ok }) }

// Applied returns the settings the simulated NetworkManager holds now.
func (s *Sim) Applied() Settings {
	s.backend.mu.Lock()
	defer s.backend.mu.Unlock()
	return s.backend.applied
}

// simBackend keeps the settings in memory.
type simBackend struct {
	mu           sync.Mutex
	applied      Settings
	apFailure    string // why the applied access point is not up
	refuseAP     func(APConfig) string
	connectivity Connectivity
	reachable    bool
	events       chan struct{}
}

var _ Backend = (*simBackend)(nil)

// update changes the simulation and signals it, as NetworkManager would.
func (b *simBackend) update(f func(*simBackend)) {
	b.mu.Lock()
	f(b)
	b.mu.Unlock()
	select {
	case b.events <- struct{}{}:
	default:
	}
}

func (b *simBackend) check() error {
	if !b.reachable {
		return fmt.Errorf("%w: simulated NetworkManager stopped", ErrUnavailable)
	}
	return nil
}

func (b *simBackend) Connect(context.Context) (<-chan struct{}, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.events, b.check()
}

func (b *simBackend) Close() {}

func (b *simBackend) Reconcile(_ context.Context, s Settings) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.check(); err != nil {
		return err
	}
	b.applied, b.apFailure = s, ""
	if s.AP.Enabled && b.refuseAP != nil {
		b.apFailure = b.refuseAP(s.AP)
	}
	return nil
}

func (b *simBackend) Observe(_ context.Context, s Settings) (Observation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.check(); err != nil {
		return Observation{}, err
	}
	var obs Observation
	ap := b.applied.AP
	switch {
	case !ap.Enabled:
		obs.AP.State = APDisabled
	case b.apFailure != "":
		obs.AP.State, obs.AP.Reason = APFailed, b.apFailure
	default:
		obs.AP.State = APUp
	}
	if ap.Enabled {
		obs.AP.SSID, obs.AP.Interface, obs.AP.Address = ap.SSID, ap.Interface, ap.Address
		obs.AP.Security = SecurityNameSAE
		if ap.Security == SecurityWPA2 {
			obs.AP.Security = SecurityNamePSK
		}
	}
	obs.Uplink.Connectivity = ConnectivityNone
	kinds := slices.Clone(UplinkKinds)
	slices.SortStableFunc(kinds, func(x, y UplinkKind) int {
		return b.applied.Uplinks.Get(x).Priority - b.applied.Uplinks.Get(y).Priority
	})
	for _, k := range kinds {
		if u := b.applied.Uplinks.Get(k); u.Enabled {
			obs.Uplink = UplinkStatus{
				Connection:   ProfileID(k),
				UUID:         ProfileUUID(k),
				Kind:         k,
				Interface:    u.Interface,
				Owned:        true,
				Connectivity: b.connectivity,
			}
			if obs.Uplink.Interface == "" {
				obs.Uplink.Interface = "cdc-wdm0"
			}
			break
		}
	}
	return obs, nil
}
