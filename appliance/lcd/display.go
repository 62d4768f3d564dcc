package lcd

import (
	"errors"
	"fmt"
)

// Display shows frames of text. Implementations are safe for concurrent use.
type Display interface {
	// Size returns the display's geometry in characters.
	Size() (cols, rows int)
	// Show replaces what the display shows with lines, one per row: rows
	// beyond the display are dropped, missing rows are blank, and each line
	// is transliterated ([Transliterate]), then cut or padded to the width.
	Show(lines []string) error
	// Close turns the display off and releases it.
	Close() error
}

// Driver is a Display that says which hardware it is.
type Driver interface {
	Display
	Info() Info
}

// Drivers a Config can name; the first three are also the Info.Driver of a
// display.
const (
	// DriverPCF8574 is an HD44780 behind a PCF8574 or PCF8574A I2C backpack.
	DriverPCF8574 = "pcf8574"
	// DriverAiP31068 is an AiP31068 controller on I2C.
	DriverAiP31068 = "aip31068"
	// DriverSim is the simulated display of dev mode.
	DriverSim = "sim"
	// DriverAuto probes the bus for a PCF8574 or an AiP31068.
	DriverAuto = "auto"
	// DriverNone means the station has no display.
	DriverNone = "none"
)

// Info says which display hardware is in use.
type Info struct {
	// Driver is DriverPCF8574, DriverAiP31068 or DriverSim.
	Driver string `json:"driver,omitempty"`
	// Address is the 7-bit I2C address; 0 for the simulated display.
	Address uint16 `json:"address,omitempty"`
}

// String names the display for logs and errors ("pcf8574 at 0x27").
func (i Info) String() string {
	if i.Address == 0 {
		return i.Driver
	}
	return fmt.Sprintf("%s at %#02x", i.Driver, i.Address)
}

// Errors that callers may test with errors.Is.
var (
	// ErrNotFound means no display answered: not connected, not powered,
	// at another address, or the I2C bus does not exist. [Resilient]
	// reports it as StateMissing and keeps retrying.
	ErrNotFound = errors.New("lcd: no display found")
)

// Geometry limits. An HD44780 has 80 bytes of display RAM: two lines of 40
// in two-line mode; a four-row display splits each of them in two, so it
// is at most 20 columns wide.
const (
	minCols        = 8
	maxCols        = 40
	maxColsFourRow = 20
)

// checkGeometry reports whether an HD44780 can drive cols x rows.
func checkGeometry(cols, rows int) error {
	switch {
	case rows != 1 && rows != 2 && rows != 4:
		return fmt.Errorf("rows: %d is not 1, 2 or 4", rows)
	case cols < minCols || cols > maxCols:
		return fmt.Errorf("columns: %d is not between %d and %d", cols, minCols, maxCols)
	case rows == 4 && cols > maxColsFourRow:
		return fmt.Errorf("columns: %d is more than %d, the widest a 4-row display can be", cols, maxColsFourRow)
	}
	return nil
}

// fit encodes lines into exactly rows rows of cols character codes.
func fit(lines []string, cols, rows int) [][]byte {
	frame := make([][]byte, rows)
	for r := range frame {
		row := make([]byte, 0, cols)
		if r < len(lines) {
			row = append(row, Encode(lines[r])...)
		}
		if len(row) > cols {
			row = row[:cols]
		}
		for len(row) < cols {
			row = append(row, ' ')
		}
		frame[r] = row
	}
	return frame
}
