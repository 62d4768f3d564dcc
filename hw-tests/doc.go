// Package hwtests holds the tests that need the real hardware on a
// Raspberry Pi: the MFRC522 RFID reader and the LCD. They are built only
// with the hw build tag (go test -tags hw ./hw-tests/...); README.md says
// how to wire the devices and run them, and how to record bus traffic
// into playback fixtures for the drivers' unit tests.
package hwtests
