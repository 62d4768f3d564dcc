package rfid

import (
	"context"
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	reg "periph.io/x/devices/v3/mfrc522/commands"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
)

// The MFRC522 driver uses periph's register map (mfrc522/commands) and
// talks to the registers itself: periph's Dev.ReadUID reads 4- and 7-byte
// UIDs only (it never selects cascade level 2, nor knows level 3), waits
// for the IRQ edge, and its LowLevel.CardWrite returns no error when the
// chip flags a collision or a corrupted frame.

// MFRC522 bits and values beyond periph's register addresses (NXP MFRC522
// datasheet rev. 3.9, chapter 9.3 and 10.3).
const (
	cmdSoftReset  = reg.PCD_RESETPHASE // CommandReg: SoftReset command
	cmdIdle       = reg.PCD_IDLE       // CommandReg: Idle (cancels the running command)
	cmdTransceive = reg.PCD_TRANSCEIVE // CommandReg: Transceive
	cmdPowerDown  = 0x10               // CommandReg: PowerDown bit, set until the oscillator runs

	irqClearAll = 0x7F // ComIrqReg: Set1=0, so every bit written 1 is cleared
	irqRx       = 0x20 // ComIrqReg: RxIRq, the answer was received
	irqIdle     = 0x10 // ComIrqReg: IdleIRq, the command ended
	irqTimer    = 0x01 // ComIrqReg: TimerIRq, the receive timeout ran out

	errCollision = 0x08                         // ErrorReg: CollErr
	errFrame     = 0x10 | 0x02 | 0x01           // ErrorReg: BufferOvfl, ParityErr, ProtocolErr
	fifoFlush    = 0x80                         // FIFOLevelReg: FlushBuffer
	fifoLevel    = 0x7F                         // FIFOLevelReg: number of bytes stored
	startSend    = 0x80                         // BitFramingReg: StartSend
	rxLastBits   = 0x07                         // ControlReg: valid bits of the last byte received, 0 = all
	antennaOn    = 0x03                         // TxControlReg: Tx1RFEn and Tx2RFEn
	readBit      = 0x80                         // SPI address byte: read (datasheet 8.1.2.3)
	maxSPISpeed  = maxSPISpeedHz * physic.Hertz // asked at Connect; Open lowers it with LimitSpeed
	tModeAuto    = 0x80                         // TModeReg: TAuto, the timer starts when a transmission ends
	tPrescaler   = 0xA9                         // TPrescalerReg: 13.56 MHz / (2*169+1) = 40 kHz, 25 µs per tick
	tReload      = 200                          // TReloadReg: 200 ticks = 5 ms to wait for a card's answer
	force100ASK  = 0x40                         // TxASKReg (periph's TxAutoReg): 100 % ASK as ISO/IEC 14443 A requires
	noChipLow    = 0x00                         // what a bus without a chip reads (MISO low)
	noChipHigh   = 0xFF                         // what a bus without a chip reads (MISO high)
	resetSettle  = 10 * time.Millisecond        // after NRSTPD rises, for the oscillator to start
	wakeCheck    = time.Millisecond             // between PowerDown checks after a soft reset
	wakeChecks   = 50                           // PowerDown checks before giving up
)

// ISO/IEC 14443-3 type A commands and values.
const (
	piccWUPA         = 0x52 // WUPA: wakes IDLE and HALT cards; 7-bit short frame
	piccHLTA         = 0x50 // HLTA: puts the selected card in HALT; never answered
	nvbAnticollision = 0x20 // NVB of an ANTICOLLISION sending no UID bits: the card sends all of its CLn
	nvbSelect        = 0x70 // NVB of a SELECT: 7 bytes (SEL, NVB, 4 UID bytes, BCC) plus CRC_A
	cascadeTag       = 0x88 // CT: first byte of a cascade level whose UID goes on
	sakIncomplete    = 0x04 // SAK: cascade bit, UID not complete
	shortFrame       = 7    // bits of the short frame carrying WUPA
)

// selectCodes are SEL of cascade levels 1, 2 and 3.
var selectCodes = []byte{0x93, 0x95, 0x97}

// errNoAnswer is a card (or no card) that did not answer in time.
var errNoAnswer = fmt.Errorf("%w: no answer", ErrCard)

