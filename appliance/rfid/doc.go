// Package rfid reads RFID cards for the appliance: it turns a card held on
// the station's reader into one tap carrying the card's UID and the OCPP id
// token made from it, and notices when the card is taken away.
//
// A [Reader] owns a [Device] and polls it: [MFRC522] is the NXP MFRC522 on
// SPI (ISO/IEC 14443 A cards with 4-, 7- and 10-byte UIDs), [Sim] is the
// simulated reader of dev mode. A reader that is missing, unplugged or
// failing never stops the appliance: the Reader logs it, reports it in
// [Status] and retries with backoff until the device answers again.
//
// [Format] makes the id token from a UID (hex case, separator, byte order);
// [Config] is the [rfid] section of the appliance's configuration and
// [Open] builds the configured device.
package rfid
