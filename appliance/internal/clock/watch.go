package clock

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultSyncPoll is how often a Sync looks for its marker until the
// clock is synchronised: a file's presence costs one stat, and a few
// seconds of records marked that need not be are harmless.
const DefaultSyncPoll = 5 * time.Second

// Stamp is a time the appliance took, with what correcting it needs.
type Stamp struct {
	// Time is the wall clock's time.
	Time time.Time
	// Mono is the monotonic clock's time read with it (see [Monotonic]):
	// it means something only to the Sync of the same process.
	Mono time.Duration
	// Unsynced: the clock was not known to be synchronised when Time was
	// taken, which may then be hours or days behind.
	Unsynced bool
}

// SyncOptions configure a Sync.
type SyncOptions struct {
	// Marker is the file whose presence says the clock is synchronised
	// (see [Synced]); "": [TimesyncdSynchronized].
	Marker string
	// Clock tells the time and waits between looks at the marker; nil:
	// [System]. Only a [Monotonic] clock lets Sync correct times: with
	// another, a time taken before the sync is corrected by nothing.
	Clock Clock
	// Poll is the wait between looks at the marker; 0: [DefaultSyncPoll].
	Poll   time.Duration
	Logger *slog.Logger // nil: discard
}

// Sync knows whether the system clock has been synchronised, and
// corrects the times taken before it was. A Raspberry Pi has no real-time
// clock: until NTP has set the wall clock it shows the time saved at the
// last shutdown, behind the real one. The monotonic clock is not set: a
// time taken while unsynchronised is corrected by the distance, on the
// monotonic clock, from it to the moment the sync was noticed, whose
// wall time is right: true = syncedWall - (syncedMono - mono). That
// holds only within the process that took it; a time of an earlier boot
// stays marked for good. Safe for concurrent use.
type Sync struct {
	marker string
	clk    Clock
	poll   time.Duration
	log    *slog.Logger
	start  Stamp // taken by NewSync, for the log line of the sync

	ref    atomic.Pointer[reading] // when the sync was noticed; nil until then
	synced chan struct{}           // closed once ref is set
	once   sync.Once
}

// reading is a wall time and the monotonic time read with it.
type reading struct {
	wall time.Time
	mono time.Duration
}

// NewSync returns a Sync that has looked at the marker once: synchronised
// from the start when the marker (or timesyncd, see Synced) says so.
// Run watches for the change.
func NewSync(opts SyncOptions) *Sync {
	s := &Sync{marker: opts.Marker, clk: OrSystem(opts.Clock), poll: opts.Poll, log: opts.Logger,
		synced: make(chan struct{})}
	if s.marker == "" {
		s.marker = TimesyncdSynchronized
	}
	if s.poll <= 0 {
		s.poll = DefaultSyncPoll
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.start = s.Stamp()
	if Synced(s.marker) {
		s.markSynced(false)
	} else {
		s.log.Info("system clock not synchronised yet: times are marked until it is", "time", s.start.Time, "marker", s.marker)
	}
	return s
}

// read reads the wall and the monotonic clock. A clock without a
// monotonic one counts the wall time since the first read instead, so
// nothing is corrected.
func (s *Sync) read() reading {
	if m, ok := s.clk.(Monotonic); ok {
		wall, mono := m.Read()
		return reading{wall, mono}
	}
	wall := s.clk.Now()
	if s.start.Time.IsZero() {
		return reading{wall, 0}
	}
	return reading{wall, wall.Sub(s.start.Time)}
}

// markSynced remembers when the sync was noticed, once.
func (s *Sync) markSynced(log bool) {
	s.once.Do(func() {
		r := s.read()
		s.ref.Store(&r)
		close(s.synced)
		if log {
			off, _ := s.Offset(s.start)
			s.log.Info("system clock synchronised: times taken before are corrected", "time", r.wall, "was_behind", off)
		}
	})
}

// Run looks for the marker every Poll until it is there, then returns;
// it returns when ctx ends too.
func (s *Sync) Run(ctx context.Context) {
	for !s.Synced() {
		if Synced(s.marker) {
			s.markSynced(true)
			return
		}
		if Sleep(ctx, s.clk, s.poll) != nil {
			return
		}
	}
}

// Synced reports whether the clock is known to be synchronised.
func (s *Sync) Synced() bool { return s.ref.Load() != nil }

// WhenSynced is closed once the clock is known to be synchronised.
func (s *Sync) WhenSynced() <-chan struct{} { return s.synced }

// Stamp returns the time now, marked Unsynced until the sync is noticed.
// A stamp taken between NTP setting the clock and Run noticing it is
// marked too, and its correction is then nothing.
func (s *Sync) Stamp() Stamp {
	synced := s.Synced() // before the read: no stamp that may predate the sync goes unmarked
	r := s.read()
	return Stamp{Time: r.wall, Mono: r.mono, Unsynced: !synced}
}

// Offset returns what to add to st.Time, a stamp of this Sync (this
// process), to make it the true time; false while the clock is not
// synchronised.
func (s *Sync) Offset(st Stamp) (time.Duration, bool) {
	ref := s.ref.Load()
	if ref == nil {
		return 0, false
	}
	// Wall times without their monotonic readings, which Sub would use.
	return ref.wall.Round(0).Sub(st.Time.Round(0)) - (ref.mono - st.Mono), true
}

// Correct returns the true time of st, a stamp of this Sync; false while
// the clock is not synchronised.
func (s *Sync) Correct(st Stamp) (time.Time, bool) {
	off, ok := s.Offset(st)
	if !ok {
		return st.Time, false
	}
	return st.Time.Round(0).Add(off), true
}
