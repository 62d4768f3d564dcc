package lcd

import (
	"errors"
	"strings"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
)

// Probes: a one-byte read of a PCF8574's port; a lone control byte to an AiP31068.
var (
	probePCF27 = i2ctest.IO{Addr: 0x27, R: []byte{0xFF}}
	probePCF3F = i2ctest.IO{Addr: 0x3F, R: []byte{0xFF}}
	probeAiP   = tx(0x3E, []byte{0x00})
)

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name    string
		driver  string
		addr    uint16
		present []i2ctest.IO // probes that are answered
		absent  []uint16
		want    Info
		wantErr string
	}{
		{"pcf8574 at 0x27", DriverAuto, 0, []i2ctest.IO{probePCF27}, nil, Info{DriverPCF8574, 0x27}, ""},
		{"pcf8574a at 0x3f", DriverAuto, 0, []i2ctest.IO{probePCF3F}, []uint16{0x27}, Info{DriverPCF8574, 0x3F}, ""},
		{"aip31068 at 0x3e", DriverAuto, 0, []i2ctest.IO{probeAiP}, []uint16{0x27, 0x3F}, Info{DriverAiP31068, 0x3E}, ""},
		{"none", DriverAuto, 0, nil, []uint16{0x27, 0x3F, 0x3E}, Info{}, "lcd: no display found on playback (tried 0x27, 0x3f, 0x3e)"},
		{"pcf8574 only", DriverPCF8574, 0, nil, []uint16{0x27, 0x3F}, Info{}, "(tried 0x27, 0x3f)"},
		{"aip31068 only", DriverAiP31068, 0, []i2ctest.IO{probeAiP}, nil, Info{DriverAiP31068, 0x3E}, ""},
		{"auto at 0x3e", DriverAuto, 0x3E, []i2ctest.IO{probeAiP}, nil, Info{DriverAiP31068, 0x3E}, ""},
		{"auto at 0x20", DriverAuto, 0x20, []i2ctest.IO{{Addr: 0x20, R: []byte{0xFF}}}, nil, Info{DriverPCF8574, 0x20}, ""},
		{"pcf8574 at 0x3e", DriverPCF8574, 0x3E, []i2ctest.IO{{Addr: 0x3E, R: []byte{0xFF}}}, nil, Info{DriverPCF8574, 0x3E}, ""},
		{"given address absent", DriverPCF8574, 0x3F, nil, []uint16{0x3F}, Info{}, "(tried 0x3f)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBus(tc.present)
			b.absent = map[uint16]bool{}
			for _, a := range tc.absent {
				b.absent[a] = true
			}
			got, err := Detect(b, tc.driver, tc.addr)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Detect = %v, %v; want ErrNotFound with %q", got, err, tc.wantErr)
				}
			} else if err != nil || got != tc.want {
				t.Fatalf("Detect = %v, %v; want %v", got, err, tc.want)
			}
			b.done(t)
		})
	}
}

func TestOpenBus(t *testing.T) {
	t.Run("auto finds a 20x4 behind a PCF8574A", func(t *testing.T) {
		b := newBus(ops([]i2ctest.IO{probePCF3F}, pcfInit(0x3F), []i2ctest.IO{tx(0x3F, pcfWrite(0x54, "hello"))}))
		b.absent = map[uint16]bool{0x27: true}
		cfg := Defaults()
		cfg.Columns, cfg.Rows = 20, 4
		d, err := OpenBus(b, cfg, &busClock{bus: b})
		if err != nil {
			t.Fatal(err)
		}
		if d.Info() != (Info{DriverPCF8574, 0x3F}) {
			t.Errorf("Info() = %v", d.Info())
		}
		if err := d.Show([]string{"", "", "", "hello"}); err != nil {
			t.Fatal(err)
		}
		b.done(t)
	})
	t.Run("aip31068 by name", func(t *testing.T) {
		b := newBus(ops([]i2ctest.IO{probeAiP}, aipInit()))
		cfg := Defaults()
		cfg.Driver = DriverAiP31068
		d, err := OpenBus(b, cfg, &busClock{bus: b})
		if err != nil {
			t.Fatal(err)
		}
		if d.Info() != (Info{DriverAiP31068, 0x3E}) {
			t.Errorf("Info() = %v", d.Info())
		}
		b.done(t)
	})
	t.Run("nothing there", func(t *testing.T) {
		b := newBus(nil)
		b.absent = map[uint16]bool{0x27: true, 0x3F: true, 0x3E: true}
		if _, err := OpenBus(b, Defaults(), &busClock{bus: b}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v; want ErrNotFound", err)
		}
		b.done(t)
	})
	t.Run("invalid config", func(t *testing.T) {
		cfg := Defaults()
		cfg.Rows = 3
		if _, err := OpenBus(newBus(nil), cfg, nil); err == nil || !strings.Contains(err.Error(), "rows: 3") {
			t.Fatalf("err = %v", err)
		}
		cfg = Defaults()
		cfg.Driver = DriverSim
		if _, err := OpenBus(newBus(nil), cfg, nil); err == nil || !strings.Contains(err.Error(), `driver "sim" is not an I2C display`) {
			t.Fatalf("err = %v", err)
		}
	})
}
