package lcd

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/constellation-ev/constellation/appliance/internal/device"
)

// Sim is the simulated display of dev mode. It keeps the frame as the
// hardware would show it (transliterated, cut and padded to the width),
// logs every new frame, and tells watchers when the frame changes.
type Sim struct {
	cols, rows int
	log        *slog.Logger

	mu      sync.Mutex
	frame   [][]byte
	changed chan struct{} // closed and replaced at every new frame
	err     error
}

var _ Driver = (*Sim)(nil)

// NewSim returns a blank simulated display of cols x rows; log (nil:
// discarded) receives each new frame as text.
func NewSim(cols, rows int, log *slog.Logger) (*Sim, error) {
	if err := checkGeometry(cols, rows); err != nil {
		return nil, optionsError(DriverSim, err)
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Sim{cols: cols, rows: rows, log: log, frame: fit(nil, cols, rows), changed: make(chan struct{})}, nil
}

// Size returns the display's geometry.
func (s *Sim) Size() (cols, rows int) { return s.cols, s.rows }

// Info says this is the simulated display.
func (s *Sim) Info() Info { return Info{Driver: DriverSim} }

// Show replaces the frame, unless SetError made the display fail.
func (s *Sim) Show(lines []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return fmt.Errorf("lcd: sim: %w", s.err)
	}
	frame := fit(lines, s.cols, s.rows)
	if slices.EqualFunc(frame, s.frame, slices.Equal) {
		return nil
	}
	s.frame = frame
	close(s.changed)
	s.changed = make(chan struct{})
	args := make([]any, 0, 2*len(frame))
	for r, row := range frame {
		args = append(args, fmt.Sprintf("row%d", r+1), decodeRow(row))
	}
	s.log.Info("lcd frame", args...)
	return nil
}

// Lines returns the rows the display shows.
func (s *Sim) Lines() []string {
	lines, _ := s.Watch()
	return lines
}

// Watch returns the rows the display shows and a channel that is closed
// when they change (for the web UI's server-sent events).
func (s *Sim) Watch() (lines []string, changed <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines = make([]string, len(s.frame))
	for r, row := range s.frame {
		lines[r] = decodeRow(row)
	}
	return lines, s.changed
}

// SetError makes Show fail with err, as an unplugged display would; nil
// plugs it back in.
func (s *Sim) SetError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// Close blanks the display.
func (s *Sim) Close() error { return s.Show(nil) }

// String draws the frame in a box, for terminals.
func (s *Sim) String() string {
	border := "+" + strings.Repeat("-", s.cols) + "+\n"
	var b strings.Builder
	b.WriteString(border)
	for _, line := range s.Lines() {
		b.WriteString("|" + line + "|\n")
	}
	b.WriteString(border)
	return b.String()
}

// Status reports the simulated display as failing while SetError holds.
func (s *Sim) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return Status{Health: device.Health{State: device.StateFailing, LastError: s.err.Error()}, Display: s.Info()}
	}
	return Status{Health: device.Health{State: device.StateOK}, Display: s.Info()}
}
