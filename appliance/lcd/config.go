package lcd

import (
	"errors"
	"fmt"
)

// Config is the display's section of the appliance configuration ([lcd]
// in the TOML file).
type Config struct {
	// Driver is "auto" (probe the bus), "pcf8574", "aip31068", "sim" or "none".
	Driver string `toml:"driver"`
	// Bus is the I2C bus as periph names it ("1" is /dev/i2c-1).
	Bus string `toml:"bus"`
	// Address is the display's 7-bit I2C address (0x27, 0x3F, 0x3E); 0
	// probes the usual ones.
	Address uint16 `toml:"address"`
	// Columns and Rows are the display's geometry: 16x2 or 20x4, for
	// example. The chips cannot report it.
	Columns int `toml:"columns"`
	Rows    int `toml:"rows"`
	// Backlight switches a PCF8574 backpack's backlight on.
	Backlight bool `toml:"backlight"`
}

// Defaults returns the configuration of the common setup: a 16x2 display
// found by probing I2C bus 1, backlight on.
func Defaults() Config {
	return Config{Driver: DriverAuto, Bus: "1", Columns: 16, Rows: 2, Backlight: true}
}

// I2C addresses each chip can have: the PCF8574's three address pins
// select 0x20-0x27, the PCF8574A's 0x38-0x3F; the AiP31068's is fixed.
func addressAllowed(driver string, addr uint16) bool {
	pcf := addr >= 0x20 && addr <= 0x27 || addr >= 0x38 && addr <= 0x3F
	switch driver {
	case DriverPCF8574:
		return pcf
	case DriverAiP31068:
		return addr == AddrAiP31068
	}
	return pcf || addr == AddrAiP31068
}

// Validate reports every setting that is out of range, by its TOML key.
func (c Config) Validate() error {
	var errs []error
	switch c.Driver {
	case DriverAuto, DriverPCF8574, DriverAiP31068, DriverSim, DriverNone:
	default:
		errs = append(errs, fmt.Errorf("driver: %q is not auto, pcf8574, aip31068, sim or none", c.Driver))
	}
	if c.Driver == DriverNone {
		return errors.Join(errs...)
	}
	if c.onI2C() {
		if c.Bus == "" {
			errs = append(errs, errors.New("bus: must not be empty with an I2C display"))
		}
		switch {
		case c.Address == 0 || addressAllowed(c.Driver, c.Address):
		case c.Driver == DriverAuto:
			errs = append(errs, fmt.Errorf("address: %#02x is not the address of a PCF8574, PCF8574A or AiP31068", c.Address))
		default:
			errs = append(errs, fmt.Errorf("address: %#02x is not an address %s %s display can have", c.Address, article(c.Driver), c.Driver))
		}
	}
	if err := checkGeometry(c.Columns, c.Rows); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// onI2C reports whether the driver is hardware on the I2C bus.
func (c Config) onI2C() bool {
	return c.Driver == DriverAuto || c.Driver == DriverPCF8574 || c.Driver == DriverAiP31068
}

func article(driver string) string {
	if driver == DriverAiP31068 {
		return "an"
	}
	return "a"
}
