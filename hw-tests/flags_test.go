//go:build hw

package hwtests

import "flag"

// Flags shared by the hardware tests; pass them after -args.
var (
	// recordDir is where the tests write the bus traffic they record, as
	// playback fixtures (spitest for the RFID reader, i2ctest for the LCD).
	recordDir = flag.String("record", "", "directory to write bus recordings into as playback fixtures (empty: no recording)")

	// The MFRC522's wiring, as periph names ports and pins.
	rfidSPI   = flag.String("rfid-spi", "SPI0.0", "SPI port of the MFRC522")
	rfidReset = flag.String("rfid-reset", "GPIO25", "GPIO wired to the MFRC522's RST (empty: none)")
	rfidIRQ   = flag.String("rfid-irq", "GPIO4", "GPIO wired to the MFRC522's IRQ (empty: none)")

	// The access point the network test brings up.
	apInterface = flag.String("ap-interface", "wlan0", "Wi-Fi interface of the access point")
	apSSID      = flag.String("ap-ssid", "Constellation-hwtest", "SSID of the test access point")
	apPassword  = flag.String("ap-password", "hwtest-passphrase", "passphrase of the test access point")
)
