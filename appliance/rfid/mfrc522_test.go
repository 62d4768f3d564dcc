package rfid

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spitest"
	reg "periph.io/x/devices/v3/mfrc522/commands"

	"github.com/constellation-ev/constellation/appliance/internal/clock/clocktest"
)

// Bus traffic of the MFRC522, written from the NXP MFRC522 datasheet
// (rev. 3.9) and ISO/IEC 14443-3. On SPI, every transaction starts with an
// address byte: bit 7 set to read, the register in bits 6 to 1 (8.1.2.3).

// wr is a register write: the address byte, then the value(s); several
// values go to the same register (the FIFO).
func wr(r int, vals ...byte) conntest.IO {
	return conntest.IO{W: append([]byte{byte(r) << 1}, vals...)}
}

// rd is a register read: the address byte with bit 7, then 0x00 while
// the chip sends the value.
func rd(r int, v byte) conntest.IO {
	return conntest.IO{W: []byte{0x80 | byte(r)<<1, 0x00}, R: []byte{0x00, v}}
}

// rdFIFO is a burst read of the FIFO: its read address once per byte, then 0x00 (8.1.2.1).
func rdFIFO(vals ...byte) conntest.IO {
	w := bytes.Repeat([]byte{0x80 | reg.FIFODataReg<<1}, len(vals))
	return conntest.IO{W: append(w, 0x00), R: append([]byte{0x00}, vals...)}
}

func ops(parts ...[]conntest.IO) []conntest.IO { return slices.Concat(parts...) }

// initOps is Init after the reset pin pulse (8.8, 9.3).
func initOps(version byte) []conntest.IO {
	return []conntest.IO{
		wr(reg.CommandReg, 0x0F),    // Command SoftReset
		rd(reg.CommandReg, 0x20),    // RcvOff, PowerDown clear: the oscillator runs
		rd(reg.VersionReg, version), // 0x92: MFRC522 version 2.0
		wr(reg.TModeReg, 0x80),      // TAuto: timer starts at the end of each transmission
		wr(reg.TPrescalerReg, 0xA9), // 13.56 MHz / (2*169+1): 25 µs ticks
		wr(reg.TReloadRegH, 0x00),   // reload 200 ticks: 5 ms for the card to answer
		wr(reg.TReloadRegL, 0xC8),   //
		wr(reg.TxAutoReg, 0x40),     // TxASKReg Force100ASK (ISO/IEC 14443 A)
		rd(reg.TxControlReg, 0x80),  // reset value: InvTx2RFOn
		wr(reg.TxControlReg, 0x83),  // + Tx1RFEn, Tx2RFEn: antenna on
	}
}

// sendOps starts a Transceive of frame, txBits valid bits in its last byte (10.3.1.8).
func sendOps(frame []byte, txBits byte) []conntest.IO {
	return []conntest.IO{
		wr(reg.CommandReg, 0x00),           // Idle: cancel any running command
		wr(reg.CommIrqReg, 0x7F),           // clear every interrupt request bit
		wr(reg.FIFOLevelReg, 0x80),         // FlushBuffer
		wr(reg.FIFODataReg, frame...),      // the frame into the FIFO
		wr(reg.BitFramingReg, txBits),      // TxLastBits
		wr(reg.CommandReg, 0x0C),           // Transceive
		wr(reg.BitFramingReg, 0x80|txBits), // StartSend
		rd(reg.CommIrqReg, 0x00),           // still sending
	}
}

// exchange is a Transceive of frame that the card answers with answer.
func exchange(frame []byte, txBits byte, answer ...byte) []conntest.IO {
	return ops(sendOps(frame, txBits), []conntest.IO{
		rd(reg.CommIrqReg, 0x30),                // RxIRq, IdleIRq: answer received
		rd(reg.ErrorReg, 0x00),                  // no error
		rd(reg.FIFOLevelReg, byte(len(answer))), // bytes received
		rdFIFO(answer...),                       //
		rd(reg.ControlReg, 0x10),                // RxLastBits 0: whole bytes
	})
}

// silent is a Transceive of frame that nothing answers: the timer runs out.
func silent(frame []byte, txBits byte) []conntest.IO {
	return ops(sendOps(frame, txBits), []conntest.IO{
		rd(reg.CommIrqReg, 0x01), // TimerIRq
	})
}

