package charging

import "errors"

// Sentinel errors of the charging service. Callers test them with errors.Is.
var (
	// ErrInvalid wraps every rejection of domain input; the message names
	// the field. Nothing is stored for an invalid request.
	ErrInvalid = errors.New("invalid")
	// ErrNotFound is returned by queries and updates of records that do not exist.
	ErrNotFound = errors.New("not found")
)

// Errors of the command path (operator or cloud → charger). The OCPP layer
// wraps its own details in them so that callers above it (the local API,
// later the cloud command router) can tell the outcomes apart without
// knowing OCPP.
var (
	// ErrNotConnected: the charger has no open connection.
	ErrNotConnected = errors.New("charger is not connected")
	// ErrNoAnswer: the charger did not answer before the deadline.
	ErrNoAnswer = errors.New("charger did not answer in time")
	// ErrInvalidCommand: the command or its payload is not valid for the charger; nothing was sent.
	ErrInvalidCommand = errors.New("invalid command")
	// ErrUnknownCommand: ParseCommand was given a kind that is not one of
	// CommandKinds.
	ErrUnknownCommand = errors.New("unknown command")
	// ErrChargerError: the charger answered with an error instead of a result.
	ErrChargerError = errors.New("charger answered with an error")
)
