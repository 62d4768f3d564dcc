// Package rpc is the OCPP-J RPC endpoint over websockets, shared by the
// CSMS (Server) and the charger simulator (Dial): one outstanding outgoing
// CALL per connection with FIFO waiters and a timeout, incoming CALLs
// handled in arrival order on the connection's reader goroutine,
// retransmission dedup per charger, ping/pong half-open detection, frame
// limits, subprotocol negotiation and an authentication hook.
//
// Per connection it keeps one reader goroutine, which also runs the
// handlers (no hand-off per call), and one timer for pings (server side);
// write buffers are borrowed from a shared pool.
package rpc

import "errors"

// Errors returned by this package. Test with errors.Is.
var (
	// ErrClosed: the connection is closed (or was replaced) and the call
	// cannot complete.
	ErrClosed = errors.New("rpc: connection closed")
	// ErrCallInHandler: Call was made with the context of a handler that is
	// still running. Handlers run on their connection's reader, so waiting
	// there for an answer would stall that connection (and, between two
	// chargers calling each other, both); use [AfterAnswer].
	ErrCallInHandler = errors.New("rpc: call from a running handler; use AfterAnswer")
	// ErrTimeout: no CALLRESULT or CALLERROR arrived within the call timeout.
	ErrTimeout = errors.New("rpc: call timed out")
	// ErrReplaced is the Disconnected cause of a connection that a newer
	// connection of the same charger replaced.
	ErrReplaced = errors.New("rpc: replaced by new connection")
	// ErrShutdown is the Disconnected cause of connections closed by
	// [Server.Shutdown].
	ErrShutdown = errors.New("rpc: server shutting down")
	// ErrHalfOpen is the Disconnected cause when no pong or frame arrived
	// within PongWait after a ping.
	ErrHalfOpen = errors.New("rpc: no pong from peer")
	// ErrUnauthorized, returned (wrapped) by an [Authenticator], answers the
	// upgrade with HTTP 401 and a Basic challenge.
	ErrUnauthorized = errors.New("rpc: unauthorized")
	// ErrForbidden, returned (wrapped) by an [Authenticator], answers the
	// upgrade with HTTP 403 (for example an unknown charger that policy refuses).
	ErrForbidden = errors.New("rpc: forbidden")
)
