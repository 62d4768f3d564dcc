package rfid

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Drivers a Config can name.
const (
	// DriverMFRC522 is an NXP MFRC522 on SPI.
	DriverMFRC522 = "mfrc522"
	// DriverSim is the simulated reader of dev mode.
	DriverSim = "sim"
	// DriverKeyboard is a USB reader that types card numbers (evdev).
	DriverKeyboard = "keyboard"
	// DriverNone means the station has no reader of the appliance's own.
	DriverNone = "none"
)

// Bounds of the configurable values.
const (
	// maxSPISpeedHz is the MFRC522's fastest SPI clock (datasheet 8.1.2: 10 Mbit/s).
	maxSPISpeedHz    = 10_000_000
	minSPISpeedHz    = 10_000
	minPollInterval  = 10 * time.Millisecond
	maxPollInterval  = 10 * time.Second
	maxRemovalMisses = 100
)

// Config is the reader's section of the appliance configuration
// ([rfid] in the TOML file).
type Config struct {
	// Driver is "mfrc522", "keyboard", "sim" or "none".
	Driver string `toml:"driver"`
	// Device is the keyboard reader's input device
	// (/dev/input/by-id/...-event-kbd).
	Device string `toml:"device"`
	// KeyboardHex says the keyboard reader types the UID's bytes in hex;
	// false: its value in decimal (the usual 10 digits).
	KeyboardHex bool `toml:"keyboard_hex"`
	// SPIPort is the MFRC522's SPI port as periph names it ("SPI0.0": bus 0, CE0).
	SPIPort string `toml:"spi_port"`
	// SPISpeedHz is the SPI clock, at most 10 MHz; long wires want less.
	SPISpeedHz int64 `toml:"spi_speed_hz"`
	// ResetPin drives the MFRC522's NRSTPD; empty: not wired (soft reset only).
	ResetPin string `toml:"reset_pin"`
	// IRQPin is the MFRC522's IRQ output; empty: not wired. The driver polls
	// the chip, so the pin is only claimed, for wiring compatibility.
	IRQPin string `toml:"irq_pin"`
	// PollInterval is how often the reader looks for a card.
	PollInterval time.Duration `toml:"poll_interval"`
	// RemovalMisses is how many polls in a row must miss a card before it
	// counts as taken away: readers miss a present card now and then.
	RemovalMisses int `toml:"removal_misses"`
	// Format makes the id token from the card's UID.
	Format Format `toml:"format"`
}

// Defaults returns the configuration of the standard wiring: an MFRC522
// on SPI0 CE0 with IRQ on GPIO4 and reset on GPIO25.
func Defaults() Config {
	return Config{
		Driver:        DriverMFRC522,
		SPIPort:       "SPI0.0",
		SPISpeedHz:    1_000_000,
		ResetPin:      "GPIO25",
		IRQPin:        "GPIO4",
		PollInterval:  100 * time.Millisecond,
		RemovalMisses: 3,
		Format:        Format{Case: CaseUpper},
	}
}

// Validate reports every setting that is out of range, by its TOML key.
func (c Config) Validate() error {
	var errs []error
	switch c.Driver {
	case DriverMFRC522:
		if c.SPIPort == "" {
			errs = append(errs, errors.New("spi_port: must not be empty with the mfrc522 driver"))
		}
		if c.SPISpeedHz < minSPISpeedHz || c.SPISpeedHz > maxSPISpeedHz {
			errs = append(errs, fmt.Errorf("spi_speed_hz: %d is not between %d and %d", c.SPISpeedHz, minSPISpeedHz, maxSPISpeedHz))
		}
		if c.ResetPin != "" && c.ResetPin == c.IRQPin {
			errs = append(errs, fmt.Errorf("reset_pin and irq_pin: both are %s", c.ResetPin))
		}
	case DriverKeyboard:
		if !strings.HasPrefix(c.Device, "/dev/input/") {
			errs = append(errs, fmt.Errorf("device: %q is not an input device under /dev/input/", c.Device))
		}
	case DriverSim, DriverNone:
	default:
		errs = append(errs, fmt.Errorf("driver: %q is not %s, %s, %s or %s", c.Driver, DriverMFRC522, DriverKeyboard, DriverSim, DriverNone))
	}
	if c.PollInterval < minPollInterval || c.PollInterval > maxPollInterval {
		errs = append(errs, fmt.Errorf("poll_interval: %s is not between %s and %s", c.PollInterval, minPollInterval, maxPollInterval))
	}
	if c.RemovalMisses < 1 || c.RemovalMisses > maxRemovalMisses {
		errs = append(errs, fmt.Errorf("removal_misses: %d is not between 1 and %d", c.RemovalMisses, maxRemovalMisses))
	}
	for _, err := range c.Format.problems() {
		errs = append(errs, fmt.Errorf("format.%w", err))
	}
	return errors.Join(errs...)
}