// failed is a Transceive whose answer the chip flags in ErrorReg.
func failed(frame []byte, txBits, errorReg byte) []conntest.IO {
	return ops(sendOps(frame, txBits), []conntest.IO{
		rd(reg.CommIrqReg, 0x32), // RxIRq, IdleIRq, ErrIRq
		rd(reg.ErrorReg, errorReg),
	})
}

// ISO/IEC 14443-3 frames.
var (
	wupa = []byte{0x52}                   // WUPA, a 7-bit short frame
	hlta = []byte{0x50, 0x00, 0x57, 0xCD} // HLTA with its CRC_A
)

// anticoll is ANTICOLLISION of cascade level sel (0x93, 0x95, 0x97) with
// NVB 0x20; the card answers its 4 UID bytes of that level and their BCC.
func anticoll(sel byte, cl ...byte) []conntest.IO {
	bcc := cl[0] ^ cl[1] ^ cl[2] ^ cl[3]
	return exchange([]byte{sel, 0x20}, 0, append(slices.Clone(cl), bcc)...)
}

// selectCL is SELECT of cascade level sel with NVB 0x70; the card answers
// its SAK and CRC_A.
func selectCL(sel byte, sak byte, cl ...byte) []conntest.IO {
	bcc := cl[0] ^ cl[1] ^ cl[2] ^ cl[3]
	return exchange(withCRCA(slices.Concat([]byte{sel, 0x70}, cl, []byte{bcc})), 0, withCRCA([]byte{sak})...)
}

// readUIDOps is a whole Poll of a card with uid (4, 7 or 10 bytes):
// WUPA/ATQA, each cascade level (CT 0x88 and SAK 0x04 while the UID goes
// on), and HLTA.
func readUIDOps(uid []byte) []conntest.IO {
	atqa := map[int]byte{4: 0x04, 7: 0x44, 10: 0x84}[len(uid)] // UID size in bits 7-6
	out := exchange(wupa, 7, atqa, 0x00)
	for _, sel := range []byte{0x93, 0x95, 0x97} {
		if len(uid) == 4 {
			out = ops(out, anticoll(sel, uid...), selectCL(sel, 0x08, uid...)) // SAK 0x08: MIFARE Classic, complete
			break
		}
		cl := append([]byte{0x88}, uid[:3]...)
		out = ops(out, anticoll(sel, cl...), selectCL(sel, 0x04, cl...))
		uid = uid[3:]
	}
	return ops(out, silent(hlta, 0))
}

// pinLog is a gpiotest.Pin that remembers every level driven.
type pinLog struct {
	*gpiotest.Pin
	mu     sync.Mutex
	levels []gpio.Level
}

func (p *pinLog) Out(l gpio.Level) error {
	p.mu.Lock()
	p.levels = append(p.levels, l)
	p.mu.Unlock()
	return p.Pin.Out(l)
}

// faultyPort fails the failAt-th SPI transaction (1-based) with errBus,
// as a loose wire would, and plays back the others.
type faultyPort struct {
	*spitest.Playback
	failAt, n int
}

func (f *faultyPort) Connect(fr physic.Frequency, m spi.Mode, bits int) (spi.Conn, error) {
	c, err := f.Playback.Connect(fr, m, bits)
	return &faultyConn{Conn: c, port: f}, err
}

type faultyConn struct {
	spi.Conn
	port *faultyPort
}

func (c *faultyConn) Tx(w, r []byte) error {
	c.port.n++
	if c.port.n == c.port.failAt {
		return errBus
	}
	return c.Conn.Tx(w, r)
}

type rig struct {
	t     *testing.T
	dev   *MFRC522
	pb    *spitest.Playback
	reset *pinLog
	irq   *gpiotest.Pin
	clock *clocktest.Clock
}

// newRig returns an MFRC522 on a playback of want; failAt > 0 makes that
// transaction fail.
func newRig(t *testing.T, want []conntest.IO, failAt int) *rig {
	t.Helper()
	pb := &spitest.Playback{Playback: conntest.Playback{Ops: want, DontPanic: true}}
	reset := &pinLog{Pin: &gpiotest.Pin{N: "GPIO25"}}
	irq := &gpiotest.Pin{N: "GPIO4"}
	clock := clocktest.NewInstant(t0)
	var port spi.Port = pb
	if failAt > 0 {
		port = &faultyPort{Playback: pb, failAt: failAt}
	}
	dev, err := NewMFRC522(port, reset, irq, clock)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, dev: dev, pb: pb, reset: reset, irq: irq, clock: clock}
}

