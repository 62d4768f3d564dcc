package lcd

import (
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
)

// Default addresses of the PCF8574 (A2..A0 high, as backpacks ship) and
// of the PCF8574A, which differs only in its fixed address bits.
const (
	AddrPCF8574  uint16 = 0x27
	AddrPCF8574A uint16 = 0x3F
)

// PinMap says which PCF8574 port bit (0 to 7) drives which display pin.
// The display's RW pin is held low: the driver only writes.
type PinMap struct {
	RS, RW, E, Backlight uint8
	// Data are the display's D4, D5, D6 and D7.
	Data [4]uint8
}

// DefaultPinMap is the wiring of the common backpacks: P0 RS, P1 RW, P2 E,
// P3 backlight (high is on), P4..P7 D4..D7.
var DefaultPinMap = PinMap{RS: 0, RW: 1, E: 2, Backlight: 3, Data: [4]uint8{4, 5, 6, 7}}

// check reports a map that does not use eight distinct port bits.
func (p PinMap) check() error {
	var used uint16
	for _, b := range []uint8{p.RS, p.RW, p.E, p.Backlight, p.Data[0], p.Data[1], p.Data[2], p.Data[3]} {
		if b > 7 {
			return fmt.Errorf("pins: bit %d is not a PCF8574 port bit (0 to 7)", b)
		}
		if used&(1<<b) != 0 {
			return fmt.Errorf("pins: bit %d is used twice", b)
		}
		used |= 1 << b
	}
	return nil
}

// PCF8574 is an HD44780 display behind a PCF8574 or PCF8574A I2C backpack,
// driven in 4-bit mode through the expander's port.
//
// periph's hd44780 and pcf857x packages are not used: hd44780 toggles one
// GPIO per I2C write, never sends a two-line function set and addresses
// two rows only, and pcf857x registers its pins globally on every New.
type PCF8574 struct {
	*controller
}

var _ Driver = (*PCF8574)(nil)

// NewPCF8574 initialises the display behind the backpack at addr on bus.
func NewPCF8574(bus i2c.Bus, addr uint16, opts DriverOptions) (*PCF8574, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, optionsError(DriverPCF8574, err)
	}
	l := &pcfLink{dev: i2c.Dev{Bus: bus, Addr: addr}, pins: o.Pins, clock: o.Clock}
	if !o.BacklightOff {
		l.light = 1 << o.Pins.Backlight
	}
	p := &PCF8574{newController(Info{Driver: DriverPCF8574, Address: addr}, l, o)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.init(); err != nil {
		return nil, err
	}
	return p, nil
}

// pcfLink sends instructions and data as 4-bit nibbles on the expander's
// port: each nibble is latched by a pulse on E (high, then low), and RS
// (low for instructions, high for data) is set up with E low before the
// first pulse of each transfer, as the datasheet's RS-to-E setup time wants.
type pcfLink struct {
	dev   i2c.Dev
	pins  PinMap
	light byte // the backlight bit, or 0 when it is off
	clock clock.Clock
}

// port is the port value that puts nibble on D4..D7 with E low.
func (l *pcfLink) port(nibble byte, rs bool) byte {
	v := l.light
	for i, bit := range l.pins.Data {
		if nibble&(1<<i) != 0 {
			v |= 1 << bit
		}
	}
	if rs {
		v |= 1 << l.pins.RS
	}
	return v
}

// appendPulse appends the port values that latch nibble.
func (l *pcfLink) appendPulse(buf []byte, nibble byte, rs bool) []byte {
	v := l.port(nibble, rs)
	return append(buf, v|1<<l.pins.E, v)
}

// appendBytes appends RS setup and the two nibbles of each byte, high first.
func (l *pcfLink) appendBytes(buf []byte, rs bool, bs ...byte) []byte {
	buf = append(buf, l.port(bs[0]>>4, rs))
	for _, b := range bs {
		buf = l.appendPulse(buf, b>>4, rs)
		buf = l.appendPulse(buf, b&0x0F, rs)
	}
	return buf
}

// reset is the datasheet's "initializing by instruction" for 4-bit
// operation (figure 24): whatever mode the controller is in, three 8-bit
// function sets (nibble 3) bring it to 8-bit mode and nibble 2 to 4-bit.
func (l *pcfLink) reset(twoLines bool) error {
	pause(l.clock, powerOnWait)
	for _, s := range []struct {
		nibble byte
		wait   time.Duration
	}{{0x3, firstResetWait}, {0x3, resetWait}, {0x3, resetWait}, {0x2, resetWait}} {
		v := l.port(s.nibble, false)
		if err := l.dev.Tx(l.appendPulse([]byte{v}, s.nibble, false), nil); err != nil {
			return err
		}
		pause(l.clock, s.wait)
	}
	fn := byte(cmdFunctionSet)
	if twoLines {
		fn |= functionLines2
	}
	return l.command(fn)
}

func (l *pcfLink) command(c byte) error {
	return l.dev.Tx(l.appendBytes(nil, false, c), nil)
}

// writeAt sends the address and the data in one transfer.
func (l *pcfLink) writeAt(addr byte, data []byte) error {
	buf := l.appendBytes(nil, false, cmdSetDDRAM|addr)
	return l.dev.Tx(l.appendBytes(buf, true, data...), nil)
}

// off switches the display off, then drives every port bit low, which
// switches the backlight off.
func (l *pcfLink) off() error {
	return errors.Join(l.command(cmdDisplay), l.dev.Tx([]byte{0}, nil))
}
