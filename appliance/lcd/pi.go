package lcd

import (
	"errors"
	"fmt"
	"io"

	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"
)

// NewPi returns the I2C display cfg describes on a Raspberry Pi (or any
// host periph supports), kept alive by a Resilient: call its Run. Every
// attempt opens the bus again, so a bus missing at start (I2C not enabled
// yet) is reported as missing and retried like an absent display.
func NewPi(cfg Config, opts ResilientOptions) (*Resilient, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("lcd: %w", err)
	}
	if !cfg.onI2C() {
		return nil, fmt.Errorf("lcd: driver %q is not an I2C display", cfg.Driver)
	}
	open := func() (Driver, error) {
		// The only code the tests cannot reach: it needs a real host.
		if _, err := host.Init(); err != nil {
			return nil, fmt.Errorf("%w: periph host: %w", ErrNotFound, err)
		}
		bus, err := i2creg.Open(cfg.Bus)
		if err != nil {
			return nil, fmt.Errorf("%w: i2c bus %q: %w", ErrNotFound, cfg.Bus, err)
		}
		d, err := OpenBus(bus, cfg, nil)
		if err != nil {
			return nil, errors.Join(err, bus.Close())
		}
		return &ownedBus{Driver: d, bus: bus}, nil
	}
	return NewResilient(open, cfg.Columns, cfg.Rows, opts), nil
}

// ownedBus is a display that closes the bus it was opened on.
type ownedBus struct {
	Driver
	bus io.Closer
}

// Close switches the display off and closes the bus.
func (o *ownedBus) Close() error { return errors.Join(o.Driver.Close(), o.bus.Close()) }
