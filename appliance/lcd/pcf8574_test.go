package lcd

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"
)

func newTestPCF(t *testing.T, b *testBus, opts DriverOptions) (*PCF8574, *busClock) {
	t.Helper()
	clock := &busClock{bus: b}
	opts.Clock = clock
	p, err := NewPCF8574(b, 0x27, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, clock
}

func TestPCF8574InitWaits(t *testing.T) {
	b := newBus(pcfInit(0x27))
	_, clock := newTestPCF(t, b, DriverOptions{})
	b.done(t)
	want := []wait{
		{0, 50 * time.Millisecond},  // power on: > 40 ms
		{1, 5 * time.Millisecond},   // after the 1st function set: > 4.1 ms
		{2, 150 * time.Microsecond}, // after the 2nd: > 100 µs
		{3, 150 * time.Microsecond}, // after the 3rd
		{4, 150 * time.Microsecond}, // after switching to 4 bits
		{7, 2 * time.Millisecond},   // after clear: > 1.52 ms
	}
	if got := clock.recorded(); !slices.Equal(got, want) {
		t.Errorf("waits (after how many transfers, how long):\n got %v\nwant %v", got, want)
	}
}

func TestPCF8574Frames(t *testing.T) {
	b := newBus(ops(pcfInit(0x27), []i2ctest.IO{
		// The first frame: each row from its first to its last non-blank character.
		tx(0x27, pcfWrite(0x00, "Card accepted")),
		tx(0x27, pcfWrite(0x40, "Connector 2")),
		// Only the character that changed.
		tx(0x27, pcfWrite(0x4A, "3")),
		// Up to the last character that differs ("Card accepted" was longer);
		// ñ is 0xEE in ROM A00, é loses its accent; then row 2 blanked.
		tx(0x27, pcfWrite(0x00, "Ma\xeeana cafe  ")),
		tx(0x27, pcfWrite(0x40, strings.Repeat(" ", 11))),
	}))
	p, _ := newTestPCF(t, b, DriverOptions{})
	for _, frame := range [][]string{
		{"Card accepted", "Connector 2"},
		{"Card accepted", "Connector 3"},
		{"Card accepted", "Connector 3"}, // unchanged: nothing sent
		{"Mañana café"},
	} {
		if err := p.Show(frame); err != nil {
			t.Fatalf("Show(%q): %v", frame, err)
		}
	}
	b.done(t)
	if c, r := p.Size(); c != 16 || r != 2 {
		t.Errorf("Size() = %d, %d; want 16, 2", c, r)
	}
	if got := p.Info().String(); got != "pcf8574 at 0x27" {
		t.Errorf("Info() = %q", got)
	}
}

func TestPCF8574FourRows(t *testing.T) {
	b := newBus(ops(pcfInit(0x27), []i2ctest.IO{
		tx(0x27, pcfWrite(0x00, "row one")),
		tx(0x27, pcfWrite(0x40, "row two")),
		tx(0x27, pcfWrite(0x14, "row three")),            // row 3 continues line 1 after 20 columns
		tx(0x27, pcfWrite(0x54, "row four is cut at c")), // row 4 continues line 2, cut at 20 columns
	}))
	p, _ := newTestPCF(t, b, DriverOptions{Cols: 20, Rows: 4})
	if err := p.Show([]string{"row one", "row two", "row three", "row four is cut at col20", "row five is dropped"}); err != nil {
		t.Fatal(err)
	}
	b.done(t)
}

func TestPCF8574BacklightOffAndClose(t *testing.T) {
	noLight := func(w []byte) []byte {
		out := slices.Clone(w)
		for i := range out {
			out[i] &^= pBL
		}
		return out
	}
	var init []i2ctest.IO
	for _, io := range pcfInit(0x27) {
		init = append(init, tx(0x27, noLight(io.W)))
	}
	b := newBus(ops(init, []i2ctest.IO{
		tx(0x27, noLight(pcfInstr(0x08))), // display off
		tx(0x27, []byte{0x00}),            // every port bit low: backlight off
	}))
	p, _ := newTestPCF(t, b, DriverOptions{BacklightOff: true})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	b.done(t)
}

func TestPCF8574CustomPins(t *testing.T) {
	// A backpack wired the other way round: D4..D7 on P0..P3, RS P4, RW P5, E P6, backlight P7.
	pins := PinMap{RS: 4, RW: 5, E: 6, Backlight: 7, Data: [4]uint8{0, 1, 2, 3}}
	b := newBus([]i2ctest.IO{
		tx(0x27, []byte{0x83, 0xC3, 0x83}), // nibble 3 on P0..P3, backlight P7, then E (P6) high and low
	})
	b.failAt = 2 // stop after the first transfer
	_, err := NewPCF8574(b, 0x27, DriverOptions{Pins: pins, Clock: &busClock{bus: b}})
	if !errors.Is(err, errNACK) {
		t.Fatalf("err = %v; want the injected failure", err)
	}
	b.done(t)
}

func TestPCF8574BusErrorMidFrame(t *testing.T) {
	frame := []string{"Charging", "12.34 kWh"}
	b := newBus(ops(
		pcfInit(0x27),
		[]i2ctest.IO{tx(0x27, pcfWrite(0x00, "Charging"))},
		// Row 2 fails: the next Show initialises the display again and redraws all of it.
		pcfInit(0x27),
		[]i2ctest.IO{
			tx(0x27, pcfWrite(0x00, "Charging")),
			tx(0x27, pcfWrite(0x40, "12.34 kWh")),
		},
	))
	p, _ := newTestPCF(t, b, DriverOptions{})
	b.failAt = len(pcfInit(0x27)) + 2
	err := p.Show(frame)
	if !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "lcd: pcf8574 at 0x27: write row 2: ") {
		t.Fatalf("Show = %v; want the bus error, wrapped with the display and the row", err)
	}
	if err := p.Show(frame); err != nil {
		t.Fatalf("Show after the error: %v", err)
	}
	b.done(t)
}

