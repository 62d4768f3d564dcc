//go:build hw

package hwtests

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/conn/v3/spi/spitest"
	"periph.io/x/host/v3"

	"github.com/constellation-ev/constellation/appliance/rfid"
)

// waitForPerson is how long a step waits for the person running the test.
const waitForPerson = 30 * time.Second

// TestRFIDReadCard initialises the MFRC522, waits for a card, prints its
// UID in every token format, then waits for the card to be taken away.
// With -record it writes the SPI traffic of the Init and of the Poll that
// read the card as a spitest playback fixture.
func TestRFIDReadCard(t *testing.T) {
	if _, err := host.Init(); err != nil {
		t.Fatalf("periph host: %v", err)
	}
	port, err := spireg.Open(*rfidSPI)
	if err != nil {
		t.Fatalf("SPI port %s (is SPI enabled? dtparam=spi=on): %v", *rfidSPI, err)
	}
	t.Cleanup(func() { _ = port.Close() })
	if err := port.LimitSpeed(physic.Frequency(rfid.Defaults().SPISpeedHz) * physic.Hertz); err != nil {
		t.Fatal(err)
	}
	var bus spi.Port = port
	rec := &spitest.Record{Port: port}
	if *recordDir != "" {
		bus = rec
	}
	dev, err := rfid.NewMFRC522(bus, pin(t, *rfidReset), pin(t, *rfidIRQ), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := dev.Init(ctx); err != nil {
		t.Fatalf("Init (check the wiring table in README.md): %v", err)
	}
	t.Logf("MFRC522 VersionReg %#02x", dev.Version())
	initOps := takeSPILiterals(rec)

	t.Logf("tap a card on the reader and hold it there (%s)", waitForPerson)
	uid := waitFor(t, dev, true)
	pollOps := takeSPILiterals(rec)
	t.Logf("card UID (%d bytes):", len(uid))
	for _, f := range []rfid.Format{
		{}, {Case: rfid.CaseLower}, {Separator: ":"}, {Separator: "-"}, {Separator: " "},
		{Reversed: true}, {Separator: ":", Reversed: true}, {Case: rfid.CaseLower, Reversed: true},
	} {
		t.Logf("  %-56s %s", fmt.Sprintf("%+v", f), f.Token(uid))
	}

	if *recordDir != "" {
		path := filepath.Join(*recordDir, fmt.Sprintf("mfrc522-uid%d.txt", len(uid)))
		parts := []fixturePart{{"Init", initOps}, {fmt.Sprintf("Poll reading UID %X", uid), pollOps}}
		if err := writeFixture(path, "MFRC522 SPI", "a []conntest.IO for spitest.Playback", parts); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded %d transactions in %s", len(initOps)+len(pollOps), path)
	}

	t.Logf("take the card away (%s)", waitForPerson)
	waitFor(t, dev, false)
}

// pin returns the named GPIO, nil for an empty name.
func pin(t *testing.T, name string) gpio.PinIO {
	t.Helper()
	if name == "" {
		return nil
	}
	p := gpioreg.ByName(name)
	if p == nil {
		t.Fatalf("no GPIO named %q", name)
	}
	return p
}

// waitFor polls until a card is there (present) or gone, and returns its UID.
func waitFor(t *testing.T, dev *rfid.MFRC522, present bool) []byte {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(waitForPerson)
	for time.Now().Before(deadline) {
		uid, ok, err := dev.Poll(ctx)
		if err != nil {
			t.Logf("poll: %v", err) // a card moving in the field; keep going
		}
		if err == nil && ok == present {
			return uid
		}
		time.Sleep(100 * time.Millisecond) // the person, not the test, is what we wait for
	}
	t.Fatalf("no change within %s", waitForPerson)
	return nil
}

// takeSPILiterals returns what rec recorded since the last call, as Go
// literals of conntest.IO.
func takeSPILiterals(rec *spitest.Record) []string {
	return literals(takeOps(rec, &rec.Ops), func(op conntest.IO) string {
		return fmt.Sprintf("{W: %#v, R: %#v}", op.W, op.R)
	})
}
