package rfid

import "errors"

// Errors that callers may test with errors.Is.
var (
	// ErrNoDevice means the reader is not there: not connected, not
	// powered, or its bus does not exist. The Reader reports it as
	// StateMissing and keeps retrying.
	ErrNoDevice = errors.New("rfid: no reader")
	// ErrCard means a card was seen but could not be read completely (two
	// cards at once, a corrupted frame, a card taken away mid-read). It is
	// a property of the card in the field, not of the reader: the Reader
	// counts it as a poll without a card.
	ErrCard = errors.New("rfid: card not read")
)