// MFRC522 is an NXP MFRC522 reader on SPI reading ISO/IEC 14443 A cards.
type MFRC522 struct {
	conn  spi.Conn
	reset gpio.PinOut
	clock clock.Clock
	// maxIRQPolls bounds the ComIrqReg reads of one exchange: the chip's
	// timer ends every exchange after 5 ms, so running out means the chip
	// stopped working.
	maxIRQPolls int
	version     byte
}

var _ Device = (*MFRC522)(nil)

// NewMFRC522 connects to an MFRC522 on port. reset drives NRSTPD (nil: not
// wired, soft reset only); irq is the chip's IRQ output (nil: not wired),
// claimed as an input but not waited on: every exchange ends on the chip's
// own timer, which is simpler and as quick. clk (nil: the wall clock)
// times the waits after a reset. Init must be called before Poll.
func NewMFRC522(port spi.Port, reset gpio.PinOut, irq gpio.PinIn, clk clock.Clock) (*MFRC522, error) {
	conn, err := port.Connect(maxSPISpeed, spi.Mode0, 8)
	if err != nil {
		return nil, fmt.Errorf("mfrc522: connect to %s: %w", port, err)
	}
	if irq != nil {
		if err := irq.In(gpio.PullUp, gpio.NoEdge); err != nil {
			return nil, fmt.Errorf("mfrc522: irq pin %s: %w", irq, err)
		}
	}
	return &MFRC522{conn: conn, reset: reset, clock: clock.OrSystem(clk), maxIRQPolls: 5000}, nil
}

// Version returns the VersionReg value read by the last Init (0x91 or 0x92
// for NXP chips, 0x88 or 0xB2 for common clones).
func (m *MFRC522) Version() byte { return m.version }

// Init resets the chip, checks that it answers, and sets it up for ISO/IEC
// 14443 A with the antenna on.
func (m *MFRC522) Init(ctx context.Context) error {
	if m.reset != nil {
		// NRSTPD low powers the chip down; its rising edge resets it (datasheet 8.8.1).
		if err := m.reset.Out(gpio.Low); err != nil {
			return fmt.Errorf("mfrc522: reset pin low: %w", err)
		}
		if err := m.reset.Out(gpio.High); err != nil {
			return fmt.Errorf("mfrc522: reset pin high: %w", err)
		}
		if err := clock.Sleep(ctx, m.clock, resetSettle); err != nil {
			return fmt.Errorf("mfrc522: reset: %w", err)
		}
	}
	if err := m.write(reg.CommandReg, cmdSoftReset); err != nil {
		return fmt.Errorf("mfrc522: soft reset: %w", err)
	}
	if err := m.waitAwake(ctx); err != nil {
		return err
	}
	v, err := m.read(reg.VersionReg)
	if err != nil {
		return fmt.Errorf("mfrc522: version: %w", err)
	}
	if v == noChipLow || v == noChipHigh {
		return fmt.Errorf("mfrc522: version register reads %#02x: %w", v, ErrNoDevice)
	}
	m.version = v
	setup := []struct {
		reg int
		val byte
	}{
		{reg.TModeReg, tModeAuto},
		{reg.TPrescalerReg, tPrescaler},
		{reg.TReloadRegH, tReload >> 8},
		{reg.TReloadRegL, tReload & 0xFF},
		{reg.TxAutoReg, force100ASK},
	}
	for _, s := range setup {
		if err := m.write(s.reg, s.val); err != nil {
			return fmt.Errorf("mfrc522: setup: %w", err)
		}
	}
	tx, err := m.read(reg.TxControlReg)
	if err != nil {
		return fmt.Errorf("mfrc522: antenna: %w", err)
	}
	if err := m.write(reg.TxControlReg, tx|antennaOn); err != nil {
		return fmt.Errorf("mfrc522: antenna: %w", err)
	}
	return nil
}

