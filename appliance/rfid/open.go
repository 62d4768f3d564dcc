package rfid

import (
	"context"
	"errors"
	"fmt"
	"io"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
)

// Open returns the device cfg names: nil for "none", a *Sim for "sim",
// and for "mfrc522" a device that opens the hardware through periph's
// registries at its first Init, so that a bus missing at start (SPI not
// enabled yet, not a Pi) is reported and retried like a reader that fails
// later. clk (nil: the wall clock) is given to the device.
func Open(cfg Config, clk clock.Clock) (Device, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rfid: %w", err)
	}
	switch cfg.Driver {
	case DriverSim:
		return NewSim(clk), nil
	case DriverKeyboard:
		return NewKeyboard(cfg.Device, cfg.KeyboardHex), nil
	case DriverMFRC522:
		return &lazyDevice{open: func() (Device, error) {
			// The only code the tests cannot reach: it needs a real host.
			if _, err := host.Init(); err != nil {
				return nil, fmt.Errorf("periph host: %w", err)
			}
			return openRegistered(cfg, clk)
		}}, nil
	}
	return nil, nil
}

// openRegistered opens the MFRC522 of cfg from the SPI and GPIO registries.
func openRegistered(cfg Config, clk clock.Clock) (Device, error) {
	reset, err := pinByName("reset_pin", cfg.ResetPin)
	if err != nil {
		return nil, err
	}
	irq, err := pinByName("irq_pin", cfg.IRQPin)
	if err != nil {
		return nil, err
	}
	port, err := spireg.Open(cfg.SPIPort)
	if err != nil {
		return nil, fmt.Errorf("spi port %s: %w", cfg.SPIPort, err)
	}
	if err := port.LimitSpeed(physic.Frequency(cfg.SPISpeedHz) * physic.Hertz); err != nil {
		return nil, errors.Join(fmt.Errorf("spi port %s: speed: %w", cfg.SPIPort, err), port.Close())
	}
	m, err := NewMFRC522(port, reset, irq, clk)
	if err != nil {
		return nil, errors.Join(err, port.Close())
	}
	return &ownedPort{MFRC522: m, port: port}, nil
}

// pinByName returns the named GPIO, or nil for an empty name.
func pinByName(key, name string) (gpio.PinIO, error) {
	if name == "" {
		return nil, nil
	}
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, fmt.Errorf("%s: no GPIO named %q", key, name)
	}
	return p, nil
}

// ownedPort is an MFRC522 that closes the SPI port it was opened on.
type ownedPort struct {
	*MFRC522
	port io.Closer
}

// Close closes the SPI port.
func (o *ownedPort) Close() error { return o.port.Close() }

// lazyDevice opens its device at the first Init that succeeds in opening it.
type lazyDevice struct {
	open func() (Device, error)
	dev  Device
}

var _ Device = (*lazyDevice)(nil)

// Init opens the device if it is not open yet, then initialises it.
func (l *lazyDevice) Init(ctx context.Context) error {
	if l.dev == nil {
		dev, err := l.open()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNoDevice, err)
		}
		l.dev = dev
	}
	return l.dev.Init(ctx)
}

// Poll polls the open device.
func (l *lazyDevice) Poll(ctx context.Context) ([]byte, bool, error) {
	if l.dev == nil {
		return nil, false, fmt.Errorf("%w: not initialised", ErrNoDevice)
	}
	return l.dev.Poll(ctx)
}

// Close closes the device if it was opened.
func (l *lazyDevice) Close() error {
	if l.dev == nil {
		return nil
	}
	return l.dev.Close()
}
