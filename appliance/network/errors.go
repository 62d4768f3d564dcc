package network

import "errors"

// Errors that callers may test with errors.Is.
var (
	// ErrInvalid means settings were refused before anything was changed;
	// the message names the field.
	ErrInvalid = errors.New("network: invalid settings")
	// ErrUnavailable means NetworkManager (or the system bus) cannot be
	// reached: not running, restarting, or the bus is down. Run keeps
	// retrying with backoff; Apply refuses the change.
	ErrUnavailable = errors.New("network: NetworkManager unavailable")
	// ErrCheckFailed means a change was applied but its check failed (the
	// access point did not come up, or the uplink did not reach the
	// cloud in time), so the last good settings were restored.
	ErrCheckFailed = errors.New("network: change check failed")
)