// waitAwake waits for the PowerDown bit to clear after a soft reset
// (datasheet 9.3.1.2).
func (m *MFRC522) waitAwake(ctx context.Context) error {
	for i := 0; ; i++ {
		v, err := m.read(reg.CommandReg)
		if err != nil {
			return fmt.Errorf("mfrc522: wait for reset: %w", err)
		}
		if v == noChipHigh {
			return fmt.Errorf("mfrc522: command register reads %#02x: %w", v, ErrNoDevice)
		}
		if v&cmdPowerDown == 0 {
			return nil
		}
		if i == wakeChecks {
			return fmt.Errorf("mfrc522: still powered down %s after a soft reset", wakeChecks*wakeCheck)
		}
		if err := clock.Sleep(ctx, m.clock, wakeCheck); err != nil {
			return fmt.Errorf("mfrc522: wait for reset: %w", err)
		}
	}
}

// Poll wakes any card in the field and reads its whole UID, then halts it.
//
// WUPA, rather than REQA, wakes cards in HALT too, so a card held on the
// reader (halted by the previous poll) answers every poll, and halting it
// leaves it in a known state for the next one (ISO/IEC 14443-3 6.2).
func (m *MFRC522) Poll(ctx context.Context) ([]byte, bool, error) {
	if _, err := m.transceive(ctx, []byte{piccWUPA}, shortFrame, 2); err != nil {
		if errors.Is(err, errNoAnswer) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("mfrc522: WUPA: %w", err)
	}
	uid, err := m.selectUID(ctx)
	if err != nil {
		return nil, false, err
	}
	// A card answering HLTA has not understood it (ISO/IEC 14443-3 6.4.3);
	// it is read all the same, so only bus errors count.
	if _, err := m.transceive(ctx, withCRCA([]byte{piccHLTA, 0}), 0, 0); err != nil && !errors.Is(err, ErrCard) {
		return nil, false, fmt.Errorf("mfrc522: HLTA: %w", err)
	}
	return uid, true, nil
}

// selectUID runs anticollision and select through the cascade levels
// until the card's SAK says its UID is complete (ISO/IEC 14443-3 6.5.3).
func (m *MFRC522) selectUID(ctx context.Context) ([]byte, error) {
	var uid []byte
	for level, sel := range selectCodes {
		cl, err := m.transceive(ctx, []byte{sel, nvbAnticollision}, 0, 5)
		if err != nil {
			return nil, fmt.Errorf("mfrc522: cascade level %d anticollision: %w", level+1, err)
		}
		if bcc := cl[0] ^ cl[1] ^ cl[2] ^ cl[3]; bcc != cl[4] {
			return nil, fmt.Errorf("mfrc522: cascade level %d: %w: BCC %#02x, want %#02x", level+1, ErrCard, cl[4], bcc)
		}
		sak, err := m.transceive(ctx, withCRCA(append([]byte{sel, nvbSelect}, cl...)), 0, 3)
		if err != nil {
			return nil, fmt.Errorf("mfrc522: cascade level %d select: %w", level+1, err)
		}
		if crc := withCRCA(sak[:1]); crc[1] != sak[1] || crc[2] != sak[2] {
			return nil, fmt.Errorf("mfrc522: cascade level %d select: %w: SAK CRC_A mismatch", level+1, ErrCard)
		}
		if sak[0]&sakIncomplete == 0 {
			return append(uid, cl[:4]...), nil
		}
		if cl[0] != cascadeTag {
			return nil, fmt.Errorf("mfrc522: cascade level %d: %w: UID not complete without a cascade tag", level+1, ErrCard)
		}
		uid = append(uid, cl[1:4]...)
	}
	return nil, fmt.Errorf("mfrc522: %w: UID not complete after cascade level 3", ErrCard)
}

