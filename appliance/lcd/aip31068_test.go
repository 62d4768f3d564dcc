package lcd

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"
)

func TestAiP31068InitAndFrames(t *testing.T) {
	b := newBus(ops(aipInit(), []i2ctest.IO{
		tx(0x3E, aipWrite(0x00, "Carga iniciada")),
		tx(0x3E, aipWrite(0x40, "Conector 2")),
		tx(0x3E, aipWrite(0x49, "3")),
		tx(0x3E, aipInstr(0x08)), // Close: display off
	}))
	clock := &busClock{bus: b}
	a, err := NewAiP31068(b, 0x3E, DriverOptions{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	for _, frame := range [][]string{{"Carga iniciada", "Conector 2"}, {"Carga iniciada", "Conector 3"}} {
		if err := a.Show(frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b.done(t)
	want := []wait{
		{0, 50 * time.Millisecond},  // power on: > 40 ms
		{1, 5 * time.Millisecond},   // after the 1st function set: > 4.1 ms
		{2, 150 * time.Microsecond}, // after the 2nd: > 100 µs
		{3, 150 * time.Microsecond}, // after the 3rd
		{5, 2 * time.Millisecond},   // after clear: > 1.52 ms
	}
	if got := clock.recorded(); !slices.Equal(got, want) {
		t.Errorf("waits (after how many transfers, how long):\n got %v\nwant %v", got, want)
	}
}

func TestAiP31068FourRows(t *testing.T) {
	b := newBus(ops(aipInit(), []i2ctest.IO{
		tx(0x3E, aipWrite(0x14, "three")),
		tx(0x3E, aipWrite(0x54, "four")),
	}))
	a, err := NewAiP31068(b, 0x3E, DriverOptions{Cols: 20, Rows: 4, Clock: &busClock{bus: b}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Show([]string{"", "", "three", "four"}); err != nil {
		t.Fatal(err)
	}
	b.done(t)
}

func TestAiP31068BusErrorMidFrame(t *testing.T) {
	frame := []string{"Fault", "GroundFailure"}
	b := newBus(ops(
		aipInit(),
		[]i2ctest.IO{tx(0x3E, aipWrite(0x00, "Fault"))},
		aipInit(),
		[]i2ctest.IO{
			tx(0x3E, aipWrite(0x00, "Fault")),
			tx(0x3E, aipWrite(0x40, "GroundFailure")),
		},
	))
	a, err := NewAiP31068(b, 0x3E, DriverOptions{Clock: &busClock{bus: b}})
	if err != nil {
		t.Fatal(err)
	}
	b.failAt = len(aipInit()) + 2
	err = a.Show(frame)
	if !errors.Is(err, errNACK) || !strings.Contains(err.Error(), "lcd: aip31068 at 0x3e: write row 2: ") {
		t.Fatalf("Show = %v; want the bus error, wrapped with the display and the row", err)
	}
	if err := a.Show(frame); err != nil {
		t.Fatalf("Show after the error: %v", err)
	}
	b.done(t)
}
