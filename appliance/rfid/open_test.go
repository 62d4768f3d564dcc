package rfid

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/conn/v3/spi/spitest"

	"github.com/constellation-ev/constellation/appliance/internal/clock/clocktest"
)

// The registries are global: the fakes are registered once per test binary.
var registerOnce sync.Once

// registerFakes puts an SPI port "RFIDTEST0.0" that plays back an Init, and
// pins RFIDTEST_RST and RFIDTEST_IRQ, in periph's registries.
func registerFakes(t *testing.T) {
	t.Helper()
	registerOnce.Do(func() {
		err := spireg.Register("RFIDTEST0.0", nil, -1, func() (spi.PortCloser, error) {
			return &spitest.Playback{Playback: conntest.Playback{Ops: initOps(0x92), DontPanic: true}}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"RFIDTEST_RST", "RFIDTEST_IRQ"} {
			if err := gpioreg.Register(&gpiotest.Pin{N: name}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestOpenRegistered(t *testing.T) {
	registerFakes(t)
	cfg := Defaults()
	cfg.SPIPort, cfg.ResetPin, cfg.IRQPin = "RFIDTEST0.0", "RFIDTEST_RST", "RFIDTEST_IRQ"
	clock := clocktest.NewInstant(t0)
	dev, err := openRegistered(cfg, clock)
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	if gpioreg.ByName("RFIDTEST_RST").Read() != gpio.High {
		t.Error("reset pin not left high")
	}
	// Close closes the port, and the playback checks everything was played.
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRegisteredErrors(t *testing.T) {
	registerFakes(t)
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"unknown reset pin", func(c *Config) { c.ResetPin = "GPIO999" }, `reset_pin: no GPIO named "GPIO999"`},
		{"unknown irq pin", func(c *Config) { c.IRQPin = "NOPE" }, `irq_pin: no GPIO named "NOPE"`},
		{"unknown port", func(c *Config) { c.SPIPort = "SPI9.9" }, "spi port SPI9.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Defaults()
			cfg.SPIPort, cfg.ResetPin, cfg.IRQPin = "RFIDTEST0.0", "", ""
			tt.edit(&cfg)
			if _, err := openRegistered(cfg, nil); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("openRegistered = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	cfg := Defaults()
	cfg.Driver = DriverSim
	dev, err := Open(cfg, nil)
	if _, ok := dev.(*Sim); err != nil || !ok {
		t.Fatalf("Open(sim) = %T, %v", dev, err)
	}

	cfg.Driver, cfg.Device = DriverKeyboard, "/dev/input/event7"
	if dev, err := Open(cfg, nil); err != nil || dev.(*Keyboard).path != "/dev/input/event7" {
		t.Fatalf("Open(keyboard) = %T, %v", dev, err)
	}

	cfg.Driver = DriverNone
	if dev, err := Open(cfg, nil); dev != nil || err != nil {
		t.Fatalf("Open(none) = %v, %v; want nil, nil", dev, err)
	}

	cfg.Driver = "pn532"
	if _, err := Open(cfg, nil); err == nil || !strings.Contains(err.Error(), `rfid: driver: "pn532"`) {
		t.Fatalf("Open(pn532) = %v", err)
	}

	cfg.Driver = DriverMFRC522
	dev, err = Open(cfg, nil)
	if _, ok := dev.(*lazyDevice); err != nil || !ok {
		t.Fatalf("Open(mfrc522) = %T, %v; want the device that opens at Init", dev, err)
	}
	if err := dev.Close(); err != nil {
		t.Fatalf("Close before any Init = %v", err)
	}
}

func TestLazyDevice(t *testing.T) {
	ctx := context.Background()
	sim := NewSim(nil)
	if err := sim.Place(uid4); err != nil {
		t.Fatal(err)
	}
	opens := []error{errors.New("open /dev/spidev0.0: no such file or directory"), nil}
	l := &lazyDevice{open: func() (Device, error) {
		err := opens[0]
		opens = opens[1:]
		if err != nil {
			return nil, err
		}
		return sim, nil
	}}
	if _, _, err := l.Poll(ctx); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("Poll before Init = %v, want ErrNoDevice", err)
	}
	if err := l.Init(ctx); !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), "spidev0.0") {
		t.Fatalf("Init with the bus missing = %v, want ErrNoDevice and why", err)
	}
	if err := l.Init(ctx); err != nil {
		t.Fatalf("Init once the bus is there = %v", err)
	}
	if err := l.Init(ctx); err != nil { // opened once only
		t.Fatal(err)
	}
	if uid, ok, err := l.Poll(ctx); err != nil || !ok || string(uid) != string(uid4) {
		t.Fatalf("Poll = %X, %v, %v", uid, ok, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
