package lcd

import (
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/constellation-ev/constellation/appliance/internal/device/devicetest"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   []string // every one must be in the error; none: valid
	}{
		{"defaults", func(*Config) {}, nil},
		{"20x4 aip31068", func(c *Config) { c.Driver, c.Columns, c.Rows = DriverAiP31068, 20, 4 }, nil},
		{"pcf8574a address", func(c *Config) { c.Driver, c.Address = DriverPCF8574, 0x3F }, nil},
		{"none ignores the rest", func(c *Config) { c.Driver, c.Rows, c.Bus = DriverNone, 0, "" }, nil},
		{"sim needs no bus", func(c *Config) { c.Driver, c.Bus = DriverSim, "" }, nil},
		{"unknown driver", func(c *Config) { c.Driver = "hd44780" }, []string{`driver: "hd44780" is not auto, pcf8574, aip31068, sim or none`}},
		{"no bus", func(c *Config) { c.Bus = "" }, []string{"bus: must not be empty"}},
		{"aip31068 elsewhere", func(c *Config) { c.Driver, c.Address = DriverAiP31068, 0x27 }, []string{"address: 0x27 is not an address an aip31068 display can have"}},
		{"pcf8574 elsewhere", func(c *Config) { c.Driver, c.Address = DriverPCF8574, 0x50 }, []string{"address: 0x50 is not an address a pcf8574 display can have"}},
		{"auto elsewhere", func(c *Config) { c.Address = 0x50 }, []string{"address: 0x50 is not the address of a PCF8574, PCF8574A or AiP31068"}},
		{"geometry", func(c *Config) { c.Columns, c.Rows = 40, 4 }, []string{"columns: 40 is more than 20"}},
		{"several", func(c *Config) { c.Bus, c.Rows = "", 0 }, []string{"bus:", "rows: 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Defaults()
			tc.modify(&cfg)
			devicetest.CheckError(t, cfg.Validate(), tc.want)
		})
	}
}

func TestConfigTOML(t *testing.T) {
	cfg := Defaults()
	if _, err := toml.Decode("driver = \"pcf8574\"\naddress = 0x3F\ncolumns = 20\nrows = 4\nbacklight = false\n", &cfg); err != nil {
		t.Fatal(err)
	}
	want := Config{Driver: DriverPCF8574, Bus: "1", Address: 0x3F, Columns: 20, Rows: 4, Backlight: false}
	if cfg != want {
		t.Errorf("decoded %+v; want %+v", cfg, want)
	}
}