// done checks that every expected transaction happened.
func (r *rig) done() {
	r.t.Helper()
	if err := r.pb.Close(); err != nil {
		r.t.Fatal(err)
	}
}

func TestSPIAddressBytes(t *testing.T) {
	// Datasheet 8.1.2.3: CommandReg (01h) is written as 02h and read as 82h;
	// VersionReg (37h) is read as EEh; FIFODataReg (09h) is read as 92h.
	for _, tt := range []struct {
		io   conntest.IO
		want byte
	}{
		{wr(reg.CommandReg), 0x02}, {rd(reg.CommandReg, 0), 0x82}, {rd(reg.VersionReg, 0), 0xEE}, {rdFIFO(0), 0x92},
	} {
		if tt.io.W[0] != tt.want {
			t.Errorf("address byte %#02x, want %#02x", tt.io.W[0], tt.want)
		}
	}
	if address(reg.VersionReg)|readBit != 0xEE || address(reg.CommandReg) != 0x02 {
		t.Error("driver's address bytes differ from the datasheet")
	}
}

func TestCRCA(t *testing.T) {
	tests := []struct{ data, want []byte }{
		{[]byte{0x00, 0x00}, []byte{0x00, 0x00, 0xA0, 0x1E}}, // ISO/IEC 14443-3 Annex B example
		{[]byte{0x12, 0x34}, []byte{0x12, 0x34, 0x26, 0xCF}}, // ISO/IEC 14443-3 Annex B example
		{[]byte{0x50, 0x00}, hlta},                           // HLTA as every reader sends it
	}
	for _, tt := range tests {
		if got := withCRCA(tt.data); !bytes.Equal(got, tt.want) {
			t.Errorf("withCRCA(% X) = % X, want % X", tt.data, got, tt.want)
		}
	}
}

func TestMFRC522Init(t *testing.T) {
	r := newRig(t, initOps(0x92), 0)
	if err := r.dev.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.done()
	if got := r.reset.levels; !slices.Equal(got, []gpio.Level{gpio.Low, gpio.High}) {
		t.Errorf("reset pin driven %v, want a low pulse then high", got)
	}
	if r.irq.Pull() != gpio.PullUp {
		t.Errorf("irq pin pull %s, want up (the IRQ output is active low)", r.irq.Pull())
	}
	if d := r.clock.NextWait(); d != resetSettle {
		t.Errorf("waited %s after the reset pulse, want %s", d, resetSettle)
	}
	if r.dev.Version() != 0x92 {
		t.Errorf("Version = %#02x", r.dev.Version())
	}
}

func TestMFRC522InitWaitsForTheOscillator(t *testing.T) {
	want := ops(
		[]conntest.IO{
			wr(reg.CommandReg, 0x0F), // SoftReset
			rd(reg.CommandReg, 0x30), // PowerDown still set
			rd(reg.CommandReg, 0x30), // PowerDown still set
		},
		initOps(0x91)[1:], // then clear, as usual
	)
	r := newRig(t, want, 0)
	if err := r.dev.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.done()
	var waits []time.Duration
	for range 3 {
		waits = append(waits, r.clock.NextWait())
	}
	if !slices.Equal(waits, []time.Duration{resetSettle, wakeCheck, wakeCheck}) {
		t.Errorf("waits %v", waits)
	}
}

func TestMFRC522InitFailures(t *testing.T) {
	stuck := []conntest.IO{wr(reg.CommandReg, 0x0F)}
	for range wakeChecks + 1 {
		stuck = append(stuck, rd(reg.CommandReg, 0x30))
	}
	tests := []struct {
		name      string
		ops       []conntest.IO
		noDevice  bool
		wantInErr string
	}{
		{"MISO low: nothing on the bus", []conntest.IO{wr(reg.CommandReg, 0x0F), rd(reg.CommandReg, 0x00), rd(reg.VersionReg, 0x00)}, true, "version register reads 0x00"},
		{"MISO high: nothing on the bus", []conntest.IO{wr(reg.CommandReg, 0x0F), rd(reg.CommandReg, 0xFF)}, true, "command register reads 0xff"},
		{"never wakes up", stuck, false, "still powered down 50ms after a soft reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.ops, 0)
			err := r.dev.Init(context.Background())
			if err == nil || errors.Is(err, ErrNoDevice) != tt.noDevice || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("Init = %v; want an error with %q, ErrNoDevice %v", err, tt.wantInErr, tt.noDevice)
			}
			r.done()
		})
	}
}

