package lcd

import (
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
)

// AddrAiP31068 is the AiP31068's fixed I2C address.
const AddrAiP31068 uint16 = 0x3E

// AiP31068 control bytes (datasheet, I2C interface): Co set means another
// control byte follows the next data byte; RS set means the bytes are
// display data rather than instructions.
const (
	ctrlLast        = 0x00 // Co=0, RS=0: the rest of the transfer is instructions
	ctrlInstruction = 0x80 // Co=1, RS=0: one instruction, then a control byte
	ctrlData        = 0x40 // Co=0, RS=1: the rest of the transfer is display data
)

// AiP31068 is a display with an AiP31068 controller (HD44780 instruction
// set, native I2C interface), as on Waveshare's LCD1602 I2C modules.
//
// periph's aip31068 package is not used: it polls a busy flag against the
// wall clock before every write, treats the data byte 0xFE as a command
// marker, and panics on rows beyond its table.
type AiP31068 struct {
	*controller
}

var _ Driver = (*AiP31068)(nil)

// NewAiP31068 initialises the display at addr on bus. The module's
// backlight is not the controller's: DriverOptions.BacklightOff is ignored.
func NewAiP31068(bus i2c.Bus, addr uint16, opts DriverOptions) (*AiP31068, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, optionsError(DriverAiP31068, err)
	}
	l := &aipLink{dev: i2c.Dev{Bus: bus, Addr: addr}, clock: o.Clock}
	a := &AiP31068{newController(Info{Driver: DriverAiP31068, Address: addr}, l, o)}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.init(); err != nil {
		return nil, err
	}
	return a, nil
}

// aipLink sends each instruction in its own transfer, and display data
// after its address in one transfer.
type aipLink struct {
	dev   i2c.Dev
	clock clock.Clock
}

// reset sends the function set three times with the HD44780's waits, as
// the datasheet's initialisation does. The I2C interface is 8 bits wide.
func (l *aipLink) reset(twoLines bool) error {
	pause(l.clock, powerOnWait)
	fn := byte(cmdFunctionSet | function8Bit)
	if twoLines {
		fn |= functionLines2
	}
	for _, wait := range []time.Duration{firstResetWait, resetWait, resetWait} {
		if err := l.command(fn); err != nil {
			return err
		}
		pause(l.clock, wait)
	}
	return nil
}

func (l *aipLink) command(c byte) error {
	return l.dev.Tx([]byte{ctrlLast, c}, nil)
}

func (l *aipLink) writeAt(addr byte, data []byte) error {
	buf := append([]byte{ctrlInstruction, cmdSetDDRAM | addr, ctrlData}, data...)
	return l.dev.Tx(buf, nil)
}

func (l *aipLink) off() error { return l.command(cmdDisplay) }
