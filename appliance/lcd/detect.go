package lcd

import (
	"fmt"
	"strings"

	"periph.io/x/conn/v3/i2c"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
)

// candidates are the displays Detect probes for, in order.
var candidates = []Info{
	{Driver: DriverPCF8574, Address: AddrPCF8574},
	{Driver: DriverPCF8574, Address: AddrPCF8574A},
	{Driver: DriverAiP31068, Address: AddrAiP31068},
}

// Detect probes bus for a display and returns the first that answers.
// driver (DriverAuto, DriverPCF8574 or DriverAiP31068) and addr (0: the
// usual addresses) narrow the candidates; with DriverAuto and an address,
// 0x3E is taken for an AiP31068 and any other address for a PCF8574. The
// chips have no identification register: an answer at an address is all
// there is to go on. It returns ErrNotFound when nothing answers.
func Detect(bus i2c.Bus, driver string, addr uint16) (Info, error) {
	var tried []string
	for _, c := range probeList(driver, addr) {
		if probe(bus, c) == nil {
			return c, nil
		}
		tried = append(tried, fmt.Sprintf("%#02x", c.Address))
	}
	return Info{}, fmt.Errorf("%w on %s (tried %s)", ErrNotFound, bus, strings.Join(tried, ", "))
}

func probeList(driver string, addr uint16) []Info {
	if addr != 0 {
		if driver == DriverAuto {
			driver = DriverPCF8574
			if addr == AddrAiP31068 {
				driver = DriverAiP31068
			}
		}
		return []Info{{Driver: driver, Address: addr}}
	}
	var list []Info
	for _, c := range candidates {
		if driver == DriverAuto || driver == c.Driver {
			list = append(list, c)
		}
	}
	return list
}

// probe asks the chip at c.Address for an acknowledge without changing
// what the display shows: a PCF8574 is read (its port's input levels); an
// AiP31068 gets a lone control byte announcing instructions that never come.
func probe(bus i2c.Bus, c Info) error {
	if c.Driver == DriverAiP31068 {
		return bus.Tx(c.Address, []byte{ctrlLast}, nil)
	}
	return bus.Tx(c.Address, nil, make([]byte, 1))
}

// OpenBus finds the display cfg describes on bus ([Detect]) and
// initialises it. clk (nil: the wall clock) times the controller's waits.
func OpenBus(bus i2c.Bus, cfg Config, clk clock.Clock) (Driver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("lcd: %w", err)
	}
	if !cfg.onI2C() {
		return nil, fmt.Errorf("lcd: driver %q is not an I2C display", cfg.Driver)
	}
	info, err := Detect(bus, cfg.Driver, cfg.Address)
	if err != nil {
		return nil, err
	}
	opts := DriverOptions{Cols: cfg.Columns, Rows: cfg.Rows, BacklightOff: !cfg.Backlight, Clock: clk}
	if info.Driver == DriverAiP31068 {
		return NewAiP31068(bus, info.Address, opts)
	}
	return NewPCF8574(bus, info.Address, opts)
}