func TestMFRC522Poll(t *testing.T) {
	tests := []struct {
		name     string
		ops      []conntest.IO
		want     []byte
		wantCard string // an ErrCard error containing this
	}{
		{name: "no card", ops: silent(wupa, 7)},
		{name: "4-byte UID, one cascade level", ops: readUIDOps(uid4), want: uid4},
		{name: "7-byte UID, two cascade levels", ops: readUIDOps(uid7), want: uid7},
		{name: "10-byte UID, three cascade levels", ops: readUIDOps(uid10), want: uid10},
		{
			name: "HLTA answered (NAK) is no problem",
			ops: ops(exchange(wupa, 7, 0x04, 0x00), anticoll(0x93, uid4...), selectCL(0x93, 0x08, uid4...),
				exchange(hlta, 0, 0x04)),
			want: uid4,
		},
		{
			name:     "two cards: collision in ANTICOLLISION",
			ops:      ops(exchange(wupa, 7, 0x04, 0x00), failed([]byte{0x93, 0x20}, 0, 0x08)), // ErrorReg CollErr
			wantCard: "cascade level 1 anticollision: rfid: card not read: collision",
		},
		{
			name:     "two cards: collision in ATQA",
			ops:      failed(wupa, 7, 0x08),
			wantCard: "WUPA: rfid: card not read: collision",
		},
		{
			name: "BCC mismatch",
			ops: ops(exchange(wupa, 7, 0x04, 0x00),
				exchange([]byte{0x93, 0x20}, 0, 0x04, 0xA2, 0x3B, 0x1C, 0x00)), // BCC should be 0x81
			wantCard: "BCC 0x00, want 0x81",
		},
		{
			name: "parity error in SELECT",
			ops: ops(exchange(wupa, 7, 0x04, 0x00), anticoll(0x93, uid4...),
				failed(withCRCA([]byte{0x93, 0x70, 0x04, 0xA2, 0x3B, 0x1C, 0x81}), 0, 0x02)), // ErrorReg ParityErr
			wantCard: "bad frame (ErrorReg 0x02)",
		},
		{
			name: "SAK with a bad CRC_A",
			ops: ops(exchange(wupa, 7, 0x04, 0x00), anticoll(0x93, uid4...),
				exchange(withCRCA([]byte{0x93, 0x70, 0x04, 0xA2, 0x3B, 0x1C, 0x81}), 0, 0x08, 0x00, 0x00)),
			wantCard: "SAK CRC_A mismatch",
		},
		{
			name: "card leaves during SELECT",
			ops: ops(exchange(wupa, 7, 0x04, 0x00), anticoll(0x93, uid4...),
				silent(withCRCA([]byte{0x93, 0x70, 0x04, 0xA2, 0x3B, 0x1C, 0x81}), 0)),
			wantCard: "cascade level 1 select: rfid: card not read: no answer",
		},
		{
			name:     "short ATQA",
			ops:      exchange(wupa, 7, 0x04),
			wantCard: "answer of 1 bytes (last with 0 bits), want 2 bytes",
		},
		{
			name:     "SAK says incomplete without a cascade tag",
			ops:      ops(exchange(wupa, 7, 0x44, 0x00), anticoll(0x93, uid4...), selectCL(0x93, 0x04, uid4...)),
			wantCard: "UID not complete without a cascade tag",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, ops(initOps(0x92), tt.ops), 0)
			ctx := context.Background()
			if err := r.dev.Init(ctx); err != nil {
				t.Fatal(err)
			}
			uid, present, err := r.dev.Poll(ctx)
			r.done()
			if tt.wantCard != "" {
				if !errors.Is(err, ErrCard) || !strings.Contains(err.Error(), tt.wantCard) {
					t.Fatalf("Poll = %X, %v, %v; want ErrCard with %q", uid, present, err, tt.wantCard)
				}
				return
			}
			if err != nil || present != (tt.want != nil) || !bytes.Equal(uid, tt.want) {
				t.Fatalf("Poll = %X, %v, %v; want %X", uid, present, err, tt.want)
			}
		})
	}
}

