//go:build hw

package hwtests

import (
	"flag"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/host/v3"

	"github.com/constellation-ev/constellation/appliance/lcd"
	"github.com/constellation-ev/constellation/appliance/screen"
)

// The LCD's setup; the defaults are the appliance's.
var (
	lcdBus   = flag.String("lcd-bus", "1", "I2C bus of the LCD, as periph names it")
	lcdSize  = flag.String("lcd-size", "16x2", "the LCD's columns x rows (the chips cannot report it)")
	lcdPause = flag.Duration("lcd-pause", 2*time.Second, "how long each screen stays for you to look at it")
)

// TestLCDScreens finds the LCD on the I2C bus, then draws every screen of
// the screen manager in English and in Spanish, logging what the display
// should show. With -record it writes the I2C traffic (detection and
// initialisation, then each screen) as an i2ctest.Playback fixture:
// lcd-<driver>-<address>-<size>.txt.
func TestLCDScreens(t *testing.T) {
	if _, err := host.Init(); err != nil {
		t.Fatalf("periph host: %v", err)
	}
	cfg := lcd.Defaults()
	cfg.Bus = *lcdBus
	if _, err := fmt.Sscanf(*lcdSize, "%dx%d", &cfg.Columns, &cfg.Rows); err != nil {
		t.Fatalf("-lcd-size %q: %v", *lcdSize, err)
	}
	hwBus, err := i2creg.Open(cfg.Bus)
	if err != nil {
		t.Fatalf("I2C bus %s (is I2C enabled? dtparam=i2c_arm=on): %v", cfg.Bus, err)
	}
	t.Cleanup(func() { _ = hwBus.Close() })
	var bus i2c.Bus = hwBus
	rec := &i2ctest.Record{Bus: hwBus}
	if *recordDir != "" {
		bus = rec
	}

	d, err := lcd.OpenBus(bus, cfg, nil)
	if err != nil {
		t.Fatalf("no display (check the wiring table in README.md, and i2cdetect -y %s): %v", cfg.Bus, err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	info := d.Info()
	t.Logf("found %s, drawing on it as %dx%d", info, cfg.Columns, cfg.Rows)
	parts := []fixturePart{{"detection and initialisation of " + info.String(), takeI2CLiterals(rec)}}

	for _, lang := range []string{"en", "es"} {
		for _, s := range screen.Scenes() {
			lines := s.Render(cfg.Columns, cfg.Rows, lang, time.Now())
			if err := d.Show(lines); err != nil {
				t.Fatalf("%s %s: %v", lang, s.Name, err)
			}
			t.Logf("%s %-30s should show %q", lang, s.Name, lines)
			parts = append(parts, fixturePart{fmt.Sprintf("%s %s: %q", lang, s.Name, lines), takeI2CLiterals(rec)})
			time.Sleep(*lcdPause) // for the person looking at the display
		}
	}

	if *recordDir != "" {
		name := fmt.Sprintf("lcd-%s-%02x-%s.txt", info.Driver, info.Address, *lcdSize)
		path := filepath.Join(*recordDir, name)
		if err := writeFixture(path, "LCD I2C", "a []i2ctest.IO for i2ctest.Playback; the controller's waits are not recorded", parts); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded the I2C traffic into %s", path)
	}
}

// takeI2CLiterals returns what rec recorded since the last call, as Go
// literals of i2ctest.IO.
func takeI2CLiterals(rec *i2ctest.Record) []string {
	return literals(takeOps(rec, &rec.Ops), func(op i2ctest.IO) string {
		return fmt.Sprintf("{Addr: %#02x, W: %#v, R: %#v}", op.Addr, op.W, op.R)
	})
}
