// Package lcd drives the station's character LCD: the HD44780-compatible
// 16x2 and 20x4 displays that stations use to tell a driver what is
// happening.
//
// Two kinds of hardware are supported, both on I2C:
//
//   - an HD44780 behind a PCF8574 (address 0x27) or PCF8574A (0x3F) "I2C
//     backpack", driven in 4-bit mode through the expander's port ([PCF8574]);
//   - an AiP31068 controller with a native I2C interface (0x3E) ([AiP31068]).
//
// [OpenBus] finds the display by probing those addresses ([Detect]) unless
// the configuration names the driver and address. The chips cannot report
// their geometry, so columns and rows always come from [Config] (16x2 by
// default).
//
// Both controllers have the HD44780 character ROM A00, which has ASCII, ñ,
// ä, ö, ü, ° and a few Greek letters, but no á, é, í, ó or ú. Text is
// transliterated ([Transliterate]): letters with accents lose them, ñ is
// kept, anything else unknown becomes '?'. Custom characters (CGRAM) are
// not used: eight slots cannot cover Spanish upper and lower case, and
// unaccented Spanish reads well on a station display.
//
// [Sim] is the simulated display of dev mode: it keeps the frame as the
// hardware would show it, logs it and tells watchers when it changes.
//
// A display is optional hardware: [Resilient] keeps one alive, logs and
// reports ([Status]) a display missing at start or failing later, retries
// with backoff and redraws the last frame when it answers again; callers
// never see its errors. [NewPi] builds that for a Raspberry Pi's I2C bus.
//
// The drivers assume the bus runs at 100 kHz (the Raspberry Pi's default,
// and the PCF8574's maximum): several instructions are sent in one I2C
// transfer, and at that speed each byte takes longer than the 37 µs the
// controller needs to execute the previous instruction.
package lcd
