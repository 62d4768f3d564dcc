package screen

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
)

// Display is where a Manager draws; lcd.Resilient and lcd.Sim are ones.
type Display interface {
	Size() (cols, rows int)
	Show(lines []string) error
}

// Options are a Manager's collaborators; zero values take the defaults.
type Options struct {
	// Clock is the time source (the wall clock).
	Clock clock.Clock
	// Location is the time zone of the time shown (time.Local).
	Location *time.Location
	// Logger receives display errors (nil: discarded).
	Logger *slog.Logger
}

// Manager decides what the display shows and draws it. Its methods are
// safe for concurrent use and never wait for the display: Run draws.
type Manager struct {
	display    Display
	cols, rows int
	cfg        Config
	t          *texts
	clock      clock.Clock
	loc        *time.Location
	log        *slog.Logger
	wake       chan struct{}

	mu     sync.Mutex
	idle   Idle
	events []posted // the events not over yet
	follow *followed
	// The idle rotation started at idleFrom with idle screen idleStart.
	idleFrom  time.Time
	idleStart int
	seq       uint64
}

type posted struct {
	ev    Event
	until time.Time
	seq   uint64 // orders events of the same rank: the newest shows
}

type followed struct {
	c     Charging
	until time.Time
}

// New returns a Manager drawing on d, showing the idle screens until told
// otherwise.
func New(d Display, cfg Config, opts Options) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("screen: %w", err)
	}
	cols, rows := d.Size()
	if cols < 1 || rows < 1 {
		return nil, fmt.Errorf("screen: display of %dx%d characters", cols, rows)
	}
	opts.Clock = clock.OrSystem(opts.Clock)
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Manager{
		display: d, cols: cols, rows: rows, cfg: cfg, t: languages[cfg.Language],
		clock: opts.Clock, loc: opts.Location, log: opts.Logger,
		wake:     make(chan struct{}, 1),
		idleFrom: opts.Clock.Now(),
	}, nil
}

// SetIdle replaces what the idle screens show.
func (m *Manager) SetIdle(idle Idle) {
	m.mu.Lock()
	m.idle = idle
	m.mu.Unlock()
	m.poke()
}

// Post shows ev for its lifetime: it replaces events of its rank and
// below, and waits under a higher one (a fault) while it lasts.
// ChargingStarted also makes the live charging screen follow the session;
// ChargingStopped for that connector ends it.
func (m *Manager) Post(ev Event) {
	// A pointer to an event is taken as the event; a nil one is ignored.
	if v := reflect.ValueOf(ev); !v.IsValid() || v.Kind() == reflect.Pointer && v.IsNil() {
		return
	} else if v.Kind() == reflect.Pointer {
		ev = v.Elem().Interface().(Event)
	}
	now := m.clock.Now()
	m.mu.Lock()
	m.leaveIdleLocked(now)
	m.events = slices.DeleteFunc(m.events, func(p posted) bool { return p.ev.rank() <= ev.rank() })
	m.seq++
	m.events = append(m.events, posted{ev: ev, until: now.Add(ev.lifetime(m.cfg)), seq: m.seq})
	switch e := ev.(type) {
	case ChargingStarted:
		m.follow = &followed{c: Charging{Connector: e.Connector, Started: now}, until: now.Add(m.cfg.FollowCharging)}
	case ChargingStopped:
		if m.follow != nil && m.follow.c.Connector == e.Connector {
			m.follow = nil
		}
	}
	m.mu.Unlock()
	m.poke()
}

// UpdateCharging refreshes the live charging screen if it follows
// c.Connector; other sessions are ignored.
func (m *Manager) UpdateCharging(c Charging) {
	m.mu.Lock()
	if m.follow != nil && m.follow.c.Connector == c.Connector {
		if c.Started.IsZero() {
			c.Started = m.follow.c.Started
		}
		m.follow.c = c
	}
	m.mu.Unlock()
	m.poke()
}

// Lines returns what the display should show now.
func (m *Manager) Lines() []string {
	lines, _ := m.frame(m.clock.Now())
	return lines
}

// Run draws on the display whenever what it should show changes, until
// ctx ends. A display error is logged and the frame drawn again at the
// next change; Run always returns nil.
func (m *Manager) Run(ctx context.Context) error {
	var shown []string
	var lastErr string
	select {
	case <-m.wake: // the first frame shows whatever came before Run
	default:
	}
	for {
		now := m.clock.Now()
		lines, next := m.frame(now)
		if !slices.Equal(lines, shown) {
			if err := m.display.Show(lines); err != nil {
				if err.Error() != lastErr {
					m.log.Warn("lcd frame not shown", "err", err)
				}
				lastErr, shown = err.Error(), nil
			} else {
				lastErr, shown = "", lines
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
		case <-m.clock.After(next.Sub(now)):
		}
	}
}

func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// frame returns what the display shows at now, and when that may change.
func (m *Manager) frame(now time.Time) (lines []string, next time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked(now)
	next = now.Add(time.Hour)
	for _, p := range m.events {
		next = earliest(next, p.until)
	}
	var show func(env) []layout
	ticking := false
	switch {
	case len(m.events) > 0:
		top := slices.MaxFunc(m.events, func(a, b posted) int {
			if a.ev.rank() != b.ev.rank() {
				return a.ev.rank() - b.ev.rank()
			}
			return cmp.Compare(a.seq, b.seq)
		})
		show = top.ev.show
	case m.follow != nil:
		show, ticking = m.follow.c.show, true
		next = earliest(next, m.follow.until)
	default:
		screens := idleScreens(m.idle)
		k := m.rotationsLocked(now)
		i := (m.idleStart + k) % len(screens)
		show, ticking = screens[i], i == len(screens)-1 // the time screen
		next = earliest(next, m.idleFrom.Add(time.Duration(k+1)*m.cfg.RotateEvery))
	}
	if m.follow != nil {
		next = earliest(next, m.follow.until)
	}
	if ticking {
		next = earliest(next, now.Truncate(time.Second).Add(time.Second))
	}
	return render(show(env{t: m.t, now: now.In(m.loc)}), m.cols, m.rows), next
}

// pruneLocked forgets what is over at now; when that leaves nothing, the
// idle rotation resumes from the moment the last of it ended.
func (m *Manager) pruneLocked(now time.Time) {
	busy := len(m.events) > 0 || m.follow != nil
	var ended time.Time
	m.events = slices.DeleteFunc(m.events, func(p posted) bool {
		if p.until.After(now) {
			return false
		}
		ended = latest(ended, p.until)
		return true
	})
	if m.follow != nil && !m.follow.until.After(now) {
		ended = latest(ended, m.follow.until)
		m.follow = nil
	}
	if busy && len(m.events) == 0 && m.follow == nil {
		m.idleFrom = ended
	}
}

// leaveIdleLocked notes, when idle screens show at now, that the rotation
// resumes with the next one.
func (m *Manager) leaveIdleLocked(now time.Time) {
	m.pruneLocked(now)
	if len(m.events) == 0 && m.follow == nil {
		m.idleStart = (m.idleStart + m.rotationsLocked(now) + 1) % len(idleScreens(m.idle))
	}
}

// rotationsLocked is how many idle screens have passed since idleFrom.
func (m *Manager) rotationsLocked(now time.Time) int {
	if now.Before(m.idleFrom) {
		return 0 // the clock went back
	}
	return int(now.Sub(m.idleFrom) / m.cfg.RotateEvery)
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
