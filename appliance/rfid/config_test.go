package rfid

import (
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/constellation-ev/constellation/appliance/internal/device/devicetest"
)

func TestDefaultsAreValid(t *testing.T) {
	c := Defaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("Defaults().Validate() = %v", err)
	}
	if c.Driver != DriverMFRC522 || c.SPIPort != "SPI0.0" || c.IRQPin != "GPIO4" || c.ResetPin != "GPIO25" {
		t.Errorf("Defaults() = %+v, want the standard wiring (mfrc522 on SPI0.0, IRQ GPIO4, RST GPIO25)", c)
	}
}

func TestConfigTOML(t *testing.T) {
	c := Defaults()
	_, err := toml.Decode(`
driver = "sim"
spi_port = "SPI1.0"
spi_speed_hz = 4000000
reset_pin = ""
irq_pin = "GPIO24"
poll_interval = "250ms"
removal_misses = 5
[format]
case = "lower"
separator = ":"
reversed = true
`, &c)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Driver: DriverSim, SPIPort: "SPI1.0", SPISpeedHz: 4_000_000, IRQPin: "GPIO24",
		PollInterval: 250 * time.Millisecond, RemovalMisses: 5,
		Format: Format{Case: CaseLower, Separator: ":", Reversed: true},
	}
	if c != want {
		t.Fatalf("decoded %+v, want %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr []string
	}{
		{"defaults", func(*Config) {}, nil},
		{"sim needs no SPI", func(c *Config) { c.Driver = DriverSim; c.SPIPort = ""; c.SPISpeedHz = 0 }, nil},
		{"none", func(c *Config) { c.Driver = DriverNone }, nil},
		{"keyboard", func(c *Config) { c.Driver = DriverKeyboard; c.Device = "/dev/input/by-id/usb-reader-event-kbd" }, nil},
		{"keyboard without device", func(c *Config) { c.Driver = DriverKeyboard }, []string{`device: ""`}},
		{"keyboard elsewhere", func(c *Config) { c.Driver = DriverKeyboard; c.Device = "/etc/passwd" }, []string{`device: "/etc/passwd"`}},
		{"no pins wired", func(c *Config) { c.ResetPin = ""; c.IRQPin = "" }, nil},
		{"unknown driver", func(c *Config) { c.Driver = "pn532" }, []string{`driver: "pn532"`}},
		{"empty driver", func(c *Config) { c.Driver = "" }, []string{`driver: ""`}},
		{"no spi port", func(c *Config) { c.SPIPort = "" }, []string{"spi_port:"}},
		{"spi too fast", func(c *Config) { c.SPISpeedHz = 20_000_000 }, []string{"spi_speed_hz: 20000000"}},
		{"spi too slow", func(c *Config) { c.SPISpeedHz = 0 }, []string{"spi_speed_hz: 0"}},
		{"same pin twice", func(c *Config) { c.IRQPin = c.ResetPin }, []string{"reset_pin and irq_pin"}},
		{"poll too fast", func(c *Config) { c.PollInterval = time.Millisecond }, []string{"poll_interval: 1ms"}},
		{"poll too slow", func(c *Config) { c.PollInterval = time.Minute }, []string{"poll_interval: 1m0s"}},
		{"no misses", func(c *Config) { c.RemovalMisses = 0 }, []string{"removal_misses: 0"}},
		{"bad format", func(c *Config) { c.Format = Format{Case: "mixed", Separator: "/"} }, []string{"format.case:", "format.separator:"}},
		{"several at once", func(c *Config) { c.Driver = "x"; c.RemovalMisses = -1 }, []string{"driver:", "removal_misses:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.edit(&c)
			devicetest.CheckError(t, c.Validate(), tt.wantErr)
		})
	}
}

func TestReaderOptions(t *testing.T) {
	c := Defaults()
	c.PollInterval = 300 * time.Millisecond
	c.RemovalMisses = 7
	c.Format.Separator = "-"
	o := c.ReaderOptions()
	if o.Interval != c.PollInterval || o.RemovalMisses != 7 || o.Format != c.Format {
		t.Fatalf("ReaderOptions = %+v from %+v", o, c)
	}
}