func TestPCF8574InitErrors(t *testing.T) {
	for n := 1; n <= len(pcfInit(0x27)); n++ {
		b := newBus(pcfInit(0x27)[:n-1])
		b.failAt = n
		_, err := NewPCF8574(b, 0x27, DriverOptions{Clock: &busClock{bus: b}})
		if !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "lcd: pcf8574 at 0x27: initialise: ") {
			t.Errorf("failure at transfer %d: err = %v", n, err)
		}
		b.done(t)
	}
}

func TestDriverOptionsInvalid(t *testing.T) {
	for _, tc := range []struct {
		opts DriverOptions
		want string
	}{
		{DriverOptions{Cols: 16, Rows: 3}, "rows: 3 is not 1, 2 or 4"},
		{DriverOptions{Cols: 4, Rows: 2}, "columns: 4 is not between 8 and 40"},
		{DriverOptions{Cols: 40, Rows: 4}, "columns: 40 is more than 20"},
		{DriverOptions{Pins: PinMap{RS: 0, RW: 1, E: 2, Backlight: 3, Data: [4]uint8{4, 5, 6, 6}}}, "pins: bit 6 is used twice"},
		{DriverOptions{Pins: PinMap{RS: 8, RW: 1, E: 2, Backlight: 3, Data: [4]uint8{4, 5, 6, 7}}}, "pins: bit 8 is not a PCF8574 port bit"},
	} {
		b := newBus(nil)
		_, err := NewPCF8574(b, 0x27, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewPCF8574(%+v) = %v; want %q", tc.opts, err, tc.want)
		}
		_, err = NewAiP31068(b, 0x3E, tc.opts)
		if tc.opts.Pins == (PinMap{}) && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("NewAiP31068(%+v) = %v; want %q", tc.opts, err, tc.want)
		}
		b.done(t)
	}
}
