package lcd

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
)

// HD44780 instructions (datasheet table 6) and the flags used here.
const (
	cmdClear       = 0x01
	cmdEntryMode   = 0x04
	entryIncrement = 0x02
	cmdDisplay     = 0x08
	displayOn      = 0x04
	cmdFunctionSet = 0x20
	function8Bit   = 0x10
	functionLines2 = 0x08
	cmdSetDDRAM    = 0x80
)

// Waits from the datasheets, with margin.
const (
	// powerOnWait: more than 40 ms after Vcc reaches 2.7 V (a display
	// plugged in again may have just been powered).
	powerOnWait = 50 * time.Millisecond
	// firstResetWait: more than 4.1 ms after the first function set.
	firstResetWait = 5 * time.Millisecond
	// resetWait: more than 100 µs after the other function sets.
	resetWait = 150 * time.Microsecond
	// clearWait: clear display takes 1.52 ms.
	clearWait = 2 * time.Millisecond
)

// DriverOptions tune a display driver; zero values take the defaults.
type DriverOptions struct {
	// Cols and Rows are the display's geometry (16x2).
	Cols, Rows int
	// BacklightOff leaves the backlight off. Only a PCF8574 backpack can
	// switch it; an AiP31068 module's backlight is wired on its own.
	BacklightOff bool
	// Pins maps the PCF8574's port to the display (DefaultPinMap).
	Pins PinMap
	// Clock times the controller's execution waits (the wall clock).
	Clock clock.Clock
}

func (o DriverOptions) withDefaults() (DriverOptions, error) {
	if o.Cols == 0 && o.Rows == 0 {
		o.Cols, o.Rows = 16, 2
	}
	if o.Pins == (PinMap{}) {
		o.Pins = DefaultPinMap
	}
	o.Clock = clock.OrSystem(o.Clock)
	if err := checkGeometry(o.Cols, o.Rows); err != nil {
		return o, err
	}
	return o, o.Pins.check()
}

// pause waits for one of the controller's execution times. These are a
// few milliseconds at most, so they do not take a context.
func pause(c clock.Clock, d time.Duration) { <-c.After(d) }

// link carries HD44780 instructions and data over one kind of interface.
type link interface {
	// reset puts the controller's interface into a known mode from any
	// state and sends the function set (twoLines: the two-line mode that
	// 2- and 4-row displays use).
	reset(twoLines bool) error
	// command sends one instruction.
	command(c byte) error
	// writeAt writes data to display RAM starting at addr.
	writeAt(addr byte, data []byte) error
	// off switches the display (and its backlight, if the link can) off.
	off() error
}

// controller is the HD44780 instruction set on a link: initialisation,
// cursor addressing and updating only what changed.
type controller struct {
	info       Info
	cols, rows int
	clock      clock.Clock

	mu   sync.Mutex
	link link
	// shown is what the display holds; nil when unknown (never
	// initialised, or an error may have left it in any state), which makes
	// the next Show initialise it again.
	shown [][]byte
}

func newController(info Info, l link, o DriverOptions) *controller {
	return &controller{info: info, cols: o.Cols, rows: o.Rows, clock: o.Clock, link: l}
}

// Size returns the display's geometry.
func (c *controller) Size() (cols, rows int) { return c.cols, c.rows }

// Info says which display this is.
func (c *controller) Info() Info { return c.info }

// Show writes the rows of lines that differ from what the display shows,
// initialising it first if an earlier error left it in an unknown state.
func (c *controller) Show(lines []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shown == nil {
		if err := c.init(); err != nil {
			return err
		}
	}
	for r, row := range fit(lines, c.cols, c.rows) {
		first, last := changed(c.shown[r], row)
		if first < 0 {
			continue
		}
		if err := c.link.writeAt(c.rowAddr(r)+byte(first), row[first:last+1]); err != nil {
			c.shown = nil
			return c.errorf(err, "write row %d", r+1)
		}
		copy(c.shown[r], row)
	}
	return nil
}

// Close switches the display off. The bus stays open: it belongs to the caller.
func (c *controller) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shown = nil
	if err := c.link.off(); err != nil {
		return c.errorf(err, "switch off")
	}
	return nil
}

// init runs the initialisation of the datasheet (figures 23 and 24):
// interface reset and function set, display off, clear, entry mode, on.
func (c *controller) init() error {
	if err := c.link.reset(c.rows > 1); err != nil {
		return c.errorf(err, "initialise")
	}
	steps := []struct {
		cmd  byte
		wait time.Duration
	}{
		{cmdDisplay, 0},
		{cmdClear, clearWait},
		{cmdEntryMode | entryIncrement, 0},
		{cmdDisplay | displayOn, 0},
	}
	for _, s := range steps {
		if err := c.link.command(s.cmd); err != nil {
			return c.errorf(err, "initialise")
		}
		if s.wait > 0 {
			pause(c.clock, s.wait)
		}
	}
	// Clear filled the display RAM with spaces.
	c.shown = fit(nil, c.cols, c.rows)
	return nil
}

// rowAddr is the display RAM address of row r's first column: rows 0 and
// 1 start the two 40-byte lines, rows 2 and 3 continue them.
func (c *controller) rowAddr(r int) byte {
	addr := byte(0)
	if r%2 == 1 {
		addr = 0x40
	}
	if r >= 2 {
		addr += byte(c.cols)
	}
	return addr
}

func (c *controller) errorf(err error, format string, args ...any) error {
	return fmt.Errorf("lcd: %s: %s: %w", c.info, fmt.Sprintf(format, args...), err)
}

// changed returns the first and last index where a and b differ, or -1, -1.
func changed(a, b []byte) (first, last int) {
	if bytes.Equal(a, b) {
		return -1, -1
	}
	first, last = 0, len(b)-1
	for first < len(b) && a[first] == b[first] {
		first++
	}
	for last > first && a[last] == b[last] {
		last--
	}
	return first, last
}

// optionsError wraps invalid options given to a constructor.
func optionsError(driver string, err error) error {
	return fmt.Errorf("lcd: %s: %w", driver, err)
}
