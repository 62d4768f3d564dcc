package lcd

import (
	"errors"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"
)

// errNACK is what Linux reports when no chip acknowledges (EREMOTEIO).
var errNACK = errors.New("sysfs-i2c: remote I/O error")

// testBus is the tests' I2C bus: a Playback of the expected transfers,
// a NACK at absent addresses, and an injected failure.
type testBus struct {
	i2ctest.Playback
	// absent addresses NACK every transfer without consuming an op.
	absent map[uint16]bool
	// failAt is the 1-based number of the transfer that fails with errNACK
	// without consuming an op; 0: none.
	failAt int
	n      int
}

func newBus(expected []i2ctest.IO) *testBus {
	b := &testBus{}
	b.Ops, b.DontPanic = expected, true
	return b
}

func (b *testBus) Tx(addr uint16, w, r []byte) error {
	b.Lock()
	b.n++
	fail := b.n == b.failAt || b.absent[addr]
	b.Unlock()
	if fail {
		return errNACK
	}
	return b.Playback.Tx(addr, w, r)
}

// done fails the test unless every expected transfer happened.
func (b *testBus) done(t *testing.T) {
	t.Helper()
	if err := b.Close(); err != nil {
		t.Error(err)
	}
}

// count is how many expected transfers have happened.
func (b *testBus) count() int {
	b.Lock()
	defer b.Unlock()
	return b.Count
}

// busClock is a Clock whose waits return at once; it records each wait
// with the number of transfers done before it, so tests check that the
// controller waits where the datasheet says.
type busClock struct {
	bus   *testBus
	mu    sync.Mutex
	waits []wait
}

type wait struct {
	afterOps int
	d        time.Duration
}

func (c *busClock) Now() time.Time { return time.Time{} }

func (c *busClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, wait{c.bus.count(), d})
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

func (c *busClock) recorded() []wait {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]wait(nil), c.waits...)
}

// PCF8574 port bits of the default backpack wiring (P0 RS, P1 RW, P2 E,
// P3 backlight, P4..P7 D4..D7).
const (
	pRS = 0x01
	pE  = 0x04
	pBL = 0x08
)

// pcfNibble is a lone nibble on D4..D7 with RS low: set up, E high, E low.
func pcfNibble(n byte) []byte {
	v := n<<4 | pBL
	return []byte{v, v | pE, v}
}

// pcfBytes sends bytes as nibbles, high first, each latched by E high
// then low, after one set-up write of RS and the first nibble with E low.
func pcfBytes(rs byte, bs ...byte) []byte {
	out := []byte{bs[0]&0xF0 | rs | pBL}
	for _, b := range bs {
		hi, lo := b&0xF0|rs|pBL, b<<4|rs|pBL
		out = append(out, hi|pE, hi, lo|pE, lo)
	}
	return out
}

// pcfInstr is one instruction (RS low).
func pcfInstr(c byte) []byte { return pcfBytes(0, c) }

// pcfWrite sets the display RAM address, then writes text (RS high).
func pcfWrite(addr byte, text string) []byte {
	return append(pcfInstr(0x80|addr), pcfBytes(pRS, []byte(text)...)...)
}

func tx(addr uint16, w []byte) i2ctest.IO { return i2ctest.IO{Addr: addr, W: w} }

// pcfInit is the initialisation of HD44780 datasheet figure 24 (4-bit
// interface) on a 2- or 4-row display.
func pcfInit(addr uint16) []i2ctest.IO {
	return []i2ctest.IO{
		tx(addr, pcfNibble(0x3)), // function set, 8-bit interface (1st), then wait > 4.1 ms
		tx(addr, pcfNibble(0x3)), // function set, 8-bit interface (2nd), then wait > 100 µs
		tx(addr, pcfNibble(0x3)), // function set, 8-bit interface (3rd)
		tx(addr, pcfNibble(0x2)), // function set: switch to the 4-bit interface
		tx(addr, pcfInstr(0x28)), // function set: 4-bit, 2 lines, 5x8 dots
		tx(addr, pcfInstr(0x08)), // display off
		tx(addr, pcfInstr(0x01)), // clear display, then wait > 1.52 ms
		tx(addr, pcfInstr(0x06)), // entry mode: increment, no shift
		tx(addr, pcfInstr(0x0C)), // display on, cursor off, blink off
	}
}

// aipInstr is one instruction: control byte Co=0 RS=0, then the instruction.
func aipInstr(c byte) []byte { return []byte{0x00, c} }

// aipWrite is control byte Co=1 RS=0 with "set display RAM address",
// then control byte Co=0 RS=1 and the text as data.
func aipWrite(addr byte, text string) []byte {
	return append([]byte{0x80, 0x80 | addr, 0x40}, text...)
}

// aipInit is the AiP31068 initialisation (8-bit I2C interface).
func aipInit() []i2ctest.IO {
	return []i2ctest.IO{
		tx(0x3E, aipInstr(0x38)), // function set: 8-bit, 2 lines, 5x8 dots (1st), then wait > 4.1 ms
		tx(0x3E, aipInstr(0x38)), // function set (2nd), then wait > 100 µs
		tx(0x3E, aipInstr(0x38)), // function set (3rd)
		tx(0x3E, aipInstr(0x08)), // display off
		tx(0x3E, aipInstr(0x01)), // clear display, then wait > 1.52 ms
		tx(0x3E, aipInstr(0x06)), // entry mode: increment, no shift
		tx(0x3E, aipInstr(0x0C)), // display on, cursor off, blink off
	}
}

// ops joins transfer lists.
func ops(lists ...[]i2ctest.IO) []i2ctest.IO {
	var out []i2ctest.IO
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}