func TestMFRC522BusErrorMidway(t *testing.T) {
	poll := readUIDOps(uid7)
	// Transactions of the WUPA start, IRQ wait and FIFO read, of level 1
	// anticollision and select, and of the HLTA.
	for _, at := range []int{1, 9, 12, 20, 30, len(poll) - 1} {
		want := ops(initOps(0x92), poll[:at-1], initOps(0x92), poll)
		r := newRig(t, want, len(initOps(0x92))+at)
		ctx := context.Background()
		if err := r.dev.Init(ctx); err != nil {
			t.Fatal(err)
		}
		_, _, err := r.dev.Poll(ctx)
		if !errors.Is(err, errBus) || errors.Is(err, ErrCard) || !strings.HasPrefix(err.Error(), "mfrc522: ") {
			t.Fatalf("transaction %d failing: Poll = %v; want the bus error, wrapped, not a card error", at, err)
		}
		// The Reader's recovery: Init again, then Poll works.
		if err := r.dev.Init(ctx); err != nil {
			t.Fatalf("Init after the bus error: %v", err)
		}
		uid, present, err := r.dev.Poll(ctx)
		if err != nil || !present || !bytes.Equal(uid, uid7) {
			t.Fatalf("Poll after recovery = %X, %v, %v", uid, present, err)
		}
		r.done()
	}
}

func TestMFRC522BusErrorDuringInit(t *testing.T) {
	init := initOps(0x92)
	want := ops(init[:4], init)
	r := newRig(t, want, 5) // the TPrescalerReg write
	ctx := context.Background()
	err := r.dev.Init(ctx)
	if !errors.Is(err, errBus) || errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), "mfrc522: setup: write register 0x2b") {
		t.Fatalf("Init = %v", err)
	}
	if err := r.dev.Init(ctx); err != nil {
		t.Fatal(err)
	}
	r.done()
}

func TestMFRC522ChipStopsAnswering(t *testing.T) {
	// A chip whose IRQ bits never move (hung, or MISO stuck at 0 mid-way):
	// a device failure, not a missing card.
	want := ops(initOps(0x92), sendOps(wupa, 7), []conntest.IO{rd(reg.CommIrqReg, 0), rd(reg.CommIrqReg, 0)})
	r := newRig(t, want, 0)
	r.dev.maxIRQPolls = 3
	ctx := context.Background()
	if err := r.dev.Init(ctx); err != nil {
		t.Fatal(err)
	}
	_, _, err := r.dev.Poll(ctx)
	if err == nil || errors.Is(err, ErrCard) || !strings.Contains(err.Error(), "neither answered nor timed out after 3 polls") {
		t.Fatalf("Poll = %v", err)
	}
	r.done()
}

func TestMFRC522PollCancelled(t *testing.T) {
	want := ops(initOps(0x92), sendOps(wupa, 7)[:7])
	r := newRig(t, want, 0)
	if err := r.dev.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := r.dev.Poll(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Poll = %v, want context.Canceled", err)
	}
	r.done()
}

func TestMFRC522ConnectFails(t *testing.T) {
	pb := &spitest.Playback{Initialized: true} // Connect was called already
	if _, err := NewMFRC522(pb, nil, nil, nil); err == nil || !strings.Contains(err.Error(), "mfrc522: connect to playback") {
		t.Fatalf("NewMFRC522 = %v", err)
	}
	// An IRQ pin that cannot be an input.
	irq := &gpiotest.Pin{N: "GPIO4"}
	if _, err := NewMFRC522(&spitest.Playback{}, nil, &badPin{irq}, nil); err == nil || !strings.Contains(err.Error(), "irq pin") {
		t.Fatalf("NewMFRC522 = %v", err)
	}
}

type badPin struct{ *gpiotest.Pin }

func (badPin) In(gpio.Pull, gpio.Edge) error { return errors.New("gpio: busy") }

func TestMFRC522WithoutPins(t *testing.T) {
	clock := clocktest.NewInstant(t0)
	dev, err := NewMFRC522(&spitest.Playback{Playback: conntest.Playback{Ops: initOps(0x88), DontPanic: true}}, nil, nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(clock.TakeWaits()) != 0 {
		t.Error("waited without a reset pin to settle")
	}
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
}