// transceive sends data to the card (txBits valid bits in its last byte,
// 0 = all) and returns its answer, which must be want whole bytes
// (datasheet 10.3.1.8, Transceive command).
func (m *MFRC522) transceive(ctx context.Context, data []byte, txBits byte, want int) ([]byte, error) {
	start := []struct {
		reg  int
		vals []byte
	}{
		{reg.CommandReg, []byte{cmdIdle}},
		{reg.CommIrqReg, []byte{irqClearAll}},
		{reg.FIFOLevelReg, []byte{fifoFlush}},
		{reg.FIFODataReg, data},
		{reg.BitFramingReg, []byte{txBits}},
		{reg.CommandReg, []byte{cmdTransceive}},
		{reg.BitFramingReg, []byte{startSend | txBits}},
	}
	for _, s := range start {
		if err := m.write(s.reg, s.vals...); err != nil {
			return nil, fmt.Errorf("transceive: %w", err)
		}
	}
	if err := m.waitAnswer(ctx); err != nil {
		return nil, err
	}
	e, err := m.read(reg.ErrorReg)
	if err != nil {
		return nil, fmt.Errorf("transceive: %w", err)
	}
	switch {
	case e&errCollision != 0:
		return nil, fmt.Errorf("%w: collision (more than one card)", ErrCard)
	case e&errFrame != 0:
		return nil, fmt.Errorf("%w: bad frame (ErrorReg %#02x)", ErrCard, e)
	}
	n, err := m.read(reg.FIFOLevelReg)
	if err != nil {
		return nil, fmt.Errorf("transceive: %w", err)
	}
	answer, err := m.readFIFO(int(n & fifoLevel))
	if err != nil {
		return nil, fmt.Errorf("transceive: %w", err)
	}
	bits, err := m.read(reg.ControlReg)
	if err != nil {
		return nil, fmt.Errorf("transceive: %w", err)
	}
	if len(answer) != want || bits&rxLastBits != 0 {
		return nil, fmt.Errorf("%w: answer of %d bytes (last with %d bits), want %d bytes", ErrCard, len(answer), bits&rxLastBits, want)
	}
	return answer, nil
}

// waitAnswer polls ComIrqReg until the answer is in, or the chip's timer
// says none is coming.
func (m *MFRC522) waitAnswer(ctx context.Context) error {
	for range m.maxIRQPolls {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("transceive: %w", err)
		}
		irq, err := m.read(reg.CommIrqReg)
		if err != nil {
			return fmt.Errorf("transceive: %w", err)
		}
		switch {
		case irq&(irqRx|irqIdle) != 0:
			return nil
		case irq&irqTimer != 0:
			return errNoAnswer
		}
	}
	return fmt.Errorf("transceive: the chip neither answered nor timed out after %d polls", m.maxIRQPolls)
}

// Close does nothing: the port belongs to whoever opened it.
func (m *MFRC522) Close() error { return nil }

// write writes vals to register r in one SPI transaction; several values
// go to the same register, which is how the FIFO is filled (datasheet 8.1.2.2).
func (m *MFRC522) write(r int, vals ...byte) error {
	w := append([]byte{address(r)}, vals...)
	if err := m.conn.Tx(w, nil); err != nil {
		return fmt.Errorf("write register %#02x: %w", r, err)
	}
	return nil
}

// read returns the value of register r.
func (m *MFRC522) read(r int) (byte, error) {
	var in [2]byte
	if err := m.conn.Tx([]byte{address(r) | readBit, 0}, in[:]); err != nil {
		return 0, fmt.Errorf("read register %#02x: %w", r, err)
	}
	return in[1], nil
}

// readFIFO reads n bytes from the FIFO in one SPI transaction: the read
// address repeated n times, then 0 (datasheet 8.1.2.1).
func (m *MFRC522) readFIFO(n int) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	w := make([]byte, n+1)
	for i := range n {
		w[i] = address(reg.FIFODataReg) | readBit
	}
	in := make([]byte, n+1)
	if err := m.conn.Tx(w, in); err != nil {
		return nil, fmt.Errorf("read FIFO: %w", err)
	}
	return in[1:], nil
}

// address is the SPI address byte of register r: bits 6 to 1 (datasheet 8.1.2.3).
func address(r int) byte { return byte(r<<1) & 0x7E }

// withCRCA returns data followed by its CRC_A, low byte first
// (ISO/IEC 14443-3 Annex B: CRC-16/ITU-V.41 reflected, preset 0x6363).
func withCRCA(data []byte) []byte {
	crc := uint16(0x6363)
	for _, b := range data {
		b ^= byte(crc)
		b ^= b << 4
		crc = crc>>8 ^ uint16(b)<<8 ^ uint16(b)<<3 ^ uint16(b)>>4
	}
	return append(data[:len(data):len(data)], byte(crc), byte(crc>>8))
}
